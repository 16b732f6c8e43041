"""The dashboard's cached body: every change a resident could see shows on their next visit.

Through the test client, with the locmem cache of tests/settings.py. Each test first loads the dashboard (so its body
is cached), then changes something the way the product does, then loads it again.
"""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from citizenpoints.dashboard_cache import GENERATION_KEY, dashboard_generation
from citizenpoints.models import Badge, CardLink, DataSource, LedgerEntry, OfficeRole, ScoringWindow, TierScheme
from citizenpoints.services.awards import award_grant
from citizenpoints.services.badges import badges_evaluate_all
from citizenpoints.services.ingest import batch_process, batch_receive, card_hash, data_source_save
from citizenpoints.services.nightly import nightly_pass
from citizenpoints.services.reversals import entry_reverse
from citizenpoints.services.tiers import tier_scheme_switch
from tests.factories import MerchantFactory, ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
HOME = "/me/"


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
            {"code": "volunteer", "category": "volunteering", "name_en": "Volunteering", "name_zh": "志愿服务",
             "rule": {"points": 60}},
        ],
    )  # fmt: skip


@pytest.fixture
def resident(client, catalogue):
    resident = ResidentFactory(given_name="Mei")
    client.force_login(resident.user)
    return resident


def grant(resident, external_id, *, code="library-loan", occurred_at=None):
    return award_grant(
        resident=resident,
        behaviour_code=code,
        source=DataSource.objects.get(code="library"),
        external_id=external_id,
        occurred_at=occurred_at or NOW - datetime.timedelta(hours=2),
    ).entry


def page(client, **headers) -> str:
    response = client.get(HOME, **headers)
    assert response.status_code == 200
    return response.content.decode()


def score(client) -> str:
    text = page(client)
    return text.split('<span class="score-number">', 1)[1].split("<", 1)[0]


def test_an_award_shows_at_once(client, resident):
    assert score(client) == "500" and "No points yet." in page(client)  # cached now
    grant(resident, "loan-1")
    text = page(client)
    assert '<span class="score-number">502</span>' in text
    assert "Library loan" in text and "No points yet." not in text


def test_a_department_batch_shows_at_once(client, resident, library):
    CardLink.objects.create(resident=resident, card_hash=card_hash("CARD0001"))
    assert score(client) == "500"
    received = batch_receive(
        source=library,
        idempotency_key="b1",
        records=[
            {"external_id": "v1", "card_number": "CARD0001", "behaviour_code": "volunteer",
             "occurred_at": "2026-11-20T09:00:00+08:00"},
        ],
    )  # fmt: skip
    batch_process(batch_id=received.batch.pk)
    assert LedgerEntry.objects.filter(resident=resident).count() == 1
    text = page(client)
    assert '<span class="score-number">560</span>' in text
    assert "Volunteering" in text


def test_a_reversal_shows_at_once(client, resident):
    entry = grant(resident, "loan-1")
    assert score(client) == "502"
    entry_reverse(entry=entry, acting_user=UserFactory(roles=[OfficeRole.REVIEWER]), reason="Sent twice by mistake.")
    text = page(client)
    assert '<span class="score-number">500</span>' in text
    assert "Correction: Library loan" in text and "Sent twice by mistake." in text


def test_the_nightly_ageing_shows_the_next_morning(client, catalogue):
    with time_machine.travel(NOW - datetime.timedelta(days=360), tick=False):
        ScoringWindow.objects.update(
            starts_at=NOW - datetime.timedelta(days=800), aged_at=NOW - datetime.timedelta(days=360)
        )
        resident = ResidentFactory(given_name="Mei")
        grant(resident, "v1", code="volunteer", occurred_at=NOW - datetime.timedelta(days=360))
    client.force_login(resident.user)
    later = NOW + datetime.timedelta(days=10)
    with time_machine.travel(later, tick=False):
        assert score(client) == "560"
        nightly_pass(now=later)
        text = page(client)
    assert '<span class="score-number">500</span>' in text  # the 60 points aged out
    assert "Getting started" in text


def test_a_badge_from_the_nightly_pass_shows_at_once(client, resident):
    for n in range(5):
        grant(resident, f"visit-{n}", code="neighbour-visit", occurred_at=NOW - datetime.timedelta(days=n + 1))
    resident.badges.all().delete()  # as if the award-time evaluation had not run
    assert "No badges yet." in page(client)
    assert badges_evaluate_all(now=NOW) == 1
    text = page(client)
    assert "Good neighbour" in text and "No badges yet." not in text


def test_a_scheme_switch_shows_the_new_tiers(client, resident):
    assert "Getting started" in page(client)
    tier_scheme_switch(
        acting_user=UserFactory(roles=[OfficeRole.CATALOGUE_EDITOR]),
        scheme=TierScheme.objects.get(code="grades"),
        reason="Council decision 2026/14",
    )
    text = page(client)
    assert "Getting started" not in text
    assert "Your tier: <strong>D · " in text


def test_a_language_switch_shows_the_other_language(client, resident):
    grant(resident, "loan-1")
    assert "Hello, Mei" in page(client)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": HOME})
    text = page(client)
    assert "你好，Mei" in text and "图书借阅" in text and "Hello, Mei" not in text
    client.post(reverse("set_language"), {"language": "en", "next": HOME})
    assert "Hello, Mei" in page(client)


def test_renaming_a_department_shows_under_the_latest_entries(
    client, resident, library, django_capture_on_commit_callbacks
):
    grant(resident, "loan-1")
    assert "City Library" in page(client)
    manager = UserFactory(roles=[OfficeRole.DATA_SOURCE_MANAGER], mfa=True)
    with django_capture_on_commit_callbacks(execute=True):
        data_source_save(acting_user=manager, source=library, name_en="Central Library")
    text = page(client)
    assert "Central Library" in text and "City Library" not in text


def test_renaming_a_badge_in_the_admin_shows(client, resident, django_capture_on_commit_callbacks):
    for n in range(5):
        grant(resident, f"visit-{n}", code="neighbour-visit", occurred_at=NOW - datetime.timedelta(days=n + 1))
    assert "Good neighbour" in page(client)
    with django_capture_on_commit_callbacks(execute=True):
        badge = Badge.objects.get(code="good-neighbour")
        badge.name_en = "Kind neighbour"
        badge.save()
    assert "Kind neighbour" in page(client)


def test_residents_never_see_each_others_bodies(client, catalogue):
    first, second = ResidentFactory(given_name="Mei"), ResidentFactory(given_name="Tom")
    grant(first, "loan-1")
    grant(second, "loan-2")  # the same points, tier and badges: only the resident differs
    client.force_login(first.user)
    assert "Hello, Mei" in page(client)
    client.force_login(second.user)
    assert "Hello, Tom" in page(client) and "Mei" not in page(client)


def test_a_warm_dashboard_costs_a_fixed_few_queries_and_none_for_the_ledger(client, resident):
    for n in range(12):
        grant(resident, f"loan-{n}", occurred_at=NOW - datetime.timedelta(hours=n + 1))
    page(client)  # cold: renders and caches the body
    with CaptureQueriesContext(connection) as queries:
        text = page(client)
    assert '<span class="score-number">524</span>' in text
    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "citizenpoints_ledgerentry" not in tables and 'citizenpoints_tier"' not in tables
    # Session, user, the user's groups (once, for every role check of the request), and the resident's state (one
    # statement: the cache key, the header's unread notices, whether the user is a partner's staff).
    assert len(queries.captured_queries) <= 4, [query["sql"][:80] for query in queries.captured_queries]


def test_the_cache_generation_is_bumped_after_commit_only(resident, library, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    before = dashboard_generation()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        library.name_en = "Central Library"
        library.save()
    assert cache.get(GENERATION_KEY) == before  # not before the transaction commits
    for callback in callbacks:
        callback()
    assert cache.get(GENERATION_KEY) == before + 1


def test_a_lost_generation_never_brings_back_an_old_body(client, resident, library, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    grant(resident, "loan-1")
    assert "City Library" in page(client)
    cache.delete(GENERATION_KEY)  # evicted, say, and the rename's bump found nothing to increment
    with django_capture_on_commit_callbacks(execute=True):
        data_source_save(
            acting_user=UserFactory(roles=[OfficeRole.DATA_SOURCE_MANAGER], mfa=True),
            source=library,
            name_en="Central Library",
        )
    assert "Central Library" in page(client)


def test_the_header_still_counts_unread_notices_and_links_partner_staff(client, resident):
    from benefits.models import MerchantStaff
    from citizenpoints.models import Notification

    grant(resident, "loan-1")
    assert "nav-count" not in page(client)
    Notification.objects.create(resident=resident, kind=Notification.Kind.BADGE_EARNED, params={"badge": "x"})
    text = page(client)
    assert '<span class="nav-count">1<' in text
    assert reverse("benefits:counter") not in text
    MerchantStaff.objects.create(user=resident.user, merchant=MerchantFactory(), role=MerchantStaff.Role.CASHIER)
    assert reverse("benefits:counter") in page(client)


def test_an_unchanged_resident_is_served_from_the_cache(client, resident):
    grant(resident, "loan-1")
    assert "City Library" in page(client)
    # Behind the application's back (as no product code may): the cached body is what is served.
    DataSource.objects.filter(code="library").update(name_en="Renamed behind our back")
    text = page(client)
    assert "City Library" in text and "Renamed behind our back" not in text
    assert Decimal(score(client)) == Decimal(502)


def test_a_resident_who_leaves_takes_their_cached_bodies_along(client, resident, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from citizenpoints.services.leaving import resident_leave

    grant(resident, "loan-1")
    assert "Hello, Mei" in page(client)
    assert "你好，Mei" in page(client, HTTP_ACCEPT_LANGUAGE="zh-Hans")
    keys = [f"dashboard:{resident.pk}:{language}" for language in ("en", "zh-hans")]
    assert all(cache.get(key) for key in keys)
    with django_capture_on_commit_callbacks(execute=True):
        resident_leave(resident=resident, acting_user=resident.user)
    assert not any(cache.get(key) for key in keys)
