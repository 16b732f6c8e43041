from django.core.management.base import BaseCommand, CommandError

from citizenpoints.models import Balance
from citizenpoints.services.scoring import balances_verify


class Command(BaseCommand):
    help = "Prove every materialised balance equals its ledger summed over the scoring window; exit 1 if not."

    def handle(self, *args, **options):
        mismatches = 0
        for resident_id, balance, ledger in balances_verify():
            mismatches += 1
            self.stderr.write(f"resident {resident_id}: balance {balance} but ledger {ledger}")
        if mismatches:
            raise CommandError(f"{mismatches} balance(s) differ from the ledger.")
        self.stdout.write(self.style.SUCCESS(f"All {Balance.objects.count()} balances equal the ledger."))
