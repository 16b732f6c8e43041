"""Benefits' statistic for the credit office, registered in the points domain's registry (citizenpoints.statistics)
from BenefitsConfig.ready, so the points domain never imports benefits."""

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from benefits.models import Benefit, Redemption
from citizenpoints.statistics import (
    Chart,
    Column,
    Figure,
    Kind,
    Period,
    Statistic,
    choice_names,
    local_value,
    statistic_register,
)


def redemptions_by_merchant(period: Period) -> list[dict]:
    """Benefits redeemed in the period per merchant and benefit family.

    Two queries: redemptions counted per benefit (one GROUP BY over the redemptions alone, on keys the planner knows),
    then the benefits' families and merchants (the partners' catalogue, hundreds of rows). Grouping the redemptions
    by joined names instead sorts every redemption by text (bench/statistics.py). Python adds up the per-benefit
    counts into families: at most one number per benefit.
    """
    per_benefit = dict(
        Redemption.objects.filter(period.between("redeemed_at"))
        .values("benefit_id")
        .annotate(n=Count("*"))
        .values_list("benefit_id", "n")
    )
    catalogue = Benefit.objects.values_list(
        "pk", "family", "merchant__slug", "merchant__name_en", "merchant__name_zh"
    ).order_by("merchant_id", "family")
    counts: dict[tuple, int] = {}
    for pk, family, slug, name_en, name_zh in catalogue:
        if per_benefit.get(pk):
            key = (slug, name_en, name_zh or name_en, family)
            counts[key] = counts.get(key, 0) + per_benefit[pk]
    rows = [
        {
            **local_value("merchant", slug, {"_en": name_en, "_zh": name_zh}),
            **local_value("family", family, choice_names(Benefit.Family(family).label)),
            "redemptions": count,
        }
        for (slug, name_en, name_zh, family), count in counts.items()
    ]
    # Busiest partners first; within one, families by size.
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["merchant"]] = totals.get(row["merchant"], 0) + row["redemptions"]
    rows.sort(key=lambda row: (-totals[row["merchant"]], row["merchant_en"], -row["redemptions"], row["family"]))
    return rows


def redemption_figures(period: Period, rows: list[dict]) -> list[Figure]:
    return [
        Figure(_("Benefits redeemed"), sum((row["redemptions"] for row in rows), 0)),
        Figure(_("Partners with a redemption"), len({row["merchant"] for row in rows})),
    ]


def register() -> None:
    statistic_register(
        Statistic(
            key="benefits-redeemed",
            title=_("Benefits redeemed by partner and family"),
            about=_("Every benefit confirmed at a partner's counter in these dates."),
            order=40,
            rows=redemptions_by_merchant,
            columns=[
                Column("merchant", _("Partner"), Kind.LOCAL),
                Column("family", _("Family"), Kind.LOCAL),
                Column("redemptions", _("Redemptions")),
            ],
            chart=Chart(Chart.BARS, "merchant", ["redemptions"], _("redemptions"), series="family"),
            figures=redemption_figures,
        )
    )
