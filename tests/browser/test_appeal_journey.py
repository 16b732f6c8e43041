"""The appeal journey in real Chromium: a resident on a phone asks for points that never came and is told the
deadline at once; a reviewer at a desk (a second browser context) starts the review and grants it with reasons; the
resident sees the corrected score and the reasons. Every screen is checked with axe and photographed."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, expect

from citizenpoints.models import Appeal, DataSource, OfficeRole
from citizenpoints.selectors import resident_dashboard
from citizenpoints.services.awards import award_grant
from citizenpoints.services.calendar import china_holidays_load
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.scoring import balances_verify, local_zone
from tests.conftest import PHONE
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DESK = {"width": 1280, "height": 900}


def open_context(browser: Browser, base_url: str, user, *, viewport, language="en") -> BrowserContext:
    context = browser.new_context(
        viewport=viewport, device_scale_factor=2 if viewport == PHONE else 1, base_url=base_url
    )
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [
            {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url},
            {"name": "django_language", "value": language, "url": base_url},
        ]
    )
    return context


def test_a_resident_appeals_missing_points_and_a_reviewer_grants_them(
    browser, live_server, axe_check, screenshot, csp_violations
):
    base_url = live_server.url
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(
        sources=[library],
        behaviours=[{"code": "library-loan", "name_en": "Library loan", "name_zh": "图书借阅", "rule": {"points": 2}}],
    )
    china_holidays_load()
    resident = ResidentFactory(given_name="Na")
    yesterday = timezone.now().astimezone(local_zone()) - datetime.timedelta(days=1)
    award_grant(
        resident=resident,
        behaviour_code="library-loan",
        source=library,
        external_id="loan-1",
        occurred_at=yesterday - datetime.timedelta(days=2),
    )
    score_before = resident_dashboard(resident=resident).score
    reviewer = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)

    # --- The resident, on a phone.
    phone = open_context(browser, base_url, resident.user, viewport=PHONE)
    page = phone.new_page()
    page.on("console", lambda msg: csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto("/me/")
    page.get_by_role("link", name="Points I should have received").click()
    expect(page.get_by_role("heading", name="Points I should have received")).to_be_visible()
    axe_check(page)
    screenshot(page, "appeal-missing-form-en")
    page.get_by_label("What did you do?").select_option("library-loan")
    page.get_by_label("When").fill(yesterday.strftime("%Y-%m-%dT09:30"))
    page.get_by_label("Your statement").fill("I borrowed two books at the Westlake branch; no points came.")
    page.get_by_role("button", name="Send my appeal").click()

    expect(page.get_by_text("Your appeal is received.")).to_be_visible()
    appeal = Appeal.objects.get(resident=resident)
    expect(page.locator(".due")).to_contain_text("You will have a decision by")
    expect(page.locator(".due")).to_contain_text(f"{appeal.due_on:%Y}")
    axe_check(page)
    screenshot(page, "appeal-acknowledged-en")

    # The same acknowledgement in Chinese.
    phone.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base_url}])
    page.reload()
    expect(page.locator(".due")).to_contain_text(f"{appeal.due_on.year}年{appeal.due_on.month}月{appeal.due_on.day}日")
    axe_check(page)
    screenshot(page, "appeal-acknowledged-zh")
    phone.add_cookies([{"name": "django_language", "value": "en", "url": base_url}])

    page.goto("/me/appeals/")
    expect(page.get_by_role("link", name="Missing points: Library loan")).to_be_visible()
    axe_check(page)
    screenshot(page, "appeal-list-en")

    # Another resident's appeal, filed two weeks ago and still open: overdue, it must stand out in words.
    late = Appeal.objects.create(
        resident=ResidentFactory(given_name="Lei"),
        subject=Appeal.Subject.MISSING_POINTS,
        behaviour=appeal.behaviour,
        occurred_at=yesterday - datetime.timedelta(days=15),
        statement="A loan in early November.",
        filed_at=timezone.now() - datetime.timedelta(days=14),
        due_on=timezone.localdate() - datetime.timedelta(days=7),
    )

    # --- The reviewer, at a desk, in a second browser context.
    desk = open_context(browser, base_url, reviewer, viewport=DESK)
    office = desk.new_page()
    office.goto("/office/appeals/")
    expect(office.get_by_role("heading", name="Appeals")).to_be_visible()
    overdue_row = office.locator("tr.overdue")
    expect(overdue_row).to_have_count(1)
    expect(overdue_row).to_contain_text(f"Appeal {late.pk}")
    expect(overdue_row.locator(".overdue-flag")).to_contain_text("Overdue by")
    expect(office.locator("tbody tr").first).to_contain_text(f"Appeal {late.pk}")  # the earliest due first
    axe_check(office)
    screenshot(office, "office-appeals-queue")
    office.get_by_role("link", name=f"Appeal {appeal.pk}", exact=True).click()
    expect(office.get_by_text("I borrowed two books at the Westlake branch")).to_be_visible()
    office.get_by_role("button", name="Start the review").click()
    expect(office.get_by_text("the resident sees it is being reviewed")).to_be_visible()

    # The resident sees that someone is on it.
    page.goto(f"/me/appeals/{appeal.pk}/")
    expect(page.locator(".appeal-state .appeal-status")).to_have_text("Being reviewed")

    office.get_by_label("Grant: correct the points").check()
    office.get_by_label("Reasons the resident will read").fill(
        "The library's loan log shows your two books on that day; the record had not been sent."
    )
    axe_check(office)
    screenshot(office, "office-appeal-decide")
    office.get_by_role("button", name="Record the decision").click()
    expect(office.get_by_text("granted; the ledger is corrected")).to_be_visible()
    axe_check(office)
    screenshot(office, "office-appeal-granted")

    # --- The resident reads the decision and sees the corrected score.
    page.reload()
    expect(page.locator(".appeal-state .appeal-status")).to_have_text("Granted")
    expect(page.get_by_text("2 points added to your score.")).to_be_visible()
    expect(page.locator(".decision-reason")).to_contain_text("The library's loan log shows your two books")
    axe_check(page)
    screenshot(page, "appeal-granted-en")
    page.goto("/me/")
    score_after = resident_dashboard(resident=resident).score
    assert score_after == score_before + 2
    expect(page.locator(".score-number")).to_have_text(re.compile(rf"^{int(score_after):,}$".replace(",", ",?")))
    page.goto("/me/history/")
    expect(page.get_by_role("link", name="Given on appeal: read the reasons")).to_be_visible()
    screenshot(page, "appeal-history-en")

    assert list(ledger_verify()) == [] and list(balances_verify()) == []
    assert csp_violations == []
    phone.close()
    desk.close()


def test_a_record_appealed_from_the_history_and_the_office_calendar(browser, live_server, axe_check, screenshot):
    """The other screens: appealing a record from the history (English and Chinese), and the working-day calendar
    a reviewer keeps at a desk."""
    base_url = live_server.url
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(
        sources=[library],
        behaviours=[{"code": "library-loan", "name_en": "Library loan", "name_zh": "图书借阅", "rule": {"points": 2}}],
    )
    china_holidays_load()
    resident = ResidentFactory(given_name="Jie")
    entry = award_grant(
        resident=resident,
        behaviour_code="library-loan",
        source=library,
        external_id="loan-9",
        occurred_at=timezone.now() - datetime.timedelta(days=3),
    ).entry

    phone = open_context(browser, base_url, resident.user, viewport=PHONE, language="zh-hans")
    page = phone.new_page()
    page.goto("/me/history/")
    page.get_by_role("link", name="这条记录有误？提出申诉").click()
    expect(page.get_by_role("heading", name="对记录提出申诉")).to_be_visible()
    axe_check(page)
    screenshot(page, "appeal-entry-form-zh")
    page.get_by_role("button", name="提交申诉").click()
    expect(page.locator(".error-summary")).to_be_visible()  # the statement is required, and said so first
    axe_check(page)
    page.get_by_label("你的陈述").fill("那天我不在杭州，这不是我借的书。")
    page.get_by_role("button", name="提交申诉").click()
    expect(page.get_by_text("你的申诉已收到。")).to_be_visible()
    expect(page.locator(".due")).to_contain_text("前得到决定")
    assert Appeal.objects.get().entry == entry
    screenshot(page, "appeal-entry-acknowledged-zh")
    phone.add_cookies([{"name": "django_language", "value": "en", "url": base_url}])
    page.goto(f"/me/appeals/record/{entry.pk}/")  # an open appeal: shown, not a second form
    expect(page.get_by_text("You already appealed this.")).to_be_visible()

    desk = open_context(browser, base_url, UserFactory(roles=[OfficeRole.REVIEWER], mfa=True), viewport=DESK)
    office = desk.new_page()
    office.goto("/office/calendar/?year=2026")
    expect(office.get_by_role("cell", name="Spring Festival").first).to_be_visible()
    expect(office.get_by_text("2026 has 248 working days.")).to_be_visible()
    axe_check(office)
    screenshot(office, "office-calendar-2026")
    office.get_by_role("link", name="Add a day").click()
    office.get_by_label("Date").fill("2026-12-31")
    office.get_by_label("is shut (a public holiday)").check()
    office.get_by_label("Name (English)").fill("Year-end closure")
    office.get_by_label("Name (Chinese)").fill("年末停业")
    axe_check(office)
    screenshot(office, "office-calendar-day-form")
    office.get_by_role("button", name="Save").click()
    expect(office.get_by_text("2026-12-31 is saved in the calendar.")).to_be_visible()
    expect(office.get_by_text("2026 has 247 working days.")).to_be_visible()
    phone.close()
    desk.close()
