"""The server-drawn charts: what is drawn for the known dataset, and the limits that keep them readable."""

import datetime
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from citizenpoints.office.charts import PALETTE, chart_build, nice_ceiling
from citizenpoints.statistics import Chart, Column, Kind, Period, Result, Statistic, statistics_compute

pytestmark = pytest.mark.django_db


def result_for(user, key):
    (result,) = statistics_compute(acting_user=user, period=Period.last_months(12), keys=[key])
    return result


def test_stacked_months_draw_one_part_per_month_and_category(known_data, reviewer):
    chart = chart_build(result_for(reviewer, "points-by-category"))
    assert not chart.empty
    assert [rect.css for rect in chart.rects] == ["series-0", "series-1", "series-0", "series-1"]
    assert [(entry.label, entry.total) for entry in chart.legend] == [
        ("Volunteering", "10"),
        ("Reading and culture", "2"),
    ]
    assert [text.text for text in chart.texts if text.css == "label"][:3] == ["Dec", "Jan", "Feb"]
    assert "Highest: October 2026, 6 points" in chart.description  # 5 + 1; November too, the first one wins
    heights = {rect.title: round(rect.height, 1) for rect in chart.rects}
    assert heights["October 2026 · Volunteering: 5 points"] == heights["November 2026 · Volunteering: 5 points"]


def test_bars_and_grouped_columns(known_data, reviewer):
    tiers = chart_build(result_for(reviewer, "residents-by-tier"))
    assert [rect.title for rect in tiers.rects] == ["Getting started: 1 residents", "Good: 1 residents"]
    appeals = chart_build(result_for(reviewer, "appeals"))
    october = [rect for rect in appeals.rects if rect.title.startswith("October 2026")]
    assert [rect.title for rect in october] == [
        "October 2026 · Received: 3 appeals",
        "October 2026 · Decided: 2 appeals",
    ]
    assert october[0].x < october[1].x and october[0].y < october[1].y  # side by side, the taller one first


def test_the_chart_markup_is_accessible_and_needs_no_style_or_script(known_data, reviewer):
    with translation.override("zh-hans"):
        chart = chart_build(result_for(reviewer, "benefits-redeemed"))
        html = render_to_string("office/statistics/chart.html", {"chart": chart})
    assert 'role="img"' in html and "<title id=" in html and "<desc id=" in html
    assert "style=" not in html and "<script" not in html
    assert "城市单车" in html and "出行" in html


def test_nothing_in_the_dates_says_so_instead_of_drawing(reviewer):
    chart = chart_build(result_for(reviewer, "points-by-category"))
    assert chart.empty and chart.description == "Nothing to show for these dates."


def test_more_series_than_colours_draw_the_smallest_together():
    rows = [
        {
            "month": datetime.date(2026, 11, 1),
            "thing": f"t{n}",
            "thing_en": f"Thing {n}",
            "thing_zh": f"东西{n}",
            "n": n,
        }
        for n in range(1, 12)
    ]
    statistic = Statistic(
        key="many",
        title="Many",
        about="",
        order=1,
        rows=lambda period: rows,
        columns=[Column("month", "Month", Kind.MONTH), Column("thing", "Thing", Kind.LOCAL), Column("n", "N")],
        chart=Chart(Chart.MONTHS, "month", ["n"], "things", series="thing"),
    )
    period = Period(since=datetime.date(2026, 11, 1), until=datetime.date(2026, 11, 30))
    chart = chart_build(Result(statistic=statistic, period=period, rows=rows))
    assert len(chart.legend) == PALETTE
    assert chart.legend[-1].label == "Other" and chart.legend[-1].total == str(sum(range(1, 5)))
    assert chart.legend[0].label == "Thing 11"


@pytest.mark.parametrize(
    ("peak", "top", "step"),
    [(0, 1, 1), (3, 3, 1), (7, 8, 2), (12, 15, 5), (545, 600, 200), (1_234_567, 1_500_000, 500_000)],
)
def test_axes_end_on_round_numbers(peak, top, step):
    assert nice_ceiling(peak) == (top, step)


def test_decimal_points_are_drawn():
    assert nice_ceiling(float(Decimal("0.5"))) == (1, 1)
