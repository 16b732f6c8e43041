"""Reads of the benefits domain: catalogue by tier, a resident's view of it, histories and totals.

Each read runs a fixed number of queries whatever the number of benefits or redemptions.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from benefits.models import Benefit, Merchant, MerchantLocation, Redemption, ResidentBenefitUsage
from citizenpoints.models import Balance, Resident, Tier, TierScheme
from citizenpoints.services.scoring import local_zone


def local_today(now: datetime.datetime | None = None) -> datetime.date:
    return (now or timezone.now()).astimezone(local_zone()).date()


def period_start(period: str, day: datetime.date) -> datetime.date:
    """The first day of the local calendar day, week (Monday), month or year containing `day`."""
    if period == Benefit.Period.DAY:
        return day
    if period == Benefit.Period.WEEK:
        return day - datetime.timedelta(days=day.weekday())
    if period == Benefit.Period.MONTH:
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def static_refusal(
    *, benefit: Benefit, resident_tier: Tier | None, today: datetime.date
) -> tuple[str, dict[str, Any]] | None:
    """Why `benefit` cannot be used today by a resident in `resident_tier`, from rows already loaded; None if it can.

    Needs benefit.merchant and benefit.min_tier loaded. A benefit's minimum tier belongs to one tier scheme; when the
    city switches schemes, residents are re-placed in the new one and such a benefit is refused with
    `tier_scheme_changed` until the partner manager sets a tier of the new scheme: thresholds of two schemes do not
    compare, and nobody should gain or lose a benefit by a silent guess.
    """
    if not benefit.is_active or not benefit.merchant.is_active:
        return "benefit_paused", {}
    if today < benefit.valid_from or (benefit.valid_until is not None and today > benefit.valid_until):
        return "benefit_not_current", {}
    if resident_tier is None or resident_tier.scheme_id != benefit.min_tier.scheme_id:
        return "tier_scheme_changed", {}
    if resident_tier.min_score < benefit.min_tier.min_score:
        return "tier_too_low", {"min_tier": benefit.min_tier.code}
    return None


def resident_tier(*, resident: Resident) -> Tier | None:
    balance = Balance.objects.select_related("tier").filter(resident=resident).first()
    return balance.tier if balance else None


def usage_count(*, resident: Resident, benefit: Benefit, today: datetime.date) -> int:
    row = ResidentBenefitUsage.objects.filter(
        benefit=benefit, resident=resident, period_start=period_start(benefit.limit_period, today)
    ).first()
    return row.count if row else 0


def benefit_refusal(
    *, resident: Resident, benefit: Benefit, now: datetime.datetime | None = None
) -> tuple[str, dict[str, Any]] | None:
    """Why the resident cannot use the benefit now (code, extra), or None. A read: the counter checks again, locked."""
    today = local_today(now)
    refusal = static_refusal(benefit=benefit, resident_tier=resident_tier(resident=resident), today=today)
    if refusal:
        return refusal
    if benefit.quota is not None and benefit.used >= benefit.quota:
        return "quota_exhausted", {}
    if benefit.limit_count is not None and usage_count(resident=resident, benefit=benefit, today=today) >= (
        benefit.limit_count
    ):
        return "limit_reached", {"period": benefit.limit_period}
    return None


def _current(benefits: QuerySet[Benefit], today: datetime.date) -> QuerySet[Benefit]:
    return benefits.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=today),
        is_active=True,
        merchant__is_active=True,
        valid_from__lte=today,
    )


def benefits_public(*, today: datetime.date | None = None) -> QuerySet[Benefit]:
    """Benefits anyone may read about: active, at an active partner, in date, in the active tier scheme."""
    today = today or local_today()
    return (
        _current(Benefit.objects.all(), today)
        .filter(min_tier__scheme__is_active=True)
        .select_related("merchant", "min_tier")
        .order_by("min_tier__min_score", "family", "title_en")
    )


@dataclass(frozen=True)
class TierBenefits:
    tier: Tier
    new_here: list[Benefit]  # benefits whose minimum is exactly this tier (lower tiers' ones are unlocked too)


@dataclass(frozen=True)
class BenefitCatalogue:
    scheme: TierScheme | None
    tiers: list[TierBenefits]


def benefits_by_tier(*, today: datetime.date | None = None) -> BenefitCatalogue:
    """The active scheme's tiers, lowest first, each with the benefits it adds. Two queries."""
    scheme = TierScheme.objects.prefetch_related("tiers").filter(is_active=True).first()
    if scheme is None:
        return BenefitCatalogue(scheme=None, tiers=[])
    benefits = list(benefits_public(today=today))
    tiers = sorted(scheme.tiers.all(), key=lambda tier: tier.min_score)
    return BenefitCatalogue(
        scheme=scheme,
        tiers=[TierBenefits(tier=tier, new_here=[b for b in benefits if b.min_tier_id == tier.pk]) for tier in tiers],
    )


def benefits_for_tier(*, tier: Tier, today: datetime.date | None = None) -> list[Benefit]:
    """What `tier` adds to the tiers below it (for the public tier page). One query."""
    return list(benefits_public(today=today).filter(min_tier=tier))


@dataclass(frozen=True)
class ResidentBenefits:
    tier: Tier | None
    next_tier: Tier | None
    unlocked: list[Benefit]
    next_adds: list[Benefit]
    later: list[Benefit] = field(default_factory=list)  # above the next tier


def resident_benefits(*, resident: Resident, today: datetime.date | None = None) -> ResidentBenefits:
    """What the resident's tier unlocks now, what the next tier would add, and what lies beyond. Three queries."""
    tier = resident_tier(resident=resident)
    benefits = list(benefits_public(today=today))
    if tier is None:
        return ResidentBenefits(tier=None, next_tier=None, unlocked=[], next_adds=[], later=benefits)
    next_tier = (
        Tier.objects.filter(scheme_id=tier.scheme_id, min_score__gt=tier.min_score).order_by("min_score").first()
    )
    unlocked = [b for b in benefits if b.min_tier.min_score <= tier.min_score]
    next_adds = [b for b in benefits if next_tier and b.min_tier_id == next_tier.pk]
    later = [b for b in benefits if b.min_tier.min_score > tier.min_score and b not in next_adds]
    return ResidentBenefits(tier=tier, next_tier=next_tier, unlocked=unlocked, next_adds=next_adds, later=later)


def benefit_detail(*, pk: int) -> Benefit:
    """One benefit with its partner, tier and the locations that honour it (the merchant's all, when none named)."""
    benefit = (
        Benefit.objects.select_related("merchant", "min_tier", "min_tier__scheme")
        .prefetch_related(
            Prefetch("locations", queryset=MerchantLocation.objects.filter(is_active=True)),
            Prefetch("merchant__locations", queryset=MerchantLocation.objects.filter(is_active=True)),
        )
        .get(pk=pk)
    )
    return benefit


def honoured_at(benefit: Benefit) -> list[MerchantLocation]:
    named = list(benefit.locations.all())
    return named or list(benefit.merchant.locations.all())


# --- Histories.
def resident_redemptions(*, resident: Resident) -> QuerySet[Redemption]:
    return (
        Redemption.objects.filter(resident=resident)
        .select_related("benefit", "merchant", "location", "tier")
        .order_by("-redeemed_at", "-id")
    )


def merchant_redemptions(
    *, merchant: Merchant, since: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> QuerySet[Redemption]:
    """The merchant's redemptions, newest first. What staff see of a resident is the initial, nothing more."""
    redemptions = Redemption.objects.filter(merchant=merchant)
    if since:
        redemptions = redemptions.filter(redeemed_at__gte=since)
    if until:
        redemptions = redemptions.filter(redeemed_at__lt=until)
    return redemptions.select_related("benefit", "location", "tier", "staff__user", "resident").only(
        "id",
        "redeemed_at",
        "benefit__title_en",
        "benefit__title_zh",
        "benefit__family",
        "location__name_en",
        "location__name_zh",
        "tier__name_en",
        "tier__name_zh",
        "tier__label",
        "staff__user__email",
        "resident__given_name",
    )


@dataclass(frozen=True)
class MerchantTotals:
    today: int
    this_month: int
    by_benefit: list[dict]  # {"benefit": Benefit, "today": n, "month": n}


def merchant_totals(*, merchant: Merchant, now: datetime.datetime | None = None) -> MerchantTotals:
    """Redemptions today and this month (local calendar), overall and per benefit. Two queries."""
    zone = local_zone()
    day = local_today(now)
    day_start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    month_start = datetime.datetime.combine(day.replace(day=1), datetime.time.min, tzinfo=zone)
    rows = (
        Redemption.objects.filter(merchant=merchant, redeemed_at__gte=month_start)
        .values("benefit_id")
        .annotate(month=Count("id"), today=Count("id", filter=Q(redeemed_at__gte=day_start)))
    )
    counts = {row["benefit_id"]: row for row in rows}
    benefits = Benefit.objects.filter(merchant=merchant).order_by("family", "title_en")
    by_benefit = [
        {"benefit": b, "today": counts.get(b.pk, {}).get("today", 0), "month": counts.get(b.pk, {}).get("month", 0)}
        for b in benefits
    ]
    return MerchantTotals(
        today=sum(row["today"] for row in counts.values()),
        this_month=sum(row["month"] for row in counts.values()),
        by_benefit=by_benefit,
    )
