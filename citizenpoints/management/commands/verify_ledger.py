from django.core.management.base import BaseCommand, CommandError

from citizenpoints.models import LedgerEntry
from citizenpoints.services.ledger import ledger_verify


class Command(BaseCommand):
    help = "Walk every resident's hash chain; report edited, inserted or deleted ledger rows; exit 1 if any."

    def handle(self, *args, **options):
        problems = 0
        for problem in ledger_verify():
            problems += 1
            self.stderr.write(str(problem))
        if problems:
            raise CommandError(f"The ledger has been tampered with: {problems} problem(s).")
        self.stdout.write(self.style.SUCCESS(f"Ledger intact: {LedgerEntry.objects.count()} entries verified."))
