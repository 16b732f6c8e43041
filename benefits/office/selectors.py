"""Reads for the partner manager's screens. Each runs a fixed number of queries, however many partners there are."""

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from benefits.models import Benefit, Merchant, MerchantLocation, MerchantStaff
from citizenpoints.models import Tier, TierScheme


def _count(model, *, merchant_field: str = "merchant", **filters: Any) -> Coalesce:
    """A correlated count per merchant (subqueries, not joins: three joined counts would multiply each other)."""
    rows = (
        model.objects.filter(**{merchant_field: OuterRef("pk")}, **filters)
        .order_by()
        .values(merchant_field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def merchants_overview(*, status: str = "") -> QuerySet[Merchant]:
    """Partners with counts of locations, staff, benefits, active benefits and benefits needing a new minimum tier.

    `status`: "active", "paused" or "" for both. Active partners first, then by English name. One query."""
    merchants = Merchant.objects.annotate(
        location_count=_count(MerchantLocation),
        staff_count=_count(MerchantStaff),
        benefit_count=_count(Benefit),
        active_benefit_count=_count(Benefit, is_active=True),
        needs_tier_count=_count(Benefit, min_tier__scheme__is_active=False),
    ).order_by("-is_active", "name_en")
    if status == "active":
        merchants = merchants.filter(is_active=True)
    elif status == "paused":
        merchants = merchants.filter(is_active=False)
    return merchants


def active_scheme() -> TierScheme | None:
    return TierScheme.objects.filter(is_active=True).first()


def active_tiers() -> QuerySet[Tier]:
    """The tiers a benefit may name now: those of the active scheme, lowest first."""
    return Tier.objects.filter(scheme__is_active=True).select_related("scheme").order_by("min_score")


def benefits_needing_tier() -> QuerySet[Benefit]:
    """Benefits whose minimum tier belongs to a scheme that is no longer active: the counter refuses them with
    `tier_scheme_changed` until the partner manager names a tier of the active scheme."""
    return (
        Benefit.objects.filter(min_tier__scheme__is_active=False)
        .select_related("merchant", "min_tier", "min_tier__scheme")
        .order_by("merchant__name_en", "family", "title_en")
    )


def benefits_office(
    *, family: str = "", status: str = "", needs_tier: bool = False, merchant: Merchant | None = None, text: str = ""
) -> QuerySet[Benefit]:
    """Every benefit, paused ones included, filtered as the benefits list asks. One query."""
    benefits = Benefit.objects.select_related("merchant", "min_tier", "min_tier__scheme").order_by(
        "merchant__name_en", "family", "title_en"
    )
    if family:
        benefits = benefits.filter(family=family)
    if status == "active":
        benefits = benefits.filter(is_active=True)
    elif status == "paused":
        benefits = benefits.filter(is_active=False)
    if needs_tier:
        benefits = benefits.filter(min_tier__scheme__is_active=False)
    if merchant is not None:
        benefits = benefits.filter(merchant=merchant)
    if text:
        benefits = benefits.filter(
            Q(title_en__icontains=text)
            | Q(title_zh__icontains=text)
            | Q(merchant__name_en__icontains=text)
            | Q(merchant__name_zh__icontains=text)
        )
    return benefits


def merchant_for_office(*, slug: str) -> Merchant:
    """One partner with its locations, staff (and their accounts) and benefits. Raises Merchant.DoesNotExist."""
    return Merchant.objects.prefetch_related(
        "locations",
        "staff__user",
        "staff__location",
    ).get(slug=slug)


def benefit_for_office(*, pk: int) -> Benefit:
    """One benefit with its partner, tier and named locations. Raises Benefit.DoesNotExist."""
    return (
        Benefit.objects.select_related("merchant", "min_tier", "min_tier__scheme")
        .prefetch_related("locations")
        .get(pk=pk)
    )
