"""The inbox's part in residents' rights (citizenpoints.personal_data): exported, erased on leaving, purged with the
retention period. Connected from CitizenPointsConfig.ready."""

from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from citizenpoints.models import Notification
from citizenpoints.personal_data import Dataset, OnLeave, dataset_register
from citizenpoints.signals import resident_left, retention_due


def register_notifications() -> None:
    dataset_register(
        Dataset(
            name="notifications",
            model=Notification,
            rows=lambda resident: Notification.objects.filter(resident=resident).order_by("created_at", "id"),
            columns=["kind", "params", "created_at", "digest_date", "read_at", "emailed_at"],
            about=_("The notices in your inbox (and whether each was emailed to you): facts, worded when shown."),
            on_leave=OnLeave.ERASED,
        )
    )


@receiver(resident_left, dispatch_uid="citizenpoints.notifications.resident_left")
def erase_on_leaving(sender, *, resident, user, **kwargs) -> None:
    Notification.objects.filter(resident=resident).delete()


@receiver(retention_due, dispatch_uid="citizenpoints.notifications.retention_due")
def purge_old(sender, *, cutoff, **kwargs) -> dict[str, int]:
    return {"notifications": Notification.objects.filter(created_at__lt=cutoff).delete()[0]}
