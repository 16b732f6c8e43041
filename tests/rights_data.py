"""Residents with years of history, for the tests of leaving, retention, export and the personal report.

Entries are made by the real services at the time they happened (time-machine), with the scoring window opened far
back while they are written, then the nightly ageing pass brings the window and the balances to today, as years of
nightly runs would have.
"""

import datetime
from contextlib import contextmanager

import time_machine
from django.utils import timezone

from citizenpoints.models import DataSource, LedgerEntry, OfficeRole, Resident, ScoringWindow
from citizenpoints.services.awards import award_grant
from citizenpoints.services.reversals import entry_reverse
from citizenpoints.services.scoring import scoring_age
from tests.factories import ResidentFactory, UserFactory, published_catalogue

YEAR = datetime.timedelta(days=365)


def library() -> DataSource:
    names = {"name_en": "City Library", "name_zh": "市图书馆"}
    return DataSource.objects.get_or_create(code="library", defaults=names)[0]


def catalogue():
    return published_catalogue(
        sources=[library()],
        behaviours=[
            {"code": "library-loan", "name_en": "Library loan", "name_zh": "图书借阅", "rule": {"points": 2}},
            {"code": "reading-club", "name_en": "Reading club", "name_zh": "读书会", "rule": {"points": 5}},
        ],
    )


@contextmanager
def window_open_since(start: datetime.datetime):
    """Let awards be written as of any time after `start` (the window row is what writers lock and check)."""
    ScoringWindow.objects.filter(pk=1).update(starts_at=start)
    yield
    scoring_age(now=timezone.now())


def award_at(resident: Resident, when: datetime.datetime, code: str = "library-loan", external_id: str = ""):
    with time_machine.travel(when, tick=False):
        result = award_grant(
            resident=resident,
            behaviour_code=code,
            source=library(),
            external_id=external_id or f"{resident.pk}-{when.timestamp()}",
            occurred_at=when - datetime.timedelta(hours=1),
        )
    return result.entry


def reverse_at(entry: LedgerEntry, when: datetime.datetime, reviewer=None) -> LedgerEntry:
    reviewer = reviewer or UserFactory(roles=[OfficeRole.REVIEWER])
    with time_machine.travel(when, tick=False):
        return entry_reverse(entry=entry, acting_user=reviewer, reason="The library recorded this loan twice.")


def history(now: datetime.datetime | None = None) -> dict:
    """Three residents, as of `now`:

    - "mixed": awards 7, 6 and 6 years ago, 3 years ago, a reversal (2 years ago) of the third, and an award a month
      ago: seq 1-3 are past the retention period, 4-6 are not;
    - "old": only awards 8 and 6 years ago (their whole chain is past the retention period);
    - "recent": awards this year only.
    """
    now = now or timezone.now()
    catalogue()
    residents = {name: ResidentFactory(given_name=name.capitalize()) for name in ("mixed", "old", "recent")}
    entries: dict[str, list[LedgerEntry]] = {name: [] for name in residents}
    with window_open_since(now - 10 * YEAR):
        mixed = residents["mixed"]
        for ago in (7 * YEAR, 6 * YEAR, 6 * YEAR - datetime.timedelta(days=2)):
            entries["mixed"].append(award_at(mixed, now - ago))
        entries["mixed"].append(award_at(mixed, now - 3 * YEAR, "reading-club"))
        entries["mixed"].append(reverse_at(entries["mixed"][2], now - 2 * YEAR))
        entries["mixed"].append(award_at(mixed, now - datetime.timedelta(days=30)))
        for ago in (8 * YEAR, 6 * YEAR):
            entries["old"].append(award_at(residents["old"], now - ago))
        for days in (200, 10):
            entries["recent"].append(award_at(residents["recent"], now - datetime.timedelta(days=days), "reading-club"))
    return {"residents": residents, "entries": entries, "now": now}
