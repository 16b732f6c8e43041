import contextvars

from citizenpoints.models import AuditEvent, User

# The client address of the request being served, set by AuditContextMiddleware; None in tasks and commands.
request_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_ip", default=None)


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
        ip_address=ip_address or request_ip.get(),
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
        ip_address=request_ip.get(),
    )
