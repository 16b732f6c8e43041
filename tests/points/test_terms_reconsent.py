"""Consent history and re-consent: a new terms version asks residents again at their next visit."""

import pytest
from django.urls import reverse

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import ConsentRecord
from citizenpoints.services.residents import resident_consent_renew
from tests.factories import PASSWORD, ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW = "2027-05"


@pytest.fixture
def new_terms(settings, tmp_path):
    """A new terms version: the setting and its text (a copy of the current text, as a new file would be)."""
    settings.CITYPOINTS_TERMS_VERSION = NEW
    folder = tmp_path / "templates" / "citizenpoints" / "terms"
    folder.mkdir(parents=True)
    (folder / f"{NEW}.html").write_text(
        "{% load i18n %}<section><h2>What changed</h2><p>Claims may include a short video.</p></section>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path / "templates", *settings.TEMPLATES[0]["DIRS"]]},
    ]
    return NEW


def test_after_a_new_version_the_next_login_asks_again(client, new_terms):
    resident = ResidentFactory(terms_version="2026-11")
    client.post(reverse("account_login"), {"login": resident.user.email, "password": PASSWORD})
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("rights_consent"))
    page = client.get(response.url).content.decode()
    assert "The terms have changed" in page and "Claims may include a short video." in page
    assert reverse("rights_leave") in page  # or leave instead

    answered = client.post(response.url, {"terms_version": NEW, "consent": "on"})
    assert answered.status_code == 302 and answered.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    assert list(ConsentRecord.objects.filter(resident=resident).order_by("accepted_at").values_list(
        "terms_version", flat=True)) == ["2026-11", NEW]  # fmt: skip
    resident.refresh_from_db()
    assert resident.terms_version == NEW


def test_without_the_tick_nothing_is_recorded(client, new_terms):
    resident = ResidentFactory(terms_version="2026-11")
    client.force_login(resident.user)
    page = client.post(reverse("rights_consent"), {"terms_version": NEW}).content.decode()
    assert "Tick the box" in page
    assert not ConsentRecord.objects.filter(terms_version=NEW).exists()


def test_rights_stay_open_without_agreeing(client, new_terms):
    """Report, export, access log and leaving need no agreement to new terms; signing out neither."""
    resident = ResidentFactory(terms_version="2026-11")
    client.force_login(resident.user)
    for name in ("rights_report", "rights_export", "rights_access", "rights_consent", "terms"):
        assert client.get(reverse(name)).status_code == 200, name
    assert client.get(reverse("profile")).status_code == 302


def test_people_who_have_not_joined_and_up_to_date_residents_are_not_asked(client, new_terms):
    client.force_login(UserFactory())
    assert client.get(reverse("join")).status_code == 200
    client.force_login(ResidentFactory(terms_version=NEW).user)
    assert client.get(reverse("home")).status_code == 200


def test_the_profile_lists_every_version_accepted(client, new_terms):
    resident = ResidentFactory(terms_version="2026-11")
    resident_consent_renew(resident=resident, accepted_terms_version=NEW)
    client.force_login(resident.user)
    page = client.get(reverse("profile")).content.decode()
    assert "Terms version 2026-11, accepted" in page and f"Terms version {NEW}, accepted" in page


def test_an_outdated_version_is_refused(new_terms):
    resident = ResidentFactory(terms_version="2026-11")
    with pytest.raises(ApplicationError) as error:
        resident_consent_renew(resident=resident, accepted_terms_version="2026-11")
    assert error.value.code == "terms_outdated"
    resident_consent_renew(resident=resident, accepted_terms_version=NEW)
    resident_consent_renew(resident=resident, accepted_terms_version=NEW)  # idempotent
    assert ConsentRecord.objects.filter(resident=resident, terms_version=NEW).count() == 1


def test_the_next_parameter_cannot_send_them_elsewhere(client, new_terms):
    client.force_login(ResidentFactory(terms_version="2026-11").user)
    url = reverse("rights_consent") + "?next=https://evil.example/"
    answered = client.post(url, {"terms_version": NEW, "consent": "on"})
    assert answered.url == reverse("home")
