"""Reads of the points domain.

Every read here runs a fixed number of queries, however many entries or residents there are: lists are fetched with
their related rows joined (select_related) or prefetched once, and totals come from the materialised Balance row,
never from summing the ledger.
"""

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby

from django.conf import settings
from django.db.models import Exists, Min, Q, QuerySet
from django.utils import timezone

from citizenpoints.models import (
    Badge,
    Balance,
    Behaviour,
    CatalogueVersion,
    Category,
    LedgerEntry,
    Resident,
    ResidentBadge,
    ScoringWindow,
    Tier,
    TierScheme,
    User,
)
from citizenpoints.services.scoring import local_zone, score_of

DASHBOARD_LATEST = 5


def resident_for_user(*, user: User) -> Resident | None:
    """The user's resident record, or None if they have not joined (or are anonymous)."""
    if not user.is_authenticated:
        return None
    return Resident.objects.filter(user=user).first()


# --- The public catalogue and tier scheme.
@dataclass(frozen=True)
class CatalogueSection:
    category: Category
    behaviours: list[Behaviour]


@dataclass(frozen=True)
class PublishedCatalogue:
    version: CatalogueVersion | None  # None until the office publishes a first version
    sections: list[CatalogueSection]


def catalogue_published() -> PublishedCatalogue:
    """The published catalogue version, its behaviours grouped by category in the office's order. Three queries."""
    version = CatalogueVersion.objects.filter(status=CatalogueVersion.Status.PUBLISHED).first()
    if version is None:
        return PublishedCatalogue(version=None, sections=[])
    behaviours = (
        Behaviour.objects.filter(version=version)
        .select_related("category")
        .prefetch_related("sources")
        .order_by("category__position", "category__code", "code")
    )
    sections = [
        CatalogueSection(category=category, behaviours=list(group))
        for category, group in groupby(behaviours, key=lambda behaviour: behaviour.category)
    ]
    return PublishedCatalogue(version=version, sections=sections)


@dataclass(frozen=True)
class TierBand:
    """A tier with the scores it covers. `low` is never below the base score: rewards only, no score is lower."""

    tier: Tier
    low: Decimal
    high: Decimal | None  # the next tier's threshold (not included); None for the top tier
    is_start: bool  # where every resident starts


def tier_bands(scheme: TierScheme) -> list[TierBand]:
    """The scheme's tiers, lowest first, with their ranges (uses the prefetched tiers: no query when prefetched)."""
    base = Decimal(scheme.base_score)
    tiers = sorted(scheme.tiers.all(), key=lambda tier: tier.min_score)
    bands = []
    for index, tier in enumerate(tiers):
        high = Decimal(tiers[index + 1].min_score) if index + 1 < len(tiers) else None
        low = max(Decimal(tier.min_score), base)
        if high is not None and high <= low:
            continue  # wholly below the base score: nobody can be in it
        bands.append(TierBand(tier=tier, low=low, high=high, is_start=not bands))
    return bands


def active_scheme_or_none() -> TierScheme | None:
    return TierScheme.objects.prefetch_related("tiers").filter(is_active=True).first()


@dataclass(frozen=True)
class PublicTiers:
    scheme: TierScheme | None
    bands: list[TierBand]
    badges: list[Badge]
    window_months: int


def tiers_public() -> PublicTiers:
    """The active tier scheme with its bands, and the active badges with their categories. Four queries."""
    scheme = active_scheme_or_none()
    badges = list(Badge.objects.filter(is_active=True).prefetch_related("categories").order_by("code"))
    return PublicTiers(
        scheme=scheme,
        bands=tier_bands(scheme) if scheme else [],
        badges=badges,
        window_months=settings.CITYPOINTS_SCORING_WINDOW_MONTHS,
    )


# --- A resident's own pages.
def resident_history(
    *, resident: Resident, category: str | None = None, month: datetime.date | None = None
) -> QuerySet[LedgerEntry]:
    """The resident's entries, newest first (the `ledger_resident_history` index), with everything a row shows.

    `category`: a category code. `month`: any date in the local calendar month to show. A reversal carries the
    award it reverses and an award the reversal of it, so both read on their own. Staff identities are not loaded:
    residents see "the credit office", never a person.
    """
    # The catalogue's small tables by id (prefetch_related: one short query each), not joined: PostgreSQL spent
    # 3-8 ms planning the seven-table join (growing with the resident's entries) to run it in 0.2 ms.
    return (
        _history_matching(resident=resident, category=category, month=month)
        .select_related("reverses", "reversed_by")
        .prefetch_related("behaviour", "category", "source", "catalogue_version")
        .order_by("-occurred_at", "-id")
    )


def _history_matching(*, resident: Resident, category: str | None, month: datetime.date | None) -> QuerySet:
    entries = LedgerEntry.objects.filter(resident=resident)
    if category:
        entries = entries.filter(category__code=category)
    if month:
        zone = local_zone()
        start = datetime.datetime(month.year, month.month, 1, tzinfo=zone)
        end = datetime.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=zone)
        entries = entries.filter(occurred_at__gte=start, occurred_at__lt=end)
    return entries


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)
_POSITION_TOKEN = re.compile(r"(-?[0-9]{1,18})_([0-9]{1,19})")
_BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class HistoryPosition:
    """A place in the history's order: an entry's occurred_at, and its id to order entries of the same instant.

    In links it is `token`, `<microseconds since 1970 UTC>_<id>`: short, and nothing to escape. It needs no
    signature: it only says where to start reading the resident's own entries, and tells nothing a page does not.
    """

    occurred_at: datetime.datetime
    id: int

    @classmethod
    def of(cls, entry: LedgerEntry) -> "HistoryPosition":
        return cls(occurred_at=entry.occurred_at, id=entry.pk)

    @property
    def token(self) -> str:
        return f"{(self.occurred_at - _EPOCH) // _MICROSECOND}_{self.id}"

    @classmethod
    def from_token(cls, token: str | None) -> "HistoryPosition | None":
        """The position `token` names; None for anything else, the database never sees a value it would refuse."""
        match = _POSITION_TOKEN.fullmatch(token or "")
        if match is None or int(match[2]) > _BIGINT_MAX:
            return None
        try:
            occurred_at = _EPOCH + int(match[1]) * _MICROSECOND
        except OverflowError:  # before year 1 or after 9999
            return None
        return cls(occurred_at=occurred_at, id=int(match[2]))


def _older_than(position: HistoryPosition, *, including: bool = False) -> Q:
    # (occurred_at, id) < position, written so the index can seek: `occurred_at <=` starts the scan at the position,
    # and the OR only drops the entries of that same instant on the other side. (Django's tuple lookups write the
    # row comparison itself, but they are internal to composite primary keys, not a documented API.)
    at = position.occurred_at
    same_instant = Q(id__lte=position.id) if including else Q(id__lt=position.id)
    return Q(occurred_at__lte=at) & (Q(occurred_at__lt=at) | same_instant)


def _newer_than(position: HistoryPosition, *, including: bool = False) -> Q:
    at = position.occurred_at
    same_instant = Q(id__gte=position.id) if including else Q(id__gt=position.id)
    return Q(occurred_at__gte=at) & (Q(occurred_at__gt=at) | same_instant)


@dataclass(frozen=True)
class HistoryPage:
    entries: list[LedgerEntry]  # newest first
    count: int  # every entry the filters match, on all pages
    newer: HistoryPosition | None  # where the page of newer entries starts (read with `after`); None on the newest
    older: HistoryPosition | None  # where the page of older entries starts (read with `before`); None on the oldest


def resident_history_page(
    *,
    resident: Resident,
    category: str | None = None,
    month: datetime.date | None = None,
    before: HistoryPosition | None = None,
    after: HistoryPosition | None = None,
    size: int,
) -> HistoryPage:
    """`size` entries of `resident_history`: the newest, or those just older than `before`, or just newer than `after`.

    Keyset pagination: a page is found by seeking the history index to its position, so the 4,000th page costs what
    the first does, where OFFSET had PostgreSQL read and drop every newer entry. The queries are the same on every
    page: the count (unfiltered, the balance row's), the page with one entry more (is there a page further on?) and
    an EXISTS for the other way, then the catalogue's four prefetches. A position that leaves nothing to show (a
    link edited by hand) gives the newest page, with one query more.
    """
    filtered = bool(category or month)
    count = None if filtered else resident_entry_count(resident=resident)
    if count is None:
        count = _history_matching(resident=resident, category=category, month=month).count()
    if not count:
        return HistoryPage(entries=[], count=0, newer=None, older=None)
    entries = resident_history(resident=resident, category=category, month=month)
    matching = _history_matching(resident=resident, category=category, month=month)
    if before is not None:
        entries = entries.filter(_older_than(before)).annotate(
            behind=Exists(matching.filter(_newer_than(before, including=True)))
        )
    elif after is not None:
        entries = (
            entries.filter(_newer_than(after))
            .annotate(behind=Exists(matching.filter(_older_than(after, including=True))))
            .order_by("occurred_at", "id")
        )
    rows = list(entries[: size + 1])
    if not rows and (before or after):  # a position past either end (edited by hand): the newest page
        before = after = None
        rows = list(resident_history(resident=resident, category=category, month=month)[: size + 1])
    further = len(rows) > size  # more entries the way the page was read
    behind = (before or after) is not None and rows[0].behind  # any the other way (the same on every row)
    rows = rows[:size]
    if after is None:
        any_newer, any_older = behind, further
    else:
        rows.reverse()
        any_newer, any_older = further, behind
    return HistoryPage(
        entries=rows,
        count=count,
        newer=HistoryPosition.of(rows[0]) if any_newer else None,
        older=HistoryPosition.of(rows[-1]) if any_older else None,
    )


def resident_entry_count(*, resident: Resident) -> int | None:
    """How many entries the resident's ledger holds, without counting them: a chain runs without gaps from its
    retention floor to its head (`verify_ledger` proves it), and the balance row holds both. None without a balance.
    """
    head = Balance.objects.filter(resident=resident).values_list("last_seq", "chain_floor_seq").first()
    return None if head is None else head[0] - head[1]


@dataclass(frozen=True)
class HistoryFilterOptions:
    categories: list[Category]
    months: list[datetime.date]  # first day of each month from the resident's first entry to now, newest first


def history_filter_options(*, resident: Resident, now: datetime.datetime | None = None) -> HistoryFilterOptions:
    """What the history can be filtered by. Two queries (the first entry's date is one index lookup)."""
    categories = list(Category.objects.order_by("position", "code"))
    first = LedgerEntry.objects.filter(resident=resident).aggregate(first=Min("occurred_at"))["first"]
    months = []
    if first is not None:
        zone = local_zone()
        today = (now or timezone.now()).astimezone(zone).date()
        cursor = first.astimezone(zone).date().replace(day=1)
        last = max(today.replace(day=1), cursor)
        while cursor <= last:
            months.append(cursor)
            cursor = datetime.date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
        months.reverse()
    return HistoryFilterOptions(categories=categories, months=months)


def scoring_window_start() -> datetime.datetime | None:
    """Where points start counting; older entries stay in the history but no longer count."""
    return ScoringWindow.objects.filter(pk=1).values_list("starts_at", flat=True).first()


@dataclass(frozen=True)
class TierProgress:
    tier: Tier
    next_tier: Tier | None  # None at the top tier
    points_to_next: Decimal | None
    value: Decimal  # points gained inside this tier's band
    span: Decimal | None  # the band's width, for a progress bar


@dataclass(frozen=True)
class ResidentDashboard:
    resident: Resident
    points: Decimal  # in the scoring window, from the Balance row
    lifetime_points: Decimal
    base_score: int
    score: Decimal
    scheme: TierScheme | None
    progress: TierProgress | None  # None only while no tier scheme is active
    badges: list[ResidentBadge]
    latest_entries: list[LedgerEntry]
    window_months: int


def tier_progress(*, scheme: TierScheme, score: Decimal) -> TierProgress | None:
    bands = tier_bands(scheme)
    if not bands:
        return None
    index = max((i for i, band in enumerate(bands) if score >= band.low), default=0)
    band = bands[index]
    if band.high is None:
        return TierProgress(
            tier=band.tier, next_tier=None, points_to_next=None, value=max(score - band.low, Decimal(0)), span=None
        )
    return TierProgress(
        tier=band.tier,
        next_tier=bands[index + 1].tier,
        points_to_next=band.high - score,
        value=max(score - band.low, Decimal(0)),
        span=band.high - band.low,
    )


def resident_dashboard(*, resident: Resident) -> ResidentDashboard:
    """Score, tier, progress, badges and the latest entries. Five queries, whatever the size of the ledger.

    The score is the active scheme's base plus the Balance row's points (kept equal to the ledger by the award
    service), so the ledger is never summed here.
    """
    balance = Balance.objects.filter(resident=resident).only("points", "lifetime_points").first()
    points = balance.points if balance else Decimal(0)
    scheme = active_scheme_or_none()
    base_score = scheme.base_score if scheme else 0
    score = score_of(balance=balance, scheme=scheme) if balance and scheme else Decimal(base_score) + points
    badges = list(
        ResidentBadge.objects.filter(resident=resident).select_related("badge").order_by("-awarded_at", "-id")
    )
    # Only the relations the dashboard's short entries show: joining the catalogue version and category too (seven
    # tables) cost PostgreSQL 10-15 ms of planning per request, a hundred times the execution.
    latest = list(
        LedgerEntry.objects.filter(resident=resident)
        .select_related("behaviour", "source", "reverses", "reversed_by")
        .order_by("-occurred_at", "-id")[:DASHBOARD_LATEST]
    )
    return ResidentDashboard(
        resident=resident,
        points=points,
        lifetime_points=balance.lifetime_points if balance else Decimal(0),
        base_score=base_score,
        score=score,
        scheme=scheme,
        progress=tier_progress(scheme=scheme, score=score) if scheme else None,
        badges=badges,
        latest_entries=latest,
        window_months=settings.CITYPOINTS_SCORING_WINDOW_MONTHS,
    )


# --- Residents' rights: the personal report and the access log.
@dataclass(frozen=True)
class ReportBlock:
    key: str
    template: str  # included with `data` = context
    context: dict


@dataclass(frozen=True)
class ResidentReport:
    resident: Resident
    dashboard: ResidentDashboard
    entries: list[LedgerEntry]  # every remaining entry, newest first, with everything a row shows
    window_start: datetime.datetime | None
    consents: list
    card_links: int
    blocks: list[ReportBlock]  # what the other parts hold (redemptions, claims, appeals...), in their order
    generated_at: datetime.datetime


def resident_report(*, resident: Resident) -> ResidentReport:
    """Everything the personal report shows: score, tier, every entry with its source, badges, consents, and each
    registered section (benefits' redemptions; claims and appeals when they exist). A fixed number of queries."""
    from citizenpoints.personal_data import report_sections

    return ResidentReport(
        resident=resident,
        dashboard=resident_dashboard(resident=resident),
        entries=list(resident_history(resident=resident)),
        window_start=scoring_window_start(),
        consents=list(resident.consents.order_by("-accepted_at")),
        card_links=resident.card_links.count(),
        blocks=[ReportBlock(s.key, s.template, s.context(resident)) for s in report_sections()],
        generated_at=timezone.now(),
    )


def resident_access_log(*, resident: Resident) -> QuerySet:
    """When credit office staff opened the resident's file, newest first, as (at, roles) only: the query never reads
    the actor, so no name or email can reach the page."""
    from citizenpoints.models import AuditEvent
    from citizenpoints.services.access import ACTION_VIEW

    return (
        AuditEvent.objects.filter(
            object_type=Resident._meta.label_lower, object_id=str(resident.pk), action=ACTION_VIEW
        )
        .order_by("-at", "-id")
        .values("at", "after")
    )
