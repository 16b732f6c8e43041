from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from citizenpoints.services.audit import denial_record
from citizenpoints.services.permissions import has_role


def office_role_required(*roles: str):
    """Views for the credit office: any one of `roles` (superusers pass). Services check again."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not any(has_role(request.user, role) for role in roles):
                denial_record(
                    actor=request.user,
                    action="screen.denied",
                    target=request.path,
                    reason="missing role",
                    details={"method": request.method, "needs_one_of": list(roles)},
                )
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.office_roles = roles  # read by the console's front page and navigation (office/screens.py)
        return wrapped

    return decorator
