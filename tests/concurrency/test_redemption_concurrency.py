"""Exactly once under concurrent scans, with real threads on PostgreSQL.

Each guarded test is preceded by its control: the same race with the guard disabled, showing the race happens
(several threads pass the check at once), so the guarded test's single winner is the guard's doing, not luck.
In the controls, a thread that passed the check waits (up to a few seconds) until a second one has passed too: the
window the guard must close, held open so the control does not depend on how busy the machine is. In the guarded
runs each thread that passes sleeps a moment there instead, to give the others every chance to get in.

The checks run on a read without locks, so many confirmations of one token pass them; the guard is the token's
conditional UPDATE (`used_at IS NULL`), which only one of them gets to change. On PostgreSQL the writes run as one
statement (`redemptions.ONE_STATEMENT`); the controls disable a guard of the step-by-step path, so they switch that
off, and each guarded race runs on both paths.
"""

import threading
import time
from collections import Counter

import pytest
from django.db import IntegrityError, connection
from django.db.models import F

from benefits.exceptions import RedemptionError
from benefits.models import Benefit, Redemption, RedemptionDenial, RedemptionToken
from benefits.services import redemptions
from benefits.services.redemptions import redemption_confirm
from benefits.services.tokens import token_issue
from tests.factories import BenefitFactory, MerchantFactory, MerchantStaffFactory, ResidentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
PATHS = pytest.mark.parametrize("one_statement", [True, False], ids=["one-statement", "step-by-step"])

THREADS = 50
WINDOW = 0.02
HOLD = 5.0  # seconds a control's first passer waits for a second


class Passes:
    """Counts the threads past a check; in a control, holds the first until a second arrives (or HOLD passes)."""

    def __init__(self, hold: bool):
        self.hold = hold
        self.count = 0
        self.lock = threading.Lock()
        self.second = threading.Event()

    def passed(self) -> None:
        with self.lock:
            self.count += 1
            if self.count >= 2:
                self.second.set()
        if self.hold:
            self.second.wait(timeout=HOLD)
        else:
            time.sleep(WINDOW)


def race(calls) -> Counter:
    """Run the calls at once (a barrier), each in its own thread and connection. Counts outcomes."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call):
        try:
            barrier.wait(timeout=30)
            call()
            outcome = "redeemed"
        except RedemptionError as error:
            outcome = error.code
        except IntegrityError:
            outcome = "integrity_error"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(outcomes)


def count_checks(monkeypatch, *, hold: bool) -> Passes:
    """Count the confirmations that get past every check (see Passes)."""
    passes = Passes(hold)
    real_check = redemptions._check

    def check(*args, **kwargs):
        real_check(*args, **kwargs)
        passes.passed()

    monkeypatch.setattr(redemptions, "_check", check)
    return passes


# --- 50 counters scan one token.
@pytest.fixture
def one_token_many_counters():
    merchant = MerchantFactory()
    benefit = BenefitFactory(merchant=merchant)
    payload = token_issue(resident=ResidentFactory(), benefit=benefit).payload
    counters = MerchantStaffFactory.create_batch(THREADS, merchant=merchant)
    return payload, [
        (lambda staff=staff: redemption_confirm(acting_user=staff.user, text=payload, nonce=f"scan-{staff.pk:06d}"))
        for staff in counters
    ]


def count_claims(monkeypatch) -> list[bool]:
    """Record what each confirmation's claim of the token returned."""
    claims: list[bool] = []
    real_claim = redemptions._claim_token

    def claim(token, now):
        claimed = real_claim(token, now)
        claims.append(claimed)
        return claimed

    monkeypatch.setattr(redemptions, "_claim_token", claim)
    return claims


def test_control_without_the_conditional_claim_many_counters_use_the_token(one_token_many_counters, monkeypatch):
    passes = Passes(hold=True)

    def claim_unguarded(token, now):  # read, check, then write: the race the conditional UPDATE closes
        if RedemptionToken.objects.get(pk=token.pk).used_at is not None:
            return False
        passes.passed()
        RedemptionToken.objects.filter(pk=token.pk).update(used_at=now)
        return True

    monkeypatch.setattr(redemptions, "ONE_STATEMENT", False)
    monkeypatch.setattr(redemptions, "_claim_token", claim_unguarded)
    _, calls = one_token_many_counters

    outcomes = race(calls)

    assert passes.count > 1, outcomes  # the race is real: several saw the token unused
    # Only the unique token on Redemption stopped a double redemption, and with errors rather than clear refusals.
    assert outcomes["integrity_error"] >= 1, outcomes
    assert Redemption.objects.count() == 1


@PATHS
def test_fifty_scans_of_one_token_redeem_it_exactly_once(one_token_many_counters, monkeypatch, one_statement):
    monkeypatch.setattr(redemptions, "ONE_STATEMENT", one_statement)
    passes = count_checks(monkeypatch, hold=False)
    claims = count_claims(monkeypatch)
    _, calls = one_token_many_counters

    outcomes = race(calls)

    assert outcomes == Counter({"redeemed": 1, "already_used": THREADS - 1})
    assert passes.count > 1  # many passed the unlocked checks at once ...
    if not one_statement:
        assert claims.count(True) == 1  # ... and the conditional UPDATE let exactly one of them through
    assert Redemption.objects.count() == 1
    assert RedemptionDenial.objects.filter(code="already_used").count() == THREADS - 1


# --- One scanner repeats its confirmation (same staff account, same nonce) while the first is still in flight.
@PATHS
def test_concurrent_repeats_of_one_confirmation_all_get_the_first_answer(monkeypatch, one_statement):
    monkeypatch.setattr(redemptions, "ONE_STATEMENT", one_statement)
    staff = MerchantStaffFactory()
    benefit = BenefitFactory(merchant=staff.merchant, quota=5)
    payload = token_issue(resident=ResidentFactory(), benefit=benefit).payload
    answers = []

    def confirm():
        answers.append(redemption_confirm(acting_user=staff.user, text=payload, nonce="retry-000001").pk)

    outcomes = race([confirm] * 10)

    assert outcomes == Counter({"redeemed": 10}), outcomes
    assert len(set(answers)) == 1
    assert Redemption.objects.count() == 1
    benefit.refresh_from_db()
    assert benefit.used == 1


# --- 50 residents race for the last unit of a quota.
@pytest.fixture
def last_unit_many_residents():
    staff = MerchantStaffFactory()
    benefit = BenefitFactory(merchant=staff.merchant, quota=10, used=9)
    payloads = [token_issue(resident=ResidentFactory(), benefit=benefit).payload for _ in range(THREADS)]
    counters = [staff, *MerchantStaffFactory.create_batch(4, merchant=staff.merchant)]
    return benefit, [
        (
            lambda n=n, payload=payload: redemption_confirm(
                acting_user=counters[n % len(counters)].user, text=payload, nonce=f"resident-{n:06d}"
            )
        )
        for n, payload in enumerate(payloads)
    ]


def test_control_without_the_conditional_update_many_residents_take_the_last_unit(
    last_unit_many_residents, monkeypatch
):
    passes = Passes(hold=True)

    def take_quota_unguarded(benefit):  # read, check, then write: the race the conditional UPDATE closes
        current = Benefit.objects.get(pk=benefit.pk)
        if current.used >= current.quota:
            return False
        passes.passed()
        Benefit.objects.filter(pk=benefit.pk).update(used=F("used") + 1)
        return True

    monkeypatch.setattr(redemptions, "ONE_STATEMENT", False)
    monkeypatch.setattr(redemptions, "_take_quota", take_quota_unguarded)
    benefit, calls = last_unit_many_residents

    outcomes = race(calls)

    assert passes.count > 1, outcomes  # several residents saw one unit left
    assert outcomes["integrity_error"] >= 1, outcomes  # only the CheckConstraint stopped an overdraft
    benefit.refresh_from_db()
    assert benefit.used == 10


@PATHS
def test_fifty_residents_race_for_the_last_unit_and_exactly_one_wins(
    last_unit_many_residents, monkeypatch, one_statement
):
    monkeypatch.setattr(redemptions, "ONE_STATEMENT", one_statement)
    benefit, calls = last_unit_many_residents

    outcomes = race(calls)

    assert outcomes == Counter({"redeemed": 1, "quota_exhausted": THREADS - 1})
    benefit.refresh_from_db()
    assert benefit.used == 10
    assert Redemption.objects.filter(benefit=benefit).count() == 1


# --- One resident's 50 codes at 50 counters, with a limit of one a day.
@PATHS
def test_fifty_codes_of_one_resident_within_a_daily_limit_of_one_redeem_once(monkeypatch, one_statement, settings):
    monkeypatch.setattr(redemptions, "ONE_STATEMENT", one_statement)
    settings.BENEFITS_TOKEN_ISSUE_RATE = (THREADS, 60)
    merchant = MerchantFactory()
    benefit = BenefitFactory(merchant=merchant, quota=1000, limit_count=1, limit_period="day")
    resident = ResidentFactory()
    payloads = [token_issue(resident=resident, benefit=benefit).payload for _ in range(THREADS)]
    counters = MerchantStaffFactory.create_batch(THREADS, merchant=merchant)
    calls = [
        (
            lambda staff=staff, payload=payload: redemption_confirm(
                acting_user=staff.user, text=payload, nonce="one-a-day"
            )
        )
        for staff, payload in zip(counters, payloads, strict=True)
    ]

    outcomes = race(calls)

    assert outcomes == Counter({"redeemed": 1, "limit_reached": THREADS - 1}), outcomes
    benefit.refresh_from_db()
    assert benefit.used == 1
    assert Redemption.objects.filter(benefit=benefit).count() == 1
