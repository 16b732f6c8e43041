import contextvars
from collections.abc import Callable

from citizenpoints.models import AuditEvent, User

# How to find the client address of the request being served, set by AuditContextMiddleware: worked out only when
# an audit row is written (most requests write none); None in tasks and commands.
request_ip: contextvars.ContextVar[Callable[[], str | None] | None] = contextvars.ContextVar("request_ip", default=None)


def current_request_ip() -> str | None:
    resolve = request_ip.get()
    return None if resolve is None else resolve()


def audit_record(
    *, actor: User | None, action: str, obj, before=None, after=None, reason: str = "", ip_address: str | None = None
) -> AuditEvent:
    """Write one audit row; call it inside the acting service's transaction so both commit or neither does.

    The IP is the current request's unless given."""
    return AuditEvent.objects.create(
        actor=actor if actor and actor.is_authenticated else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        before=before,
        after=after,
        reason=reason,
        ip_address=ip_address or current_request_ip(),
    )


def denial_record(
    *, actor: User | None, action: str, target: str, reason: str = "", details: dict | None = None
) -> None:
    """Write the refusal of a staff action or screen (`target` names what was asked for: a URL or a role).

    Denials are written on their own, never inside the refused action's transaction (which rolls back), so services
    check permissions before they open one."""
    AuditEvent.objects.create(
        actor=actor if actor and actor.is_authenticated else None,
        action=action,
        object_type="denial",
        object_id=target[:60],
        after=details,
        reason=reason,
        ip_address=current_request_ip(),
    )
