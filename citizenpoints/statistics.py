"""Statistics for the credit office: a registry each app fills from its `AppConfig.ready`, as with personal_data.

A `Statistic` names a function that computes its rows with SQL aggregates over a `Period` (GROUP BY in the database,
months truncated in the office's time zone), the columns those rows carry, and how to chart them. The points domain
registers its own below (`register_points_statistics`); benefits registers its redemptions from benefits.statistics,
so the points domain never imports it.

Contract for a row function: a fixed number of queries whatever the data, and aggregated rows only (at most months ×
categories, never one row per entry or resident), so the screen costs the same at a thousand residents or a million
(bench/statistics.py measures it). Python only labels those few rows and adds up the odd total.

Columns of kind LOCAL name something bilingual: the row holds its code under `key` and its names under `key_en` and
`key_zh`; the screen shows the reader's language, the CSV all three.
"""

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, RowNumber, TruncMonth
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citizenpoints.models import OfficeRole, User
from citizenpoints.rules import CENT
from citizenpoints.services.audit import denial_record
from citizenpoints.services.permissions import PermissionRefused
from citizenpoints.services.scoring import local_zone


# --- Dates ------------------------------------------------------------------------------------------------------------
def first_of_month(day: datetime.date, months_back: int = 0) -> datetime.date:
    index = day.year * 12 + day.month - 1 - months_back
    return datetime.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Local calendar days `since` to `until`, both included."""

    since: datetime.date
    until: datetime.date

    @classmethod
    def last_months(cls, months: int = 12, today: datetime.date | None = None) -> "Period":
        """This month and the `months` - 1 before it, whole: the screen's default (bars of equal months)."""
        today = today or timezone.localdate()
        return cls(since=first_of_month(today, months - 1), until=today)

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.since, datetime.time.min, tzinfo=local_zone())

    @property
    def end(self) -> datetime.datetime:
        """Exclusive: local midnight after `until`."""
        return datetime.datetime.combine(self.until + datetime.timedelta(days=1), datetime.time.min, local_zone())

    def months(self) -> list[datetime.date]:
        """The first day of each month the period touches, oldest first."""
        months, month = [], first_of_month(self.since)
        while month <= self.until:
            months.append(month)
            month = first_of_month(month, -1)
        return months

    def month_ranges(self) -> list[tuple[datetime.datetime, datetime.datetime]]:
        """[start, end) of each month in `months()`, as aware local midnights, cut to the period at both ends."""
        zone, ranges = local_zone(), []
        for month in self.months():
            start = max(datetime.datetime.combine(month, datetime.time.min, zone), self.start)
            following = datetime.datetime.combine(first_of_month(month, -1), datetime.time.min, zone)
            ranges.append((start, min(following, self.end)))
        return ranges

    def between(self, field_name: str) -> Q:
        return Q(**{f"{field_name}__gte": self.start, f"{field_name}__lt": self.end})


def month_of(field_name: str) -> TruncMonth:
    """The local calendar month of a timestamp, truncated by the database in the office's time zone."""
    return TruncMonth(field_name, tzinfo=local_zone())


# --- The registry -----------------------------------------------------------------------------------------------------
class Kind(StrEnum):
    TEXT = "text"
    LOCAL = "local"  # bilingual: code under `key`, names under `key_en` and `key_zh`
    MONTH = "month"  # a date, the first of a local month
    NUMBER = "number"
    DAYS = "days"  # a duration in days, one decimal


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    kind: Kind = Kind.NUMBER

    def csv_headers(self) -> list[str]:
        if self.kind == Kind.LOCAL:
            return [self.key, f"{self.key}_en", f"{self.key}_zh"]
        return [self.key]


@dataclass(frozen=True)
class Chart:
    """How the screen draws a statistic's rows.

    `kind` MONTHS: a column per month of the period (empty months included), `label` is the MONTH column.
    `kind` BARS: a horizontal bar per distinct `label` (a LOCAL or TEXT column), in the rows' order.
    One value column split by `series` (a LOCAL column) stacks its parts; several value columns are one series
    each, stacked when they add up to a whole, side by side when they do not.
    """

    MONTHS = "months"
    BARS = "bars"

    kind: str
    label: str
    values: Sequence[str]
    unit: Promise
    series: str | None = None
    stacked: bool = True


@dataclass(frozen=True)
class Figure:
    """A headline number shown above the chart."""

    label: Promise | str
    value: int | Decimal | float | None
    kind: Kind = Kind.NUMBER


@dataclass(frozen=True)
class Statistic:
    key: str  # the URL's and the CSV file's name
    title: Promise
    about: Promise
    order: int
    rows: Callable[["Period"], list[dict]]
    columns: Sequence[Column]
    chart: Chart
    # Headline figures: from the rows (sums) and, where needed, a fixed number of further aggregates.
    figures: Callable[["Period", list[dict]], list[Figure]] | None = None
    dated: bool = True  # False: a picture of now, whatever the period


@dataclass(frozen=True)
class Result:
    statistic: Statistic
    period: Period
    rows: list[dict]
    figures: list[Figure] = field(default_factory=list)


_statistics: dict[str, Statistic] = {}


def statistic_register(statistic: Statistic) -> None:
    if statistic.key in _statistics and _statistics[statistic.key] != statistic:
        raise ValueError(f"a statistic named {statistic.key!r} is already registered")
    _statistics[statistic.key] = statistic


def statistics() -> list[Statistic]:
    return sorted(_statistics.values(), key=lambda statistic: (statistic.order, statistic.key))


def statistic_get(key: str) -> Statistic | None:
    return _statistics.get(key)


# --- Reading them -----------------------------------------------------------------------------------------------------
# Every office role reads statistics; none of them names a resident.
READERS = tuple(OfficeRole)


def statistics_require_reader(user: User) -> None:
    """Any office role will do (one query for the user's groups). Otherwise the refusal goes in the audit trail
    (before any transaction opens, so it stays) and `permission_denied` is raised."""
    if not (user and user.is_authenticated and user.is_active and (user.is_superuser or user.office_roles)):
        denial_record(
            actor=user,
            action="permission.denied",
            target="statistics",
            reason="missing role",
            details={"needs_one_of": [str(role) for role in READERS]},
        )
        raise PermissionRefused(_("Only credit office staff may read statistics."), code="permission_denied")


def statistics_compute(*, acting_user: User, period: Period, keys: Sequence[str] | None = None) -> list[Result]:
    """The registered statistics (or those named by `keys`, in that order) over `period`.

    Refuses `permission_denied` to anyone without an office role. Reads only; each statistic makes a fixed number of
    aggregate queries. Raises KeyError for an unknown key.
    """
    statistics_require_reader(acting_user)
    chosen = statistics() if keys is None else [_statistics[key] for key in keys]
    results = []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The planner cannot know how few local months a truncated timestamp yields (badges, appeals, claims),
            # so it plans for many thousands of groups and, in the default 4 MB, groups by sorting on disk. With
            # room to hash, it hashes a few dozen groups in memory (bench/statistics.py). This transaction only.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '64MB'")
        for statistic in chosen:
            rows = statistic.rows(period)
            figures = statistic.figures(period, rows) if statistic.figures else []
            results.append(Result(statistic=statistic, period=period, rows=rows, figures=figures))
    return results


# --- Helpers for row functions ----------------------------------------------------------------------------------------
def names(obj, field_name: str = "name") -> dict[str, str]:
    """`{"_en": ..., "_zh": ...}` suffixes for a LOCAL column from a model's `<field>_en`/`<field>_zh`."""
    english = getattr(obj, f"{field_name}_en")
    return {"_en": english, "_zh": getattr(obj, f"{field_name}_zh") or english}


def choice_names(label: Promise | str) -> dict[str, str]:
    """The same for a translated choice label: rendered in English and in Chinese."""
    with translation.override("en"):
        english = str(label)
    with translation.override("zh-hans"):
        chinese = str(label)
    return {"_en": english, "_zh": chinese}


def local_value(key: str, code, labels: dict[str, str]) -> dict:
    return {key: code, f"{key}_en": labels["_en"], f"{key}_zh": labels["_zh"]}


def elapsed(start_field: str, end_field: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end_field) - F(start_field), output_field=DurationField())


class _PercentileMedian(Aggregate):
    """PostgreSQL's exact median of a duration, in seconds: percentile_cont(0.5) averages the two middle values of an
    even count, as the portable path below does."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s))"
    output_field = FloatField()


def median_days(queryset: QuerySet, start_field: str, end_field: str, group: str | None = None) -> dict:
    """The median of `end_field` - `start_field` in days, per value of the annotation `group` (or {None: median};
    a group with nothing in it is absent, the whole with nothing in it is {None: None}).

    PostgreSQL: `percentile_cont(0.5) WITHIN GROUP`, one GROUP BY. Elsewhere (SQLite, the demo database):
    `median_days_portable`, also one query in SQL. Both give the same exact median (tests/statistics checks it).
    """
    if connection.vendor != "postgresql":
        return median_days_portable(queryset, start_field, end_field, group)
    duration = elapsed(start_field, end_field)
    if group is None:
        seconds = queryset.aggregate(median=_PercentileMedian(duration))["median"]
        return {None: None if seconds is None else seconds / 86400}
    medians = queryset.values(group).annotate(median=_PercentileMedian(duration)).values_list(group, "median")
    return {key: seconds / 86400 for key, seconds in medians}


def median_days_portable(queryset: QuerySet, start_field: str, end_field: str, group: str | None = None) -> dict:
    """`median_days` with window functions only: the database numbers each group's durations in order and returns
    only the middle one or two rows (`row_number` = ⌊(n+1)/2⌋ or ⌊(n+2)/2⌋), so Python averages at most two numbers
    per group, whatever the group's size."""
    partition = [F(group)] if group else None
    ranked = queryset.annotate(
        _duration=elapsed(start_field, end_field),
        _position=Window(RowNumber(), partition_by=partition, order_by=[F("_duration").asc(), F("pk").asc()]),
        _size=Window(Count("pk"), partition_by=partition),
    )
    middle = ranked.filter(Q(_position=(F("_size") + 1) / 2) | Q(_position=(F("_size") + 2) / 2))
    if group:
        pairs = middle.values_list(group, "_duration")
    else:
        pairs = ((None, duration) for duration in middle.values_list("_duration", flat=True))
    picked: dict = {} if group else {None: []}
    for key, duration in pairs:
        picked.setdefault(key, []).append(duration.total_seconds())
    return {key: sum(values) / len(values) / 86400 if values else None for key, values in picked.items()}


# --- The points domain's own statistics -------------------------------------------------------------------------------
def points_by_category(period: Period) -> list[dict]:
    """Ledger points per local month of the behaviour (`occurred_at`, as the scoring window counts) and category.

    A reversal carries the date of the award it corrects, so it lands in the same month and `net` is what stands.

    Two queries: the GROUP BY over the ledger, and the categories' names. The ledger is the one table here with
    millions of rows, so the months are not truncated row by row (converting each timestamp to the office's zone
    was two thirds of the query's time at three million entries, bench/statistics.py): the period's months are a
    small VALUES list of [local midnight, next local midnight) ranges, computed once in Python in the office's zone,
    joined to the ledger by range (an index range scan per month on PostgreSQL), grouped by month number and
    category id. The same SQL runs on SQLite.
    """
    from citizenpoints.models import Category, LedgerEntry

    ranges = period.month_ranges()
    adapt = connection.ops.adapt_datetimefield_value
    values = ", ".join(["(%s, %s, %s)"] * len(ranges))
    params: list = [value for index, (start, end) in enumerate(ranges) for value in (index, adapt(start), adapt(end))]
    award, reversal = LedgerEntry.Kind.AWARD.value, LedgerEntry.Kind.REVERSAL.value
    table = connection.ops.quote_name(LedgerEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH months (month, starts, ends) AS (VALUES {values})
            SELECT months.month, e.category_id,
                SUM(CASE WHEN e.kind = %s THEN 1 ELSE 0 END),
                SUM(CASE WHEN e.kind = %s THEN e.points ELSE 0 END),
                SUM(CASE WHEN e.kind = %s THEN e.points ELSE 0 END)
            FROM months JOIN {table} e ON e.occurred_at >= months.starts AND e.occurred_at < months.ends
            GROUP BY months.month, e.category_id
            """,
            [*params, award, award, reversal],
        )
        grouped = cursor.fetchall()
    categories = {category.pk: category for category in Category.objects.all()}
    position = {category.code: (category.position, category.code) for category in categories.values()}
    months = period.months()
    rows = []
    for month, category_id, awards, awarded, reversed_ in grouped:
        category = categories[category_id]
        # SQLite sums decimals as floats: quantized to the cent, rows read the same on either database.
        awarded, reversed_ = Decimal(str(awarded)).quantize(CENT), -Decimal(str(reversed_)).quantize(CENT)
        rows.append(
            {
                "month": months[month],
                **local_value("category", category.code, names(category)),
                "awards": int(awards),
                "awarded": awarded,
                "reversed": reversed_,
                "net": awarded - reversed_,
            }
        )
    rows.sort(key=lambda row: (row["month"], position[row["category"]]))
    return rows


def points_figures(period: Period, rows: list[dict]) -> list[Figure]:
    return [
        Figure(gettext_lazy("Points awarded"), sum((row["awarded"] for row in rows), Decimal(0))),
        Figure(gettext_lazy("Points reversed"), sum((row["reversed"] for row in rows), Decimal(0))),
        Figure(gettext_lazy("Awards"), sum(row["awards"] for row in rows)),
    ]


def residents_by_tier(period: Period) -> list[dict]:
    """Residents in each tier of the active scheme now (and, apart, those who left: their balance stays, anonymous).

    Three queries: balances per tier (one scan of the balances, no join), the few who left per tier (the residents
    who left, joined to their balances by key), then the tiers' names. Joining all residents to all balances to
    split them would hash a million rows twice (bench/statistics.py: four times slower).
    """
    from citizenpoints.models import Balance, Tier

    everyone = dict(Balance.objects.values("tier_id").annotate(n=Count("*")).values_list("tier_id", "n"))
    former = dict(
        Balance.objects.filter(resident__left_at__isnull=False)
        .values("tier_id")
        .annotate(n=Count("*"))
        .values_list("tier_id", "n")
    )
    grouped = {
        tier_id: {"residents": count - former.get(tier_id, 0), "left": former.get(tier_id, 0)}
        for tier_id, count in everyone.items()
    }
    rows = []
    for tier in Tier.objects.filter(scheme__is_active=True).order_by("min_score"):
        group = grouped.pop(tier.pk, {"residents": 0, "left": 0})
        label = f"{tier.label} " if tier.label else ""
        tier_names = {"_en": label + tier.name_en, "_zh": label + (tier.name_zh or tier.name_en)}
        rows.append(
            {**local_value("tier", tier.code, tier_names), "residents": group["residents"], "left": group["left"]}
        )
    # Balances outside the active scheme: none after a scheme switch re-tiers everyone, but never hidden if there are.
    residents, left = sum(group["residents"] for group in grouped.values()), sum(g["left"] for g in grouped.values())
    if residents or left:
        rows.append(
            {
                **local_value("tier", "", choice_names(gettext_lazy("No tier of the active scheme"))),
                "residents": residents,
                "left": left,
            }
        )
    return rows


def residents_figures(period: Period, rows: list[dict]) -> list[Figure]:
    return [
        Figure(gettext_lazy("Residents in the programme"), sum(row["residents"] for row in rows)),
        Figure(gettext_lazy("Former residents (anonymous)"), sum(row["left"] for row in rows)),
    ]


def badges_by_month(period: Period) -> list[dict]:
    """Badges earned per local month and badge. One GROUP BY, then the badges' names."""
    from citizenpoints.models import Badge, ResidentBadge

    grouped = list(
        ResidentBadge.objects.filter(period.between("awarded_at"))
        .annotate(month=month_of("awarded_at"))
        .values("month", "badge_id")
        .annotate(earned=Count("pk"))
        .order_by("month", "badge_id")
    )
    badges = {badge.pk: badge for badge in Badge.objects.all()}
    rows = [
        {
            "month": group["month"].date(),
            **local_value("badge", badges[group["badge_id"]].code, names(badges[group["badge_id"]])),
            "earned": group["earned"],
        }
        for group in grouped
    ]
    rows.sort(key=lambda row: (row["month"], row["badge"]))
    return rows


def badges_figures(period: Period, rows: list[dict]) -> list[Figure]:
    from citizenpoints.models import ResidentBadge

    held = ResidentBadge.objects.aggregate(badges=Count("pk"), residents=Count("resident", distinct=True))
    return [
        Figure(gettext_lazy("Badges earned in these dates"), sum(row["earned"] for row in rows)),
        Figure(gettext_lazy("Badges held now"), held["badges"]),
        Figure(gettext_lazy("Residents holding a badge"), held["residents"]),
    ]


def appeals_by_month(period: Period) -> list[dict]:
    """Per local month: appeals received (by `filed_at`), of those still open and overdue today; appeals decided (by
    `decided_at`), granted, refused, and the median days from filing to decision of those decided that month.

    Three queries: received, decided, and the medians (see `median_days`).
    """
    from citizenpoints.models import Appeal

    today = timezone.localdate()
    is_open = Q(status__in=Appeal.OPEN)
    received = {
        group["month"].date(): group
        for group in Appeal.objects.filter(period.between("filed_at"))
        .annotate(month=month_of("filed_at"))
        .values("month")
        .annotate(
            received=Count("pk"),
            open=Count("pk", filter=is_open),
            overdue=Count("pk", filter=is_open & Q(due_on__lt=today)),
        )
    }
    decided_appeals = Appeal.objects.filter(period.between("decided_at")).annotate(month=month_of("decided_at"))
    decided = {
        group["month"].date(): group
        for group in decided_appeals.values("month").annotate(
            decided=Count("pk"),
            granted=Count("pk", filter=Q(status=Appeal.Status.GRANTED)),
            refused=Count("pk", filter=Q(status=Appeal.Status.REFUSED)),
        )
    }
    medians = {
        month.date(): days for month, days in median_days(decided_appeals, "filed_at", "decided_at", "month").items()
    }
    rows = []
    for month in period.months():
        filed, done = received.get(month, {}), decided.get(month, {})
        rows.append(
            {
                "month": month,
                "received": filed.get("received", 0),
                "open": filed.get("open", 0),
                "overdue": filed.get("overdue", 0),
                "decided": done.get("decided", 0),
                "granted": done.get("granted", 0),
                "refused": done.get("refused", 0),
                "median_days": medians.get(month),
            }
        )
    return rows


def appeals_figures(period: Period, rows: list[dict]) -> list[Figure]:
    """Open and overdue now, whenever filed (an appeal overdue since last year matters most); the period's median."""
    from citizenpoints.models import Appeal

    is_open = Q(status__in=Appeal.OPEN)
    now = Appeal.objects.filter(is_open).aggregate(
        open=Count("pk"), overdue=Count("pk", filter=Q(due_on__lt=timezone.localdate()))
    )
    median = median_days(Appeal.objects.filter(period.between("decided_at")), "filed_at", "decided_at")[None]
    return [
        Figure(gettext_lazy("Received"), sum(row["received"] for row in rows)),
        Figure(gettext_lazy("Decided"), sum(row["decided"] for row in rows)),
        Figure(gettext_lazy("Open now"), now["open"]),
        Figure(gettext_lazy("Overdue now"), now["overdue"]),
        Figure(gettext_lazy("Median time to decision"), median, Kind.DAYS),
    ]


def claims_by_month(period: Period) -> list[dict]:
    """Per local month: claims filed (by `filed_at`), approved and rejected (by `decided_at`). Two queries."""
    from citizenpoints.models import Claim

    filed = dict(
        Claim.objects.filter(period.between("filed_at"))
        .annotate(month=month_of("filed_at"))
        .values("month")
        .annotate(filed=Count("pk"))
        .values_list("month", "filed")
    )
    decided = {
        group["month"]: group
        for group in Claim.objects.filter(period.between("decided_at"))
        .annotate(month=month_of("decided_at"))
        .values("month")
        .annotate(
            approved=Count("pk", filter=Q(status=Claim.Status.APPROVED)),
            rejected=Count("pk", filter=Q(status=Claim.Status.REJECTED)),
        )
    }
    filed = {month.date(): count for month, count in filed.items()}
    decided = {month.date(): group for month, group in decided.items()}
    return [
        {
            "month": month,
            "filed": filed.get(month, 0),
            "approved": decided.get(month, {}).get("approved", 0),
            "rejected": decided.get(month, {}).get("rejected", 0),
        }
        for month in period.months()
    ]


def claims_figures(period: Period, rows: list[dict]) -> list[Figure]:
    from citizenpoints.models import Claim

    return [
        Figure(gettext_lazy("Filed"), sum(row["filed"] for row in rows)),
        Figure(gettext_lazy("Approved"), sum(row["approved"] for row in rows)),
        Figure(gettext_lazy("Not approved"), sum(row["rejected"] for row in rows)),
        Figure(gettext_lazy("Waiting for review now"), Claim.objects.filter(status=Claim.Status.PENDING).count()),
    ]


def ingest_by_source(period: Period) -> list[dict]:
    """Department records per source and result, for batches received in the period (uploads still in preview are
    not sent yet, so not counted).

    From each batch's `counts` (results by outcome, written by `batch_process` in the same transaction as the
    results themselves), not from its records: one GROUP BY over batches (a few a day per department) instead of
    millions of records, and the figures survive the retention purge of records, as anonymous statistics should.
    A batch not processed yet counts its records as waiting. Then the sources' names: two queries.
    """
    from citizenpoints.models import DataSource, IngestBatch, IngestRecord

    results = IngestRecord.Result
    processed = Q(status=IngestBatch.Status.DONE)
    per_result = {
        code: Sum(Cast(KT(f"counts__{code}"), IntegerField()), filter=processed, default=0)
        for code in results.values
        if code != results.PENDING
    }
    grouped = list(
        IngestBatch.objects.filter(period.between("received_at"))
        .exclude(status=IngestBatch.Status.PREVIEW)
        .values("source_id")
        .annotate(**per_result, **{results.PENDING: Sum("record_count", filter=~processed, default=0)})
        .order_by("source_id")
    )
    sources = {source.pk: source for source in DataSource.objects.all()}
    rows = [
        {
            **local_value("source", sources[group["source_id"]].code, names(sources[group["source_id"]])),
            **local_value("result", code, choice_names(results(code).label)),
            "records": group[code],
        }
        for group in grouped
        for code in results.values
        if group[code]
    ]
    # Sources by name; within one, accepted first, then refusals by size.
    rows.sort(key=lambda row: (row["source_en"], row["result"] != results.ACCEPTED, -row["records"], row["result"]))
    return rows


def ingest_figures(period: Period, rows: list[dict]) -> list[Figure]:
    from citizenpoints.models import IngestRecord

    total = sum(row["records"] for row in rows)
    accepted = sum(row["records"] for row in rows if row["result"] == IngestRecord.Result.ACCEPTED)
    waiting = sum(row["records"] for row in rows if row["result"] == IngestRecord.Result.PENDING)
    return [
        Figure(gettext_lazy("Records received"), total),
        Figure(gettext_lazy("Accepted"), accepted),
        Figure(gettext_lazy("Refused"), total - accepted - waiting),
    ]


MONTH = Column("month", gettext_lazy("Month"), Kind.MONTH)


def register_points_statistics() -> None:
    for statistic in [
        Statistic(
            key="points-by-category",
            title=gettext_lazy("Points awarded by category, per month"),
            about=gettext_lazy(
                "By the month the behaviour happened, as the scoring window counts. A reversal counts in the month of "
                "the award it corrects."
            ),
            order=10,
            rows=points_by_category,
            columns=[
                MONTH,
                Column("category", gettext_lazy("Category"), Kind.LOCAL),
                Column("awards", gettext_lazy("Awards")),
                Column("awarded", gettext_lazy("Points awarded")),
                Column("reversed", gettext_lazy("Points reversed")),
                Column("net", gettext_lazy("Net points")),
            ],
            chart=Chart(Chart.MONTHS, "month", ["awarded"], gettext_lazy("points"), series="category"),
            figures=points_figures,
        ),
        Statistic(
            key="residents-by-tier",
            title=gettext_lazy("Residents per tier"),
            about=gettext_lazy(
                "Now, whatever the dates chosen. Residents who left keep an anonymous balance; they are counted apart."
            ),
            order=20,
            rows=residents_by_tier,
            columns=[
                Column("tier", gettext_lazy("Tier"), Kind.LOCAL),
                Column("residents", gettext_lazy("Residents")),
                Column("left", gettext_lazy("Former residents")),
            ],
            chart=Chart(Chart.BARS, "tier", ["residents"], gettext_lazy("residents")),
            figures=residents_figures,
            dated=False,
        ),
        Statistic(
            key="badges",
            title=gettext_lazy("Badges earned, per month"),
            about=gettext_lazy("By the day each badge was earned."),
            order=30,
            rows=badges_by_month,
            columns=[
                MONTH,
                Column("badge", gettext_lazy("Badge"), Kind.LOCAL),
                Column("earned", gettext_lazy("Earned")),
            ],
            chart=Chart(Chart.MONTHS, "month", ["earned"], gettext_lazy("badges"), series="badge"),
            figures=badges_figures,
        ),
        Statistic(
            key="appeals",
            title=gettext_lazy("Appeals received and decided, per month"),
            about=gettext_lazy(
                "Received by the day filed, decided by the day of the decision. Open and overdue count the appeals "
                "received that month that are still waiting today, overdue once their deadline has passed."
            ),
            order=50,
            rows=appeals_by_month,
            columns=[
                MONTH,
                Column("received", gettext_lazy("Received")),
                Column("open", gettext_lazy("Still open")),
                Column("overdue", gettext_lazy("Overdue")),
                Column("decided", gettext_lazy("Decided")),
                Column("granted", gettext_lazy("Granted")),
                Column("refused", gettext_lazy("Not granted")),
                Column("median_days", gettext_lazy("Median days to decision"), Kind.DAYS),
            ],
            chart=Chart(Chart.MONTHS, "month", ["received", "decided"], gettext_lazy("appeals"), stacked=False),
            figures=appeals_figures,
        ),
        Statistic(
            key="claims",
            title=gettext_lazy("Claims filed and decided, per month"),
            about=gettext_lazy("Filed: by the day the claim was filed. Approved or not: by the day of the decision."),
            order=60,
            rows=claims_by_month,
            columns=[
                MONTH,
                Column("filed", gettext_lazy("Filed")),
                Column("approved", gettext_lazy("Approved")),
                Column("rejected", gettext_lazy("Not approved")),
            ],
            chart=Chart(
                Chart.MONTHS, "month", ["filed", "approved", "rejected"], gettext_lazy("claims"), stacked=False
            ),
            figures=claims_figures,
        ),
        Statistic(
            key="ingest",
            title=gettext_lazy("Department records by source and result"),
            about=gettext_lazy(
                "Every record departments sent in batches received in these dates, and what became of it."
            ),
            order=70,
            rows=ingest_by_source,
            columns=[
                Column("source", gettext_lazy("Source"), Kind.LOCAL),
                Column("result", gettext_lazy("Result"), Kind.LOCAL),
                Column("records", gettext_lazy("Records")),
            ],
            chart=Chart(Chart.BARS, "source", ["records"], gettext_lazy("records"), series="result"),
            figures=ingest_figures,
        ),
    ]:
        statistic_register(statistic)
