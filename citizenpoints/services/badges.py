"""Badges: awarded once, with the date, when a resident's records meet a badge's rule."""

import datetime

from django.db import connection
from django.db.models import Case, Count, Exists, F, OuterRef, Subquery, Sum, When
from django.utils import timezone

from citizenpoints.models import Badge, Behaviour, LedgerEntry, Resident, ResidentBadge
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


def badges_evaluate_all(*, now: datetime.datetime | None = None, resident_ids=None, category_ids=None) -> int:
    """The nightly (and post-ingest) pass: one INSERT … SELECT per badge over every resident, then one more telling
    the residents who earned one. Returns grants.

    After a batch: only `resident_ids` (a list or a queryset of ids), and only the badges over `category_ids`, the
    categories just awarded (no other badge can have changed, as with `badges_evaluate` after one award).
    """
    now = now or timezone.now()
    granted = 0
    last_held = notifications.badges_last_id()
    badges = Badge.objects.filter(is_active=True)
    if category_ids is not None:
        badges = badges.filter(categories__in=category_ids).distinct()
    for badge in badges:
        entries = _qualifying_entries(badge, now - datetime.timedelta(days=badge.period_days))
        measure = Count("id") if badge.metric == Badge.Metric.COUNT else Sum("points")
        if isinstance(resident_ids, list | tuple | set):
            # A batch's residents: each one's measure by a correlated subquery over their own entries (filtering the
            # entries by the residents instead let the planner scan the whole ledger once it was large: a third of
            # a second per batch at a million entries), and only those of the behaviour codes ever in the badge's
            # categories (a superset: an entry keeps the category it was awarded in), read as ranges of the
            # (resident, code, occurred_at) index rather than every entry of the resident's period. Holders are
            # skipped first (CASE): their entries are not read at all.
            codes = sorted(set(Behaviour.objects.filter(category__badges=badge).values_list("code", flat=True)))
            if not codes:
                continue
            per_resident = (
                entries.filter(resident_id=OuterRef("pk"), behaviour_code__in=codes)
                .order_by()
                .values("resident_id")
                .annotate(m=measure)
            )
            skip = [When(Exists(ResidentBadge.objects.filter(resident_id=OuterRef("pk"), badge=badge)), then=None)]
            if badge.metric == Badge.Metric.COUNT:
                # Nor those whose whole ledger holds fewer entries than the badge counts: a chain runs without gaps
                # from its retention floor to its head, so the balance row knows how many there are. Most
                # residents of a batch are short of most thresholds; reading their entries was the costliest step.
                skip.append(When(balance__last_seq__lt=F("balance__chain_floor_seq") + badge.threshold, then=None))
            qualifying = (
                Resident.objects.filter(pk__any=resident_ids)
                .annotate(
                    measure=Case(*skip, default=Subquery(per_resident.values("m"))),
                    resident_id=F("pk"),
                )
                .filter(measure__gte=badge.threshold)
                .values("resident_id")
            )
        else:
            if resident_ids is not None:
                entries = entries.filter(resident_id__in=resident_ids)
            not_held = ~Exists(ResidentBadge.objects.filter(resident_id=OuterRef("resident_id"), badge=badge))
            qualifying = (
                entries.filter(not_held)
                .values("resident_id")
                .annotate(measure=measure)
                .filter(measure__gte=badge.threshold)
                .values("resident_id")
            )
        select_sql, params = qualifying.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ResidentBadge._meta.db_table} (resident_id, badge_id, awarded_at) "
                # ON CONFLICT: two batches' passes may find the same resident qualifying at once (WHERE true: so
                # SQLite does not read ON as a join condition).
                f"SELECT q.resident_id, %s, %s FROM ({select_sql}) q WHERE true ON CONFLICT DO NOTHING",
                [badge.pk, now, *params],
            )
            granted += cursor.rowcount
    if granted:
        notifications.badges_notify(after_id=last_held, awarded_at=now)
    return granted
