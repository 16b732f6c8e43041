"""The resident's inbox in a real Chromium at phone size (360x780), in English and Chinese: unread notices say so in
words, the header counts them, opening one marks it read and takes the resident to it, "Mark all as read" clears them.
Checked with axe-core; screenshots under test-results/screenshots (inbox-en, inbox-zh) for a person to look at."""

import datetime
import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from citizenpoints.models import Badge, DataSource, Notification, OfficeRole, Tier
from citizenpoints.services.awards import award_grant
from citizenpoints.services.notifications import notify, points_digest_create
from citizenpoints.services.reversals import entry_reverse
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

Kind = Notification.Kind


@pytest.fixture
def mei():
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(
        sources=[library],
        behaviours=[{"code": "library-loan", "name_en": "Library loan", "name_zh": "图书借阅", "rule": {"points": 1}}],
    )
    resident = ResidentFactory(given_name="Mei")
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    recorded = timezone.make_aware(datetime.datetime.combine(yesterday, datetime.time(12)))
    loans = [
        award_grant(resident=resident, behaviour_code="library-loan", source=library, external_id=f"loan-{n}",
                    occurred_at=recorded - datetime.timedelta(hours=n + 1), now=recorded).entry
        for n in range(3)
    ]  # fmt: skip
    points_digest_create(day=yesterday)
    getting_started, good = (
        Tier.objects.get(scheme__is_active=True, code=code) for code in ("getting-started", "good")
    )
    notify(resident=resident, kind=Kind.TIER_CHANGED,
           params={"from_tier_id": getting_started.pk, "to_tier_id": good.pk, "cause": "points"})  # fmt: skip
    notify(resident=resident, kind=Kind.BADGE_EARNED, params={"badge_id": Badge.objects.get(code="good-neighbour").pk})
    entry_reverse(
        entry=loans[0],
        acting_user=UserFactory(roles=[OfficeRole.REVIEWER]),
        reason="The library sent the same loan twice; this record is withdrawn.",
    )
    Notification.objects.filter(kind=Kind.POINTS_DIGEST).update(read_at=timezone.now())  # one already read
    return resident


def sign_in_as(page: Page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def test_the_inbox_in_english_and_chinese(page: Page, live_server, mei, axe_check, screenshot, csp_violations):
    sign_in_as(page, live_server, mei.user)
    page.goto("/me/")
    inbox_link = page.locator(".inbox-link")
    expect(inbox_link).to_have_text("Inbox 3 unread")
    inbox_link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your inbox")
    notices = page.locator(".notice")
    expect(notices).to_have_count(4)
    expect(page.locator(".notice.unread")).to_have_count(3)
    expect(notices.first.get_by_role("heading")).to_have_text("Points taken back: Library loan")
    expect(notices.first).to_contain_text("Unread")
    expect(notices.last.get_by_role("heading")).to_have_text("You received 3 points")
    expect(page.get_by_text("3 unread notices")).to_be_visible()
    axe_check(page)
    screenshot(page, "inbox-en")

    # Opening a notice marks it read and takes the resident to what it is about.
    page.locator(".notice", has_text="You reached Good").get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator(".inbox-link")).to_have_text("Inbox 2 unread")

    page.goto("/me/inbox/")
    page.locator(".site-footer").get_by_role("button", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("我的收件箱")
    expect(page.locator(".notice").first.get_by_role("heading")).to_have_text("积分被撤回：图书借阅")
    expect(page.locator(".notice", has_text="你获得了徽章")).to_contain_text("未读")
    axe_check(page)
    screenshot(page, "inbox-zh")

    page.get_by_role("button", name="全部标为已读").click()
    expect(page.locator(".notice.unread")).to_have_count(0)
    expect(page.locator(".nav-count")).to_have_count(0)
    expect(page.get_by_text("你的所有通知都已标为已读。")).to_be_visible()
    axe_check(page)
    screenshot(page, "inbox-zh-read")

    # The email opt-out, from the inbox's own link.
    page.get_by_role("link", name="电子邮件设置").click()
    box = page.get_by_label("通过电子邮件把通知发给我")
    expect(box).to_be_checked()
    box.uncheck()
    page.locator("#notices-title").locator("..").get_by_role("button", name="保存").click()
    expect(page.get_by_text("你的通知将只留在收件箱中，不再发送电子邮件。")).to_be_visible()
    expect(page.get_by_label("通过电子邮件把通知发给我")).not_to_be_checked()
    axe_check(page)
    screenshot(page, "profile-notices-zh")
    assert csp_violations == []
