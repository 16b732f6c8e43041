"""Two reviewers deciding one appeal at the same moment, on PostgreSQL with real threads and connections.

The control first: without the appeal's row lock both read it open, and a grant and a refusal racing leave a decision
that contradicts the ledger (the last writer's status over the other's correction). Then the real service: one
decision, and exactly one correction, whoever wins."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from citizenpoints.models import Appeal, AuditEvent, LedgerEntry, Notification
from citizenpoints.services import appeals as appeals_service
from citizenpoints.services.appeals import AppealRefused, appeal_decide, appeal_file
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.scoring import balances_verify

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WAIT = 30


def race(calls) -> list[str]:
    start = threading.Barrier(len(calls))
    outcomes, lock = [], threading.Lock()

    def run(call):
        try:
            start.wait(timeout=WAIT)
            outcome = call().status
        except AppealRefused as refused:
            outcome = refused.code
        except Exception as error:  # reported in the assertion
            outcome = f"{type(error).__name__}: {error}"
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


@pytest.fixture
def appeal(resident):
    return appeal_file(
        resident=resident,
        subject="missing",
        statement="Two books; no points.",
        behaviour_code="library-loan",
        occurred_at=timezone.now() - datetime.timedelta(days=1),
    )


@pytest.fixture
def meet_before_locking(monkeypatch):
    """Both deciders reach the appeal's lock together (so the second really waits on the first)."""
    barrier = threading.Barrier(2)
    real_lock = appeals_service._lock

    def lock(appeal):
        barrier.wait(timeout=WAIT)
        return real_lock(appeal)

    monkeypatch.setattr(appeals_service, "_lock", lock)


def decide(reviewer, appeal, grant: bool):
    reason = "The library's log shows it." if grant else "No loan on that card that day."
    return lambda: appeal_decide(acting_user=reviewer, appeal=appeal, grant=grant, reason=reason)


def test_control_without_the_row_lock_the_decision_contradicts_the_ledger(
    appeal, reviewer, second_reviewer, monkeypatch
):
    barrier = threading.Barrier(2)

    def read_unlocked(appeal):
        found = Appeal.objects.select_related("entry", "claim", "behaviour").get(pk=appeal.pk)
        barrier.wait(timeout=WAIT)  # both have read it open before either writes
        return found

    monkeypatch.setattr(appeals_service, "_lock", read_unlocked)
    outcomes = race([decide(reviewer, appeal, True), decide(second_reviewer, appeal, False)])
    assert outcomes == ["granted", "refused"]  # two decisions of one appeal
    # The resident is told both, and the trail holds both: whichever wrote last, the other decision was lost.
    told = Notification.objects.filter(kind=Notification.Kind.APPEAL_DECIDED, params__appeal_id=appeal.pk)
    assert sorted(notice.params["granted"] for notice in told) == [False, True]
    assert (
        AuditEvent.objects.filter(action__in=["appeal.grant", "appeal.refuse"], object_id=str(appeal.pk)).count() == 2
    )
    appeal.refresh_from_db()
    corrections = LedgerEntry.objects.filter(external_id=f"appeal:{appeal.pk}").count()
    assert corrections == 1
    # If the refusal wrote last, the appeal even says "refused" over points it awarded.
    assert appeal.status == Appeal.Status.GRANTED or appeal.correction_id is None


def test_two_reviewers_granting_at_once_make_one_decision_and_one_correction(
    appeal, resident, reviewer, second_reviewer, meet_before_locking
):
    outcomes = race([decide(reviewer, appeal, True), decide(second_reviewer, appeal, True)])
    assert outcomes == ["already_decided", "granted"]
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.GRANTED
    assert LedgerEntry.objects.filter(resident=resident).count() == 1
    assert appeal.correction.points == 2
    assert list(ledger_verify()) == [] and list(balances_verify()) == []


def test_a_grant_and_a_refusal_at_once_leave_a_decision_the_ledger_agrees_with(
    appeal, resident, reviewer, second_reviewer, meet_before_locking
):
    outcomes = race([decide(reviewer, appeal, True), decide(second_reviewer, appeal, False)])
    assert "already_decided" in outcomes and len(outcomes) == 2
    appeal.refresh_from_db()
    corrections = LedgerEntry.objects.filter(resident=resident).count()
    if appeal.status == Appeal.Status.GRANTED:
        assert corrections == 1 and appeal.correction_id is not None
    else:
        assert corrections == 0 and appeal.correction_id is None
    assert list(ledger_verify()) == [] and list(balances_verify()) == []
