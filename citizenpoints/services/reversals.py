"""Reversing a record shown to be wrong: the only way, besides ageing, that points leave a score."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import Balance, DataSource, LedgerEntry, OfficeRole, TierChange, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.ledger import ledger_append
from citizenpoints.services.permissions import require_role
from citizenpoints.services.scoring import balance_retier, window_start_locked


def entry_reverse(*, entry: LedgerEntry, acting_user: User, reason: str) -> LedgerEntry:
    """Append a reversal of `entry` with the reviewer's written reason; the resident sees both and may appeal.

    Locks the resident's balance; refuses (codes `permission_denied`, `reason_required`, `not_an_award`,
    `already_reversed`) without writing anything.
    """
    require_role(acting_user, OfficeRole.REVIEWER)
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ApplicationError(
            _("Write the reason the resident will read (at least 10 characters)."), code="reason_required"
        )
    if entry.kind != LedgerEntry.Kind.AWARD:
        raise ApplicationError(_("Only awards can be reversed."), code="not_an_award")
    with transaction.atomic():
        window_start = window_start_locked()
        balance = Balance.objects.select_for_update().get(resident_id=entry.resident_id)
        if LedgerEntry.objects.filter(reverses=entry).exists():
            raise ApplicationError(_("This record has already been reversed."), code="already_reversed")
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
            after={"reversal_id": reversal.pk, "points": str(reversal.points)},
            reason=reason,
        )
    return reversal
