"""A resident's points pages, and the public catalogue and tiers, in a real Chromium at phone size (360x780).

Each page is checked with axe-core and saved as a screenshot under test-results/screenshots for a person to look at.
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from citizenpoints.models import DataSource, OfficeRole
from citizenpoints.services.awards import award_grant
from citizenpoints.services.reversals import entry_reverse
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def catalogue():
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    volunteers = DataSource.objects.create(code="volunteers", name_en="Volunteer Federation", name_zh="志愿者联合会")
    return published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "library-loan", "name_en": "Library loan", "name_zh": "图书借阅",
             "description_en": "Borrow a book, an e-book or an audiobook from any city library.",
             "description_zh": "在市内任一图书馆借阅图书、电子书或有声书。",
             "rule": {"points": 1}, "cap_per_day": 3, "cap_per_month": 10},
            {"code": "volunteer-hours", "category": "volunteering", "name_en": "Registered volunteering",
             "name_zh": "注册志愿服务", "description_en": "Hours of volunteering recorded by the Volunteer Federation.",
             "description_zh": "志愿者联合会记录的志愿服务时长。", "rule_kind": "per_unit",
             "rule": {"unit": "hour", "steps": [[20, 1], [80, 2], [None, 4]]}, "sources": [volunteers]},
            {"code": "neighbour-visit", "category": "community-care", "name_en": "Visiting an elderly neighbour",
             "name_zh": "探访独居老人", "rule": {"points": 3}, "cap_per_month": 30, "evidence_required": True,
             "sources": [volunteers]},
            {"code": "donation", "category": "charity", "name_en": "Donation to a registered charity",
             "name_zh": "向登记慈善组织捐款", "rule_kind": "amount_bands",
             "rule": {"unit": "yuan", "bands": [[100, 1000, 2], [1000, 10000, 5], [10000, None, 10]]}},
        ],
    )  # fmt: skip


@pytest.fixture
def resident(catalogue):
    """Mei: five neighbour visits (a badge), volunteering hours, library loans, one of them corrected."""
    resident = ResidentFactory(given_name="Mei")
    now = timezone.now()

    def award(code, source, external_id, ago, **kwargs):
        source = DataSource.objects.get(code=source)
        occurred_at = now - ago
        return award_grant(
            resident=resident,
            behaviour_code=code,
            source=source,
            external_id=external_id,
            occurred_at=occurred_at,
            **kwargs,
        ).entry

    for n in range(5):
        award("neighbour-visit", "volunteers", f"visit-{n}", datetime.timedelta(days=30 + 7 * n))
    award("volunteer-hours", "volunteers", "hours-1", datetime.timedelta(days=3), quantity=Decimal(6))
    loans = [award("library-loan", "library", f"loan-{n}", datetime.timedelta(days=1, hours=n)) for n in range(2)]
    entry_reverse(
        entry=loans[1],
        acting_user=UserFactory(roles=[OfficeRole.REVIEWER]),
        reason="The library sent the same loan twice; the second record is withdrawn.",
    )
    return resident


def sign_in_as(page: Page, live_server, user) -> None:
    """Open a session for `user` without the login form (the onboarding tests cover that)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def switch_language(page: Page, name: str, html_lang: str) -> None:
    page.locator(".site-footer").get_by_role("button", name=name).click()
    expect(page.locator("html")).to_have_attribute("lang", html_lang)


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def test_dashboard_and_history_in_english_and_chinese(
    page: Page, live_server, resident, axe_check, screenshot, csp_violations
):
    sign_in_as(page, live_server, resident.user)
    page.goto("/me/")
    expect(heading(page)).to_have_text("Hello, Mei")
    # 5 visits x 3 + 6 hours + 2 loans - 1 corrected = 22 points on the base of 500.
    expect(page.locator(".score-number")).to_have_text("522")
    expect(page.get_by_text("28 more points to Good")).to_be_visible()
    expect(page.get_by_role("progressbar", name="28 more points to Good")).to_have_attribute("value", "22")
    expect(page.get_by_text("Good neighbour")).to_be_visible()
    expect(page.locator(".entries .entry")).to_have_count(5)
    axe_check(page)
    screenshot(page, "dashboard-en")

    page.get_by_role("link", name="See every record in your points history").click()
    expect(page).to_have_url(re.compile(r"/me/history/$"))
    expect(heading(page)).to_have_text("Your points history")
    correction = page.locator(".entry.reversal")
    expect(correction.get_by_role("heading")).to_have_text("Correction: Library loan")
    expect(correction).to_contain_text("The library sent the same loan twice")
    expect(correction).to_contain_text("Decided by the credit office on")
    corrected = page.locator(".entry:not(.reversal)", has_text="Taken back on")
    expect(corrected.get_by_role("heading")).to_have_text("Library loan")
    expect(corrected).to_contain_text("The library sent the same loan twice")  # the reason with the award too
    expect(page.locator(".entry")).to_have_count(9)
    axe_check(page)
    screenshot(page, "history-en")

    # The filters fold away on a phone; the form works without JavaScript: a plain GET.
    page.get_by_text("Filter by category or month").click()
    page.get_by_label("Category").select_option(label="Reading and culture")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page).to_have_url(re.compile(r"category=reading-culture"))
    expect(page.locator(".entry")).to_have_count(3)
    axe_check(page)

    switch_language(page, "简体中文", "zh-Hans")
    expect(heading(page)).to_have_text("我的积分记录")
    expect(page.locator(".entry.reversal").get_by_role("heading")).to_have_text("更正：图书借阅")
    page.get_by_role("link", name="显示全部").first.click()
    expect(page.locator(".entry")).to_have_count(9)
    axe_check(page)
    screenshot(page, "history-zh")

    page.locator(".site-nav").get_by_role("link", name="我的积分").click()
    expect(heading(page)).to_have_text("你好，Mei")
    expect(page.get_by_text("再得 28 分即可升至“良好”")).to_be_visible()
    expect(page.get_by_text("好邻居")).to_be_visible()
    axe_check(page)
    screenshot(page, "dashboard-zh")
    assert csp_violations == []


def test_history_pages_older_and_newer_at_phone_size(
    page: Page, live_server, catalogue, axe_check, screenshot, csp_violations
):
    """Thirty records: the newest 25, then "Older records" to the last 5 and "Newer records" back, in both languages;
    the links carry the last record's position, so a deep page costs what the first does."""
    resident = ResidentFactory(given_name="Mei")
    volunteers = DataSource.objects.get(code="volunteers")
    now = timezone.now()
    for n in range(30):
        award_grant(
            resident=resident,
            behaviour_code="volunteer-hours",
            source=volunteers,
            external_id=f"hours-{n}",
            occurred_at=now - datetime.timedelta(days=1 + n // 2),  # two at each instant: the id orders them
            quantity=Decimal(1),
        )
    sign_in_as(page, live_server, resident.user)
    page.goto("/me/history/")
    expect(page.get_by_text("30 in all")).to_be_visible()
    expect(page.locator(".entry")).to_have_count(25)
    pager = page.get_by_role("navigation", name="Pages of your history")
    expect(pager.get_by_role("link")).to_have_count(1)
    first_ids = page.locator(".entry").evaluate_all("entries => entries.map(entry => entry.id)")

    pager.get_by_role("link", name="Older records").click()
    expect(page).to_have_url(re.compile(r"/me/history/\?before=\d+_\d+$"))
    expect(page.locator(".entry")).to_have_count(5)
    older_ids = page.locator(".entry").evaluate_all("entries => entries.map(entry => entry.id)")
    assert not set(first_ids) & set(older_ids)
    expect(pager.get_by_role("link", name="Older records")).to_have_count(0)
    expect(page.get_by_role("link", name="Back to the newest")).to_be_visible()
    pager.scroll_into_view_if_needed()
    axe_check(page)
    screenshot(page, "history-pager-en")

    switch_language(page, "简体中文", "zh-Hans")
    pager = page.get_by_role("navigation", name="积分记录分页")
    expect(page.get_by_text("共 30 条")).to_be_visible()
    expect(page.locator(".entry")).to_have_count(5)
    pager.scroll_into_view_if_needed()
    axe_check(page)
    screenshot(page, "history-pager-zh")
    pager.get_by_role("link", name="较新的记录").click()
    expect(page).to_have_url(re.compile(r"\?after=\d+_\d+$"))
    expect(page.locator(".entry")).to_have_count(25)
    assert page.locator(".entry").evaluate_all("entries => entries.map(entry => entry.id)") == first_ids
    expect(pager.get_by_role("link", name="较新的记录")).to_have_count(0)
    assert csp_violations == []


def test_public_catalogue_and_tiers(page: Page, catalogue, axe_check, screenshot, csp_violations):
    page.goto("/")
    page.locator(".site-nav").get_by_role("link", name="Catalogue").click()
    expect(heading(page)).to_have_text("What earns points")
    expect(page.get_by_text("At most 3 points a day, 10 a month")).to_be_visible()
    expect(page.get_by_text("1 point per hour up to 20 hours a year", exact=False)).to_be_visible()
    axe_check(page)
    screenshot(page, "catalogue-en")

    page.locator(".site-nav").get_by_role("link", name="Tiers").click()
    expect(heading(page)).to_have_text("Tiers and badges")
    expect(page.get_by_role("heading", name="Benefits unlocked at this tier")).to_have_count(5)
    axe_check(page)
    screenshot(page, "tiers-en")

    page.goto("/catalogue/")
    switch_language(page, "简体中文", "zh-Hans")
    expect(heading(page)).to_have_text("哪些行为可以获得积分")
    expect(page.get_by_text("每天最多 3 分，每月最多 10 分")).to_be_visible()
    axe_check(page)
    screenshot(page, "catalogue-zh")
    assert csp_violations == []


def test_a_newcomer_sees_a_clear_empty_dashboard(
    page: Page, live_server, catalogue, axe_check, screenshot, csp_violations
):
    newcomer = ResidentFactory(given_name="Li")
    sign_in_as(page, live_server, newcomer.user)
    page.goto("/me/")
    expect(page.locator(".score-number")).to_have_text("500")
    expect(page.get_by_text("No points yet.")).to_be_visible()
    axe_check(page)
    screenshot(page, "dashboard-empty-en")
    page.goto("/me/history/")
    expect(page.get_by_text("No points yet.")).to_be_visible()
    axe_check(page)
    assert csp_violations == []
