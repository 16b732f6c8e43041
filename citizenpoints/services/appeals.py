"""Appeals: a resident asks the credit office to look again; acknowledged at once with a working-day deadline,
decided by a reviewer with reasons; a grant corrects the ledger in the decision's own transaction.

What a grant writes, by subject:

- MISSING (points I should have received): an award of the named behaviour through the office's source
  ("office", external id `appeal:<pk>`), on the office's authority: the office publishes the catalogue, so its
  reasoned decision may award any behaviour in it, although only departments are authorised to send most of them
  (`award_grant(on_office_authority=True)`). Every other award rule holds: the scoring window, no future dates, the
  caps (a missing record would have been capped too), and the resident must still be in the programme.
- CLAIM (a rejected claim): the claim's behaviour, time, quantity and amount awarded the same way. The claim keeps
  its own rejection on record; the appeal holds the correction.
- ENTRY (a wrong record): the record is reversed by `entry_reverse`, with the decision's reasons.
- REVERSAL (points wrongly taken back): the reversed points are awarded back as a new award (kind AWARD, the same
  behaviour, catalogue version and occurred-at as the record taken back, the decision's reasons and reviewer on the
  entry). Caps are not asked: the record was within them when first awarded, and the reversal it undoes gave that
  room back; adding the points again only returns the caps' sums to what they were. A reversal of a record that had
  already aged out of the window restores the history but not the score, as the reversal moved no score either.

An appeal is heard by someone else: a reviewer may not decide their own appeal, nor an appeal against a reversal or a
claim decision they made themselves (`own_decision`).

Locks, in this order: the scoring window FOR SHARE (PostgreSQL), the appeal row, then (inside the correction) the
resident's balance: the order every ledger writer uses, and the one leaving takes (window FOR UPDATE first).
"""

import datetime
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import (
    Appeal,
    Balance,
    Behaviour,
    Claim,
    DataSource,
    LedgerEntry,
    Notification,
    OfficeRole,
    Resident,
    TierChange,
    User,
)
from citizenpoints.rules import CENT, AmountBandRule, PerUnitRule
from citizenpoints.services.audit import audit_record, denial_record
from citizenpoints.services.awards import award_grant, occurred_at_refusal, published_behaviour
from citizenpoints.services.badges import badges_evaluate
from citizenpoints.services.calendar import appeal_due_on, local_today, working_days_between
from citizenpoints.services.ledger import ledger_append
from citizenpoints.services.notifications import notify
from citizenpoints.services.permissions import require_role
from citizenpoints.services.reversals import entry_reverse
from citizenpoints.services.scoring import (
    balance_retier,
    outside_window_message,
    window_start_locked,
)

STATEMENT_MAX = 4000
REASON_MIN = 10


class AppealRefused(ApplicationError):
    """Codes (filing): not_joined, statement_required, statement_too_long, unknown_subject, not_yours, not_an_award,
    not_a_reversal, already_reversed, claim_not_rejected, already_corrected, unknown_behaviour, naive_datetime,
    in_future, outside_window, quantity_required, amount_required, malformed, already_open, and the evidence codes.
    (Deciding): permission_denied, reason_required, own_decision, already_in_review, already_decided,
    correction_refused (extra["cause"] is the ledger's code: outside_window, cap_reached, already_reversed...)."""


# --- Filing.
def _positive_decimal(value, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise AppealRefused(_("The %(field)s is not a number.") % {"field": field}, code="malformed") from error
    if not number.is_finite() or number <= 0 or number >= Decimal("1e10") or number.quantize(CENT) == 0:
        raise AppealRefused(_("The %(field)s must be a positive number.") % {"field": field}, code="malformed")
    return number.quantize(CENT)


def _check_measures(behaviour: Behaviour, quantity, amount) -> None:
    rule = behaviour.points_rule
    if isinstance(rule, PerUnitRule) and quantity is None:
        raise AppealRefused(
            _("“%(behaviour)s” is counted in %(unit)s: say how many.")
            % {"behaviour": behaviour.name_en, "unit": rule.unit},
            code="quantity_required",
        )
    if isinstance(rule, AmountBandRule) and amount is None:
        raise AppealRefused(
            _("“%(behaviour)s” is scored by amount: say how much.") % {"behaviour": behaviour.name_en},
            code="amount_required",
        )


def _granted_before(**subject) -> bool:
    return Appeal.objects.filter(status=Appeal.Status.GRANTED, **subject).exists()


def _check_subject(*, resident, subject, entry, claim, behaviour_code, occurred_at, quantity, amount, now) -> dict:
    """The fields of the new appeal for `subject`, or AppealRefused."""
    if subject in (Appeal.Subject.ENTRY, Appeal.Subject.REVERSAL):
        if entry is None or entry.resident_id != resident.pk:
            raise AppealRefused(_("This record is not in your history."), code="not_yours")
        if subject == Appeal.Subject.ENTRY:
            if entry.kind != LedgerEntry.Kind.AWARD:
                raise AppealRefused(
                    _("This is a correction: appeal it as points that were taken back."), code="not_an_award"
                )
            if LedgerEntry.objects.filter(reverses=entry).exists():
                raise AppealRefused(_("This record has already been taken back."), code="already_reversed")
        else:
            if entry.kind != LedgerEntry.Kind.REVERSAL:
                raise AppealRefused(_("These points were not taken back."), code="not_a_reversal")
            if _granted_before(entry=entry):
                raise AppealRefused(_("These points were already given back on appeal."), code="already_corrected")
        return {"entry": entry}
    if subject == Appeal.Subject.CLAIM:
        if claim is None or claim.resident_id != resident.pk:
            raise AppealRefused(_("This claim is not one of yours."), code="not_yours")
        if claim.status != Claim.Status.REJECTED:
            raise AppealRefused(_("Only a claim that was not approved can be appealed."), code="claim_not_rejected")
        if _granted_before(claim=claim):
            raise AppealRefused(_("This claim was already granted on appeal."), code="already_corrected")
        return {"claim": claim}
    if subject == Appeal.Subject.MISSING_POINTS:
        behaviour = published_behaviour(behaviour_code or "")
        if behaviour is None:
            raise AppealRefused(_("Choose something from the published catalogue."), code="unknown_behaviour")
        if occurred_at is None or timezone.is_naive(occurred_at):
            raise AppealRefused(_("Say when it happened."), code="naive_datetime")
        if (when := occurred_at_refusal(occurred_at, now)) is not None:
            raise AppealRefused(
                _("The date cannot be in the future.") if when == "in_future" else outside_window_message(),
                code=when,
            )
        _check_measures(behaviour, quantity, amount)
        return {"behaviour": behaviour, "occurred_at": occurred_at, "quantity": quantity, "amount": amount}
    raise AppealRefused(_("Choose what the appeal is about."), code="unknown_subject")


def appeal_file(
    *,
    resident: Resident,
    subject: str,
    statement: str,
    entry: LedgerEntry | None = None,
    claim: Claim | None = None,
    behaviour_code: str | None = None,
    occurred_at: datetime.datetime | None = None,
    quantity=None,
    amount=None,
    photos: Sequence = (),
    now: datetime.datetime | None = None,
) -> Appeal:
    """File an appeal and acknowledge it at once: the APPEAL_RECEIVED notice carries the decision's due date.

    `entry` for ENTRY (an award) and REVERSAL (the reversal); `claim` for CLAIM (a rejected one); `behaviour_code`,
    `occurred_at` (aware, in the window, not in the future) and the quantity or amount its rule needs for MISSING.
    One open appeal per record or claim (`already_open`, from the database's partial unique index under a race).
    Photos are re-encoded by services.evidence before anything is written. Raises AppealRefused or EvidenceError;
    nothing is written (no file kept) when it does.
    """
    from citizenpoints.services.evidence import photo_files_delete, photos_attach, photos_clean

    now = now or timezone.now()
    if resident.user_id is None or resident.left_at is not None:
        raise AppealRefused(_("Only a member of the programme can appeal."), code="not_joined")
    statement = (statement or "").strip()
    if not statement:
        raise AppealRefused(_("Tell us what happened and what you ask for."), code="statement_required")
    if len(statement) > STATEMENT_MAX:
        raise AppealRefused(
            _("Keep the statement under %(count)d characters.") % {"count": STATEMENT_MAX}, code="statement_too_long"
        )
    fields = _check_subject(
        resident=resident,
        subject=subject,
        entry=entry,
        claim=claim,
        behaviour_code=behaviour_code,
        occurred_at=occurred_at,
        quantity=_positive_decimal(quantity, _("quantity")),
        amount=_positive_decimal(amount, _("amount")),
        now=now,
    )
    cleaned = photos_clean(photos)  # every photo re-encoded (or refused) before anything is written
    due_on = appeal_due_on(now)
    stored: list[str] = []
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(
                resident=resident, subject=subject, statement=statement, filed_at=now, due_on=due_on, **fields
            )
            if cleaned:
                stored = [photo.file_name for photo in photos_attach(appeal=appeal, uploads=cleaned)]
            audit_record(
                actor=resident.user,
                action="appeal.file",
                obj=appeal,
                after={"subject": subject, "due_on": due_on.isoformat(), "photos": len(cleaned)},
            )
            notify(
                resident=resident,
                kind=Notification.Kind.APPEAL_RECEIVED,
                params={"appeal_id": appeal.pk, "subject": subject, "due_on": due_on.isoformat()},
            )
    except BaseException as error:
        photo_files_delete(stored)  # the rows rolled back; the files written would be orphans
        if not isinstance(error, IntegrityError):
            raise
        about = Q(entry=fields["entry"]) if "entry" in fields else Q(claim=fields.get("claim") or -1)
        if Appeal.objects.filter(about, status__in=Appeal.OPEN).exists():
            raise AppealRefused(
                _("You already have an open appeal about this. You will hear from us by its deadline."),
                code="already_open",
            ) from error
        raise
    return appeal


# --- Reviewing.
def _lock(appeal: Appeal) -> Appeal:
    return (
        Appeal.objects.select_for_update(of=("self",)).select_related("entry", "claim", "behaviour").get(pk=appeal.pk)
    )


def _refuse(*, acting_user: User, appeal: Appeal, step: str, code: str, message: str, details=None):
    """Record a refused decision step in the audit trail (on its own: the refused transaction rolls back) and raise."""
    denial_record(
        actor=acting_user,
        action=f"appeal.{step}_refused",
        target=f"appeal:{appeal.pk}",
        reason=code,
        details=details,
    )
    raise AppealRefused(message, code=code, extra=details or {})


def _check_impartial(*, acting_user: User, appeal: Appeal, step: str) -> None:
    """An appeal is heard by someone other than the resident and the person whose decision it questions."""
    if appeal.resident.user_id == acting_user.pk:
        _refuse(
            acting_user=acting_user,
            appeal=appeal,
            step=step,
            code="own_decision",
            message=_("You cannot review your own appeal: another reviewer must."),
        )
    questioned = None
    if appeal.subject == Appeal.Subject.REVERSAL and appeal.entry_id:
        questioned = appeal.entry.decided_by_id
    elif appeal.subject == Appeal.Subject.CLAIM and appeal.claim_id:
        questioned = appeal.claim.decided_by_id
    if questioned is not None and questioned == acting_user.pk:
        _refuse(
            acting_user=acting_user,
            appeal=appeal,
            step=step,
            code="own_decision",
            message=_("This appeal questions a decision you made: another reviewer must decide it."),
        )


def appeal_review_start(*, acting_user: User, appeal: Appeal, now: datetime.datetime | None = None) -> Appeal:
    """A reviewer takes the appeal: the resident sees "being reviewed". Refuses permission_denied, own_decision,
    already_in_review, already_decided (each audited)."""
    require_role(acting_user, OfficeRole.REVIEWER)
    _check_impartial(acting_user=acting_user, appeal=appeal, step="review_start")
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(appeal)
        if locked.status != Appeal.Status.RECEIVED:
            code = "already_in_review" if locked.status == Appeal.Status.IN_REVIEW else "already_decided"
            problem = code
        else:
            problem = None
            locked.status, locked.reviewer, locked.review_started_at = Appeal.Status.IN_REVIEW, acting_user, now
            locked.save(update_fields=["status", "reviewer", "review_started_at"])
            audit_record(
                actor=acting_user,
                action="appeal.review_start",
                obj=locked,
                before={"status": Appeal.Status.RECEIVED},
                after={"status": Appeal.Status.IN_REVIEW},
            )
    if problem:
        message = (
            _("Another reviewer is already reviewing this appeal.")
            if problem == "already_in_review"
            else _("This appeal has already been decided.")
        )
        _refuse(acting_user=acting_user, appeal=locked, step="review_start", code=problem, message=message)
    return locked


def _office_source() -> DataSource:
    return DataSource.objects.get(code="office")


def _award(*, appeal: Appeal, behaviour_code: str, occurred_at, quantity, amount, now) -> LedgerEntry:
    result = award_grant(
        resident=appeal.resident_id,
        behaviour_code=behaviour_code,
        source=_office_source(),
        external_id=f"appeal:{appeal.pk}",
        occurred_at=occurred_at,
        quantity=quantity,
        amount=amount,
        now=now,
        on_office_authority=True,
    )
    return result.entry


def _restore(*, appeal: Appeal, acting_user: User, reason: str, window_start, now) -> LedgerEntry:
    """Award back what the appealed reversal took (see the module docstring: no caps; same behaviour and dates)."""
    reversal = appeal.entry
    balance = Balance.objects.select_for_update().get(resident_id=appeal.resident_id)
    if Resident.objects.filter(pk=appeal.resident_id, left_at__isnull=False).exists():
        raise ApplicationError(_("This person has left the programme."), code="not_joined")
    if Appeal.objects.filter(entry=reversal, status=Appeal.Status.GRANTED).exclude(pk=appeal.pk).exists():
        raise ApplicationError(_("These points were already given back on appeal."), code="already_corrected")
    original = LedgerEntry.objects.filter(pk=reversal.reverses_id).first()  # None if retention deleted it
    entry = ledger_append(
        balance=balance,
        counts_in_window=reversal.occurred_at >= window_start,
        kind=LedgerEntry.Kind.AWARD,
        behaviour_id=reversal.behaviour_id,
        behaviour_code=reversal.behaviour_code,
        category_id=reversal.category_id,
        catalogue_version_id=reversal.catalogue_version_id,
        source_id=_office_source().pk,
        external_id=f"appeal:{appeal.pk}",
        occurred_at=reversal.occurred_at,
        recorded_at=now,
        quantity=original.quantity if original else None,
        amount=original.amount if original else None,
        points=-reversal.points,
        capped=False,
        reverses=None,
        reason=reason,
        decided_by=acting_user,
    )
    balance_retier(balance=balance, cause=TierChange.Cause.REVERSAL)
    badges_evaluate(resident_id=appeal.resident_id, category_id=reversal.category_id, now=now)
    return entry


def appeal_award_behaviour(appeal: Appeal) -> Behaviour | None:
    """The behaviour a grant would award: what the resident says they did (missing points) or the rejected claim's
    behaviour. None for the subjects a grant corrects by a reversal or a restoration."""
    if appeal.subject == Appeal.Subject.MISSING_POINTS:
        return appeal.behaviour
    if appeal.subject == Appeal.Subject.CLAIM and appeal.claim_id:
        return appeal.claim.behaviour
    return None


def _correct(*, appeal: Appeal, acting_user: User, reason: str, quantity, amount, window_start, now) -> LedgerEntry:
    subject = appeal.subject
    if subject == Appeal.Subject.MISSING_POINTS:
        return _award(
            appeal=appeal,
            behaviour_code=appeal.behaviour.code,
            occurred_at=appeal.occurred_at,
            quantity=quantity if quantity is not None else appeal.quantity,
            amount=amount if amount is not None else appeal.amount,
            now=now,
        )
    if subject == Appeal.Subject.CLAIM:
        claim = Claim.objects.select_related("behaviour").get(pk=appeal.claim_id)
        if claim.status != Claim.Status.REJECTED or claim.ledger_entry_id:
            raise ApplicationError(_("This claim has points already."), code="already_corrected")
        return _award(
            appeal=appeal,
            behaviour_code=claim.behaviour.code,
            occurred_at=claim.occurred_at,
            quantity=quantity if quantity is not None else claim.quantity,
            amount=amount if amount is not None else claim.amount,
            now=now,
        )
    if subject == Appeal.Subject.ENTRY:
        return entry_reverse(entry=appeal.entry, acting_user=acting_user, reason=reason)
    return _restore(appeal=appeal, acting_user=acting_user, reason=reason, window_start=window_start, now=now)


def appeal_decide(
    *,
    acting_user: User,
    appeal: Appeal,
    grant: bool,
    reason: str,
    quantity=None,
    amount=None,
    now: datetime.datetime | None = None,
) -> Appeal:
    """Decide an open appeal with reasons the resident reads; a grant corrects the ledger in this transaction.

    `quantity`/`amount` (MISSING and CLAIM): the reviewer's corrected measure when the records show a different one
    than the resident gave; points always come from the catalogue's rule, never typed in.
    Locks the scoring window (share), the appeal, then the balance. Refuses (audited, nothing written):
    permission_denied, reason_required, own_decision, already_decided, correction_refused (with extra["cause"]).
    The decided appeal's APPEAL_DECIDED notice commits with it.
    """
    require_role(acting_user, OfficeRole.REVIEWER)
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        _refuse(
            acting_user=acting_user,
            appeal=appeal,
            step="decide",
            code="reason_required",
            message=_("Write the reasons the resident will read (at least 10 characters)."),
        )
    _check_impartial(acting_user=acting_user, appeal=appeal, step="decide")
    quantity = _positive_decimal(quantity, _("quantity"))
    amount = _positive_decimal(amount, _("amount"))
    now = now or timezone.now()
    refusal = None
    try:
        with transaction.atomic():
            window_start = window_start_locked()
            locked = _lock(appeal)
            if not locked.is_open:
                refusal = ("already_decided", _("This appeal has already been decided."), None)
                raise _Abort
            before = {"status": locked.status}
            correction = None
            if grant:
                try:
                    correction = _correct(
                        appeal=locked,
                        acting_user=acting_user,
                        reason=reason,
                        quantity=quantity,
                        amount=amount,
                        window_start=window_start,
                        now=now,
                    )
                except ApplicationError as error:
                    refusal = (
                        "correction_refused",
                        _("The ledger cannot be corrected, so the appeal cannot be granted: %(why)s")
                        % {"why": error.message},
                        {"cause": error.code},
                    )
                    raise _Abort from error
            if locked.reviewer_id is None:
                locked.reviewer, locked.review_started_at = acting_user, now
            locked.status = Appeal.Status.GRANTED if grant else Appeal.Status.REFUSED
            locked.decided_at, locked.decided_by, locked.decision_reason = now, acting_user, reason
            locked.correction = correction
            locked.save()
            after = {"status": locked.status}
            if correction is not None:
                after.update(correction_id=correction.pk, points=str(correction.points), kind=correction.kind)
            audit_record(
                actor=acting_user,
                action="appeal.grant" if grant else "appeal.refuse",
                obj=locked,
                before=before,
                after=after,
                reason=reason,
            )
            notify(
                resident=locked.resident,
                kind=Notification.Kind.APPEAL_DECIDED,
                params={
                    "appeal_id": locked.pk,
                    "subject": locked.subject,
                    "granted": grant,
                    "points": str(correction.points) if correction is not None else None,
                },
            )
    except _Abort:
        code, message, details = refusal
        _refuse(acting_user=acting_user, appeal=appeal, step="decide", code=code, message=message, details=details)
    return locked


class _Abort(Exception):
    """Rolls the decision's transaction back; the refusal is recorded and raised after it."""


# --- Reads for both screens.
def appeals_open() -> QuerySet[Appeal]:
    return Appeal.objects.filter(status__in=Appeal.OPEN)


def appeals_overdue(*, today: datetime.date | None = None) -> QuerySet[Appeal]:
    """Open appeals whose last day has passed (in the office's local calendar)."""
    return appeals_open().filter(due_on__lt=today or local_today())


def appeal_queue(
    *, status: str | None = None, subject: str | None = None, overdue: bool = False, today=None
) -> QuerySet[Appeal]:
    """The office queue: open appeals first, the earliest due first, then decided ones, latest first."""
    today = today or local_today()
    appeals = Appeal.objects.select_related("resident", "behaviour", "reviewer")
    if status:
        appeals = appeals.filter(status=status)
    if subject:
        appeals = appeals.filter(subject=subject)
    if overdue:
        appeals = appeals.filter(status__in=Appeal.OPEN, due_on__lt=today)
    return appeals.annotate(
        open_first=Case(When(status__in=Appeal.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
    ).order_by("open_first", "due_on", "filed_at", "id")


def appeal_is_overdue(appeal: Appeal, *, today: datetime.date | None = None) -> bool:
    return appeal.is_open and appeal.due_on < (today or local_today())


def appeal_working_days_left(appeal: Appeal, *, today: datetime.date | None = None) -> int:
    """Working days from today to the due date (0 on the day itself, negative once overdue)."""
    return working_days_between(today or local_today(), appeal.due_on)
