"""Reads of the points domain."""

from citizenpoints.models import Resident, User


def resident_for_user(*, user: User) -> Resident | None:
    """The user's resident record, or None if they have not joined (or are anonymous)."""
    if not user.is_authenticated:
        return None
    return Resident.objects.filter(user=user).first()
