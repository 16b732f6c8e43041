"""Badges: awarded once, with the date, when a resident's records meet a badge's rule."""

import datetime

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Sum
from django.utils import timezone

from citizenpoints.models import Badge, LedgerEntry, ResidentBadge
from citizenpoints.services import notifications


def _qualifying_entries(badge: Badge, since: datetime.datetime):
    """Entries counting towards `badge`: awards not reversed (for counts), or every entry (for points)."""
    entries = LedgerEntry.objects.filter(category__in=badge.categories.all(), occurred_at__gte=since)
    if badge.metric == Badge.Metric.COUNT:
        entries = entries.filter(kind=LedgerEntry.Kind.AWARD, reversed_by__isnull=True)
    return entries


def badges_evaluate(*, resident_id: int, category_id: int, now: datetime.datetime | None = None) -> list[Badge]:
    """After an award in `category_id`: grant the badges over that category the resident now qualifies for."""
    now = now or timezone.now()
    held = ResidentBadge.objects.filter(resident_id=resident_id, badge=OuterRef("pk"))
    candidates = Badge.objects.filter(is_active=True, categories=category_id).exclude(Exists(held)).distinct()
    granted = []
    for badge in candidates:
        entries = _qualifying_entries(badge, now - datetime.timedelta(days=badge.period_days)).filter(
            resident_id=resident_id
        )
        measure = entries.aggregate(value=Count("id") if badge.metric == Badge.Metric.COUNT else Sum("points"))
        if (measure["value"] or 0) >= badge.threshold:
            _held, created = ResidentBadge.objects.get_or_create(
                resident_id=resident_id, badge=badge, defaults={"awarded_at": now}
            )
            if created:
                notifications.notify(
                    resident=resident_id, kind=notifications.Kind.BADGE_EARNED, params={"badge_id": badge.pk}
                )
            granted.append(badge)
    return granted


def badges_evaluate_all(*, now: datetime.datetime | None = None, resident_ids=None) -> int:
    """The nightly (and post-ingest) pass: one INSERT … SELECT per badge over every resident, then one more telling
    the residents who earned one. Returns grants."""
    now = now or timezone.now()
    granted = 0
    last_held = notifications.badges_last_id()
    for badge in Badge.objects.filter(is_active=True):
        entries = _qualifying_entries(badge, now - datetime.timedelta(days=badge.period_days))
        if resident_ids is not None:
            entries = entries.filter(resident_id__in=resident_ids)
        measure = Count("id") if badge.metric == Badge.Metric.COUNT else Sum("points")
        qualifying = (
            entries.exclude(Exists(ResidentBadge.objects.filter(resident_id=OuterRef("resident_id"), badge=badge)))
            .values("resident_id")
            .annotate(measure=measure)
            .filter(measure__gte=badge.threshold)
            .values("resident_id")
        )
        select_sql, params = qualifying.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ResidentBadge._meta.db_table} (resident_id, badge_id, awarded_at) "
                f"SELECT q.resident_id, %s, %s FROM ({select_sql}) q",
                [badge.pk, now, *params],
            )
            granted += cursor.rowcount
    if granted:
        notifications.badges_notify(after_id=last_held, awarded_at=now)
    return granted
