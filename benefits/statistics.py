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
    """Benefits redeemed in the period per merchant and benefit family: one GROUP BY over the redemptions, joined to
    their benefit for its family and to their merchant for its names."""
    grouped = (
        Redemption.objects.filter(period.between("redeemed_at"))
        .values("merchant_id", "merchant__slug", "merchant__name_en", "merchant__name_zh", "benefit__family")
        .annotate(redemptions=Count("pk"))
        .order_by("merchant_id", "benefit__family")
    )
    rows = [
        {
            **local_value(
                "merchant",
                group["merchant__slug"],
                {"_en": group["merchant__name_en"], "_zh": group["merchant__name_zh"] or group["merchant__name_en"]},
            ),
            **local_value(
                "family", group["benefit__family"], choice_names(Benefit.Family(group["benefit__family"]).label)
            ),
            "redemptions": group["redemptions"],
        }
        for group in grouped
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
