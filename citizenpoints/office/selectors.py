"""Reads for the credit office console."""

from dataclasses import dataclass, field

from django.db.models import Count, Q

from citizenpoints.models import Balance, Behaviour, CatalogueVersion, Tier, TierScheme

COMPARED = (
    "category_id",
    "name_en",
    "name_zh",
    "description_en",
    "description_zh",
    "rule_kind",
    "rule",
    "cap_per_day",
    "cap_per_month",
    "cap_per_year",
    "evidence_required",
)


@dataclass
class BehaviourChange:
    code: str
    before: Behaviour | None
    after: Behaviour | None
    fields: list[str] = field(default_factory=list)  # what differs, for a changed behaviour

    @property
    def kind(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"


def catalogue_diff(*, version: CatalogueVersion, against: CatalogueVersion | None) -> list[BehaviourChange]:
    """What `version` adds, removes and changes compared with `against` (usually the published version)."""

    def load(v):
        if v is None:
            return {}
        rows = Behaviour.objects.filter(version=v).select_related("category").prefetch_related("sources")
        return {b.code: b for b in rows}

    old, new = load(against), load(version)
    changes = []
    for code in sorted(old.keys() | new.keys()):
        before, after = old.get(code), new.get(code)
        if before is None or after is None:
            changes.append(BehaviourChange(code, before, after))
            continue
        differing = [name for name in COMPARED if getattr(before, name) != getattr(after, name)]
        if {s.pk for s in before.sources.all()} != {s.pk for s in after.sources.all()}:
            differing.append("sources")
        if differing:
            changes.append(BehaviourChange(code, before, after, differing))
    return changes


@dataclass
class TierCount:
    tier: Tier
    upper: int | None  # the next tier's threshold, None for the highest
    residents: int


def tier_schemes_with_counts() -> list[tuple[TierScheme, list[TierCount]]]:
    """Each scheme (the active one first) with how many current residents each tier holds, or would hold if the
    scheme were active: score = base + points in the window. One conditional COUNT per scheme over the balances,
    so the figure costs the same with a million residents."""
    result = []
    for scheme in TierScheme.objects.prefetch_related("tiers").order_by("-is_active", "name_en"):
        tiers = sorted(scheme.tiers.all(), key=lambda tier: tier.min_score)
        bounds = [(tier, tiers[i + 1].min_score if i + 1 < len(tiers) else None) for i, tier in enumerate(tiers)]
        buckets = {}
        for tier, upper in bounds:
            in_tier = Q(points__gte=tier.min_score - scheme.base_score)
            if upper is not None:
                in_tier &= Q(points__lt=upper - scheme.base_score)
            buckets[f"t{tier.pk}"] = Count("pk", filter=in_tier)
        counts = Balance.objects.filter(resident__left_at__isnull=True).aggregate(**buckets) if buckets else {}
        result.append((scheme, [TierCount(tier, upper, counts[f"t{tier.pk}"]) for tier, upper in bounds]))
    return result
