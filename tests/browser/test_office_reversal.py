"""A reviewer finds a resident by a department's record id and reverses the wrong award with a reason (desktop); the
resident then reads the correction and its reason in their history (phone)."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from citizenpoints.models import DataSource, LedgerEntry, Notification
from citizenpoints.services.awards import award_grant
from citizenpoints.services.ingest import card_link
from tests.browser.test_office_ingest import sign_in
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
CARD = "330100199001011234"
REASON = "The library sent loan L-8 twice: it is the same book as L-7, borrowed once."


@pytest.fixture
def resident():
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(
        sources=[library],
        behaviours=[{"code": "library-loan", "name_en": "Library loan", "name_zh": "图书借阅", "rule": {"points": 2}}],
    )
    resident = ResidentFactory(given_name="Mei")
    card_link(resident=resident, card_number=CARD)
    for number, days in (("L-7", 2), ("L-8", 1)):
        award_grant(
            resident=resident,
            behaviour_code="library-loan",
            source=library,
            external_id=number,
            occurred_at=timezone.now() - datetime.timedelta(days=days),
        )
    return resident


def test_a_reviewer_reverses_a_wrong_record_and_the_resident_reads_why(
    page, live_server, resident, axe_check, screenshot, csp_violations
):
    page.set_viewport_size(DESKTOP)
    sign_in(page, UserFactory(roles=["reviewer"], mfa=True), live_server)

    page.goto(f"{live_server.url}/me/")  # staff land on the console
    expect(page.get_by_role("heading", level=1)).to_have_text("Credit office")
    expect(page.locator("#screen-residents")).to_be_visible()
    axe_check(page)
    screenshot(page, "office-home-reviewer-desktop")

    page.get_by_role("navigation", name="Office screens").get_by_role("link", name="Residents and reversals").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a resident")
    axe_check(page)
    screenshot(page, "office-residents-search-desktop")

    record = page.get_by_role("region", name="By a department's record")
    record.get_by_label("Sent by").select_option(label="City Library")
    record.get_by_label("Record id").fill("L-8")
    record.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Resident {resident.pk}")
    found = page.get_by_role("region", name="The record you looked for")
    expect(found).to_contain_text("L-8")
    assert CARD not in page.content()
    axe_check(page)
    screenshot(page, "office-resident-desktop")

    found.get_by_role("link", name="Reverse").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reverse a record")
    page.get_by_role("button", name="Continue").click()  # no reason yet
    expect(page.get_by_role("alert")).to_contain_text("at least 10 characters")
    axe_check(page)
    page.get_by_label("Why this record is wrong").fill(REASON)
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check the reversal")
    effect = page.get_by_role("region", name="What will change")
    expect(effect).to_contain_text("2 points")
    expect(effect).to_contain_text("504 → 502")
    expect(effect.locator("blockquote")).to_have_text(REASON)
    assert not LedgerEntry.objects.filter(kind="reversal").exists()  # nothing changed before the confirmation
    axe_check(page)
    screenshot(page, "office-reverse-confirm-desktop")

    page.get_by_role("button", name="Reverse and tell the resident").click()
    expect(page.locator(".message.success")).to_contain_text("The record is reversed")
    expect(page.locator("tr.reversal")).to_contain_text(REASON)
    assert CARD not in page.content()
    axe_check(page)
    screenshot(page, "office-resident-reversed-desktop")
    assert Notification.objects.filter(resident=resident, kind="entry_reversed").count() == 1

    # The resident, on their phone, reads the correction and its reason.
    page.context.clear_cookies()
    page.set_viewport_size(PHONE)
    sign_in(page, resident.user, live_server)
    page.goto(f"{live_server.url}/me/history/")
    correction = page.locator(".entry.reversal")
    expect(correction.get_by_role("heading")).to_have_text("Correction: Library loan")
    expect(correction).to_contain_text(REASON)
    expect(page.locator(".entry:not(.reversal)", has_text="Taken back on")).to_have_count(1)
    # The appeals screens may offer an appeal beside the correction; where they do, it is a link or a button.
    appeal = correction.get_by_role("link", name="Appeal").or_(correction.get_by_role("button", name="Appeal"))
    if appeal.count():
        expect(appeal.first).to_be_visible()
    axe_check(page)
    screenshot(page, "resident-history-reversed-phone")
    assert csp_violations == []


def test_the_resident_screens_in_chinese(page, live_server, resident, axe_check, screenshot, csp_violations):
    page.set_viewport_size(DESKTOP)
    sign_in(page, UserFactory(roles=["reviewer"], mfa=True), live_server)
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    page.goto(f"{live_server.url}/office/")
    expect(page.get_by_role("heading", level=1)).to_have_text("信用办")
    screenshot(page, "office-home-reviewer-desktop-zh")
    entry = resident.ledger_entries.get(external_id="L-7")
    page.goto(f"{live_server.url}/office/residents/{resident.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"居民 {resident.pk}")
    axe_check(page)
    screenshot(page, "office-resident-desktop-zh")
    page.goto(f"{live_server.url}/office/residents/{resident.pk}/entries/{entry.pk}/reverse/")
    page.get_by_role("textbox", name="这条记录为什么有误").fill(REASON)
    page.get_by_role("button", name="继续").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("核对撤销")
    axe_check(page)
    screenshot(page, "office-reverse-confirm-desktop-zh")
    assert csp_violations == []


def test_the_console_front_page_for_someone_with_every_role(page, live_server, axe_check, screenshot):
    page.set_viewport_size(DESKTOP)
    roles = ["reviewer", "catalogue_editor", "data_source_manager", "partner_manager", "auditor"]
    sign_in(page, UserFactory(roles=roles, mfa=True), live_server)
    page.goto(f"{live_server.url}/office/")
    for name in ("Reviewer", "Catalogue editor", "Data-source manager", "Partner manager", "Auditor"):
        expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()
    axe_check(page)
    screenshot(page, "office-home-every-role-desktop")
