"""Scores, the scoring window and tiers.

score = active scheme's base + points in the window. Balances hold the points from ScoringWindow.starts_at; the
nightly pass moves the window and subtracts what left it, in set-based SQL.
"""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce, Round
from django.utils import timezone
from django.utils.translation import ngettext

from citizenpoints.models import Balance, LedgerEntry, Resident, ScoringWindow, Tier, TierChange, TierScheme
from citizenpoints.rules import CENT
from citizenpoints.services import notifications


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def months_before(day: datetime.date, months: int) -> datetime.date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate_day in range(day.day, 0, -1):  # 31 March - 1 month = 28/29 February
        try:
            return datetime.date(year, month, candidate_day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def window_start_for(now: datetime.datetime | None = None) -> datetime.datetime:
    """Local midnight `CITYPOINTS_SCORING_WINDOW_MONTHS` months before `now`'s local date."""
    now = now or timezone.now()
    local_today = now.astimezone(local_zone()).date()
    start_day = months_before(local_today, settings.CITYPOINTS_SCORING_WINDOW_MONTHS)
    return datetime.datetime.combine(start_day, datetime.time.min, tzinfo=local_zone())


def outside_window_message() -> str:
    """The one wording of refusal `outside_window`, for departments, residents and reviewers alike."""
    months = settings.CITYPOINTS_SCORING_WINDOW_MONTHS
    return ngettext(
        "This happened before the %(months)d-month scoring window, so it no longer earns points.",
        "This happened before the %(months)d-month scoring window, so it no longer earns points.",
        months,
    ) % {"months": months}


def window_start_locked() -> datetime.datetime:
    """Where balances count from, read under a share lock (PostgreSQL) that the ageing pass's FOR UPDATE waits on.

    Call inside the writer's transaction, before locking a Balance (a fixed order: window, then balance).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT starts_at FROM {ScoringWindow._meta.db_table} WHERE id = 1 FOR SHARE")
            return cursor.fetchone()[0]
    return ScoringWindow.objects.values_list("starts_at", flat=True).get(pk=1)


def active_scheme() -> TierScheme:
    return TierScheme.objects.prefetch_related("tiers").get(is_active=True)


def tier_for_score(*, scheme: TierScheme, score: Decimal) -> Tier:
    """The highest tier whose threshold the score reaches (the scheme's tiers are prefetched, ascending)."""
    tiers = sorted(scheme.tiers.all(), key=lambda tier: tier.min_score)
    reached = [tier for tier in tiers if score >= tier.min_score]
    return reached[-1] if reached else tiers[0]


def score_of(*, balance: Balance, scheme: TierScheme) -> Decimal:
    return Decimal(scheme.base_score) + balance.points


def balance_open(*, resident: Resident) -> Balance:
    """The new resident's balance, placed in the lowest tier of the active scheme."""
    scheme = active_scheme()
    tier = tier_for_score(scheme=scheme, score=Decimal(scheme.base_score))
    balance = Balance.objects.create(resident=resident, tier=tier)
    TierChange.objects.create(resident=resident, from_tier=None, to_tier=tier, cause=TierChange.Cause.JOINED)
    return balance


def balance_retier(*, balance: Balance, cause: str, scheme: TierScheme | None = None) -> Tier:
    """Re-place one resident (balance locked by the caller) after its points moved; record any change."""
    scheme = scheme or active_scheme()
    tier = tier_for_score(scheme=scheme, score=score_of(balance=balance, scheme=scheme))
    if tier.pk != balance.tier_id:
        TierChange.objects.create(
            resident_id=balance.resident_id, from_tier_id=balance.tier_id, to_tier=tier, cause=cause
        )
        Balance.objects.filter(pk=balance.pk).update(tier=tier)
        notifications.notify(
            resident=balance.resident_id,
            kind=notifications.Kind.TIER_CHANGED,
            params={"from_tier_id": balance.tier_id, "to_tier_id": tier.pk, "cause": cause},
        )
        balance.tier = tier
    return tier


def _retier_all_sql(
    scheme: TierScheme,
    cause: str,
    now: datetime.datetime,
    only_residents_sql: str = "",
    only_params: dict | None = None,
    reason: str = "",
) -> int:
    """Set every balance's tier from its score under `scheme` in two statements; log the changes and tell each
    resident (one more INSERT … SELECT, `reason` included). Returns changes.

    `only_residents_sql`, a subquery of resident ids (named params in `only_params`), limits the pass to them.
    """
    balance_table = Balance._meta.db_table
    change_table = TierChange._meta.db_table
    # The tier for a score: the highest threshold reached; scores below every threshold take the lowest tier. A CASE
    # over the scheme's few thresholds, read here once: two correlated subqueries per resident, each evaluated twice
    # per statement, were most of the cost of re-tiering a batch's residents.
    # ROUND: on SQLite a balance written by a plain `points + x` may sit a hair under the cent it stands for.
    thresholds = list(Tier.objects.filter(scheme=scheme).order_by("-min_score").values_list("pk", "min_score"))
    params = {"base": scheme.base_score, "cause": cause, "now": now, **(only_params or {})}
    tier_for = "NULL"  # a scheme without tiers places no one (tier_scheme_switch refuses to activate one)
    if thresholds:
        whens = []
        for n, (tier_id, min_score) in enumerate(thresholds):
            params[f"tier_{n}"], params[f"min_{n}"] = tier_id, min_score
            whens.append(f"WHEN %(base)s + ROUND(b.points, 2) >= %(min_{n})s THEN %(tier_{n})s")
        tier_for = f"(CASE {' '.join(whens)} ELSE %(tier_{len(thresholds) - 1})s END)"
    only = f" AND b.resident_id IN ({only_residents_sql})" if only_residents_sql else ""
    last_change = notifications.tier_changes_last_id()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {change_table} (resident_id, from_tier_id, to_tier_id, cause, changed_at)
                SELECT b.resident_id, b.tier_id, {tier_for}, %(cause)s, %(now)s FROM {balance_table} b
                WHERE b.tier_id IS DISTINCT FROM {tier_for}{only}""",
            params,
        )
        changes = cursor.rowcount
        cursor.execute(
            f"UPDATE {balance_table} AS b SET tier_id = {tier_for} WHERE b.tier_id IS DISTINCT FROM {tier_for}{only}",
            params,
        )
    if changes:
        notifications.tier_changes_notify(after_id=last_change, changed_at=now, cause=cause, reason=reason)
    return changes


def tiers_refresh(*, cause: str, only_residents_sql: str, only_params: dict) -> int:
    """Re-place the residents selected by a subquery (e.g. those a batch touched) under the active scheme."""
    return _retier_all_sql(active_scheme(), cause, timezone.now(), only_residents_sql, only_params)


@transaction.atomic
def scheme_activate(*, scheme: TierScheme, reason: str = "") -> int:
    """Make `scheme` the active one and re-place every resident in one set-based pass; the ledger is untouched.
    Each resident is told (with `reason`, the office's words). Returns how many residents changed tier.
    """
    TierScheme.objects.select_for_update().filter(is_active=True).update(is_active=False)
    TierScheme.objects.filter(pk=scheme.pk).update(is_active=True)
    scheme.is_active = True
    return _retier_all_sql(scheme, TierChange.Cause.SCHEME, timezone.now(), reason=reason)


@transaction.atomic
def scoring_age(*, now: datetime.datetime | None = None) -> dict:
    """The nightly pass: move the window to `window_start_for(now)`, subtract the points that left it, re-tier.

    Set-based: one UPDATE over the balances touched by the slice that left, then a re-tier of those residents only:
    awards, reversals and batches re-tier their own residents, so ageing is the only other way a score moves.
    Locks the window row, which every award reads FOR SHARE, so no award can slip an entry into the slice while it
    is aged.
    """
    now = now or timezone.now()
    window = ScoringWindow.objects.select_for_update().get(pk=1)
    new_start = window_start_for(now)
    aged = changes = 0
    if new_start > window.starts_at:
        leaving = (
            LedgerEntry.objects.filter(
                resident_id=OuterRef("resident_id"), occurred_at__gte=window.starts_at, occurred_at__lt=new_start
            )
            .values("resident_id")
            .annotate(total=Sum("points"))
            .values("total")
        )
        touched = LedgerEntry.objects.filter(occurred_at__gte=window.starts_at, occurred_at__lt=new_start).values(
            "resident_id"
        )
        aged = Balance.objects.filter(resident_id__in=touched).update(
            points=Round(F("points") - Coalesce(Subquery(leaving), Decimal(0)), 2),  # Round: see ledger_append
            updated_at=now,
        )
        ledger = LedgerEntry._meta.db_table
        slice_residents = f"SELECT resident_id FROM {ledger} WHERE occurred_at >= %(old)s AND occurred_at < %(new)s"
        changes = _retier_all_sql(
            active_scheme(), TierChange.Cause.AGEING, now, slice_residents, {"old": window.starts_at, "new": new_start}
        )
        window.starts_at = new_start
    window.aged_at = now
    window.save()
    return {"window_start": new_start, "balances_aged": aged, "tier_changes": changes}


def balances_verify(*, resident_ids=None):
    """Yield (resident_id, balance points, ledger sum in the window) wherever they differ."""
    window = ScoringWindow.objects.get(pk=1)
    in_window = (
        LedgerEntry.objects.filter(resident_id=OuterRef("resident_id"), occurred_at__gte=window.starts_at)
        .values("resident_id")
        .annotate(total=Sum("points"))
        .values("total")
    )
    balances = Balance.objects.annotate(ledger=Subquery(in_window)).values_list("resident_id", "points", "ledger")
    if resident_ids is not None:
        balances = balances.filter(resident_id__in=resident_ids)
    for resident_id, points, ledger in balances.iterator(chunk_size=5000):
        # At the cent: SQLite sums decimals as binary floats (135.70 comes back as 135.700000000001).
        ledger = Decimal(ledger or 0).quantize(CENT)
        if Decimal(points).quantize(CENT) != ledger:
            yield resident_id, points, ledger
