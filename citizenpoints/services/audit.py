from citizenpoints.models import AuditEvent, User


def audit_record(
    *, actor: User | None, action: str, obj, before=None, after=None, reason: str = "", ip_address: str | None = None
) -> AuditEvent:
    """Write one audit row; call it inside the acting service's transaction so both commit or neither does."""
    return AuditEvent.objects.create(
        actor=actor if actor and actor.is_authenticated else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        before=before,
        after=after,
        reason=reason,
        ip_address=ip_address,
    )
