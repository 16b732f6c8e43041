"""The credit office's switch between tier schemes."""

from django.db import transaction
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import OfficeRole, TierScheme, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.permissions import role_required
from citizenpoints.services.scoring import scheme_activate


@role_required(OfficeRole.CATALOGUE_EDITOR)
@transaction.atomic
def tier_scheme_switch(*, acting_user: User, scheme: TierScheme, reason: str) -> int:
    """Activate `scheme` for everyone (one set-based re-tier; the ledger is untouched). Returns tier changes."""
    if not (reason or "").strip():
        raise ApplicationError(_("Say why the tier scheme changes; residents are told."), code="reason_required")
    previous = TierScheme.objects.filter(is_active=True).first()
    if previous and previous.pk == scheme.pk:
        raise ApplicationError(_("This scheme is already active."), code="already_active")
    if not scheme.tiers.exists():  # no tier to place anyone in
        raise ApplicationError(_("This scheme has no tiers yet: add them before making it active."), code="no_tiers")
    changes = scheme_activate(scheme=scheme, reason=reason.strip())
    audit_record(
        actor=acting_user,
        action="tiers.switch_scheme",
        obj=scheme,
        before={"active": previous.code if previous else None},
        after={"active": scheme.code, "tier_changes": changes},
        reason=reason.strip(),
    )
    return changes
