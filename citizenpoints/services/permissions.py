"""Who may do what in the credit office. Services call `require_role`; views check too, for the menus."""

from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import OfficeRole, User


class PermissionRefused(ApplicationError):
    pass


def has_role(user: User, role: str) -> bool:
    return bool(user and user.is_authenticated and user.is_active and (user.is_superuser or role in user.office_roles))


def require_role(user: User, role: OfficeRole) -> None:
    if not has_role(user, role):
        raise PermissionRefused(
            _("Only a %(role)s of the credit office may do this.") % {"role": OfficeRole(role).label.lower()},
            code="permission_denied",
            extra={"role": str(role)},
        )
