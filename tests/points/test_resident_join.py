import pytest
from django.core import mail

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import ConsentRecord, Resident
from citizenpoints.services.residents import current_terms_version, resident_join, resident_set_language
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def join(user, **overrides):
    arguments = {
        "user": user,
        "given_name": "Na",
        "language": "zh-hans",
        "accepted_terms_version": current_terms_version(),
    }
    return resident_join(**{**arguments, **overrides})


def test_join_records_consent_and_emails_a_receipt_in_the_residents_language(
    django_capture_on_commit_callbacks,
):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        resident = join(user)

    assert resident.user == user
    assert resident.language == "zh-hans"
    consent = ConsentRecord.objects.get(resident=resident)
    assert consent.terms_version == current_terms_version()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "你已加入" in mail.outbox[0].subject


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"accepted_terms_version": None}, "consent_required"),
        ({"accepted_terms_version": ""}, "consent_required"),
        ({"accepted_terms_version": "2001-01"}, "terms_outdated"),
        ({"given_name": "   "}, "given_name_required"),
        ({"language": "fr"}, "unknown_language"),
    ],
)
def test_join_refusals_leave_nothing_behind(overrides, code):
    user = UserFactory()
    with pytest.raises(ApplicationError) as refused:
        join(user, **overrides)
    assert refused.value.code == code
    assert not Resident.objects.exists()
    assert not ConsentRecord.objects.exists()


def test_joining_twice_is_refused():
    resident = ResidentFactory()
    with pytest.raises(ApplicationError) as refused:
        join(resident.user)
    assert refused.value.code == "already_joined"
    assert Resident.objects.count() == 1


def test_language_change_is_validated():
    resident = ResidentFactory(language="en")
    resident_set_language(resident=resident, language="zh-hans")
    resident.refresh_from_db()
    assert resident.language == "zh-hans"
    with pytest.raises(ApplicationError) as refused:
        resident_set_language(resident=resident, language="xx")
    assert refused.value.code == "unknown_language"
