"""Exactly once under concurrent scans, with real threads on PostgreSQL.

Each guarded test is preceded by its control: the same race with the guard disabled, showing the race happens
(several threads pass the check at once), so the guarded test's single winner is the guard's doing, not luck.
In the controls, a thread that passed the check waits (up to a few seconds) until a second one has passed too: the
window the guard must close, held open so the control does not depend on how busy the machine is. In the guarded
runs each thread that passes sleeps a moment there instead, to give the others every chance to get in.
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


def test_control_without_the_token_lock_many_counters_pass_the_check(one_token_many_counters, monkeypatch):
    monkeypatch.setattr(redemptions, "_lock_token", lambda tokens: tokens)
    passes = count_checks(monkeypatch, hold=True)
    _, calls = one_token_many_counters

    outcomes = race(calls)

    assert passes.count > 1, outcomes  # the race is real: several saw the token unused
    # Only the unique token on Redemption stopped a double redemption, and with errors rather than clear refusals.
    assert outcomes["integrity_error"] >= 1, outcomes
    assert Redemption.objects.count() == 1


def test_fifty_scans_of_one_token_redeem_it_exactly_once(one_token_many_counters, monkeypatch):
    passes = count_checks(monkeypatch, hold=False)
    _, calls = one_token_many_counters

    outcomes = race(calls)

    assert outcomes == Counter({"redeemed": 1, "already_used": THREADS - 1})
    assert passes.count == 1
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
    passes = Passes(hold=True)

    def take_quota_unguarded(benefit):  # read, check, then write: the race the conditional UPDATE closes
        current = Benefit.objects.get(pk=benefit.pk)
        if current.used >= current.quota:
            return False
        passes.passed()
        Benefit.objects.filter(pk=benefit.pk).update(used=F("used") + 1)
        return True

    monkeypatch.setattr(redemptions, "_take_quota", take_quota_unguarded)
    benefit, calls = last_unit_many_residents

    outcomes = race(calls)

    assert passes.count > 1, outcomes  # several residents saw one unit left
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
