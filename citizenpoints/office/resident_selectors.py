"""Reads for the office's resident screens: finding a resident, their ledger as a reviewer sees it, and what a
reversal would change.

Nothing here reads or shows a citizen card: the office finds people by their resident number, by the account email
they give at a desk, or by a department's record id, never by a card number (which is stored only as a keyed hash).
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from citizenpoints.models import Balance, DataSource, LedgerEntry, Resident, Tier, TierScheme
from citizenpoints.selectors import active_scheme_or_none, scoring_window_start
from citizenpoints.services.scoring import score_of, tier_for_score


def resident_by_number(*, number: int) -> Resident | None:
    return Resident.objects.filter(pk=number).first()


def resident_by_email(*, email: str) -> Resident | None:
    """The resident whose account email is exactly `email` (case aside): no partial matches, so the office cannot
    browse residents by fragments of their addresses."""
    return Resident.objects.filter(user__email__iexact=(email or "").strip()).first()


def entry_by_record(*, source: DataSource, external_id: str) -> LedgerEntry | None:
    """The entry a department (or the resident quoting it) knows by the department's own record id."""
    return LedgerEntry.objects.filter(source=source, external_id=(external_id or "").strip()).first()


@dataclass(frozen=True)
class ResidentFile:
    resident: Resident
    balance: Balance | None
    scheme: TierScheme | None
    score: Decimal | None
    window_start: datetime.datetime | None


def resident_file(*, resident: Resident) -> ResidentFile:
    """The facts at the top of a resident's page. Three queries."""
    balance = Balance.objects.select_related("tier").filter(resident=resident).first()
    scheme = active_scheme_or_none()
    score = score_of(balance=balance, scheme=scheme) if balance and scheme else None
    return ResidentFile(resident, balance, scheme, score, scoring_window_start())


def resident_ledger(*, resident: Resident) -> QuerySet[LedgerEntry]:
    """The resident's entries, newest first, with what a reviewer's row shows (who decided a reversal included)."""
    return (
        LedgerEntry.objects.filter(resident=resident)
        .select_related(
            "behaviour",
            "source",
            "catalogue_version",
            "reverses",
            "reversed_by",
            "reversed_by__decided_by",
            "decided_by",
        )
        .order_by("-occurred_at", "-id")
    )


@dataclass(frozen=True)
class ReversalPreview:
    """What reversing an award would do, as the confirmation step shows it."""

    taken_back: Decimal  # the award's points, all of which the reversal records
    counts_in_window: bool  # False: the award already aged out, so the score does not move
    points_now: Decimal
    points_after: Decimal
    score_now: Decimal | None
    score_after: Decimal | None
    tier_now: Tier | None
    tier_after: Tier | None

    @property
    def tier_changes(self) -> bool:
        return self.tier_now is not None and self.tier_after is not None and self.tier_now.pk != self.tier_after.pk


def reversal_preview(*, entry: LedgerEntry, file: ResidentFile) -> ReversalPreview:
    """Computed as `entry_reverse` will compute it (an award older than the scoring window moves no score), from the
    balance read without a lock: the service decides again under its lock."""
    points_now = file.balance.points if file.balance else Decimal(0)
    counts = file.window_start is None or entry.occurred_at >= file.window_start
    points_after = points_now - entry.points if counts else points_now
    score_now = score_after = tier_after = None
    if file.scheme is not None:
        score_now = Decimal(file.scheme.base_score) + points_now
        score_after = Decimal(file.scheme.base_score) + points_after
        tier_after = tier_for_score(scheme=file.scheme, score=score_after)
    return ReversalPreview(
        taken_back=entry.points,
        counts_in_window=counts,
        points_now=points_now,
        points_after=points_after,
        score_now=score_now,
        score_after=score_after,
        tier_now=file.balance.tier if file.balance else None,
        tier_after=tier_after,
    )
