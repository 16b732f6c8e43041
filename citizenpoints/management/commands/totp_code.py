"""Print the current two-factor code of a demo staff account, so the demo can be tried without a phone."""

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from citizenpoints.mfa import totp_current_code
from citizenpoints.models import User


class Command(BaseCommand):
    help = "Print the current TOTP code for an account (DEBUG only)."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        if not settings.DEBUG:
            raise CommandError("Only for the demo: with DEBUG off, codes come from the staff member's own app.")
        user = User.objects.filter(email=email).first()
        if user is None:
            raise CommandError(f"No account {email}.")
        try:
            self.stdout.write(totp_current_code(user=user))
        except Authenticator.DoesNotExist as exc:
            raise CommandError(f"{email} has no authenticator app set up.") from exc
