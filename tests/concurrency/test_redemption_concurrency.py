"""Exactly once under concurrent scans, with real threads on PostgreSQL.

Each guarded test is preceded by its control: the same race with the guard disabled, showing the race happens
(several threads pass the check at once), so the guarded test's single winner is the guard's doing, not luck.
Every thread sleeps a moment after passing the checks, in both runs, to widen the window the guard must close.
"""

import threading
import time
from collections import Counter

import pytest
from django.db import IntegrityError, connection
from django.db.models import F

from benefits.exceptions import RedemptionError
from benefits.models import Benefit, Redemption
from benefits.services import redemptions
from benefits.services.redemptions import redemption_confirm
from benefits.services.tokens import token_issue
from tests.factories import BenefitFactory, MerchantFactory, MerchantStaffFactory, ResidentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

THREADS = 50
WINDOW = 0.02


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


@pytest.fixture
def passed_checks(monkeypatch):
    """Count the confirmations that got past every check, and hold each there for a moment."""
    passed = Counter()
    lock = threading.Lock()
    real_check = redemptions._check

    def check(*args, **kwargs):
        real_check(*args, **kwargs)
        with lock:
            passed["checks"] += 1
        time.sleep(WINDOW)

    monkeypatch.setattr(redemptions, "_check", check)
    return passed


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


def test_control_without_the_token_lock_many_counters_pass_the_check(
    one_token_many_counters, passed_checks, monkeypatch
):
    monkeypatch.setattr(redemptions, "_lock_token", lambda tokens: tokens)
    _, calls = one_token_many_counters

    outcomes = race(calls)

    assert passed_checks["checks"] > 1, outcomes  # the race is real: several saw the token unused
    # Only the unique token on Redemption stopped a double redemption, and with errors rather than clear refusals.
    assert outcomes["integrity_error"] >= 1, outcomes
    assert Redemption.objects.count() == 1


def test_fifty_scans_of_one_token_redeem_it_exactly_once(one_token_many_counters, passed_checks):
    _, calls = one_token_many_counters

    outcomes = race(calls)

    assert outcomes == Counter({"redeemed": 1, "already_used": THREADS - 1})
    assert passed_checks["checks"] == 1
    assert Redemption.objects.count() == 1


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
    taken = Counter()
    lock = threading.Lock()

    def take_quota_unguarded(benefit):  # read, check, then write: the race the conditional UPDATE closes
        current = Benefit.objects.get(pk=benefit.pk)
        if current.used >= current.quota:
            return False
        with lock:
            taken["passed"] += 1
        time.sleep(WINDOW)
        Benefit.objects.filter(pk=benefit.pk).update(used=F("used") + 1)
        return True

    monkeypatch.setattr(redemptions, "_take_quota", take_quota_unguarded)
    benefit, calls = last_unit_many_residents

    outcomes = race(calls)

    assert taken["passed"] > 1, outcomes  # several residents saw one unit left
    assert outcomes["integrity_error"] >= 1, outcomes  # only the CheckConstraint stopped an overdraft
    benefit.refresh_from_db()
    assert benefit.used == 10


def test_fifty_residents_race_for_the_last_unit_and_exactly_one_wins(last_unit_many_residents):
    benefit, calls = last_unit_many_residents

    outcomes = race(calls)

    assert outcomes == Counter({"redeemed": 1, "quota_exhausted": THREADS - 1})
    benefit.refresh_from_db()
    assert benefit.used == 10
    assert Redemption.objects.filter(benefit=benefit).count() == 1
