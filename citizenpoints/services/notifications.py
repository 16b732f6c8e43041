"""Telling residents what happened to their points, claims and appeals: the inbox, and email in their language."""

from citizenpoints.models import Notification, Resident


def notify(*, resident: Resident, kind: Notification.Kind, params: dict | None = None) -> Notification:
    """Put a notice in the resident's inbox, inside the caller's transaction (so a rolled-back decision tells
    nobody). `params` are facts (ids, numbers, codes), worded when shown, in the language the resident reads then."""
    return Notification.objects.create(resident=resident, kind=kind, params=params or {})
