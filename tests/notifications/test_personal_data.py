"""The inbox in residents' rights: exported, erased when the resident leaves, purged after the retention period."""

import datetime

import pytest
from django.utils import timezone

from citizenpoints.models import Badge, Notification
from citizenpoints.personal_data import OnLeave, datasets
from citizenpoints.services.leaving import resident_leave
from citizenpoints.services.notifications import notify
from citizenpoints.services.retention import retention_cutoff, retention_purge
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db


def notice(resident, **fields):
    params = {"badge_id": Badge.objects.get(code="good-neighbour").pk}
    created = notify(resident=resident, kind=Notification.Kind.BADGE_EARNED, params=params)
    if fields:
        Notification.objects.filter(pk=created.pk).update(**fields)
    return created


def test_notices_are_a_dataset_erased_on_leaving():
    (dataset,) = [d for d in datasets() if d.model is Notification]
    assert dataset.on_leave == OnLeave.ERASED
    resident, other = ResidentFactory(), ResidentFactory()
    notice(resident)
    notice(other)
    assert list(dataset.rows(resident).values_list("kind", flat=True)) == ["badge_earned"]
    resident_leave(resident=resident, acting_user=resident.user)
    assert not Notification.objects.filter(resident=resident).exists()
    assert Notification.objects.filter(resident=other).count() == 1


def test_the_retention_purge_deletes_old_notices():
    resident = ResidentFactory()
    now = timezone.now()
    cutoff = retention_cutoff(now)
    old = notice(resident, created_at=cutoff - datetime.timedelta(days=1))
    young = notice(resident, created_at=cutoff + datetime.timedelta(days=1))
    report = retention_purge(now=now)
    assert report["notifications"] == 1
    assert list(Notification.objects.values_list("pk", flat=True)) == [young.pk]
    assert not Notification.objects.filter(pk=old.pk).exists()
