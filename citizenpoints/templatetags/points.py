"""Points, rules and caps in plain words, in the visitor's language.

English needs "1 point" but "2 points"; the translation tooling here fills singular entries only, so each
count-dependent phrase is two msgids chosen in code rather than an ngettext pair.
"""

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from citizenpoints.models import Badge, Behaviour
from citizenpoints.rules import AmountBandRule, FixedRule, PerUnitRule

register = template.Library()


def is_chinese() -> bool:
    return (get_language() or "en").lower().startswith("zh")


@register.filter
def local(obj, field: str) -> str:
    """`obj.<field>_zh` for a Chinese reader, else `obj.<field>_en` (and English when no Chinese was written)."""
    english = getattr(obj, f"{field}_en", "")
    if is_chinese():
        return getattr(obj, f"{field}_zh", "") or english
    return english


@register.filter
def nowrap(value) -> str:
    """Keep a date or a quantity on one line: "Nov. 21, 2026" or "2026年11月21日" must not break inside."""
    return format_html('<span class="nowrap">{}</span>', value)


@register.filter
def number(value) -> str:
    """A points or amount figure as people write it: 12, 12.5, 1,000 (grouping as the language groups)."""
    if value is None or value == "":
        return ""
    value = Decimal(value)
    value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return number_format(value, use_l10n=True, force_grouping=True)


@register.filter
def points(value) -> str:
    """ "1 point", "2 points", "0.5 points"."""
    text = number(value)
    if Decimal(value) == 1:
        return _("%(n)s point") % {"n": text}
    return _("%(n)s points") % {"n": text}


@register.filter
def plain(value) -> str:
    """A number for an HTML attribute (a <progress> value): no grouping, "." for decimals, no trailing zeros."""
    value = Decimal(value)
    value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return format(value, "f")


@register.filter
def signed(value) -> str:
    """+2 for an award, −2 (a true minus sign) for a reversal."""
    value = Decimal(value)
    if value < 0:
        return "\u2212" + number(-value)
    return "+" + number(value)


UNITS = {
    # code in the rule: (one, many)
    "hour": (lambda: _("hour"), lambda: _("hours")),
    "yuan": (lambda: _("yuan"), lambda: _("yuan")),
    "km": (lambda: _("kilometre"), lambda: _("kilometres")),
    "visit": (lambda: _("visit"), lambda: _("visits")),
    "trip": (lambda: _("trip"), lambda: _("trips")),
    "book": (lambda: _("book"), lambda: _("books")),
    "unit": (lambda: _("unit"), lambda: _("units")),
}


def unit_name(unit: str, count: Decimal | int = 2) -> str:
    one, many = UNITS.get(unit, (lambda: unit, lambda: unit))
    return one() if Decimal(count) == 1 else many()


def quantity(count, unit: str) -> str:
    """ "20 hours", "1 hour", "1,000 yuan"."""
    return _("%(count)s %(unit)s") % {"count": number(count), "unit": unit_name(unit, count)}


def _rate(unit: str, units_per_point: Decimal) -> str:
    if units_per_point == 1:
        return _("1 point per %(unit)s") % {"unit": unit_name(unit, 1)}
    if units_per_point < 1:
        per_unit = (Decimal(1) / units_per_point).quantize(Decimal("0.01"))
        return _("%(points)s per %(unit)s") % {"points": points(per_unit), "unit": unit_name(unit, 1)}
    return _("1 point per %(quantity)s") % {"quantity": quantity(units_per_point, unit)}


def _per_unit_in_words(rule: PerUnitRule) -> str:
    # Each later phrase carries its own leading punctuation: Chinese separates these clauses with "；", lists with "、".
    steps = rule.steps
    if len(steps) == 1:
        return _rate(rule.unit, steps[0][1])
    text = ""
    for index, (up_to, units_per_point) in enumerate(steps):
        values = {"rate": _rate(rule.unit, units_per_point)}
        if up_to is not None:
            values["limit"] = quantity(up_to, rule.unit)
        if up_to is None:
            text += _(", then %(rate)s beyond that") % values
        elif index == 0:
            text += _("%(rate)s up to %(limit)s a year") % values
        else:
            text += _(", then %(rate)s up to %(limit)s") % values
    return text


def _bands_in_words(rule: AmountBandRule) -> str:
    text = ""
    for index, (low, high, band_points) in enumerate(rule.bands):
        if high is None:
            amount = _("%(amount)s or more") % {"amount": quantity(low, rule.unit)}
        else:
            amount = _("%(low)s–%(high)s") % {"low": number(low), "high": quantity(high, rule.unit)}
        values = {"points": points(band_points), "amount": amount}
        text += (_("%(points)s for %(amount)s") if index == 0 else _(", %(points)s for %(amount)s")) % values
    first_low = rule.bands[0][0]
    if first_low > 0:
        text += _("; less than %(amount)s earns no points") % {"amount": quantity(first_low, rule.unit)}
    return text


@register.filter
def rule_in_words(behaviour: Behaviour) -> str:
    """The behaviour's points rule as a sentence: "2 points per record", "1 point per hour up to 20 hours a year, …"."""
    rule = behaviour.points_rule
    if isinstance(rule, FixedRule):
        return _("%(points)s per record") % {"points": points(rule.points)}
    if isinstance(rule, PerUnitRule):
        return _per_unit_in_words(rule)
    return _bands_in_words(rule)


@register.filter
def caps_in_words(behaviour: Behaviour) -> str:
    """ "At most 3 points a day, 10 a month", or "" when the behaviour has no cap."""
    phrases = []
    if behaviour.cap_per_day is not None:
        phrases.append(_("At most %(points)s a day") % {"points": points(behaviour.cap_per_day)})
    if behaviour.cap_per_month is not None:
        if phrases:
            phrases.append(_(", %(count)s a month") % {"count": number(behaviour.cap_per_month)})
        else:
            phrases.append(_("At most %(points)s a month") % {"points": points(behaviour.cap_per_month)})
    if behaviour.cap_per_year is not None:
        if phrases:
            phrases.append(_(", %(count)s a year") % {"count": number(behaviour.cap_per_year)})
        else:
            phrases.append(_("At most %(points)s a year") % {"points": points(behaviour.cap_per_year)})
    return "".join(phrases)


@register.filter
def entry_quantity(entry) -> str:
    """What a record measured, in words ("3 hours", "2,000 yuan"), or "" for a record worth fixed points."""
    unit = (entry.behaviour.rule or {}).get("unit") if entry.behaviour_id else None
    if entry.quantity is not None:
        return quantity(entry.quantity, unit or "unit")
    if entry.amount is not None:
        return quantity(entry.amount, unit or "yuan")
    return ""


@register.filter
def badge_rule_in_words(badge) -> str:
    """The badge's rule from its fields, e.g. "Rule: at least 10 records in Volunteering or Blood donation in the
    last 365 days." (categories prefetched)."""
    categories = _(" or ").join(local(category, "name") for category in badge.categories.all())
    values = {"threshold": number(badge.threshold), "categories": categories, "days": number(badge.period_days)}
    if badge.metric == Badge.Metric.POINTS:
        return _("Rule: at least %(threshold)s points from %(categories)s in the last %(days)s days.") % values
    return _("Rule: at least %(threshold)s records in %(categories)s in the last %(days)s days.") % values
