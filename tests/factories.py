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
