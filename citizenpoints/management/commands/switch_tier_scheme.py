from django.core.management.base import BaseCommand, CommandError

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import TierScheme, User
from citizenpoints.services.tiers import tier_scheme_switch


class Command(BaseCommand):
    help = "Activate another tier scheme and re-place every resident (set-based); the ledger is untouched."

    def add_arguments(self, parser):
        parser.add_argument("scheme", help="scheme code, e.g. five-bands or grades")
        parser.add_argument("--by", required=True, help="email of the catalogue editor making the change")
        parser.add_argument("--reason", required=True)

    def handle(self, *args, scheme, by, reason, **options):
        try:
            changes = tier_scheme_switch(
                acting_user=User.objects.get(email=by), scheme=TierScheme.objects.get(code=scheme), reason=reason
            )
        except (User.DoesNotExist, TierScheme.DoesNotExist) as error:
            raise CommandError(str(error)) from error
        except ApplicationError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        self.stdout.write(self.style.SUCCESS(f"{scheme} is active; {changes} residents changed tier."))
