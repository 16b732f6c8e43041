"""Server-drawn SVG charts for the statistics screen: geometry computed here, markup in
templates/office/statistics/chart.html. No JavaScript and no style attributes (CSP): colours come from the
`series-N` classes in static/css/statistics.css.

Input is a statistic's aggregated rows (a few dozen at most), so everything here is plain Python over those.
"""

import datetime
import math
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from citizenpoints.statistics import Chart, Column, Kind, Result
from citizenpoints.templatetags.points import is_chinese, number

WIDTH = 720
FONT = 13  # user units; the CSS sets the same font-size on the chart's text
PALETTE = 8  # series-0 .. series-7; more series than that: the smallest are drawn together as "other"
MAX_LABEL = 26  # characters of a bar's label before it is cut (the table has it whole)


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"
    css: str = ""


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str = "grid"


@dataclass(frozen=True)
class LegendEntry:
    css: str
    label: str
    total: str


@dataclass
class ChartView:
    key: str
    title: str
    description: str
    width: int = WIDTH
    height: int = 0
    rects: list[Rect] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)
    empty: bool = False


@dataclass
class _Series:
    key: str
    label: str
    css: str = ""


def local_label(row: dict, column: Column) -> str:
    if column.kind == Kind.LOCAL:
        return row[f"{column.key}_zh"] if is_chinese() else row[f"{column.key}_en"]
    if column.kind == Kind.MONTH:
        return date_format(row[column.key], "YEAR_MONTH_FORMAT")
    return str(row[column.key])


def short_month(month: datetime.date) -> str:
    return f"{month.month}月" if is_chinese() else date_format(month, "M")


def display_width(text: str) -> float:
    """Rough width in user units at FONT size: CJK characters are square, Latin ones about half as wide."""
    return sum(FONT if unicodedata.east_asian_width(char) in "WF" else FONT * 0.58 for char in text)


def cut(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_ceiling(value: float) -> tuple[float, float]:
    """A round axis maximum at or above `value` and its step (4 to 5 gridlines of 1, 2, 2.5 or 5 × 10^k; at least 1)."""
    if value <= 0:
        return 1.0, 1.0
    rough = value / 4
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= rough)
    step = max(step, 1.0)
    return step * math.ceil(value / step), step


def _as_float(value) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else 0.0


def chart_build(result: Result) -> ChartView:
    statistic, chart = result.statistic, result.statistic.chart
    columns = {column.key: column for column in statistic.columns}
    label_column = columns[chart.label]

    # Categories along the axis.
    if chart.kind == Chart.MONTHS:
        categories = [(month, date_format(month, "YEAR_MONTH_FORMAT")) for month in result.period.months()]
    else:
        seen: dict = {}
        for row in result.rows:
            seen.setdefault(row[chart.label], local_label(row, label_column))
        categories = list(seen.items())

    # Series and values[(category, series)].
    values: dict[tuple, float] = {}
    if chart.series:
        series_column, value_key = columns[chart.series], chart.values[0]
        totals: dict = {}
        series_labels: dict = {}
        for row in result.rows:
            totals[row[chart.series]] = totals.get(row[chart.series], 0.0) + _as_float(row[value_key])
            series_labels[row[chart.series]] = local_label(row, series_column)
        ordered = sorted(totals, key=lambda key: (-totals[key], series_labels[key]))
        kept = ordered if len(ordered) <= PALETTE else ordered[: PALETTE - 1]
        series = [_Series(key, series_labels[key]) for key in kept]
        if len(kept) < len(ordered):
            series.append(_Series("__other__", _("Other")))
        for row in result.rows:
            series_key = row[chart.series] if row[chart.series] in kept else "__other__"
            cell = (row[chart.label], series_key)
            values[cell] = values.get(cell, 0.0) + _as_float(row[value_key])
    else:
        series = [_Series(key, str(columns[key].label)) for key in chart.values]
        for row in result.rows:
            for key in chart.values:
                cell = (row[chart.label], key)
                values[cell] = values.get(cell, 0.0) + _as_float(row[key])
    for index, one in enumerate(series):
        one.css = "series-other" if one.key == "__other__" else f"series-{index}"

    unit = str(chart.unit)
    view = ChartView(key=statistic.key, title=str(statistic.title), description="")
    view.legend = [
        LegendEntry(
            one.css, one.label, number(Decimal(str(sum(values.get((key, one.key), 0.0) for key, _label in categories))))
        )
        for one in series
    ]
    stacked = chart.stacked or len(series) == 1
    sums = [
        sum(values.get((key, one.key), 0.0) for one in series)
        if stacked
        else max((values.get((key, one.key), 0.0) for one in series), default=0.0)
        for key, _label in categories
    ]
    if not categories or not any(sums):
        view.empty = True
        view.description = _("Nothing to show for these dates.")
        return view
    top, step = nice_ceiling(max(sums))
    peak_index = max(range(len(categories)), key=lambda index: sums[index])
    peak = {"label": categories[peak_index][1], "value": number(Decimal(str(sums[peak_index]))), "unit": unit}
    if chart.kind == Chart.MONTHS:
        _draw_columns(view, categories, series, values, top, step, stacked, unit)
        view.description = _(
            "A column for each month from %(first)s to %(last)s, %(how)s. Highest: %(label)s, %(value)s %(unit)s."
        ) % {
            "first": categories[0][1],
            "last": categories[-1][1],
            "how": _describe_series(chart, series, columns),
            **peak,
        }
    else:
        _draw_bars(view, categories, series, values, top, step, unit)
        view.description = _("A bar for each %(what)s, %(how)s. Largest: %(label)s, %(value)s %(unit)s.") % {
            "what": str(label_column.label).lower(),
            "how": _describe_series(chart, series, columns),
            **peak,
        }
    return view


def _describe_series(chart: Chart, series: list[_Series], columns: dict) -> str:
    if chart.series:
        return _("split by %(what)s") % {"what": str(columns[chart.series].label).lower()}
    if len(series) == 1:
        return _("one value each")
    return _("%(series)s side by side") % {"series": ", ".join(one.label.lower() for one in series)}


def _fmt(value: float) -> str:
    return number(Decimal(str(round(value, 2))))


def _draw_columns(view, categories, series, values, top, step, stacked, unit) -> None:
    left = max(display_width(_fmt(top)), display_width("0")) + 14
    right, top_margin, bottom = 10, 14, 40
    plot_height = 240
    view.height = top_margin + plot_height + bottom
    plot_width = view.width - left - right
    baseline = top_margin + plot_height

    def y_of(value: float) -> float:
        return baseline - value / top * plot_height

    tick = 0.0
    while tick <= top + 1e-9:
        view.lines.append(Line(left, y_of(tick), view.width - right, y_of(tick), "grid" if tick else "axis"))
        view.texts.append(Text(left - 6, y_of(tick) + FONT * 0.35, _fmt(tick), "end", "tick"))
        tick += step

    slot = plot_width / len(categories)
    every = max(1, math.ceil(len(categories) / 12))  # at most about 12 month labels, however long the period
    group_width = slot * 0.72
    for index, (month, label) in enumerate(categories):
        x0 = left + index * slot + (slot - group_width) / 2
        if stacked:
            height_so_far = 0.0
            for one in series:
                value = values.get((month, one.key), 0.0)
                if value <= 0:
                    continue
                y_top = y_of(height_so_far + value)
                height = y_of(height_so_far) - y_top
                title = f"{label} · {one.label}: {_fmt(value)} {unit}"
                view.rects.append(Rect(x0, y_top, group_width, height, one.css, title))
                height_so_far += value
        else:
            width = group_width / len(series)
            for position, one in enumerate(series):
                value = values.get((month, one.key), 0.0)
                if value <= 0:
                    continue
                title = f"{label} · {one.label}: {_fmt(value)} {unit}"
                view.rects.append(
                    Rect(x0 + position * width, y_of(value), width, baseline - y_of(value), one.css, title)
                )
        if index % every == 0:
            center = left + index * slot + slot / 2
            view.texts.append(Text(center, baseline + FONT + 4, short_month(month), "middle", "label"))
            if index == 0 or month.month <= every:  # the year under the first month and under each January
                view.texts.append(Text(center, baseline + 2 * FONT + 8, str(month.year), "middle", "label year"))


def _draw_bars(view, categories, series, values, top, step, unit) -> None:
    labels = [cut(label) for _key, label in categories]
    left = min(max(display_width(label) for label in labels) + 16, view.width * 0.4)
    right, top_margin, bottom = 84, 6, 26
    row_height, thickness = 30, 20
    plot_width = view.width - left - right
    view.height = top_margin + len(categories) * row_height + bottom
    baseline = top_margin + len(categories) * row_height

    def x_of(value: float) -> float:
        return left + value / top * plot_width

    tick = 0.0
    while tick <= top + 1e-9:
        view.lines.append(Line(x_of(tick), top_margin, x_of(tick), baseline, "grid" if tick else "axis"))
        view.texts.append(Text(x_of(tick), baseline + FONT + 6, _fmt(tick), "middle", "tick"))
        tick += step
    for index, ((key, full_label), label) in enumerate(zip(categories, labels, strict=True)):
        y0 = top_margin + index * row_height + (row_height - thickness) / 2
        view.texts.append(Text(left - 8, y0 + thickness / 2 + FONT * 0.35, label, "end", "label"))
        so_far = 0.0
        for one in series:
            value = values.get((key, one.key), 0.0)
            if value <= 0:
                continue
            title = f"{full_label} · {one.label}: {_fmt(value)} {unit}" if len(series) > 1 else f"{full_label}: "
            if len(series) == 1:
                title += f"{_fmt(value)} {unit}"
            view.rects.append(Rect(x_of(so_far), y0, x_of(so_far + value) - x_of(so_far), thickness, one.css, title))
            so_far += value
        view.texts.append(Text(x_of(so_far) + 6, y0 + thickness / 2 + FONT * 0.35, _fmt(so_far), "start", "value"))
