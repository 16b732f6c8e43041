"""Who may do what in the credit office. Services call `require_role`; views check too, for the menus."""

from functools import wraps

from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import OfficeRole, User


class PermissionRefused(ApplicationError):
    pass


def has_role(user: User, role: str) -> bool:
    return bool(user and user.is_authenticated and user.is_active and (user.is_superuser or role in user.office_roles))


def require_role(user: User, role: OfficeRole) -> None:
    """Refuse, and record the refusal in the audit trail, unless `user` holds `role` (superusers hold every role)."""
    if not has_role(user, role):
        from citizenpoints.services.audit import denial_record

        denial_record(
            actor=user,
            action="permission.denied",
            target=str(role),
            reason="missing role",
            details={"needs": str(role), "has": sorted(user.office_roles) if user and user.is_authenticated else []},
        )
        raise PermissionRefused(
            _("Only a %(role)s of the credit office may do this.") % {"role": OfficeRole(role).label.lower()},
            code="permission_denied",
            extra={"role": str(role)},
        )


def role_required(role: OfficeRole):
    """For a service that runs in one transaction (`@transaction.atomic` below this decorator): check `acting_user`'s
    role before the transaction opens, so the recorded refusal is not rolled back with it."""

    def decorator(service):
        @wraps(service)
        def wrapper(*args, acting_user: User, **kwargs):
            require_role(acting_user, role)
            return service(*args, acting_user=acting_user, **kwargs)

        return wrapper

    return decorator
