"""The resident's claim pages, the evidence photo view and the reviewers' console, through the test client."""

import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from citizenpoints.models import AuditEvent, Claim, LedgerEntry, OfficeRole
from tests.claims.conftest import hours_ago, jpeg_bytes, upload
from tests.claims.test_claim_services import file_claim
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident(client, catalogue):
    resident = ResidentFactory(given_name="Mei")
    client.force_login(resident.user)
    return resident


def form(**overrides):
    when = hours_ago(2).strftime("%Y-%m-%dT%H:%M")
    data = {
        "behaviour": "neighbour-help",
        "description": "Helped my neighbour carry a new washing machine upstairs.",
        "occurred_at": when,
        "place": "Building 5, Xixi Garden",
        "photo_1": upload(jpeg_bytes(size=(1200, 900))),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_the_form_offers_only_claimable_behaviours_and_phone_photo_inputs(client, resident):
    page = client.get(reverse("claim_new")).content.decode()
    assert 'value="neighbour-help"' in page and 'value="street-clean"' in page
    assert 'value="museum-visit"' not in page and 'value="library-loan"' not in page
    assert page.count('type="file"') == 3 and page.count('accept="image/*"') == 3
    assert 'enctype="multipart/form-data"' in page and 'type="datetime-local"' in page
    assert 'name="quantity"' in page  # street-clean counts hours
    assert 'name="amount"' not in page  # nothing claimable is scored by amount
    assert "style=" not in page and "onclick" not in page


def test_filing_through_the_form(client, resident):
    response = client.post(reverse("claim_new"), form())
    claim = Claim.objects.get(resident=resident)
    assert response.status_code == 302 and response["Location"] == reverse("claim_detail", args=[claim.pk])
    assert claim.photos.count() == 1
    page = client.get(reverse("claim_detail", args=[claim.pk])).content.decode()
    assert "Waiting for review" in page and "Building 5, Xixi Garden" in page
    assert reverse("evidence_photo", args=[claim.photos.get().pk]) in page
    listing = client.get(reverse("claims")).content.decode()
    assert "Helping a neighbour" in listing and "Waiting for review" in listing


def test_a_renamed_pdf_is_refused_next_to_the_photo_field(client, resident):
    response = client.post(reverse("claim_new"), form(photo_1=upload(b"%PDF-1.4 fake", name="receipt.jpg")))
    assert response.status_code == 200 and not Claim.objects.exists()
    page = response.content.decode()
    assert "not a photo we can read" in page and 'id="id_photo_1_error"' in page


def test_a_future_time_is_refused_next_to_the_time_field(client, resident):
    future = (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("claim_new"), form(occurred_at=future))
    assert 'id="id_occurred_at_error"' in response.content.decode() and not Claim.objects.exists()


def test_the_form_in_chinese(client, resident):
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("claim_new")).content.decode()
    assert "邻里互助" in page and "Helping a neighbour" not in page


def test_a_resident_sees_only_their_own_claims_and_photos(client, resident):
    other = ResidentFactory()
    theirs = file_claim(other)
    photo = theirs.photos.get()
    assert client.get(reverse("claim_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("evidence_photo", args=[photo.pk])).status_code == 404
    assert AuditEvent.objects.filter(action="evidence.view_refused", object_id=str(photo.pk)).exists()
    assert "Helping a neighbour" not in client.get(reverse("claims")).content.decode()

    mine = file_claim(resident)
    response = client.get(reverse("evidence_photo", args=[mine.photos.get().pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG" and not image.getexif()


def test_photos_need_a_sign_in(client, catalogue):
    claim = file_claim(ResidentFactory())
    response = client.get(reverse("evidence_photo", args=[claim.photos.get().pk]))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize(
    ("roles", "status"),
    [
        ([OfficeRole.REVIEWER], 200),
        ([OfficeRole.AUDITOR], 200),
        ([OfficeRole.CATALOGUE_EDITOR], 404),
        ([OfficeRole.PARTNER_MANAGER], 404),
        ([OfficeRole.DATA_SOURCE_MANAGER], 404),
    ],
)
def test_staff_see_photos_only_as_reviewers_or_auditors_and_each_look_is_audited(client, catalogue, roles, status):
    claim = file_claim(ResidentFactory())
    photo = claim.photos.get()
    staff = UserFactory(roles=roles, mfa=True)
    client.force_login(staff)
    assert client.get(reverse("evidence_photo", args=[photo.pk])).status_code == status
    if status == 200:
        assert AuditEvent.objects.filter(actor=staff, action="evidence.view", object_id=str(photo.pk)).exists()


@pytest.fixture
def reviewer(client):
    user = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)
    client.force_login(user)
    return user


def test_the_queue_is_oldest_first_and_filters(client, catalogue, reviewer):
    old = file_claim(ResidentFactory(given_name="Old"), occurred_at=hours_ago(50))
    Claim.objects.filter(pk=old.pk).update(filed_at=timezone.now() - datetime.timedelta(days=3))
    clean = file_claim(ResidentFactory(given_name="Clean"), behaviour_code="street-clean", quantity="2")
    decided = file_claim(ResidentFactory(given_name="Decided"))
    Claim.objects.filter(pk=decided.pk).update(
        status="rejected", decided_at=timezone.now(), decision_reason="Not enough to go on."
    )

    page = client.get(reverse("office:claims")).content.decode()
    assert page.index(f"Claim {old.pk}<") < page.index(f"Claim {clean.pk}<")
    assert f"Claim {decided.pk}<" not in page  # waiting claims by default

    by_behaviour = client.get(reverse("office:claims"), {"status": "pending", "behaviour": "street-clean"})
    assert f"Claim {clean.pk}<" in by_behaviour.content.decode()
    assert f"Claim {old.pk}<" not in by_behaviour.content.decode()

    by_category = client.get(reverse("office:claims"), {"status": "pending", "category": "community-care"})
    assert f"Claim {old.pk}<" in by_category.content.decode()
    assert f"Claim {clean.pk}<" not in by_category.content.decode()

    today = timezone.localdate().isoformat()
    recent = client.get(reverse("office:claims"), {"status": "all", "filed_from": today}).content.decode()
    assert f"Claim {old.pk}<" not in recent and f"Claim {decided.pk}<" in recent and f"Claim {clean.pk}<" in recent


def test_the_queue_pages(client, catalogue, reviewer):
    for _ in range(27):
        file_claim(ResidentFactory())
    first = client.get(reverse("office:claims")).content.decode()
    assert "Page 1 of 2" in first
    assert "Page 2 of 2" in client.get(reverse("office:claims"), {"page": 2}).content.decode()


def test_the_detail_shows_the_rule_the_estimate_and_the_resident_by_number_only(client, catalogue, reviewer):
    from citizenpoints.services.ingest import card_link

    resident = ResidentFactory(given_name="Mei")
    card_link(resident=resident, card_number="330100198001011234")
    claim = file_claim(resident)
    page = client.get(reverse("office:claim", args=[claim.pk])).content.decode()
    assert f"Resident no. {resident.pk} · Mei" in page
    assert "330100198001011234" not in page and resident.user.email not in page
    assert "Approving awards 2 points." in page
    assert reverse("evidence_photo", args=[claim.photos.get().pk]) in page
    # Opening the claim is in the resident's access log.
    assert AuditEvent.objects.filter(action="resident.view", object_id=str(resident.pk), actor=reviewer).exists()


def test_a_reviewer_approves_and_rejects_through_the_console(client, catalogue, reviewer):
    resident = ResidentFactory()
    first, second = file_claim(resident, occurred_at=hours_ago(1)), file_claim(resident, occurred_at=hours_ago(2))

    response = client.post(reverse("office:claim_approve", args=[first.pk]), {"note": ""})
    assert response.status_code == 302 and response["Location"] == reverse("office:claim", args=[second.pk])
    assert LedgerEntry.objects.get(resident=resident).external_id == f"claim:{first.pk}"
    # A second submit of the same form awards nothing more.
    client.post(reverse("office:claim_approve", args=[first.pk]), {"note": ""})
    assert LedgerEntry.objects.filter(resident=resident).count() == 1

    short = client.post(reverse("office:claim_reject", args=[second.pk]), {"reason": "no"})
    assert short.status_code == 400
    second.refresh_from_db()
    assert second.status == "pending"

    response = client.post(
        reverse("office:claim_reject", args=[second.pk]), {"reason": "The photo shows a different building."}
    )
    assert response.status_code == 302 and response["Location"] == reverse("office:claims")
    second.refresh_from_db()
    assert second.status == "rejected"

    client.force_login(resident.user)
    page = client.get(reverse("claim_detail", args=[second.pk])).content.decode()
    assert "The photo shows a different building." in page and "Not approved" in page
    page = client.get(reverse("claim_detail", args=[first.pk])).content.decode()
    assert "You received 2 points." in page


@pytest.mark.parametrize("roles", [[OfficeRole.AUDITOR], [OfficeRole.CATALOGUE_EDITOR], []])
def test_only_reviewers_reach_the_decisions(client, catalogue, roles):
    claim = file_claim(ResidentFactory())
    client.force_login(UserFactory(roles=roles, mfa=bool(roles)))
    for name in ("office:claim_approve", "office:claim_reject"):
        response = client.post(reverse(name, args=[claim.pk]), {"reason": "A reason that is long enough."})
        assert response.status_code in (403, 302)
    claim.refresh_from_db()
    assert claim.status == "pending"
    queue = client.get(reverse("office:claims"))
    if roles == [OfficeRole.AUDITOR]:
        assert queue.status_code == 200
        detail = client.get(reverse("office:claim", args=[claim.pk])).content.decode()
        assert "Only a reviewer may decide claims." in detail
        assert reverse("office:claim_approve", args=[claim.pk]) not in detail
    else:
        assert queue.status_code in (403, 302)


def test_the_home_page_links_to_claims(client, resident):
    assert reverse("claims") in client.get(reverse("home")).content.decode()


def test_a_claim_the_cap_refuses_offers_a_rejection_with_the_reason(client, catalogue, reviewer):
    resident = ResidentFactory()
    claims = [file_claim(resident, occurred_at=hours_ago(hours)) for hours in (1, 2, 3)]
    if claims[0].occurred_at.month != claims[2].occurred_at.month:
        pytest.skip("the claims straddle a month boundary")
    for claim in claims[:2]:
        client.post(reverse("office:claim_approve", args=[claim.pk]), {"note": ""})
    third = claims[2]

    page = client.get(reverse("office:claim", args=[third.pk])).content.decode()
    assert "Approving would award nothing" in page
    assert "This claim cannot earn points: The limit of points for this behaviour in that period is reached." in page
    assert '<button type="submit" disabled>Approve and award the points</button>' in page

    response = client.post(reverse("office:claim_approve", args=[third.pk]), {"note": ""}, follow=True)
    assert "This claim cannot be approved" in response.content.decode()
    third.refresh_from_db()
    assert third.status == "pending" and LedgerEntry.objects.filter(resident=resident).count() == 2
