"""The resident's dashboard, history and profile through the test client, and their query counts."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from citizenpoints.mfa import totp_enrol
from citizenpoints.models import DataSource, LedgerEntry, OfficeRole
from citizenpoints.selectors import resident_dashboard
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


def test_history_is_paginated_by_25_keeping_the_filters(resident_client):
    resident = resident_client.resident
    for n in range(30):
        grant(resident, f"loan-{n}", days_ago=1 + n // 3)
    first = resident_client.get(reverse("history"), {"category": "reading-culture"}).content.decode()
    assert first.count('<li class="entry') == 25
    assert "page 1 of 2" in first
    assert 'href="?category=reading-culture&amp;page=2"' in first
    second = resident_client.get(reverse("history"), {"category": "reading-culture", "page": 2}).content.decode()
    assert second.count('<li class="entry') == 5
    assert resident_client.get(reverse("history"), {"page": "99"}).status_code == 200  # the last page


def test_history_in_chinese(resident_client):
    award = grant(resident_client.resident, "loan-1")
    entry_reverse(entry=award, acting_user=reviewer(), reason="图书馆重复发送了这条借阅记录。")
    page = resident_client.get(reverse("history"), **CHINESE).content.decode()
    assert "积分记录" in page
    assert "更正：图书借阅" in page
    assert "由信用办于" in page and "收回" in page


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
    filtered_count = count_queries(client, f"{url}?category=reading-culture&month=2026-11&page=2")
    assert few_count == many_count == filtered_count
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
