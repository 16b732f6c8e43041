import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group

from citizenpoints.models import ConsentRecord, Resident, User
from citizenpoints.services.residents import current_terms_version

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
