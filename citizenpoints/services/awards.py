"""The single entry point for points: used by department ingest, reviewed claims, appeals and the demo."""

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import Balance, Behaviour, CatalogueVersion, DataSource, LedgerEntry, Resident, TierChange
from citizenpoints.rules import CENT, AmountBandRule, PerUnitRule
from citizenpoints.services.badges import badges_evaluate
from citizenpoints.services.ledger import ledger_append
from citizenpoints.services.scoring import (
    balance_retier,
    local_zone,
    outside_window_message,
    window_start_for,
    window_start_locked,
)

# Departments' clocks drift; a record stamped a little ahead of ours is not "in the future".
CLOCK_SKEW = datetime.timedelta(minutes=5)


class AwardRefused(ApplicationError):
    """A record that earns nothing. Codes: unknown_resident, not_joined, unknown_behaviour, not_authorised,
    source_inactive, naive_datetime, in_future, outside_window, malformed, quantity_required, amount_required,
    below_minimum, cap_reached."""


@dataclass(frozen=True)
class AwardResult:
    entry: LedgerEntry
    created: bool  # False: this (source, external id) was awarded before; `entry` is that first award


@dataclass(frozen=True)
class PeriodBounds:
    day: tuple[datetime.datetime, datetime.datetime]
    month: tuple[datetime.datetime, datetime.datetime]
    year: tuple[datetime.datetime, datetime.datetime]


def period_bounds(occurred_at: datetime.datetime) -> PeriodBounds:
    """The local calendar day, month and year containing `occurred_at`: caps and per-unit totals count within them."""
    zone = local_zone()
    day = occurred_at.astimezone(zone).date()

    def at(date: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(date, datetime.time.min, tzinfo=zone)

    next_month = datetime.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return PeriodBounds(
        day=(at(day), at(day + datetime.timedelta(days=1))),
        month=(at(day.replace(day=1)), at(next_month)),
        year=(at(datetime.date(day.year, 1, 1)), at(datetime.date(day.year + 1, 1, 1))),
    )


def _decimal_or_none(value, code: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise AwardRefused(_("The quantity or amount is not a number."), code="malformed") from error
    if not number.is_finite() or number <= 0 or number >= Decimal("1e10") or number.quantize(CENT) == 0:
        raise AwardRefused(_("The quantity or amount must be a positive number."), code="malformed")
    # The ledger keeps cents (as ingest does): score what is stored, so the stored quantity explains the points and
    # the entry's hash matches the row PostgreSQL rounded.
    return number.quantize(CENT)


def occurred_at_refusal(occurred_at: datetime.datetime, now: datetime.datetime) -> str | None:
    """When an act may earn points, the one rule for awards, claims and appeals: not in the future (beyond a few
    minutes of clock skew) and inside the scoring window. Returns the refusal code, or None."""
    if occurred_at > now + CLOCK_SKEW:
        return "in_future"
    if occurred_at < window_start_for(now):
        return "outside_window"
    return None


def published_behaviour(code: str) -> Behaviour | None:
    return (
        Behaviour.objects.select_related("version", "category")
        .filter(version__status=CatalogueVersion.Status.PUBLISHED, code=code)
        .first()
    )


def award_grant(
    *,
    resident: Resident | int,
    behaviour_code: str,
    source: DataSource,
    external_id: str,
    occurred_at: datetime.datetime,
    quantity=None,
    amount=None,
    now: datetime.datetime | None = None,
    on_office_authority: bool = False,
) -> AwardResult:
    """Award points for one record, exactly once per (source, external_id).

    `on_office_authority`: a reviewer's reasoned decision (an appeal granted) awards through the credit office's own
    source, which publishes the catalogue and so may award any behaviour in it; the per-source authorisation is for
    departments' records and is not asked then. Every other check applies.

    Checks, in order: the record is well-formed; it is new (a repeat returns the first result, even if refused
    checks would now fail); the source is active; the behaviour is in the published catalogue and the source may
    award it; occurred_at is aware, not in the future, inside the scoring window; the resident has joined; the
    caps for the day, month and year leave room (an award that would pass a cap is reduced to fit it).

    Locks: the scoring window row FOR SHARE (PostgreSQL), then the resident's Balance row; nothing else, so
    awards to different residents run in parallel. Raises AwardRefused; nothing is written when it does.
    """
    now = now or timezone.now()
    resident_id = resident if isinstance(resident, int) else resident.pk
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 100:
        raise AwardRefused(_("Each record needs its own id of 1 to 100 characters."), code="malformed")
    if occurred_at is None or timezone.is_naive(occurred_at):
        raise AwardRefused(
            _("The time the act happened must include a time zone (for example 2026-05-01T09:30:00+08:00)."),
            code="naive_datetime",
        )
    quantity = _decimal_or_none(quantity, "quantity")
    amount = _decimal_or_none(amount, "amount")

    first = LedgerEntry.objects.filter(source=source, external_id=external_id).first()
    if first is not None:
        return AwardResult(first, created=False)
    if not source.is_active:
        raise AwardRefused(_("This data source is not active."), code="source_inactive")
    behaviour = published_behaviour(behaviour_code)
    if behaviour is None:
        raise AwardRefused(
            _("“%(code)s” is not in the published catalogue.") % {"code": behaviour_code}, code="unknown_behaviour"
        )
    office_decides = on_office_authority and source.kind == DataSource.Kind.OFFICE
    if not office_decides and not behaviour.sources.filter(pk=source.pk).exists():
        raise AwardRefused(
            _("%(source)s may not award “%(behaviour)s”.") % {"source": source.name_en, "behaviour": behaviour.code},
            code="not_authorised",
        )
    if (when := occurred_at_refusal(occurred_at, now)) is not None:
        raise AwardRefused(
            _("The act cannot have happened in the future.") if when == "in_future" else outside_window_message(),
            code=when,
        )
    rule = behaviour.points_rule
    if isinstance(rule, PerUnitRule) and quantity is None:
        raise AwardRefused(
            _("This behaviour is counted in %(unit)s: send a quantity.") % {"unit": rule.unit}, code="quantity_required"
        )
    if isinstance(rule, AmountBandRule) and amount is None:
        raise AwardRefused(_("This behaviour is scored by amount: send an amount."), code="amount_required")

    try:
        with transaction.atomic():
            return _award_locked(
                resident_id=resident_id,
                behaviour=behaviour,
                source=source,
                external_id=external_id,
                occurred_at=occurred_at,
                quantity=quantity,
                amount=amount,
                now=now,
            )
    except IntegrityError:
        # The same (source, external id) committed by a concurrent request for another resident.
        first = LedgerEntry.objects.filter(source=source, external_id=external_id).first()
        if first is None:
            raise
        return AwardResult(first, created=False)


def _award_locked(*, resident_id, behaviour, source, external_id, occurred_at, quantity, amount, now) -> AwardResult:
    window_start = window_start_locked()
    balance = Balance.objects.select_for_update().filter(resident_id=resident_id).first()
    if balance is None:
        if Resident.objects.filter(pk=resident_id).exists():
            raise AwardRefused(_("This person has not joined the programme."), code="not_joined")
        raise AwardRefused(_("There is no such resident."), code="unknown_resident")
    if Resident.objects.filter(pk=resident_id, left_at__isnull=False).exists():
        raise AwardRefused(_("This person has left the programme."), code="not_joined")
    first = LedgerEntry.objects.filter(source=source, external_id=external_id).first()
    if first is not None:  # a concurrent request for the same record won the lock first
        return AwardResult(first, created=False)
    if occurred_at < window_start:  # the ageing pass moved the window while we waited for its lock
        raise AwardRefused(outside_window_message(), code="outside_window")

    bounds = period_bounds(occurred_at)
    year_entries = LedgerEntry.objects.filter(
        resident_id=resident_id,
        behaviour_code=behaviour.code,
        occurred_at__gte=bounds.year[0],
        occurred_at__lt=bounds.year[1],
    )
    used = year_entries.aggregate(
        day=Sum("points", filter=Q(occurred_at__gte=bounds.day[0], occurred_at__lt=bounds.day[1])),
        month=Sum("points", filter=Q(occurred_at__gte=bounds.month[0], occurred_at__lt=bounds.month[1])),
        year=Sum("points"),
        units=Sum("quantity", filter=Q(kind=LedgerEntry.Kind.AWARD, reversed_by__isnull=True)),
    )
    points = behaviour.points_rule.points_for(
        quantity=quantity, amount=amount, prior_quantity=used["units"] or Decimal(0)
    )
    if points <= 0:
        raise AwardRefused(_("This record is below the smallest amount that earns points."), code="below_minimum")
    room = [
        cap - (used[period] or Decimal(0))
        for cap, period in (
            (behaviour.cap_per_day, "day"),
            (behaviour.cap_per_month, "month"),
            (behaviour.cap_per_year, "year"),
        )
        if cap is not None
    ]
    capped = False
    if room:
        allowed = min(room)
        if allowed <= 0:
            raise AwardRefused(
                _("The limit of points for “%(behaviour)s” in this period is already reached.")
                % {"behaviour": behaviour.name_en},
                code="cap_reached",
            )
        if points > allowed:
            points, capped = allowed, True

    entry = ledger_append(
        balance=balance,
        kind=LedgerEntry.Kind.AWARD,
        behaviour_id=behaviour.pk,
        behaviour_code=behaviour.code,
        category_id=behaviour.category_id,
        catalogue_version_id=behaviour.version_id,
        source_id=source.pk,
        external_id=external_id,
        occurred_at=occurred_at,
        recorded_at=now,
        quantity=quantity,
        amount=amount,
        points=points,
        capped=capped,
        reverses=None,
        reason="",
        decided_by=None,
    )
    balance_retier(balance=balance, cause=TierChange.Cause.POINTS)
    badges_evaluate(resident_id=resident_id, category_id=behaviour.category_id, now=now)
    return AwardResult(entry, created=True)
