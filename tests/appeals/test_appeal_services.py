"""appeal_file, appeal_review_start and appeal_decide: each subject's grant corrects the ledger in the decision's
transaction, refusals write nothing (but the audit row), and the chain and balances stay whole."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import (
    Appeal,
    AuditEvent,
    Balance,
    Claim,
    LedgerEntry,
    Notification,
    OfficeRole,
)
from citizenpoints.services import appeals as appeals_service
from citizenpoints.services.appeals import (
    AppealRefused,
    appeal_decide,
    appeal_file,
    appeal_queue,
    appeal_review_start,
    appeals_overdue,
)
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.reversals import entry_reverse
from citizenpoints.services.scoring import balances_verify
from tests.appeals.conftest import MONDAY_10AM, award
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

YESTERDAY = MONDAY_10AM - datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


def points(resident) -> Decimal:
    return Balance.objects.get(resident=resident).points


def assert_intact():
    assert list(ledger_verify()) == []
    assert list(balances_verify()) == []


def file_missing(resident, **kwargs):
    values = {
        "resident": resident,
        "subject": Appeal.Subject.MISSING_POINTS,
        "statement": "I borrowed a book yesterday and nothing came.",
        "behaviour_code": "library-loan",
        "occurred_at": YESTERDAY,
    }
    return appeal_file(**{**values, **kwargs})


def refused_code(call, **kwargs) -> str:
    with pytest.raises(ApplicationError) as refused:
        call(**kwargs)
    return refused.value.code


# --- Filing.
def test_an_appeal_is_acknowledged_at_once_with_its_deadline(resident):
    appeal = file_missing(resident)
    assert appeal.status == Appeal.Status.RECEIVED
    assert appeal.due_on == datetime.date(2026, 11, 23)
    notice = Notification.objects.get(resident=resident)
    assert notice.kind == Notification.Kind.APPEAL_RECEIVED
    assert notice.params == {"appeal_id": appeal.pk, "subject": "missing", "due_on": "2026-11-23"}
    assert AuditEvent.objects.filter(action="appeal.file", object_id=str(appeal.pk), actor=resident.user).exists()


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"behaviour_code": "no-such-thing"}, "unknown_behaviour"),
        ({"occurred_at": MONDAY_10AM + datetime.timedelta(days=1)}, "in_future"),
        ({"occurred_at": MONDAY_10AM - datetime.timedelta(days=400)}, "outside_window"),
        ({"occurred_at": None}, "naive_datetime"),
        ({"behaviour_code": "volunteer-hours"}, "quantity_required"),
        ({"behaviour_code": "volunteer-hours", "quantity": "-2"}, "malformed"),
        ({"statement": "   "}, "statement_required"),
        ({"statement": "x" * 4001}, "statement_too_long"),
        ({"subject": "something"}, "unknown_subject"),
    ],
)
def test_a_missing_points_appeal_names_a_published_behaviour_and_a_time_in_the_window(resident, changes, code):
    assert refused_code(file_missing, resident=resident, **changes) == code
    assert not Appeal.objects.exists() and not Notification.objects.exists()


def test_only_the_resident_s_own_records_and_rejected_claims_can_be_appealed(resident, reviewer):
    other = ResidentFactory()
    theirs = award(other, "loan-x", when=YESTERDAY)
    mine = award(resident, "loan-1", when=YESTERDAY)
    entry = dict(resident=resident, statement="This is wrong.")
    assert refused_code(appeal_file, subject="entry", entry=theirs, **entry) == "not_yours"
    assert refused_code(appeal_file, subject="reversal", entry=mine, **entry) == "not_a_reversal"
    reversal = entry_reverse(entry=mine, acting_user=reviewer, reason="Sent twice by the library.")
    assert refused_code(appeal_file, subject="entry", entry=reversal, **entry) == "not_an_award"
    assert refused_code(appeal_file, subject="entry", entry=mine, **entry) == "already_reversed"
    pending = Claim.objects.create(
        resident=resident, behaviour=mine.behaviour, description="Helped", occurred_at=YESTERDAY, place="Home"
    )
    assert refused_code(appeal_file, subject="claim", claim=pending, **entry) == "claim_not_rejected"
    foreign = Claim.objects.create(
        resident=other, behaviour=mine.behaviour, description="Helped", occurred_at=YESTERDAY, place="Home"
    )
    assert refused_code(appeal_file, subject="claim", claim=foreign, **entry) == "not_yours"


def test_one_open_appeal_per_record(resident, reviewer, monkeypatch):
    entry = award(resident, "loan-1", when=YESTERDAY)
    first = appeal_file(resident=resident, subject="entry", entry=entry, statement="Not me.")
    assert refused_code(appeal_file, resident=resident, subject="entry", entry=entry, statement="Again") == (
        "already_open"
    )
    assert Appeal.objects.count() == 1
    # Once decided, the record may be appealed again (a refusal can be questioned with new facts).
    appeal_decide(acting_user=reviewer, appeal=first, grant=False, reason="The library confirms the loan.")
    appeal_file(resident=resident, subject="entry", entry=entry, statement="Here is the proof.")
    assert Appeal.objects.count() == 2


def test_a_resident_who_left_cannot_appeal(resident):
    resident.left_at = timezone.now()
    assert refused_code(file_missing, resident=resident) == "not_joined"


# --- Reviewing and deciding.
def test_review_start_shows_the_resident_it_is_being_reviewed(resident, reviewer, second_reviewer):
    appeal = file_missing(resident)
    appeal = appeal_review_start(acting_user=reviewer, appeal=appeal)
    assert (appeal.status, appeal.reviewer) == (Appeal.Status.IN_REVIEW, reviewer)
    assert refused_code(appeal_review_start, acting_user=second_reviewer, appeal=appeal) == "already_in_review"
    assert AuditEvent.objects.filter(action="appeal.review_start_refused", actor=second_reviewer).exists()


def test_granting_missing_points_awards_them_through_the_office(resident, reviewer):
    appeal = appeal_review_start(acting_user=reviewer, appeal=file_missing(resident))
    decided = appeal_decide(acting_user=reviewer, appeal=appeal, grant=True, reason="The library's log shows it.")
    entry = decided.correction
    assert (decided.status, decided.decided_by, decided.decision_reason) == (
        Appeal.Status.GRANTED, reviewer, "The library's log shows it."
    )  # fmt: skip
    # The library alone may send library loans; the office's decision awards it on its own authority.
    assert (entry.kind, entry.source.code, entry.external_id, entry.points) == (
        "award", "office", f"appeal:{appeal.pk}", Decimal("2.00")
    )  # fmt: skip
    assert entry.occurred_at == YESTERDAY
    assert points(resident) == Decimal(2)
    notice = Notification.objects.get(kind=Notification.Kind.APPEAL_DECIDED)
    assert notice.params == {"appeal_id": appeal.pk, "subject": "missing", "granted": True, "points": "2.00"}
    grant = AuditEvent.objects.get(action="appeal.grant")
    assert grant.after["correction_id"] == entry.pk and grant.reason == "The library's log shows it."
    assert_intact()


def test_the_reviewer_may_correct_the_quantity_but_never_types_points(resident, reviewer):
    appeal = file_missing(resident, behaviour_code="volunteer-hours", quantity="5")
    decided = appeal_decide(
        acting_user=reviewer, appeal=appeal, grant=True, reason="The federation logged 3 hours.", quantity="3"
    )
    assert (decided.correction.quantity, decided.correction.points) == (Decimal(3), Decimal(3))
    assert_intact()


def test_a_missing_points_grant_respects_the_caps(resident, reviewer):
    for number in range(2):
        award(resident, f"loan-{number}", when=YESTERDAY)  # 2 + 2 = the day's cap of 4
    appeal = file_missing(resident)
    with pytest.raises(AppealRefused) as refused:
        appeal_decide(acting_user=reviewer, appeal=appeal, grant=True, reason="The loan happened, but the cap.")
    assert (refused.value.code, refused.value.extra) == ("correction_refused", {"cause": "cap_reached"})
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.RECEIVED  # nothing decided; the reviewer refuses it with that reason
    appeal_decide(acting_user=reviewer, appeal=appeal, grant=False, reason="You had the day's most already.")


def test_a_refused_correction_writes_nothing_but_the_refusal(resident, reviewer):
    appeal = file_missing(resident)
    before = (LedgerEntry.objects.count(), Notification.objects.count())
    # Decided 13 months later: the act has left the scoring window, so it can no longer earn points.
    later = MONDAY_10AM + datetime.timedelta(days=400)
    with time_machine.travel(later, tick=False), pytest.raises(AppealRefused) as refused:
        appeal_decide(acting_user=reviewer, appeal=appeal, grant=True, reason="Late, but the log shows it.")
    assert (refused.value.code, refused.value.extra["cause"]) == ("correction_refused", "outside_window")
    appeal.refresh_from_db()
    assert (appeal.status, appeal.decided_at, appeal.correction) == (Appeal.Status.RECEIVED, None, None)
    assert (LedgerEntry.objects.count(), Notification.objects.count()) == before
    denial = AuditEvent.objects.get(action="appeal.decide_refused")
    assert (denial.actor, denial.reason, denial.after) == (reviewer, "correction_refused", {"cause": "outside_window"})
    assert not AuditEvent.objects.filter(action="appeal.grant").exists()


def test_a_failure_after_the_correction_rolls_the_correction_back(resident, reviewer, monkeypatch):
    appeal = file_missing(resident)

    def broken_notify(**kwargs):
        raise RuntimeError("the inbox is down")

    monkeypatch.setattr(appeals_service, "notify", broken_notify)
    with pytest.raises(RuntimeError):
        appeal_decide(acting_user=reviewer, appeal=appeal, grant=True, reason="The library's log shows it.")
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.RECEIVED
    assert not LedgerEntry.objects.exists() and points(resident) == 0
    assert_intact()


def test_granting_an_entry_appeal_reverses_the_wrong_record(resident, reviewer):
    entry = award(resident, "loan-1", when=YESTERDAY)
    appeal = appeal_file(resident=resident, subject="entry", entry=entry, statement="I was abroad that day.")
    decided = appeal_decide(acting_user=reviewer, appeal=appeal, grant=True, reason="The card was used by another.")
    reversal = decided.correction
    assert (reversal.kind, reversal.reverses, reversal.points) == ("reversal", entry, Decimal("-2.00"))
    assert reversal.reason == "The card was used by another." and reversal.decided_by == reviewer
    assert points(resident) == 0
    assert_intact()


def test_granting_a_reversal_appeal_restores_the_points_even_past_a_cap(resident, reviewer, second_reviewer):
    first = award(resident, "loan-1", when=YESTERDAY)
    award(resident, "loan-2", when=YESTERDAY)  # 4: the day's cap
    reversal = entry_reverse(entry=first, acting_user=reviewer, reason="Looks like a duplicate of loan-2.")
    award(resident, "loan-3", when=YESTERDAY)  # the reversal gave 2 of room back: used again
    assert points(resident) == 4
    appeal = appeal_file(resident=resident, subject="reversal", entry=reversal, statement="Two different books.")
    # The reviewer who reversed it may not hear the appeal against it.
    mine = {"acting_user": reviewer, "appeal": appeal, "grant": True, "reason": "My mistake, sorry."}
    assert refused_code(appeal_decide, **mine) == "own_decision"
    decided = appeal_decide(
        acting_user=second_reviewer, appeal=appeal, grant=True, reason="The library lent two different books."
    )
    restored = decided.correction
    assert (restored.kind, restored.points, restored.behaviour_code) == ("award", Decimal("2.00"), "library-loan")
    assert (restored.occurred_at, restored.catalogue_version_id) == (first.occurred_at, first.catalogue_version_id)
    assert (restored.reason, restored.decided_by, restored.capped) == (
        "The library lent two different books.", second_reviewer, False
    )  # fmt: skip
    assert points(resident) == 6  # over the day's cap: what was wrongly taken is given back whole
    assert_intact()
    # Restored once only.
    assert (
        refused_code(appeal_file, resident=resident, subject="reversal", entry=reversal, statement="Again please.")
        == "already_corrected"
    )


def test_granting_a_rejected_claim_appeal_awards_the_claim(resident, reviewer, second_reviewer):
    from citizenpoints.models import Behaviour

    claim = Claim.objects.create(
        resident=resident,
        behaviour=Behaviour.objects.get(code="neighbour-help", version__status="published"),
        description="Carried shopping for my neighbour",
        occurred_at=YESTERDAY,
        place="Building 3",
        status=Claim.Status.REJECTED,
        decided_at=MONDAY_10AM,
        decided_by=reviewer,
        decision_reason="No photo of the act.",
    )
    appeal = appeal_file(resident=resident, subject="claim", claim=claim, statement="My neighbour confirms it.")
    assert refused_code(appeal_review_start, acting_user=reviewer, appeal=appeal) == "own_decision"
    decided = appeal_decide(
        acting_user=second_reviewer, appeal=appeal, grant=True, reason="The neighbour's letter confirms it."
    )
    assert (decided.correction.behaviour_code, decided.correction.points) == ("neighbour-help", Decimal("3.00"))
    assert decided.correction.source.code == "office"
    claim.refresh_from_db()
    assert claim.status == Claim.Status.REJECTED  # the claim's own decision stays on record; the appeal corrected it
    assert points(resident) == 3
    assert_intact()


def test_refusing_changes_no_points(resident, reviewer):
    appeal = file_missing(resident)
    decided = appeal_decide(acting_user=reviewer, appeal=appeal, grant=False, reason="No loan on that card then.")
    assert (decided.status, decided.correction) == (Appeal.Status.REFUSED, None)
    assert (decided.reviewer, decided.review_started_at) == (reviewer, MONDAY_10AM)
    assert not LedgerEntry.objects.exists()
    assert Notification.objects.get(kind="appeal_decided").params["granted"] is False
    assert refused_code(appeal_decide, acting_user=reviewer, appeal=appeal, grant=True, reason="Changed my mind.") == (
        "already_decided"
    )


@pytest.mark.parametrize("role", [OfficeRole.AUDITOR, OfficeRole.CATALOGUE_EDITOR, None])
def test_only_reviewers_review_and_decide(resident, role):
    appeal = file_missing(resident)
    user = UserFactory(roles=[role] if role else [], mfa=True)
    for call, kwargs in [
        (appeal_review_start, {}),
        (appeal_decide, {"grant": True, "reason": "I would like to grant it."}),
    ]:
        assert refused_code(call, acting_user=user, appeal=appeal, **kwargs) == "permission_denied"
    assert AuditEvent.objects.filter(action="permission.denied", actor=user).count() == 2
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.RECEIVED


def test_a_resident_user_cannot_decide_even_their_own(resident):
    assert (
        refused_code(
            appeal_decide,
            acting_user=resident.user,
            appeal=file_missing(resident),
            grant=True,
            reason="Please grant it.",
        )
        == "permission_denied"
    )


def test_a_reviewer_may_not_decide_their_own_appeal(catalogue):
    reviewer = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)
    own = ResidentFactory(user=reviewer)
    appeal = file_missing(own)
    assert refused_code(appeal_decide, acting_user=reviewer, appeal=appeal, grant=True, reason="Clearly right.") == (
        "own_decision"
    )


def test_decisions_need_reasons(resident, reviewer):
    appeal = file_missing(resident)
    assert refused_code(appeal_decide, acting_user=reviewer, appeal=appeal, grant=False, reason=" no ") == (
        "reason_required"
    )


# --- The queue.
def test_overdue_appeals_are_open_ones_past_their_last_day(resident, reviewer):
    late = file_missing(resident)  # due Monday 23 November
    with time_machine.travel(MONDAY_10AM + datetime.timedelta(days=3), tick=False):
        fresh = file_missing(resident, statement="Another one.")  # Thursday: due Thursday 26th
    decided = file_missing(resident, statement="Decided.")
    appeal_decide(acting_user=reviewer, appeal=decided, grant=False, reason="Not in the library's log.")
    assert list(appeals_overdue(today=datetime.date(2026, 11, 23))) == []
    assert list(appeals_overdue(today=datetime.date(2026, 11, 24))) == [late]
    assert set(appeals_overdue(today=datetime.date(2026, 11, 27))) == {late, fresh}
    queue = list(appeal_queue(today=datetime.date(2026, 11, 24)))
    assert queue == [late, fresh, decided]  # open first, earliest due first
    assert list(appeal_queue(overdue=True, today=datetime.date(2026, 11, 24))) == [late]
    assert list(appeal_queue(status="refused")) == [decided]
    assert list(appeal_queue(subject="entry")) == []
