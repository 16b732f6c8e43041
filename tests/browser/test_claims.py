"""The claim journey in real Chromium: a resident on a phone files a claim with a photo straight from the camera roll
(carrying GPS), a reviewer at a desk sees it without any metadata and approves it, and the resident sees the points.
Every screen is checked with axe and photographed, in English and (for the resident's form) in Chinese."""

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from citizenpoints.models import Claim, DataSource, LedgerEntry, OfficeRole
from citizenpoints.selectors import resident_dashboard
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.scoring import balances_verify
from tests.browser.test_appeal_journey import DESK, open_context
from tests.claims.conftest import hours_ago
from tests.conftest import PHONE
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def private_root(tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "private": {**settings.STORAGES["private"]}}
    settings.STORAGES["private"]["OPTIONS"] = {"location": tmp_path / "private"}
    return tmp_path / "private"


def phone_photo(path) -> None:
    """A portrait phone photo: landscape pixels with EXIF orientation 6, camera make and a GPS position."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "PhoneMaker", 6
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (30.0, 16.0, 12.0), "E", (120.0, 9.0, 30.0)
    image = Image.new("RGB", (1600, 1200), (120, 170, 220))
    image.paste((90, 140, 70), (0, 700, 1600, 1200))
    image.save(path, "JPEG", exif=exif, quality=90)


def catalogue():
    claims = DataSource.objects.get(code="claims")
    published_catalogue(
        behaviours=[
            {
                "code": "neighbour-help",
                "category": "community-care",
                "name_en": "Helping a neighbour",
                "name_zh": "邻里互助",
                "description_en": "Practical help for a neighbour, claimed with a photo.",
                "description_zh": "为邻居提供实际帮助，凭照片申报。",
                "evidence_required": True,
                "rule": {"points": "2"},
                "cap_per_month": 4,
                "sources": [claims],
            }
        ]
    )


def test_a_resident_files_a_claim_with_a_photo_and_a_reviewer_approves_it(
    browser, live_server, axe_check, screenshot, csp_violations, private_root, tmp_path
):
    base_url = live_server.url
    catalogue()
    resident = ResidentFactory(given_name="Na")
    reviewer = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)
    score_before = resident_dashboard(resident=resident).score
    photo_path = tmp_path / "IMG_2041.jpg"
    phone_photo(photo_path)

    # --- The resident, on a phone: the form in Chinese first, then filed in English.
    phone = open_context(browser, base_url, resident.user, viewport=PHONE, language="zh-hans")
    page = phone.new_page()
    page.on("console", lambda msg: csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto("/me/claims/new/")
    expect(page.get_by_role("heading", name="申报积分")).to_be_visible()
    axe_check(page)
    screenshot(page, "claim-form-zh")
    phone.add_cookies([{"name": "django_language", "value": "en", "url": base_url}])

    page.goto("/me/")
    page.get_by_role("link", name="Your claims and their decisions").click()
    expect(page.get_by_role("heading", name="Your claims")).to_be_visible()
    axe_check(page)
    screenshot(page, "claims-empty-en")
    page.get_by_role("link", name="File a claim").click()
    expect(page.get_by_label("What did you do?")).to_be_visible()
    axe_check(page)
    screenshot(page, "claim-form-en")

    # A mistake first: no description, so the error summary takes the focus; the photo must be chosen again.
    page.get_by_label("What did you do?").select_option("neighbour-help")
    page.get_by_label("When").fill(hours_ago(4).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Where it happened").fill("Block 12, Cuiyuan")
    page.get_by_label("Photo 1").set_input_files(str(photo_path))
    page.get_by_role("button", name="Send my claim").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    axe_check(page)
    screenshot(page, "claim-form-error-en")

    page.get_by_label("Tell us about it").fill("Carried my neighbour's shopping up six floors; the lift was broken.")
    page.get_by_label("Photo 1").set_input_files(str(photo_path))
    page.get_by_role("button", name="Send my claim").click()
    expect(page.get_by_text("Your claim is filed")).to_be_visible()
    expect(page.locator(".decision .claim-status")).to_have_text("Waiting for review")
    image = page.locator(".evidence-photos img").first
    expect(image).to_be_visible()
    # Laid out (visible) is not loaded: wait for the picture itself before reading its size.
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert page.evaluate("img => img.naturalWidth", image.element_handle()) == 1200  # portrait: the rotation applied
    axe_check(page)
    screenshot(page, "claim-filed-en")

    claim = Claim.objects.get()
    photo = claim.photos.get()
    with Image.open(private_root / photo.file_name) as stored:
        assert stored.size == (1200, 1600) and not stored.getexif()

    # --- The reviewer, at a desk.
    desk = open_context(browser, base_url, reviewer, viewport=DESK)
    office = desk.new_page()
    office.goto("/office/claims/")
    expect(office.get_by_role("heading", name="Claims to review")).to_be_visible()
    axe_check(office)
    screenshot(office, "office-claims-queue")
    office.get_by_role("link", name=f"Claim {claim.pk}").click()
    expect(office.get_by_text(f"Resident no. {resident.pk} · Na")).to_be_visible()
    expect(office.get_by_text("Approving awards 2 points.")).to_be_visible()
    served = office.request.get(f"/evidence/{photo.pk}.jpg")
    assert served.headers["content-type"] == "image/jpeg" and served.headers["cache-control"] == "private, no-store"
    assert b"PhoneMaker" not in served.body() and not Image.open(io.BytesIO(served.body())).getexif()
    axe_check(office)
    screenshot(office, "office-claim-review")
    office.get_by_label("Note to the resident (optional)").fill("Thank you for helping.")
    office.get_by_role("button", name="Approve and award the points").click()
    expect(office.get_by_text(f"Claim {claim.pk} approved")).to_be_visible()
    screenshot(office, "office-claim-approved")

    # --- The resident sees the decision and the points.
    page.reload()
    expect(page.locator(".decision .claim-status")).to_have_text("Approved")
    expect(page.get_by_text("You received 2 points.")).to_be_visible()
    expect(page.get_by_text("Thank you for helping.")).to_be_visible()
    axe_check(page)
    screenshot(page, "claim-approved-en")
    page.goto("/me/claims/")
    axe_check(page)
    screenshot(page, "claims-list-en")
    page.goto("/me/")
    score_after = resident_dashboard(resident=resident).score
    assert score_after == score_before + 2
    expect(page.locator(".score-number")).to_have_text(re.compile(rf"^{int(score_after):,}$".replace(",", ",?")))
    assert LedgerEntry.objects.get(resident=resident).external_id == f"claim:{claim.pk}"
    axe_check(page)
    screenshot(page, "home-after-claim-en")

    # The same decision in Chinese.
    phone.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base_url}])
    page.goto(f"/me/claims/{claim.pk}/")
    axe_check(page)
    screenshot(page, "claim-approved-zh")

    assert list(ledger_verify()) == [] and list(balances_verify()) == []
    assert csp_violations == []
    phone.close()
    desk.close()
