"""The behaviour editor: rules typed as short lines a non-technical officer can read, turned into rule JSON.

The model and citizenpoints.rules validate the result; this form only translates the lines."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from citizenpoints.models import Category, DataSource
from citizenpoints.rules import RuleKind

OPEN = {"*", "…", "beyond", "以上"}


def _number(text: str, line: int) -> Decimal:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation as error:
        raise forms.ValidationError(
            _("Line %(line)s: “%(text)s” is not a number.") % {"line": line, "text": text}
        ) from error


def _json_number(value: Decimal | None):
    """Whole numbers as JSON integers, like the seeded catalogue, so an unchanged rule compares equal."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else str(value.normalize())


def _lines(text: str):
    for line_number, line in enumerate((text or "").splitlines(), start=1):
        if line.strip():
            yield line_number, line.replace("\t", " ").split()


class BehaviourForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=60, help_text=_("Fixed once used: e.g. library-loan."))
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.all())
    name_en = forms.CharField(label=_("Name (English)"), max_length=120)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=120)
    description_en = forms.CharField(
        label=_("Description (English)"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    description_zh = forms.CharField(
        label=_("Description (Chinese)"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    rule_kind = forms.ChoiceField(label=_("How points are counted"), choices=RuleKind.choices, widget=forms.RadioSelect)
    points = forms.DecimalField(
        label=_("Points per record"), min_value=Decimal("0.01"), max_digits=8, decimal_places=2, required=False
    )
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False, help_text=_("hour, yuan, trip…"))
    steps = forms.CharField(
        label=_("Steps"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=_(
            "One line per step: up to how many units a year, then how many units earn one point. "
            "The last line starts with *. Example: “20 1”, “80 2”, “200 3”, “* 4”."
        ),
    )
    bands = forms.CharField(
        label=_("Amount bands"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=_(
            "One line per band: from, to (not included, or * for no upper end), points. "
            "Example: “1000 10000 5”, “10000 * 10”."
        ),
    )
    cap_per_day = forms.IntegerField(label=_("At most per day"), min_value=1, required=False)
    cap_per_month = forms.IntegerField(label=_("At most per month"), min_value=1, required=False)
    cap_per_year = forms.IntegerField(label=_("At most per year"), min_value=1, required=False)
    evidence_required = forms.BooleanField(label=_("Residents may claim it with evidence photos"), required=False)
    sources = forms.ModelMultipleChoiceField(
        label=_("Departments that may award it"),
        queryset=DataSource.objects.filter(is_active=True).order_by("kind", "name_en"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def clean(self):
        data = super().clean()
        kind = data.get("rule_kind")
        if kind == RuleKind.FIXED:
            if data.get("points") is None:
                self.add_error("points", _("How many points does one record earn?"))
            else:
                data["rule"] = {"points": _json_number(data["points"])}
        elif kind == RuleKind.PER_UNIT:
            steps = []
            try:
                for line, parts in _lines(data.get("steps")):
                    if len(parts) != 2:
                        raise forms.ValidationError(_("Line %(line)s: write two numbers.") % {"line": line})
                    limit = None if parts[0] in OPEN else _json_number(_number(parts[0], line))
                    steps.append([limit, _json_number(_number(parts[1], line))])
            except forms.ValidationError as error:
                self.add_error("steps", error)
            data["rule"] = {"unit": data.get("unit") or "hour", "steps": steps}
        elif kind == RuleKind.AMOUNT_BANDS:
            bands = []
            try:
                for line, parts in _lines(data.get("bands")):
                    if len(parts) != 3:
                        raise forms.ValidationError(_("Line %(line)s: write three numbers.") % {"line": line})
                    high = None if parts[1] in OPEN else _json_number(_number(parts[1], line))
                    bands.append([_json_number(_number(parts[0], line)), high, _json_number(_number(parts[2], line))])
            except forms.ValidationError as error:
                self.add_error("bands", error)
            data["rule"] = {"unit": data.get("unit") or "yuan", "bands": bands}
        return data

    @classmethod
    def initial_from(cls, behaviour) -> dict:
        rule = behaviour.rule or {}
        initial = {
            name: getattr(behaviour, name)
            for name in (
                "code",
                "category",
                "name_en",
                "name_zh",
                "description_en",
                "description_zh",
                "rule_kind",
                "cap_per_day",
                "cap_per_month",
                "cap_per_year",
                "evidence_required",
            )
        }
        initial["sources"] = list(behaviour.sources.all())
        initial["unit"] = rule.get("unit", "")
        initial["points"] = rule.get("points")
        initial["steps"] = "\n".join(
            f"{'*' if limit is None else limit} {rate}" for limit, rate in rule.get("steps", [])
        )
        initial["bands"] = "\n".join(
            f"{low} {'*' if high is None else high} {points}" for low, high, points in rule.get("bands", [])
        )
        return initial
