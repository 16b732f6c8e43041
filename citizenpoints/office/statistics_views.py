"""Statistics in the office console: every registered statistic as a chart, its numbers, and a CSV export each."""

import csv
import datetime
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from citizenpoints.forms import IsoDateInput
from citizenpoints.office.access import office_role_required
from citizenpoints.office.charts import chart_build, local_label
from citizenpoints.statistics import READERS, Kind, Period, Result, statistic_get, statistics_compute
from citizenpoints.templatetags.points import number

LONGEST = datetime.timedelta(days=366 * 5)  # five years of months is already 60 columns


class PeriodForm(forms.Form):
    since = forms.DateField(label=_("From"), widget=IsoDateInput())
    until = forms.DateField(label=_("To"), widget=IsoDateInput())

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            if since > until:
                raise forms.ValidationError(_("The first day must come before the last."), code="reversed")
            if until - since > LONGEST:
                raise forms.ValidationError(_("Choose at most five years."), code="too_long")
        return data


def period_from(query) -> tuple[PeriodForm, Period]:
    """The period asked for in the query string; the last twelve months when none or an invalid one is given."""
    default = Period.last_months(12)
    if "since" not in query and "until" not in query:
        form = PeriodForm(initial={"since": default.since, "until": default.until})
        return form, default
    form = PeriodForm(query)
    if form.is_valid():
        return form, Period(since=form.cleaned_data["since"], until=form.cleaned_data["until"])
    return form, default


def _cell(row: dict, column) -> tuple[str, bool]:
    """(text, is a number) for the screen's table."""
    value = row[column.key]
    if column.kind in (Kind.LOCAL, Kind.MONTH, Kind.TEXT):
        return local_label(row, column), False
    if value is None:
        return "—", True
    if column.kind == Kind.DAYS:
        return days(value), True
    return number(value), True


def days(value: float) -> str:
    return number(Decimal(str(round(value, 1))))


@office_role_required(*READERS)
def overview(request):
    form, period = period_from(request.GET)
    query = urlencode({"since": period.since.isoformat(), "until": period.until.isoformat()})
    items = []
    for result in statistics_compute(acting_user=request.user, period=period):
        columns = result.statistic.columns
        items.append(
            {
                "statistic": result.statistic,
                "figures": [
                    {
                        "label": figure.label,
                        "value": "—"
                        if figure.value is None
                        else days(figure.value)
                        if figure.kind == Kind.DAYS
                        else number(figure.value),
                        "days": figure.kind == Kind.DAYS and figure.value is not None,
                    }
                    for figure in result.figures
                ],
                "chart": chart_build(result),
                "headers": [(column.label, column.kind in (Kind.NUMBER, Kind.DAYS)) for column in columns],
                "rows": [[_cell(row, column) for column in columns] for row in result.rows],
            }
        )
    context = {
        "form": form,
        "period": period,
        "since": date_format(period.since, "DATE_FORMAT"),
        "until": date_format(period.until, "DATE_FORMAT"),
        "query": query,
        "items": items,
    }
    return render(request, "office/statistics/overview.html", context)


def _csv_value(row: dict, column) -> list:
    value = row[column.key]
    if column.kind == Kind.LOCAL:
        return [value, row[f"{column.key}_en"], row[f"{column.key}_zh"]]
    if column.kind == Kind.MONTH:
        return [value.strftime("%Y-%m")]
    if column.kind == Kind.DAYS:
        return ["" if value is None else f"{value:.2f}"]
    return [value]


@office_role_required(*READERS)
def export_csv(request, key):
    """One statistic's rows over the chosen period: UTF-8 with a byte order mark (spreadsheets then read Chinese
    right), stable column names in the header, each bilingual name as code, English and Chinese."""
    statistic = statistic_get(key)
    if statistic is None:
        raise Http404
    _form, period = period_from(request.GET)
    (result,) = statistics_compute(acting_user=request.user, period=period, keys=[key])
    return csv_response(result)


def csv_response(result: Result) -> HttpResponse:
    statistic, period = result.statistic, result.period
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{statistic.key}-{period.since:%Y%m%d}-{period.until:%Y%m%d}"
    if not statistic.dated:
        name = f"{statistic.key}-{timezone.localdate():%Y%m%d}"
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([header for column in statistic.columns for header in column.csv_headers()])
    for row in result.rows:
        writer.writerow([value for column in statistic.columns for value in _csv_value(row, column)])
    return response
