"""Who in the credit office opened a resident's file: every staff view of a resident is an audit row the resident
can read (roles and time, never the staff member's name)."""

from django.db import transaction
from django.utils.translation import gettext as _

from citizenpoints.models import AuditEvent, OfficeRole, Resident, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.permissions import PermissionRefused

ACTION_VIEW = "resident.view"
ADMINISTRATOR = "administrator"  # a superuser or staff account without an office role


def staff_roles(user: User) -> list[str]:
    """The acting user's office roles, as stored in the audit row (so later role changes do not rewrite history)."""
    roles = sorted(user.office_roles)
    if not roles and (user.is_superuser or user.is_staff):
        roles = [ADMINISTRATOR]
    return roles


def resident_file_open(*, acting_user: User, resident: Resident, reason: str = "") -> AuditEvent:
    """Record that office staff opened `resident`'s file; call it from every staff view that shows a resident.

    Refuses `permission_denied` for anyone who is not office staff (they have no business seeing the file).
    """
    if not (acting_user and acting_user.is_authenticated and acting_user.is_office_staff):
        raise PermissionRefused(_("Only credit office staff may open a resident's file."), code="permission_denied")
    with transaction.atomic():
        return audit_record(
            actor=acting_user,
            action=ACTION_VIEW,
            obj=resident,
            after={"roles": staff_roles(acting_user)},
            reason=reason,
        )


def role_label(role: str) -> str:
    if role == ADMINISTRATOR:
        return _("System administrator")
    try:
        return str(OfficeRole(role).label)
    except ValueError:
        return role
