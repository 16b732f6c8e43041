"""Leaving the programme: withdraw consent, erase personal data, keep the ledger whole and anonymous.

Design: the ledger is never edited. The Resident row stays as an anonymous subject (no account, no name, `left_at`
set) and the Balance and LedgerEntry rows keep pointing at it, so every hash chain, every balance and the statistics
by tier and category stay exactly as they were. What names the person goes: the account (with its email addresses,
two-factor authenticators and sessions), consent records, card links, export files, and whatever other apps hold,
erased by their `resident_left` receivers. Re-joining is a new sign-up: a new account, a new resident, a new chain.

The ledger entries still carry the departments' own record ids (hashed into the chain, so they cannot be blanked):
only the department that sent a record can tell whose it was, and the retention purge deletes them in time.
"""

import datetime

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import (
    AuditEvent,
    Balance,
    CardLink,
    ConsentRecord,
    IngestRecord,
    Resident,
    ScoringWindow,
    User,
)
from citizenpoints.signals import resident_left


def resident_leave(*, resident: Resident, acting_user: User, now: datetime.datetime | None = None) -> Resident:
    """Withdraw `resident`'s consent and erase their personal data; only the resident themself may (`acting_user`).

    Locks, in the award service's order: the scoring window row FOR UPDATE (every award and ingest batch holds it
    FOR SHARE while it writes, so none is half-way through for this resident, and none starts until this commits),
    then the resident's balance. Then checks, then erases in one transaction. Touches no ledger row (PostgreSQL's
    trigger refuses updates), so the chains verify as before.

    Refuses `not_allowed` (someone else), `already_left`, `staff_account` (an office or partner staff account, whose
    actions other records point at: the office closes those). Returns the anonymous resident.
    """
    now = now or timezone.now()
    if acting_user is None or not acting_user.is_authenticated or acting_user.pk != resident.user_id:
        raise ApplicationError(_("Only you can take yourself out of the programme."), code="not_allowed")
    if acting_user.is_office_staff:
        raise ApplicationError(
            _("Staff accounts cannot leave here. Ask the credit office to close your staff account."),
            code="staff_account",
        )
    with transaction.atomic(durable=True):
        _hold_writers()
        Balance.objects.select_for_update().filter(resident_id=resident.pk).first()
        resident = Resident.objects.select_for_update().get(pk=resident.pk)
        if resident.left_at is not None or resident.user_id is None:
            raise ApplicationError(_("You have already left the programme."), code="already_left")
        user = User.objects.select_for_update().get(pk=resident.user_id)

        CardLink.objects.filter(resident=resident).delete()
        ConsentRecord.objects.filter(resident=resident).delete()
        # Department records keep their result for the department, without the card key or the link to the resident.
        IngestRecord.objects.filter(resident_id=resident.pk).update(card_hash="", resident_id=None)
        from citizenpoints.services.exports import exports_delete  # exports import this package's selectors

        exports_delete(resident=resident)

        Resident.objects.filter(pk=resident.pk).update(user=None, given_name="", left_at=now)
        resident.refresh_from_db()
        resident_left.send(sender=Resident, resident=resident, user=user)

        # Audit rows the person acted in themself lose the actor (the account goes); staff rows stay as they are.
        AuditEvent.objects.filter(actor=user).update(actor=None)
        user_id = user.pk
        try:
            user.delete()  # email addresses, confirmations, authenticators and admin log rows go with it (CASCADE)
        except (ProtectedError, RestrictedError) as error:
            raise ApplicationError(
                _("Staff accounts cannot leave here. Ask the credit office to close your staff account."),
                code="staff_account",
            ) from error
        # Written directly, not with audit_record: that would add the request's IP address, which names the person.
        AuditEvent.objects.create(
            actor=None,
            action="resident.leave",
            object_type=Resident._meta.label_lower,
            object_id=str(resident.pk),
            after={"left_at": now.isoformat()},
            ip_address=None,
        )
        # After commit: a scan of the sessions must not hold the window lock that every award waits on.
        transaction.on_commit(lambda: _sessions_delete(user_id))
    return resident


def _hold_writers() -> None:
    """Wait for every award and ingest batch in flight to commit, and make new ones wait for this transaction: they
    hold the scoring window FOR SHARE from before they look a resident up until they commit."""
    ScoringWindow.objects.select_for_update().filter(pk=1).first()


def _sessions_delete(user_id: int) -> None:
    """End the account's sessions on every device. Database sessions are not indexed by user, so this decodes the
    live ones; a session it misses cannot sign anyone in anyway, as its account no longer exists."""
    if settings.SESSION_ENGINE not in {
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    }:
        return
    user_key = str(user_id)
    doomed = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=2000)
        if session.get_decoded().get(SESSION_KEY) == user_key
    ]
    if doomed:
        Session.objects.filter(session_key__in=doomed).delete()
