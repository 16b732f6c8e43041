import datetime

import pytest
import time_machine
from django.utils import timezone

from benefits.exceptions import RedemptionError
from benefits.models import Benefit, Redemption, RedemptionDenial, ResidentBenefitUsage
from benefits.services.redemptions import redemption_confirm, redemption_verify
from benefits.services.tokens import qr_payload, token_issue
from citizenpoints.models import TierScheme
from citizenpoints.services.scoring import scheme_activate
from tests.factories import (
    BenefitFactory,
    MerchantLocationFactory,
    MerchantStaffFactory,
    ResidentFactory,
    place_in_tier,
    tier,
)

pytestmark = pytest.mark.django_db


def nonce(n: int = 0) -> str:
    return f"nonce-{n:08d}"


def refused(code: str, call, **kwargs):
    with pytest.raises(RedemptionError) as error:
        call(**kwargs)
    assert error.value.code == code, error.value.message
    return error.value


def test_scan_shows_only_benefit_tier_and_initial_then_confirm_redeems(resident, benefit, cashier):
    issued = token_issue(resident=resident, benefit=benefit)

    scan = redemption_verify(acting_user=cashier.user, text=issued.payload)
    assert (scan.benefit, scan.tier.code, scan.initial) == (benefit, "good", "W")

    redemption = redemption_confirm(acting_user=cashier.user, text=scan.code, nonce=nonce())
    assert (redemption.resident, redemption.benefit, redemption.staff) == (resident, benefit, cashier)
    assert redemption.merchant == benefit.merchant and redemption.tier.code == "good"
    issued.token.refresh_from_db()
    assert issued.token.used_at == redemption.redeemed_at


def test_a_typed_short_code_works_like_the_qr(resident, benefit, cashier):
    issued = token_issue(resident=resident, benefit=benefit)
    scan = redemption_verify(acting_user=cashier.user, text=issued.short_code.lower())
    assert redemption_confirm(acting_user=cashier.user, text=scan.code, nonce=nonce()).benefit == benefit


def test_a_token_is_redeemed_once(resident, benefit, cashier):
    payload = token_issue(resident=resident, benefit=benefit).payload
    redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce(1))

    refused("already_used", redemption_confirm, acting_user=cashier.user, text=payload, nonce=nonce(2))
    refused("already_used", redemption_verify, acting_user=cashier.user, text=payload)
    assert Redemption.objects.count() == 1
    assert set(RedemptionDenial.objects.values_list("step", "code")) == {
        ("confirm", "already_used"),
        ("verify", "already_used"),
    }


def test_the_same_nonce_returns_the_first_answer(resident, benefit, cashier):
    payload = token_issue(resident=resident, benefit=benefit).payload
    first = redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce())
    again = redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce())
    assert again.pk == first.pk
    assert not RedemptionDenial.objects.exists()


def test_a_repeated_refusal_stays_refused_even_if_things_change(resident, cashier):
    benefit = BenefitFactory(merchant=cashier.merchant, quota=1, used=1)
    payload = token_issue(resident=resident, benefit=Benefit(pk=benefit.pk, **_fields(benefit, used=0))).payload
    refused("quota_exhausted", redemption_confirm, acting_user=cashier.user, text=payload, nonce=nonce())
    Benefit.objects.filter(pk=benefit.pk).update(quota=5)

    refused("quota_exhausted", redemption_confirm, acting_user=cashier.user, text=payload, nonce=nonce())
    assert redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce(2)).benefit_id == benefit.pk
    assert RedemptionDenial.objects.filter(code="quota_exhausted").count() == 1


def _fields(benefit, **overrides):
    fields = {f.attname: getattr(benefit, f.attname) for f in Benefit._meta.concrete_fields if f.attname != "id"}
    return {**fields, **overrides}


def test_expired_codes_are_refused_but_a_live_scan_may_be_confirmed_within_the_grace(resident, benefit, cashier):
    now = timezone.now()
    stale = token_issue(resident=resident, benefit=benefit, now=now - datetime.timedelta(minutes=5)).payload
    refused("expired", redemption_verify, acting_user=cashier.user, text=stale)
    refused("expired", redemption_confirm, acting_user=cashier.user, text=stale, nonce=nonce())

    scanned = token_issue(resident=resident, benefit=benefit, now=now).payload
    redemption_verify(acting_user=cashier.user, text=scanned, now=now + datetime.timedelta(seconds=50))
    late = now + datetime.timedelta(seconds=100)  # past the token's minute, within the grace after the scan
    assert redemption_confirm(acting_user=cashier.user, text=scanned, nonce=nonce(1), now=late)


def test_a_code_is_only_valid_at_its_partner_and_named_locations(resident, benefit, cashier):
    payload = token_issue(resident=resident, benefit=benefit).payload
    other = MerchantStaffFactory()
    refused("not_valid_here", redemption_verify, acting_user=other.user, text=payload)

    here, there = MerchantLocationFactory(merchant=benefit.merchant), MerchantLocationFactory(merchant=benefit.merchant)
    benefit.locations.set([here])
    at_there = MerchantStaffFactory(merchant=benefit.merchant, location=there)
    refused("not_valid_here", redemption_confirm, acting_user=at_there.user, text=payload, nonce=nonce())
    at_here = MerchantStaffFactory(merchant=benefit.merchant, location=here)
    assert redemption_confirm(acting_user=at_here.user, text=payload, nonce=nonce()).location == here


def test_the_tier_is_checked_again_at_the_counter(resident, benefit, cashier):
    Benefit.objects.filter(pk=benefit.pk).update(min_tier=tier("good"))
    payload = token_issue(resident=resident, benefit=benefit).payload
    place_in_tier(resident, "getting-started")  # e.g. points reversed after the code was shown
    refused("tier_too_low", redemption_confirm, acting_user=cashier.user, text=payload, nonce=nonce())


def test_after_a_scheme_switch_benefits_wait_for_a_tier_of_the_new_scheme(resident, benefit, cashier):
    payload = token_issue(resident=resident, benefit=benefit).payload
    scheme_activate(scheme=TierScheme.objects.get(code="grades"))
    refused("tier_scheme_changed", redemption_confirm, acting_user=cashier.user, text=payload, nonce=nonce())


def test_paused_benefit_or_partner_is_refused(resident, benefit, cashier):
    payload = token_issue(resident=resident, benefit=benefit).payload
    Benefit.objects.filter(pk=benefit.pk).update(is_active=False)
    refused("benefit_paused", redemption_verify, acting_user=cashier.user, text=payload)
    Benefit.objects.filter(pk=benefit.pk).update(is_active=True)
    benefit.merchant.is_active = False
    benefit.merchant.save()
    refused("benefit_paused", redemption_confirm, acting_user=cashier.user, text=payload, nonce=nonce())


def test_per_resident_limit_per_period(cashier):
    resident = ResidentFactory()
    benefit = BenefitFactory(merchant=cashier.merchant, limit_count=2, limit_period="week")
    monday = datetime.datetime(2026, 11, 16, 10, 0, tzinfo=datetime.UTC)
    with time_machine.travel(monday, tick=False):
        for n in range(2):
            payload = token_issue(resident=resident, benefit=benefit).payload
            redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce(n))
        refused("limit_reached", token_issue, resident=resident, benefit=benefit)
    usage = ResidentBenefitUsage.objects.get()
    assert (usage.count, usage.allowed, usage.period_start) == (2, 2, datetime.date(2026, 11, 16))
    with time_machine.travel(monday + datetime.timedelta(days=7), tick=False):
        payload = token_issue(resident=resident, benefit=benefit).payload
        assert redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce(9))


def test_limit_is_enforced_at_the_counter_even_for_codes_shown_earlier(cashier):
    resident = ResidentFactory()
    benefit = BenefitFactory(merchant=cashier.merchant, limit_count=1, limit_period="day")
    first, second = (token_issue(resident=resident, benefit=benefit).payload for _ in range(2))
    redemption_confirm(acting_user=cashier.user, text=first, nonce=nonce(1))
    error = refused("limit_reached", redemption_confirm, acting_user=cashier.user, text=second, nonce=nonce(2))
    assert "today" in error.message


def test_quota_is_enforced(cashier):
    benefit = BenefitFactory(merchant=cashier.merchant, quota=1)
    first, second = ResidentFactory(), ResidentFactory()
    one = token_issue(resident=first, benefit=benefit).payload
    two = token_issue(resident=second, benefit=benefit).payload
    redemption_confirm(acting_user=cashier.user, text=one, nonce=nonce(1))
    refused("quota_exhausted", redemption_confirm, acting_user=cashier.user, text=two, nonce=nonce(2))
    benefit.refresh_from_db()
    assert benefit.used == 1


def test_forged_and_unknown_codes_are_refused_and_guessing_is_throttled(cashier, settings):
    settings.BENEFITS_FAILED_SCAN_RATE = (3, 600)
    refused("forged", redemption_verify, acting_user=cashier.user, text=qr_payload("AB2CD3EF")[:-2] + "00")
    refused("unknown_code", redemption_verify, acting_user=cashier.user, text="AB2C-D3EF")
    refused("unknown_code", redemption_verify, acting_user=cashier.user, text="ZZZZ-ZZZZ")
    refused("rate_limited", redemption_verify, acting_user=cashier.user, text="YYYY-YYYY")
    assert RedemptionDenial.objects.filter(staff=cashier).count() == 3


def test_scans_are_rate_limited_per_staff_account(resident, benefit, cashier, settings):
    settings.BENEFITS_SCAN_RATE = (2, 60)
    payload = token_issue(resident=resident, benefit=benefit).payload
    redemption_verify(acting_user=cashier.user, text=payload)
    redemption_verify(acting_user=cashier.user, text=payload)
    refused("rate_limited", redemption_verify, acting_user=cashier.user, text=payload)
    other = MerchantStaffFactory(merchant=cashier.merchant)
    assert redemption_verify(acting_user=other.user, text=payload)


def test_codes_cannot_be_guessed_at_confirmation_either(resident, benefit, cashier, settings):
    """A right guess at confirmation redeems at once, so guessing there counts and is stopped as at a scan."""
    settings.BENEFITS_FAILED_SCAN_RATE = (2, 600)
    refused("unknown_code", redemption_confirm, acting_user=cashier.user, text="AB2C-D3EF", nonce=nonce(1))
    refused(
        "forged", redemption_confirm, acting_user=cashier.user, text=qr_payload("AB2CD3EF")[:-2] + "00", nonce=nonce(2)
    )
    payload = token_issue(resident=resident, benefit=benefit).payload
    refused("rate_limited", redemption_confirm, acting_user=cashier.user, text=payload, nonce=nonce(3))
    assert not Redemption.objects.exists()
    assert redemption_confirm(
        acting_user=MerchantStaffFactory(merchant=cashier.merchant).user, text=payload, nonce=nonce(4)
    )


def test_confirmations_count_as_scans_and_a_repeat_still_gets_its_answer(resident, benefit, cashier, settings):
    settings.BENEFITS_SCAN_RATE = (2, 60)
    payload = token_issue(resident=resident, benefit=benefit).payload
    redemption_verify(acting_user=cashier.user, text=payload)
    first = redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce(1))
    later = token_issue(resident=ResidentFactory(), benefit=benefit).payload
    refused("rate_limited", redemption_confirm, acting_user=cashier.user, text=later, nonce=nonce(2))
    # The scanner's retry of the first confirmation is answered as the first time, not refused for the rate.
    assert redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce(1)).pk == first.pk


def test_only_active_partner_staff_scan(resident, benefit):
    from tests.factories import UserFactory

    payload = token_issue(resident=resident, benefit=benefit).payload
    refused("not_merchant_staff", redemption_verify, acting_user=UserFactory(), text=payload)
    inactive = MerchantStaffFactory(merchant=benefit.merchant, is_active=False)
    refused("not_merchant_staff", redemption_confirm, acting_user=inactive.user, text=payload, nonce=nonce())


def test_malformed_nonce_is_refused(resident, benefit, cashier):
    payload = token_issue(resident=resident, benefit=benefit).payload
    refused("bad_nonce", redemption_confirm, acting_user=cashier.user, text=payload, nonce="x")


def test_a_scan_is_two_statements_and_a_confirmation_one_read_and_four_short_writes(resident, cashier):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    benefit = BenefitFactory(merchant=cashier.merchant, quota=10, limit_count=2, limit_period="day")
    payload = token_issue(resident=resident, benefit=benefit).payload
    with CaptureQueriesContext(connection) as scan:
        redemption_verify(acting_user=cashier.user, text=payload)
    with CaptureQueriesContext(connection) as confirmation:
        redemption = redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce())

    def statements(context):  # what runs every time (not the savepoints of the test's transaction, nor PREPARE)
        return [q["sql"] for q in context.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "PREP"))]

    assert len(statements(scan)) == 2  # the read, and verified_at the first time
    if connection.vendor == "postgresql":  # the read; then token, period counter, redemption, quota in one statement
        assert len(statements(confirmation)) == 2, statements(confirmation)
    else:  # the read; token, period counter, redemption, quota
        assert len(statements(confirmation)) == 5, statements(confirmation)
        assert statements(confirmation)[-1].startswith("UPDATE")  # the shared quota row last
    assert not any("FOR UPDATE" in sql for sql in statements(confirmation))  # no lock is taken before the writes
    resident.balance.refresh_from_db()
    assert redemption.pk and redemption.tier == resident.balance.tier and redemption.resident.initial
    benefit.refresh_from_db()
    assert benefit.used == 1
    assert ResidentBenefitUsage.objects.get(benefit=benefit, resident=resident).count == 1


def test_a_refusal_inside_the_transaction_leaves_the_token_unused(resident, cashier):
    benefit = BenefitFactory(merchant=cashier.merchant, quota=1)
    payload = token_issue(resident=resident, benefit=benefit).payload  # issued while a unit was left ...
    Benefit.objects.filter(pk=benefit.pk).update(used=1)  # ... taken by another counter before this one confirms
    refused("quota_exhausted", redemption_confirm, acting_user=cashier.user, text=payload, nonce=nonce())
    Benefit.objects.filter(pk=benefit.pk).update(quota=2)
    assert redemption_confirm(acting_user=cashier.user, text=payload, nonce=nonce(1)).pk  # rolled back: still usable


@pytest.fixture
def redis_cache(settings):
    """The default cache on the test Redis, under keys of this test's own; returns the cache."""
    import os
    import secrets

    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-ratelimit-{secrets.token_hex(8)}",
        }
    }
    return caches["default"]


def scans_counted_on_redis(backend, cashier) -> int:
    """The raw Redis counter of the cashier's scans in this minute."""
    key = backend.make_and_validate_key(f"benefits:rl:scan:{cashier.pk}:{int(timezone.now().timestamp() // 60)}")
    return int(backend._cache.get_client(key).get(key))


@pytest.mark.redis
def test_rate_limits_on_redis_count_one_hit_per_round_trip(resident, benefit, cashier, settings, redis_cache):
    settings.BENEFITS_SCAN_RATE = (2, 60)
    settings.BENEFITS_FAILED_SCAN_RATE = (1, 600)
    payload = token_issue(resident=resident, benefit=benefit).payload
    redemption_verify(acting_user=cashier.user, text=payload)
    redemption_verify(acting_user=cashier.user, text=payload)
    refused("rate_limited", redemption_verify, acting_user=cashier.user, text=payload)
    other = MerchantStaffFactory(merchant=cashier.merchant)
    refused("unknown_code", redemption_verify, acting_user=other.user, text="ZZZZ-ZZZZ")
    refused("rate_limited", redemption_verify, acting_user=other.user, text=payload)  # guessing spent its allowance
    assert scans_counted_on_redis(redis_cache, cashier) == 3
    key = redis_cache.make_and_validate_key(f"benefits:rl:scan:{cashier.pk}:{int(timezone.now().timestamp() // 60)}")
    assert 0 < redis_cache._cache.get_client(key).ttl(key) <= 61


def test_a_nonce_already_used_for_another_code_answers_with_the_first_redemption(cashier):
    benefit = BenefitFactory(merchant=cashier.merchant)
    first = token_issue(resident=ResidentFactory(), benefit=benefit).payload
    second = token_issue(resident=ResidentFactory(), benefit=benefit).payload
    redemption = redemption_confirm(acting_user=cashier.user, text=first, nonce=nonce())
    assert redemption_confirm(acting_user=cashier.user, text=second, nonce=nonce()).pk == redemption.pk
    assert Redemption.objects.count() == 1


@pytest.mark.parametrize("backend", ["locmem", pytest.param("redis", marks=pytest.mark.redis)])
@time_machine.travel("2026-11-21 12:00:05 +0000", tick=False)  # all in one window
def test_a_hit_unless_spent_answers_as_spent_then_hit_on_every_cache(backend, settings):
    """The scan throttle's one round trip (a Redis script) decides and counts as the two calls it replaced."""
    import os
    import secrets

    from django.core.cache import caches

    from benefits.services.ratelimits import rate_hit, rate_hit_unless_spent, rate_spent

    settings.CACHES = {
        "default": {
            "BACKEND": f"django.core.cache.backends.{backend}.{'RedisCache' if backend == 'redis' else 'LocMemCache'}",
            "LOCATION": os.environ.get("REDIS_URL", "") if backend == "redis" else "hit-unless-spent",
            "KEY_PREFIX": f"test-unless-spent-{secrets.token_hex(8)}",
        }
    }
    scans, failures = (3, 60), (2, 600)

    def scan() -> bool:
        return rate_hit_unless_spent(scope="s", key=7, limit=scans, unless_scope="f", unless_limit=failures)

    def scans_counted() -> int:
        return caches["default"].get(f"benefits:rl:s:7:{int(timezone.now().timestamp() // 60)}") or 0

    assert [scan(), scan()] == [True, True] and scans_counted() == 2
    rate_hit(scope="f", key=7, limit=failures)
    assert scan() and scans_counted() == 3  # one failure of two: still allowed
    assert not scan() and scans_counted() == 4  # the scans' allowance spent: refused, and counted as rate_hit does
    rate_hit(scope="f", key=7, limit=failures)
    assert rate_spent(scope="f", key=7, limit=failures)
    assert not scan() and scans_counted() == 4  # guessing spent its allowance: refused without counting a scan
    assert rate_hit_unless_spent(scope="s", key=8, limit=scans, unless_scope="f", unless_limit=failures)  # per key


@pytest.mark.redis
def test_on_redis_a_scan_refused_for_guessing_counts_no_scan(resident, benefit, cashier, settings, redis_cache):
    settings.BENEFITS_SCAN_RATE = (5, 60)
    settings.BENEFITS_FAILED_SCAN_RATE = (1, 600)
    payload = token_issue(resident=resident, benefit=benefit).payload
    redemption_verify(acting_user=cashier.user, text=payload)
    refused("unknown_code", redemption_verify, acting_user=cashier.user, text="ZZZZ-ZZZZ")  # a scan, and a failure
    refused("rate_limited", redemption_verify, acting_user=cashier.user, text=payload)
    assert scans_counted_on_redis(redis_cache, cashier) == 2
    assert RedemptionDenial.objects.filter(staff=cashier, code="unknown_code").count() == 1


def test_the_read_builds_the_same_instances_as_the_orm(resident, benefit, cashier):
    """`_read` fills instances without Model.__init__: each has the values, state and deferred fields that the ORM's
    own loading gives it."""
    from django.db import connection

    from benefits.models import MerchantStaff, RedemptionToken
    from benefits.selectors import resident_tier
    from benefits.services.redemptions import _PARTS, _read, _read_plan
    from benefits.services.tokens import token_parse

    payload = token_issue(resident=resident, benefit=benefit).payload
    read = _read(cashier.user, token_parse(payload).code)
    token = read.token
    loaded = {
        "s": read.staff,
        "l": read.staff.location,
        "t": token,
        "b": token.benefit,
        "m": token.benefit.merchant,
        "mt": token.benefit.min_tier,
        "r": token.resident,
        "rt": read.resident_tier,
    }
    orm = {
        "s": MerchantStaff.objects.get(pk=cashier.pk),
        "t": RedemptionToken.objects.get(pk=token.pk),
        "b": Benefit.objects.get(pk=benefit.pk),
        "m": benefit.merchant,
        "mt": benefit.min_tier,
        "r": resident,
        "rt": resident_tier(resident=resident),
    }
    assert loaded["l"] is None  # the cashier has no location
    assert all(plain for *_, plain in _read_plan(connection.vendor, False)[1])  # so the test is of that path
    for alias, model, names in _PARTS:
        if alias == "l":
            continue
        instance, expected = loaded[alias], model.objects.only(*names).get(pk=orm[alias].pk)
        assert type(instance) is model
        assert (instance._state.adding, instance._state.db) == (False, "default")
        assert instance.get_deferred_fields() == expected.get_deferred_fields(), alias
        assert {name: getattr(instance, name) for name in names} == {name: getattr(expected, name) for name in names}
        assert instance == expected
    assert loaded["m"].name_en == benefit.merchant.name_en  # a deferred field loads when asked, as from_db's would
