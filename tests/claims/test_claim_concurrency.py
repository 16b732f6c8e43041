"""Two reviewers decide the same claim at the same moment, each on its own PostgreSQL connection: the claim's row
lock lets exactly one decision through; the other is told it was already decided, and the ledger holds at most one
award. The control first: without the lock (a plain read), both decisions pass their "still pending?" check."""

import threading

import pytest
from django.db import connection

from citizenpoints.models import Claim, LedgerEntry, OfficeRole
from citizenpoints.services import claims as claim_services
from citizenpoints.services.claims import ClaimError, claim_approve, claim_reject
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.scoring import balances_verify
from tests.claims.test_claim_services import file_claim
from tests.factories import ResidentFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WAIT = 30


def race(calls) -> list[str]:
    start = threading.Barrier(len(calls))
    outcomes, lock = [], threading.Lock()

    def run(call):
        try:
            start.wait(timeout=WAIT)
            outcome = call().status
        except ClaimError as error:
            outcome = error.code
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * WAIT)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return sorted(outcomes)


def _decide_both(claim, first, second):
    return race(
        [
            lambda: claim_approve(acting_user=first, claim=claim),
            lambda: claim_reject(acting_user=second, claim=claim, reason="The photo shows a different street."),
        ]
    )


def test_control_without_the_row_lock_both_reviewers_decide(catalogue, monkeypatch):
    first, second = (UserFactory(roles=[OfficeRole.REVIEWER], mfa=True) for _ in range(2))
    claim = file_claim(ResidentFactory())
    original = claim_services._locked_pending
    arrived = threading.Barrier(2)

    def unlocked(claim):
        # The guard removed: read without FOR UPDATE, and let both readers see "pending" before either writes.
        current = Claim.objects.get(pk=claim.pk)
        arrived.wait(timeout=WAIT)
        if current.status != Claim.Status.PENDING:
            return original(claim)
        return current

    monkeypatch.setattr(claim_services, "_locked_pending", unlocked)
    monkeypatch.setattr(claim_services, "window_start_locked", lambda: None)  # no shared lock to serialise them
    assert _decide_both(claim, first, second) == ["approved", "rejected"]  # both "won": the race is real


def test_with_the_row_lock_exactly_one_decision_wins(catalogue):
    first, second = (UserFactory(roles=[OfficeRole.REVIEWER], mfa=True) for _ in range(2))
    for _ in range(5):
        claim = file_claim(ResidentFactory())
        outcomes = _decide_both(claim, first, second)
        assert outcomes in (["already_decided", "approved"], ["already_decided", "rejected"]), outcomes
        claim.refresh_from_db()
        awards = LedgerEntry.objects.filter(external_id=f"claim:{claim.pk}").count()
        assert awards == (1 if claim.status == Claim.Status.APPROVED else 0)


def test_two_approvals_at_once_award_once(catalogue):
    first, second = (UserFactory(roles=[OfficeRole.REVIEWER], mfa=True) for _ in range(2))
    claim = file_claim(ResidentFactory())
    outcomes = race(
        [lambda: claim_approve(acting_user=first, claim=claim), lambda: claim_approve(acting_user=second, claim=claim)]
    )
    assert outcomes == ["approved", "approved"]
    assert LedgerEntry.objects.filter(external_id=f"claim:{claim.pk}").count() == 1
    assert list(ledger_verify()) == [] and list(balances_verify()) == []
