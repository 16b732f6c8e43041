"""Points rules and forbidden topics: pure functions, shared by the models, the award service and ingest.

Points are exact decimals with two places. A per-unit rule with diminishing returns is applied to the running total
of units in its period, so splitting the same hours over many records never gains or loses a point.
"""

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

from django.db import models
from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")

# Topics the provincial rules forbid in a personal credit catalogue. Matched after normalising (case, width,
# spacing, punctuation, look-alike digits), so "R e l i g i 0 n" is caught too. Keep entries specific: "race"
# would also catch "trace".
FORBIDDEN_TERMS = (
    # religion or belief
    "religio",
    "belief",
    "faith",
    "worship",
    "church",
    "mosque",
    "宗教",
    "信仰",
    "礼拜",
    "教会",
    # health and medical history
    "health",
    "medical",
    "medicine",
    "disease",
    "illness",
    "diagnos",
    "病史",
    "疾病",
    "医疗",
    "健康",
    "诊断",
    # biometrics
    "biometric",
    "fingerprint",
    "facial",
    "facescan",
    "irisscan",
    "genetic",
    "生物识别",
    "指纹",
    "人脸",
    "虹膜",
    "基因",
    # political affiliation
    "politic",
    "partymember",
    "政治",
    "党员",
    "党派",
    # ethnicity
    "ethnic",
    "racial",
    "民族",
    "种族",
    # sexuality
    "sexual",
    "lgbt",
    "性取向",
    # family planning
    "familyplanning",
    "pregnan",
    "contracept",
    "birthcontrol",
    "abortion",
    "fertility",
    "计划生育",
    "生育",
    "怀孕",
    "避孕",
)
_LOOKALIKES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_NORMALISED_TERMS = tuple(re.sub(r"[\W_]+", "", term) for term in FORBIDDEN_TERMS)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold().translate(_LOOKALIKES)
    return re.sub(r"[\W_]+", "", text)


def find_forbidden_topic(text: str) -> str | None:
    """The forbidden term found in `text`, or None."""
    normalised = _normalise(text)
    for term, normalised_term in zip(FORBIDDEN_TERMS, _NORMALISED_TERMS, strict=True):
        if normalised_term in normalised:
            return term
    return None


class RuleKind(models.TextChoices):
    FIXED = "fixed", _("Fixed points per record")
    PER_UNIT = "per_unit", _("Points per unit, fewer as the year's total grows")
    AMOUNT_BANDS = "amount_bands", _("Points by amount band")


def floor_cents(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT, rounding=ROUND_FLOOR)


def _decimal(value, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError as error:
        raise ValueError(f"{what} must be a number") from error
    if not number.is_finite():
        raise ValueError(f"{what} must be a number")
    return number


def _positive_decimal(value, what: str) -> Decimal:
    number = _decimal(value, what)
    if number <= 0:
        raise ValueError(f"{what} must be greater than zero")
    return number


def _rows(value, size: int, what: str) -> list:
    """A list of `size`-item lists, or a ValueError an editor can act on (not a TypeError from unpacking)."""
    if not isinstance(value, list | tuple) or any(
        not isinstance(row, list | tuple) or len(row) != size for row in value
    ):
        raise ValueError(f"{what} must be a list of rows of {size} values each.")
    return list(value)


@dataclass(frozen=True)
class FixedRule:
    points: Decimal

    def points_for(self, *, quantity: Decimal | None, amount: Decimal | None, prior_quantity: Decimal) -> Decimal:
        return self.points

    def max_points_per_record(self) -> Decimal | None:
        return self.points


@dataclass(frozen=True)
class PerUnitRule:
    """`steps`: (up_to_units or None for "beyond", units_per_point), with units_per_point never decreasing."""

    unit: str
    steps: tuple[tuple[Decimal | None, Decimal], ...]

    def cumulative_points(self, units: Decimal) -> Fraction:
        total, floor = Fraction(0), Fraction(0)
        remaining = Fraction(units)
        for up_to, units_per_point in self.steps:
            span = remaining if up_to is None else min(remaining, Fraction(up_to) - floor)
            if span <= 0:
                break
            total += span / Fraction(units_per_point)
            remaining -= span
            if up_to is not None:
                floor = Fraction(up_to)
        return total

    def points_for(self, *, quantity: Decimal | None, amount: Decimal | None, prior_quantity: Decimal) -> Decimal:
        if quantity is None or quantity <= 0:
            raise ValueError("quantity")
        before = floor_cents(self.cumulative_points(prior_quantity))
        after = floor_cents(self.cumulative_points(prior_quantity + quantity))
        return after - before

    def max_points_per_record(self) -> Decimal | None:
        return None  # depends on the quantity sent


@dataclass(frozen=True)
class AmountBandRule:
    """`bands`: (from_amount inclusive, to_amount exclusive or None, points); contiguous, no gaps or overlaps."""

    unit: str
    bands: tuple[tuple[Decimal, Decimal | None, Decimal], ...]

    def points_for(self, *, quantity: Decimal | None, amount: Decimal | None, prior_quantity: Decimal) -> Decimal:
        if amount is None:
            raise ValueError("amount")
        for low, high, points in self.bands:
            if amount >= low and (high is None or amount < high):
                return points
        return Decimal(0)

    def max_points_per_record(self) -> Decimal | None:
        return max(points for _low, _high, points in self.bands)


def parse_rule(kind: str, data: dict) -> FixedRule | PerUnitRule | AmountBandRule:
    """Validate rule parameters; raise ValueError with a sentence an editor understands."""
    if not isinstance(data, dict):
        raise ValueError("The rule must be an object.")
    if kind == RuleKind.FIXED:
        return FixedRule(points=_positive_decimal(data.get("points"), "Points"))
    if kind == RuleKind.PER_UNIT:
        raw_steps = _rows(data.get("steps") or [], 2, "Steps")
        if not raw_steps:
            raise ValueError("A per-unit rule needs at least one step.")
        steps, previous_limit, previous_rate = [], Decimal(0), Decimal(0)
        for index, step in enumerate(raw_steps):
            up_to, rate = step
            rate = _positive_decimal(rate, "Units per point")
            last = index == len(raw_steps) - 1
            if up_to is None and not last:
                raise ValueError("Only the last step may be open-ended.")
            if up_to is not None:
                up_to = _positive_decimal(up_to, "Step limit")
                if up_to <= previous_limit:
                    raise ValueError("Step limits must increase.")
                previous_limit = up_to
            if rate < previous_rate:
                raise ValueError("Later steps must not give more points per unit than earlier ones.")
            previous_rate = rate
            steps.append((up_to, rate))
        if steps[-1][0] is not None:
            raise ValueError("The last step must be open-ended (null): units beyond it still count.")
        return PerUnitRule(unit=str(data.get("unit") or "unit"), steps=tuple(steps))
    if kind == RuleKind.AMOUNT_BANDS:
        raw_bands = _rows(data.get("bands") or [], 3, "Bands")
        if not raw_bands:
            raise ValueError("An amount rule needs at least one band.")
        bands = []
        for index, (low, high, points) in enumerate(raw_bands):
            low = _decimal(low, "A band's start")
            if low < 0:
                raise ValueError("Amounts cannot be negative.")
            if high is None and index != len(raw_bands) - 1:
                raise ValueError("Only the last band may be open-ended.")
            high = None if high is None else _decimal(high, "A band's end")
            if high is not None and high <= low:
                raise ValueError("Each band must end above where it starts.")
            if bands:
                previous_high = bands[-1][1]
                if low < previous_high:
                    raise ValueError(f"Bands overlap at {low}.")
                if low > previous_high:
                    raise ValueError(f"There is a gap between {previous_high} and {low}.")
            bands.append((low, high, _positive_decimal(points, "Points")))
        return AmountBandRule(unit=str(data.get("unit") or "yuan"), bands=tuple(bands))
    raise ValueError(f"Unknown rule kind {kind!r}.")
