"""Load the demo: residents with a year of points, credit office staff of each role, a published catalogue, one
merchant. Safe to run again: nothing is added twice."""

from functools import cached_property

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from benefits.models import Merchant, MerchantStaff
from citizenpoints.demo import demo_catalogue_load, demo_history_load, demo_summaries_refresh
from citizenpoints.mfa import totp_enrol
from citizenpoints.models import OfficeRole, Resident, User
from citizenpoints.services.residents import current_terms_version, resident_join
from citizenpoints.signals import demo_loaded

DEMO_PASSWORD = "citypoints-demo"  # noqa: S105 -- published demo password; the command refuses without DEBUG
DEMO_DOMAIN = "demo.citypoints.example"

RESIDENTS = [
    ("li.na", "Na", "zh-hans"),
    ("wang.wei", "Wei", "zh-hans"),
    ("emma.clarke", "Emma", "en"),
    ("chen.jie", "Jie", "zh-hans"),
    ("zhao.lei", "Lei", "zh-hans"),
    ("zhang.min", "Min", "zh-hans"),
    ("new.comer", None, "en"),  # signed up, not joined yet: shows the join step
]
STAFF = [
    ("editor", OfficeRole.CATALOGUE_EDITOR),
    ("reviewer", OfficeRole.REVIEWER),
    ("partners", OfficeRole.PARTNER_MANAGER),
    ("sources", OfficeRole.DATA_SOURCE_MANAGER),
    ("auditor", OfficeRole.AUDITOR),
]


def demo_email(local: str) -> str:
    return f"{local}@{DEMO_DOMAIN}"


class Command(BaseCommand):
    help = (
        "Create demo accounts (residents, office staff, a merchant), publish the demo catalogue, give residents a "
        "year of points, and print the logins and each resident's score and tier."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("The demo data has a published password; load it only with DEBUG on.")
        with transaction.atomic():
            rows = self.load()
            version = demo_catalogue_load(editor=User.objects.get(email=demo_email("editor")))
            demo_residents = Resident.objects.select_related("user").filter(user__email__endswith=f"@{DEMO_DOMAIN}")
            residents = {resident.user.email.split("@")[0]: resident for resident in demo_residents}
            summaries = demo_history_load(residents=residents, reviewer=User.objects.get(email=demo_email("reviewer")))
            demo_loaded.send(sender=self.__class__, partner_manager=User.objects.get(email=demo_email("partners")))
            if summaries is not None:
                summaries = demo_summaries_refresh(summaries)
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD})"))
        for email, what in rows:
            self.stdout.write(f"  {email:<42} {what}")
        if version is not None:
            self.stdout.write(
                f"\nPublished catalogue version {version.number}: {version.behaviours.count()} behaviours."
            )
        if summaries is None:
            self.stdout.write(
                self.style.WARNING("\nThe published catalogue is not the demo's: residents were given no points.")
            )
        else:
            self.stdout.write(self.style.SUCCESS("\nDemo residents: score and tier (active scheme)"))
            for summary in summaries:
                badges = ", ".join(summary.badges) or "no badges yet"
                over_cap = f", {summary.refused['cap_reached']} over a cap" if summary.refused["cap_reached"] else ""
                self.stdout.write(
                    f"  {summary.email:<42} {summary.score:>7} · {summary.tier:<16} · {summary.entries:>3} records"
                    f" ({summary.created} new{over_cap}) · {badges}"
                )
        self.stdout.write(
            "\nStaff sign in with a two-factor code: add the secret above to an authenticator app,\n"
            f"or print the current code with: make totp EMAIL=reviewer@{DEMO_DOMAIN}\n"
        )

    def load(self) -> list[tuple[str, str]]:
        rows = []
        for local, given_name, language in RESIDENTS:
            user = self.user(demo_email(local))
            if given_name and not Resident.objects.filter(user=user).exists():
                resident_join(
                    user=user,
                    given_name=given_name,
                    language=language,
                    accepted_terms_version=current_terms_version(),
                )
            rows.append((user.email, "resident" if given_name else "account, has not joined yet"))

        for local, role in STAFF:
            user = self.user(demo_email(local))
            user.groups.add(Group.objects.get(name=role))
            rows.append((user.email, f"{role.label} · TOTP secret {totp_enrol(user=user)}"))
        admin = self.user(demo_email("admin"), is_staff=True, is_superuser=True)
        rows.append((admin.email, f"superuser · TOTP secret {totp_enrol(user=admin)}"))

        merchant, _ = Merchant.objects.get_or_create(
            slug="west-lake-bikes", defaults={"name_en": "West Lake Bike Hire", "name_zh": "西湖单车租赁"}
        )
        for local, role in [("cashier", MerchantStaff.Role.CASHIER), ("manager", MerchantStaff.Role.MANAGER)]:
            user = self.user(demo_email(local))
            MerchantStaff.objects.get_or_create(user=user, defaults={"merchant": merchant, "role": role})
            rows.append((user.email, f"{role.label}, {merchant.name_en}"))
        return rows

    @cached_property
    def password_hash(self) -> str:
        """Hashed once and shared: hashing is slow by design, and the demo password is public anyway."""
        return make_password(DEMO_PASSWORD)

    def user(self, email: str, **flags) -> User:
        user, created = User.objects.get_or_create(email=email, defaults=flags)
        if created:
            user.password = self.password_hash
            user.save()
        EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        return user
