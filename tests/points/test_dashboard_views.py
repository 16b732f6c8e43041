"""The resident's dashboard, history and profile through the test client, and their query counts."""

import datetime
import html
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from citizenpoints.mfa import totp_enrol
from citizenpoints.models import DataSource, LedgerEntry, OfficeRole
from citizenpoints.selectors import HistoryPosition, resident_dashboard, resident_history
from citizenpoints.services.awards import award_grant
from citizenpoints.services.residents import current_terms_version
from citizenpoints.services.reversals import entry_reverse
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans,zh;q=0.9"}


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def library():
    return DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")


@pytest.fixture
def catalogue(library):
    return published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "library-loan", "name_en": "Library loan", "name_zh": "图书借阅", "rule": {"points": 2}},
            {"code": "neighbour-visit", "category": "community-care", "name_en": "Visit to an elderly neighbour",
             "name_zh": "探访老人", "rule": {"points": 3}},
            {"code": "volunteer-hours", "category": "volunteering", "name_en": "Volunteering", "name_zh": "志愿服务",
             "rule_kind": "per_unit", "rule": {"unit": "hour", "steps": [[20, 1], [None, 2]]}},
        ],
    )  # fmt: skip


def grant(resident, external_id, *, code="library-loan", days_ago=1, **kwargs):
    return award_grant(
        resident=resident,
        behaviour_code=code,
        source=DataSource.objects.get(code="library"),
        external_id=external_id,
        occurred_at=NOW - datetime.timedelta(days=days_ago, minutes=int(external_id.rsplit("-", 1)[-1] or 0)),
        **kwargs,
    ).entry


def reviewer():
    return UserFactory(roles=[OfficeRole.REVIEWER])


@pytest.fixture
def resident_client(client, catalogue):
    resident = ResidentFactory(given_name="Mei")
    client.force_login(resident.user)
    client.resident = resident
    return client


# --- Access.
def test_the_dashboard_sends_newcomers_to_join_and_anonymous_visitors_to_sign_in(client):
    for name in ("home", "history", "profile"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    client.force_login(UserFactory())
    for name in ("home", "history", "profile"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url == reverse("join")


def test_staff_without_a_resident_record_see_the_office_page(client):
    staff = UserFactory(roles=[OfficeRole.REVIEWER])
    totp_enrol(user=staff)
    client.force_login(staff)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "Credit office" in response.content.decode()
    for name in ("history", "profile"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url == reverse("home")


# --- The dashboard.
def test_a_newcomer_sees_the_base_score_the_first_tier_and_the_way_up(resident_client):
    page = resident_client.get(reverse("home")).content.decode()
    assert "Hello, Mei" in page
    assert '<span class="score-number">500</span>' in page
    assert "Getting started" in page
    assert "50 more points to Good" in page
    assert '<progress id="tier-progress" class="tier-progress" max="50" value="0">' in page
    assert "No badges yet." in page and "No points yet." in page
    assert f"Terms version {current_terms_version()}" in page
    assert 'style="' not in page  # CSP forbids inline styles


def test_the_dashboard_shows_score_tier_progress_badges_and_the_latest_five(resident_client):
    resident = resident_client.resident
    for n in range(5):
        grant(resident, f"visit-{n}", code="neighbour-visit", days_ago=n + 2)  # 15 points and "Good neighbour"
    for n in range(3):
        grant(resident, f"loan-{n}", days_ago=1)  # 6 points, the newest three
    page = resident_client.get(reverse("home")).content.decode()
    assert '<span class="score-number">521</span>' in page  # base 500 + 21 from the Balance row
    assert "29 more points to Good" in page
    assert 'max="50" value="21"' in page
    assert "Good neighbour" in page and "Earned" in page
    assert page.count('<li class="entry') == 5
    assert page.count("Library loan") == 3 and page.count("Visit to an elderly neighbour") == 2
    assert reverse("history") in page


def test_the_top_tier_says_so_without_a_bar(resident_client):
    resident = resident_client.resident
    grant(resident, "hours-1", code="volunteer-hours", quantity=Decimal(300))  # 20 + 140 = 160 points
    grant(resident, "hours-2", code="volunteer-hours", quantity=Decimal(200), days_ago=2)  # 100 more: 760
    dashboard = resident_dashboard(resident=resident)
    assert dashboard.score == Decimal(760) and dashboard.progress.tier.code == "excellent"
    page = resident_client.get(reverse("home")).content.decode()
    assert "You have reached the highest tier." in page
    assert "<progress" not in page


def test_the_dashboard_in_chinese(resident_client):
    grant(resident_client.resident, "loan-1")
    page = resident_client.get(reverse("home"), **CHINESE).content.decode()
    assert "你好，Mei" in page
    assert "图书借阅" in page and "市图书馆" in page
    assert "起步" in page  # the tier's Chinese name
    assert f"条款版本 {current_terms_version()}" in page


# --- The profile moved to its own page.
def test_the_profile_page_keeps_consent_and_security(resident_client):
    page = resident_client.get(reverse("profile")).content.decode()
    assert f"Terms version {current_terms_version()}, accepted" in page
    assert reverse("account_change_password") in page and reverse("mfa_index") in page


# --- History.
def test_history_explains_every_entry_and_its_reversal(resident_client):
    resident = resident_client.resident
    award = grant(resident, "loan-1", days_ago=3)
    grant(resident, "hours-1", code="volunteer-hours", quantity=Decimal(3), days_ago=2)
    entry_reverse(entry=award, acting_user=reviewer(), reason="The library sent this loan twice.")

    page = resident_client.get(reverse("history")).content.decode()
    assert "Library loan" in page and "Volunteering" in page
    assert "Reading and culture" in page and "City Library" in page and "Credit office decisions" in page
    assert "catalogue version 1" in page and "3 hours" in page
    assert "Correction: Library loan" in page
    assert "Takes back the 2 points awarded for this on" in page
    assert "The library sent this loan twice." in page
    assert "Decided by the credit office on" in page
    assert "Taken back on" in page  # the award itself says it was corrected
    assert "\u22122" in page and "+2" in page and "+3" in page
    # The reviewer is never named to the resident.
    reversal = LedgerEntry.objects.get(reverses=award)
    assert reversal.decided_by.email not in page


def test_history_filters_by_category_and_month(resident_client):
    resident = resident_client.resident
    grant(resident, "loan-1", days_ago=1)  # November 2026
    grant(resident, "loan-2", days_ago=40)  # October 2026
    grant(resident, "visit-1", code="neighbour-visit", days_ago=2)

    page = resident_client.get(reverse("history"), {"category": "reading-culture"}).content.decode()
    assert page.count('<li class="entry') == 2 and "Visit to an elderly neighbour" not in page
    page = resident_client.get(reverse("history"), {"month": "2026-10"}).content.decode()
    assert page.count('<li class="entry') == 1
    assert '<option value="2026-10" selected>October 2026</option>' in page
    page = resident_client.get(reverse("history"), {"category": "community-care", "month": "2026-10"}).content
    assert "No records match these filters." in page.decode()


def test_a_tampered_filter_shows_everything_with_the_fields_error(resident_client):
    grant(resident_client.resident, "loan-1")
    response = resident_client.get(reverse("history"), {"category": "nope", "month": "1999-13"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<li class="entry') == 1
    assert "Select a valid choice" in page
    # A valid filter beside a tampered one still applies.
    page = resident_client.get(reverse("history"), {"category": "volunteering", "month": "1999-13"}).content.decode()
    assert page.count('<li class="entry') == 0 and "No records match these filters." in page


def entry_ids(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="entry[^"]*" id="entry-(\d+)"', page)]


def pager_link(page: str, rel: str) -> str | None:
    """The history URL of the page's "Newer records" (prev) or "Older records" (next) link, None if it has none."""
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', page)
    return reverse("history") + html.unescape(found[1]) if found else None


def test_a_corrected_award_gives_the_reason_even_when_its_correction_is_on_the_page_before(resident_client):
    """A correction sorts just above its award (same occurred_at, later id), so a page can end between them: the
    award's own entry must say why it was taken back, not point at an entry that is not on its page."""
    resident = resident_client.resident
    award = grant(resident, "loan-99", days_ago=30)
    for n in range(24):
        grant(resident, f"loan-{n}", days_ago=1 + n)
    entry_reverse(entry=award, acting_user=reviewer(), reason="The library sent this loan twice.")
    first = resident_client.get(reverse("history")).content.decode()
    assert len(entry_ids(first)) == 25 and award.pk not in entry_ids(first)  # the correction is the 25th
    second = resident_client.get(pager_link(first, "next")).content.decode()
    assert entry_ids(second) == [award.pk]
    assert "Taken back on" in second and "The library sent this loan twice." in second
    assert "#entry-" not in second


def test_history_is_paginated_by_25_keeping_the_filters(resident_client):
    resident = resident_client.resident
    for n in range(30):
        grant(resident, f"loan-{n}", days_ago=1 + n // 3)
    grant(resident, "visit-1", code="neighbour-visit")
    first = resident_client.get(reverse("history"), {"category": "reading-culture"}).content.decode()
    assert len(entry_ids(first)) == 25
    assert "30 in all · this page:" in first and "page 1 of" not in first
    assert pager_link(first, "prev") is None and "Back to the newest" not in first
    older = pager_link(first, "next")
    assert re.fullmatch(r"/me/history/\?category=reading-culture&before=\d+_\d+", older), older
    second = resident_client.get(older).content.decode()
    assert len(entry_ids(second)) == 5 and not set(entry_ids(second)) & set(entry_ids(first))
    assert "30 in all" in second and pager_link(second, "next") is None
    newer = pager_link(second, "prev")
    assert re.fullmatch(r"/me/history/\?category=reading-culture&after=\d+_\d+", newer), newer
    assert '<a href="?category=reading-culture">Back to the newest</a>' in second
    chinese = resident_client.get(older, **CHINESE).content.decode()
    assert "共 30 条 · 本页：" in chinese and ">较新的记录</a>" in chinese and ">回到最新记录</a>" in chinese
    back = resident_client.get(newer).content.decode()
    assert entry_ids(back) == entry_ids(first) and pager_link(back, "prev") is None
    assert pager_link(back, "next") == older
    # Page numbers from old links and bookmarks are not read: the newest page.
    page = resident_client.get(reverse("history"), {"page": "99"}).content.decode()
    newest = resident.ledger_entries.order_by("-occurred_at", "-id").values_list("pk", flat=True)[:25]
    assert entry_ids(page) == list(newest) and "31 in all" in page


def test_paging_visits_every_entry_once_in_order_both_ways(resident_client):
    """Seven entries at each instant (to the microsecond), so pages end inside a run of equal times: the id orders
    them, and the position carried in the links keeps the microseconds."""
    resident = resident_client.resident
    library = DataSource.objects.get(code="library")
    for n in range(62):
        group = n // 7
        award_grant(
            resident=resident,
            behaviour_code="neighbour-visit" if n % 5 == 0 else "library-loan",
            source=library,
            external_id=f"same-{n}",
            occurred_at=NOW - datetime.timedelta(days=1 + group, microseconds=123457 * (group + 1)),
        )
    expected = list(resident.ledger_entries.order_by("-occurred_at", "-id").values_list("pk", flat=True))
    assert len(set(resident.ledger_entries.values_list("occurred_at", flat=True))) == 9

    pages, url = [], reverse("history")
    while url:
        page = resident_client.get(url).content.decode()
        pages.append(entry_ids(page))
        url = pager_link(page, "next")
    assert [len(ids) for ids in pages] == [25, 25, 12]
    assert [pk for ids in pages for pk in ids] == expected

    backwards = []
    while page is not None:  # from the oldest page, "Newer records" to the top
        backwards.append(entry_ids(page))
        url = pager_link(page, "prev")
        page = resident_client.get(url).content.decode() if url else None
    assert backwards == pages[::-1]


def test_paging_keeps_a_month_and_a_category_together(resident_client):
    resident = resident_client.resident
    for n in range(40):
        grant(resident, f"loan-{n}", code="library-loan" if n % 2 else "neighbour-visit", days_ago=1 + n // 4)
    grant(resident, "old-0", days_ago=40)  # October 2026: outside the month
    query = {"category": "reading-culture", "month": "2026-11"}
    first = resident_client.get(reverse("history"), query).content.decode()
    assert "20 in all" in first and len(entry_ids(first)) == 20 and pager_link(first, "next") is None
    for code in ("library-loan", "neighbour-visit"):
        for n in range(40, 55):
            grant(resident, f"more-{code}-{n}", code=code, days_ago=1 + n // 4)
    first = resident_client.get(reverse("history"), query).content.decode()
    second = resident_client.get(pager_link(first, "next")).content.decode()
    assert "35 in all" in second and len(entry_ids(second)) == 10
    assert '<option value="2026-11" selected>' in second and '<option value="reading-culture" selected>' in second
    shown = LedgerEntry.objects.filter(pk__in=entry_ids(first) + entry_ids(second))
    assert {entry.behaviour_code for entry in shown} == {"library-loan"}
    assert all(entry.occurred_at.month == 11 for entry in shown)


@pytest.mark.parametrize(
    "query",
    [
        {"before": "nonsense"},
        {"before": "1_2_3"},
        {"before": "1763719200000000_"},
        {"before": "99999999999999999999_1"},  # more digits than any instant
        {"before": "-99999999999999999_1"},  # before year 1
        {"before": "253402300800000000_1"},  # after 9999
        {"before": "1763719200000000_9223372036854775808"},  # past the largest id
        {"before": "\u0661\u0662_\u0663"},  # digits, but not ASCII ones
        {"before": "1763719200000000_1\n"},
        {"before": "0_0"},  # well formed, but nothing is older: the newest page
        {"after": "253402300799999999_1"},  # nothing newer
        {"before": "", "after": "x"},
    ],
)
def test_a_tampered_position_shows_the_newest_page_without_an_error(resident_client, query):
    resident = resident_client.resident
    for n in range(27):
        grant(resident, f"loan-{n}", days_ago=1 + n)
    newest = list(resident.ledger_entries.order_by("-occurred_at", "-id").values_list("pk", flat=True)[:25])
    response = resident_client.get(reverse("history"), {"category": "", **query})
    assert response.status_code == 200
    page = response.content.decode()
    assert entry_ids(page) == newest
    assert pager_link(page, "prev") is None and pager_link(page, "next")
    assert 'class="error"' not in page and "has-error" not in page


def test_history_in_chinese(resident_client):
    award = grant(resident_client.resident, "loan-1")
    entry_reverse(entry=award, acting_user=reviewer(), reason="图书馆重复发送了这条借阅记录。")
    page = resident_client.get(reverse("history"), **CHINESE).content.decode()
    assert "积分记录" in page
    assert "更正：图书借阅" in page
    assert "由信用办于" in page and "收回" in page
    assert "共 2 条 · 本页：" in page


# --- The number of queries does not grow with the ledger.
def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def fill_ledger(resident, entries: int) -> None:
    for n in range(entries):
        code = "neighbour-visit" if n % 4 == 0 else "library-loan"
        grant(resident, f"r{resident.pk}-{code}-{n}", code=code, days_ago=1 + n % 200)
    entry_reverse(entry=resident.ledger_entries.first(), acting_user=reviewer(), reason="Sent twice by mistake.")


@pytest.mark.parametrize("name", ["home", "history"])
def test_query_count_is_the_same_with_3_and_with_60_entries(client, catalogue, name):
    few, many = ResidentFactory(), ResidentFactory()
    fill_ledger(few, 3)
    fill_ledger(many, 60)
    for _other in range(5):
        fill_ledger(ResidentFactory(), 3)  # other residents' entries change nothing either
    url = reverse(name)
    client.force_login(few.user)
    count_queries(client, url)  # warm up (session, content types)
    few_count = count_queries(client, url)
    client.force_login(many.user)
    count_queries(client, url)
    many_count = count_queries(client, url)
    # Deep pages, both ways, filtered or not, cost what the first does (keyset pagination: no OFFSET, no COUNT).
    entries = list(resident_history(resident=many))
    matching = list(resident_history(resident=many, category="reading-culture", month=datetime.date(2026, 11, 1)))
    older, newer, filtered = (HistoryPosition.of(entry).token for entry in (entries[40], entries[45], matching[5]))
    deep_counts = {
        count_queries(client, f"{url}?before={older}"),
        count_queries(client, f"{url}?after={newer}"),
        count_queries(client, f"{url}?category=reading-culture&month=2026-11&before={filtered}"),
    }
    assert few_count == many_count and deep_counts == {many_count}, (few_count, many_count, deep_counts)
    if name == "history":  # a position past the oldest entry (edited by hand): the newest page, one query more
        assert count_queries(client, f"{url}?before=0_0") == many_count + 1
    # Session, user, the user's groups (once per request), plus the page's own: for the dashboard one statement (the
    # resident's state: the cache key, and the header's unread notices and partner-staff answer; the body comes
    # from the cache); for the history its six and the header's two.
    assert many_count <= {"home": 4, "history": 11}[name], many_count


def test_a_cold_dashboard_makes_the_same_queries_with_3_and_with_60_entries(client, catalogue):
    """The body's first rendering (after any change: see test_dashboard_cache.py) is bounded too."""
    from django.core.cache import cache

    counts = []
    for entries in (3, 60):
        resident = ResidentFactory()
        fill_ledger(resident, entries)
        client.force_login(resident.user)
        count_queries(client, reverse("home"))  # session, content types
        cache.clear()
        counts.append(count_queries(client, reverse("home")))
    # The warm request's four, the resident, and the body's five: balance, scheme, tiers, badges, latest entries.
    assert counts[0] == counts[1] <= 10, counts


def test_a_role_given_or_taken_between_requests_counts_from_the_next_one(client, catalogue):
    """The user's groups are read once per request (middleware), never kept from one request to the next."""
    from django.contrib.auth.models import Group

    resident = ResidentFactory()
    client.force_login(resident.user)
    assert client.get(reverse("home")).status_code == 200
    reviewers = Group.objects.get(name=OfficeRole.REVIEWER)
    resident.user.groups.add(reviewers)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")  # staff now: MFA first
    resident.user.groups.remove(reviewers)
    assert client.get(reverse("home")).status_code == 200
