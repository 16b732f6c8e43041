"""A catalogue editor compares the two tier schemes and switches, with a reason and a confirmation (desktop)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from citizenpoints.models import Balance, TierScheme
from tests.browser.test_office_ingest import sign_in
from tests.factories import ResidentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_an_editor_switches_the_tier_scheme(page, live_server, axe_check, screenshot, csp_violations):
    for points in ("0", "60", "260"):
        Balance.objects.filter(resident=ResidentFactory()).update(points=Decimal(points))
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, UserFactory(roles=["catalogue_editor", "auditor"], mfa=True), live_server)

    page.goto(f"{live_server.url}/office/tiers/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tier schemes")
    page.get_by_text("Switch to “Grades AAA to D”").click()
    page.get_by_label("Why the scheme changes").fill("The city adopts the Seashell grades.")
    axe_check(page)
    screenshot(page, "office-tiers-desktop")
    page.get_by_role("button", name="Switch the tier scheme").click()
    expect(page.get_by_role("alert").or_(page.locator(".error")).first).to_be_visible()  # the confirmation is missing
    assert TierScheme.objects.get(is_active=True).code == "five-bands"

    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Switch the tier scheme").click()
    expect(page.get_by_text("residents moved tier")).to_be_visible()
    assert TierScheme.objects.get(is_active=True).code == "grades"
    screenshot(page, "office-tiers-switched-desktop")

    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    page.goto(f"{live_server.url}/office/tiers/")
    expect(page.get_by_role("heading", level=1)).to_have_text("等级方案")
    screenshot(page, "office-tiers-desktop-zh")
    page.set_viewport_size({"width": 360, "height": 780})  # an officer checking from a phone
    axe_check(page)
    screenshot(page, "office-tiers-phone-zh")
    page.goto(f"{live_server.url}/office/audit/?since=2026-11-01")  # a date filter survives in Chinese
    expect(page.locator('input[type="date"]').first).to_have_value("2026-11-01")
    screenshot(page, "office-audit-phone-zh")
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto(f"{live_server.url}/office/tiers/")
    screenshot(page, "office-tiers-phone-en")
    assert csp_violations == []
