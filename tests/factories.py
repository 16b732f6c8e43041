import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.utils import timezone

from citizenpoints.mfa import totp_enrol
from citizenpoints.models import Behaviour, CatalogueVersion, Category, ConsentRecord, DataSource, Resident, User
from citizenpoints.services.residents import current_terms_version
from citizenpoints.services.scoring import balance_open

PASSWORD = "a-Long-test-passw0rd"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))

    @factory.post_generation
    def mfa(self, create, extracted, **kwargs):
        """`UserFactory(roles=[...], mfa=True)`: office staff who enrolled an authenticator app, as real staff must."""
        if create and extracted:
            totp_enrol(user=self)


class ResidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resident
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    given_name = factory.Faker("first_name")
    language = "en"
    terms_version = factory.LazyFunction(current_terms_version)

    @factory.post_generation
    def consent(self, create, extracted, **kwargs):
        if create:
            ConsentRecord.objects.create(resident=self, terms_version=self.terms_version)
            balance_open(resident=self)


def published_catalogue(*, behaviours: list[dict], sources: list[DataSource] | None = None) -> CatalogueVersion:
    """A published catalogue version holding `behaviours` (dicts of Behaviour fields; category by code).

    Each behaviour may be awarded by `sources` (default: a "library" department) unless it names its own.
    """
    if sources is None:
        sources = [
            DataSource.objects.get_or_create(
                code="library", defaults={"name_en": "City Library", "name_zh": "市图书馆"}
            )[0]
        ]
    number = (CatalogueVersion.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    CatalogueVersion.objects.filter(status=CatalogueVersion.Status.PUBLISHED).update(
        status=CatalogueVersion.Status.RETIRED, retired_at=timezone.now()
    )
    version = CatalogueVersion.objects.create(number=number, status="published", published_at=timezone.now())
    for spec in behaviours:
        spec = dict(spec)
        behaviour_sources = spec.pop("sources", sources)
        category = Category.objects.get(code=spec.pop("category", "reading-culture"))
        spec.setdefault("name_en", spec["code"].replace("-", " ").capitalize())
        spec.setdefault("name_zh", spec["code"])
        spec.setdefault("rule_kind", "fixed")
        spec.setdefault("rule", {"points": 2})
        behaviour = Behaviour.objects.create(version=version, category=category, **spec)
        behaviour.sources.set(behaviour_sources)
    return version


# --- Benefits: partners, staff, benefits (appended by the benefits work).
def tier(code: str):
    """A tier of the active scheme by code (five bands: getting-started, good, very-good, outstanding, excellent)."""
    from citizenpoints.models import Tier

    return Tier.objects.get(scheme__is_active=True, code=code)


def place_in_tier(resident, code: str) -> None:
    """Put a resident straight into a tier (tests of benefits do not need the points that would earn it)."""
    from citizenpoints.models import Balance

    Balance.objects.filter(resident=resident).update(tier=tier(code))


def _days_ago(days: int):
    import datetime

    return timezone.localdate() - datetime.timedelta(days=days)


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "benefits.Merchant"

    slug = factory.Sequence(lambda n: f"partner-{n}")
    name_en = factory.Sequence(lambda n: f"Partner {n}")
    name_zh = factory.Sequence(lambda n: f"合作商户{n}")
    category = "transport"


class MerchantLocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "benefits.MerchantLocation"

    merchant = factory.SubFactory(MerchantFactory)
    name_en = factory.Sequence(lambda n: f"Counter {n}")
    name_zh = factory.Sequence(lambda n: f"柜台{n}")


class MerchantStaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "benefits.MerchantStaff"

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = "cashier"


class BenefitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "benefits.Benefit"

    merchant = factory.SubFactory(MerchantFactory)
    family = "go"
    title_en = factory.Sequence(lambda n: f"Deposit-free bike hire {n}")
    title_zh = factory.Sequence(lambda n: f"免押金租车{n}")
    terms_en = "Show the code at the counter."
    terms_zh = "在柜台出示二维码。"
    min_tier = factory.LazyFunction(lambda: tier("getting-started"))
    valid_from = factory.LazyFunction(lambda: _days_ago(30))
