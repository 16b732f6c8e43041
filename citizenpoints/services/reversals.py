"""Reversing a record shown to be wrong: the only way, besides ageing, that points leave a score."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import (
    Balance,
    DataSource,
    LedgerEntry,
    Notification,
    OfficeRole,
    Resident,
    TierChange,
    User,
)
from citizenpoints.services.audit import audit_record
from citizenpoints.services.ledger import ledger_append
from citizenpoints.services.notifications import notify
from citizenpoints.services.permissions import require_role
from citizenpoints.services.scoring import balance_retier, window_start_locked

REASON_MIN_LENGTH = 10


def reversal_reason_clean(reason: str) -> str:
    """The reason as it will be stored and shown to the resident; refuses `reason_required` if it says too little.

    The office's form calls this too, so the reviewer hears about a short reason before the confirmation step."""
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN_LENGTH:
        raise ApplicationError(
            _("Write the reason the resident will read (at least 10 characters)."), code="reason_required"
        )
    return reason


def entry_reversal_refusal(*, entry: LedgerEntry) -> ApplicationError | None:
    """Why `entry` cannot be reversed (codes `not_an_award`, `already_reversed`, `resident_left`), or None.

    Unlocked when the office's screens ask it to explain themselves; `entry_reverse` asks again under the lock."""
    if entry.kind != LedgerEntry.Kind.AWARD:
        return ApplicationError(_("Only awards can be reversed."), code="not_an_award")
    if LedgerEntry.objects.filter(reverses=entry).exists():
        return ApplicationError(_("This record has already been reversed."), code="already_reversed")
    if Resident.objects.filter(pk=entry.resident_id, left_at__isnull=False).exists():
        return ApplicationError(
            _("This resident has left the programme: their records stay only as anonymous statistics."),
            code="resident_left",
        )
    return None


def entry_reverse(*, entry: LedgerEntry, acting_user: User, reason: str) -> LedgerEntry:
    """Append a reversal of `entry` with the reviewer's written reason; the resident sees both, is told in their inbox
    (an `entry_reversed` notice, written in this transaction) and may appeal.

    Locks the scoring window (shared) and the resident's balance; refuses (codes `permission_denied`, audited by
    `require_role` before any transaction opens; `reason_required`, `not_an_award`, `already_reversed`,
    `resident_left`) without writing anything else. Nests inside a caller's transaction (an appeal's grant).
    """
    require_role(acting_user, OfficeRole.REVIEWER)
    reason = reversal_reason_clean(reason)
    with transaction.atomic():
        window_start = window_start_locked()
        balance = Balance.objects.select_for_update().get(resident_id=entry.resident_id)
        # Asked again under the lock: leaving and other reversals take it too, so neither can slip in between.
        refusal = entry_reversal_refusal(entry=entry)
        if refusal is not None:
            raise refusal
        resident = Resident.objects.get(pk=entry.resident_id)
        before = {"balance": str(balance.points), "tier_id": balance.tier_id}
        reversal = ledger_append(
            balance=balance,
            counts_in_window=entry.occurred_at >= window_start,
            kind=LedgerEntry.Kind.REVERSAL,
            behaviour_id=entry.behaviour_id,
            behaviour_code=entry.behaviour_code,
            category_id=entry.category_id,
            catalogue_version_id=entry.catalogue_version_id,
            source_id=DataSource.objects.get(code="office").pk,
            external_id=f"reversal:{entry.pk}",
            occurred_at=entry.occurred_at,
            recorded_at=timezone.now(),
            quantity=None,
            amount=None,
            points=-entry.points,
            capped=False,
            reverses=entry,
            reason=reason,
            decided_by=acting_user,
        )
        balance_retier(balance=balance, cause=TierChange.Cause.REVERSAL)
        audit_record(
            actor=acting_user,
            action="ledger.reverse",
            obj=entry,
            before=before,
            after={
                "reversal_id": reversal.pk,
                "points": str(reversal.points),
                "balance": str(balance.points),
                "tier_id": balance.tier_id,
            },
            reason=reason,
        )
        notify(
            resident=resident,
            kind=Notification.Kind.ENTRY_REVERSED,
            params={
                "entry_id": entry.pk,
                "reversal_id": reversal.pk,
                "points": str(entry.points),  # taken back, as a positive figure
                "behaviour_code": entry.behaviour_code,
            },
        )
    return reversal
