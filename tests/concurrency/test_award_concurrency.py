"""award_grant under real concurrency: threads, each with its own PostgreSQL connection, lined up on a barrier.

The control comes first: with the Balance lock taken only after the cap check (the lock-then-check order broken),
twenty awards all see an empty day and sail past the cap. Then the real service: no lost update, the cap exact,
one row per (source, external id), and awards to different residents inside their locked sections at the same time.
"""

import datetime
import threading
import time
from collections import Counter

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from citizenpoints.models import Balance, DataSource, LedgerEntry, ScoringWindow
from citizenpoints.services import awards
from citizenpoints.services.awards import AwardRefused, award_grant
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.scoring import balances_verify, scoring_age, window_start_for
from tests.factories import ResidentFactory, published_catalogue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

THREADS = 20
WAIT = 30  # seconds: the most any thread waits on a barrier or a join before the test gives up
EVENT_POINTS, EVENT_CAP = 3, 10  # "reading-event": 3 points, at most 10 a day -> 3 + 3 + 3 + 1 (capped)


def race(calls) -> list[tuple[str, int | None]]:
    """Run `calls` at once, one thread and one connection each; return (outcome, entry id) per call."""
    start = threading.Barrier(len(calls))
    outcomes: list[tuple[str, int | None]] = []
    lock = threading.Lock()

    def run(call):
        try:
            start.wait(timeout=WAIT)
            result = call()
            outcome = ("created" if result.created else "repeat", result.entry.pk)
        except AwardRefused as refused:
            outcome = (refused.code, None)
        except IntegrityError:
            outcome = ("integrity_error", None)
        except threading.BrokenBarrierError:
            outcome = ("barrier_broken", None)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * WAIT)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    assert len(outcomes) == len(calls)
    return outcomes


@pytest.fixture
def library():
    ScoringWindow.objects.filter(pk=1).update(starts_at=window_start_for(timezone.now()))
    source = DataSource.objects.get_or_create(code="library", defaults={"name_en": "Library", "name_zh": "图书馆"})[0]
    published_catalogue(
        sources=[source],
        behaviours=[
            {"code": "library-loan", "rule": {"points": 1}},
            {"code": "reading-event", "rule": {"points": EVENT_POINTS}, "cap_per_day": EVENT_CAP},
        ],
    )
    return source


def award(library, resident, external_id: str, code: str = "library-loan", **kwargs):
    occurred_at = timezone.now() - datetime.timedelta(minutes=10)
    return lambda: award_grant(
        resident=resident,
        behaviour_code=code,
        source=library,
        external_id=external_id,
        occurred_at=occurred_at,
        **kwargs,
    )


def points_of(resident) -> tuple:
    ledger = LedgerEntry.objects.filter(resident=resident).aggregate(total=Sum("points"))["total"]
    return Balance.objects.get(resident=resident).points, ledger


def assert_intact() -> None:
    assert list(ledger_verify()) == []
    assert list(balances_verify()) == []


@pytest.fixture
def slow_append(monkeypatch):
    """Hold every award a moment inside its locked section, so a missing lock could not go unnoticed."""
    real_append = awards.ledger_append

    def append(**values):
        time.sleep(0.02)
        return real_append(**values)

    monkeypatch.setattr(awards, "ledger_append", append)


# --- The control: check the cap before taking the lock, and the race happens. ---------------------------------


def test_control_checking_the_cap_before_locking_lets_every_award_past_it(library, monkeypatch):
    resident = ResidentFactory()
    real_append = awards.ledger_append
    everyone_checked = threading.Barrier(THREADS)

    # The Balance "lock" at the top of _award_locked becomes a plain read, so the caps are read unlocked...
    monkeypatch.setattr(Balance.objects, "select_for_update", lambda **kwargs: Balance.objects.get_queryset())

    def lock_too_late(*, balance, **values):
        everyone_checked.wait(timeout=WAIT)  # ...by every thread before any writes, as a busy server would...
        locked = Balance.objects.get_queryset().select_for_update().get(pk=balance.pk)  # ...and locked only now.
        return real_append(balance=locked, **values)

    monkeypatch.setattr(awards, "ledger_append", lock_too_late)
    outcomes = race([award(library, resident, f"event-{n}", "reading-event") for n in range(THREADS)])

    assert Counter(outcome for outcome, _ in outcomes) == {"created": THREADS}
    balance, ledger = points_of(resident)
    assert balance == ledger == EVENT_POINTS * THREADS  # 60 points against a cap of 10
    assert ledger > EVENT_CAP


# --- The real service. ----------------------------------------------------------------------------------------


def test_twenty_awards_to_one_resident_at_once_lose_nothing(library, slow_append):
    resident = ResidentFactory()
    outcomes = race([award(library, resident, f"loan-{n}") for n in range(THREADS)])
    assert Counter(outcome for outcome, _ in outcomes) == {"created": THREADS}
    assert points_of(resident) == (THREADS, THREADS)
    seqs = list(LedgerEntry.objects.filter(resident=resident).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, THREADS + 1))
    assert_intact()


def test_the_cap_holds_exactly_under_twenty_concurrent_awards(library, slow_append):
    resident = ResidentFactory()
    outcomes = race([award(library, resident, f"event-{n}", "reading-event") for n in range(THREADS)])
    full, remainder = divmod(EVENT_CAP, EVENT_POINTS)
    assert Counter(outcome for outcome, _ in outcomes) == {
        "created": full + 1,
        "cap_reached": THREADS - full - 1,
    }
    assert points_of(resident) == (EVENT_CAP, EVENT_CAP)
    entries = LedgerEntry.objects.filter(resident=resident).order_by("seq")
    assert [(e.points, e.capped) for e in entries] == [(EVENT_POINTS, False)] * full + [(remainder, True)]
    assert_intact()


@pytest.mark.parametrize("senders", ["one resident", "twenty residents"])
def test_the_same_record_sent_twenty_times_at_once_awards_once(library, monkeypatch, senders):
    """Every thread is made to pass the unlocked "seen before?" check before any goes on, so the lock (one
    resident) or the unique constraint (records naming different residents) has to do the work."""
    residents = [ResidentFactory()] if senders == "one resident" else ResidentFactory.create_batch(THREADS)
    real_locked = awards._award_locked
    all_passed_the_first_check = threading.Barrier(THREADS)

    def locked(**kwargs):
        all_passed_the_first_check.wait(timeout=WAIT)
        return real_locked(**kwargs)

    monkeypatch.setattr(awards, "_award_locked", locked)
    outcomes = race([award(library, residents[n % len(residents)], "loan-42") for n in range(THREADS)])

    assert Counter(outcome for outcome, _ in outcomes) == {"created": 1, "repeat": THREADS - 1}
    assert len({entry_id for _, entry_id in outcomes}) == 1
    assert LedgerEntry.objects.filter(source=library, external_id="loan-42").count() == 1
    assert LedgerEntry.objects.count() == 1
    assert_intact()


def _inside_the_locked_section(monkeypatch, barrier: threading.Barrier) -> None:
    """Make each award wait, while it holds its resident's Balance lock, until `barrier` is full."""
    real_evaluate = awards.badges_evaluate

    def evaluate(**kwargs):
        barrier.wait()
        return real_evaluate(**kwargs)

    monkeypatch.setattr(awards, "badges_evaluate", evaluate)


def test_awards_to_twenty_residents_hold_their_locks_at_the_same_time(library, monkeypatch):
    """All twenty are inside their locked sections at once: no award waited on another resident's lock."""
    residents = ResidentFactory.create_batch(THREADS)
    _inside_the_locked_section(monkeypatch, threading.Barrier(THREADS, timeout=WAIT))
    started = time.monotonic()
    outcomes = race([award(library, resident, f"loan-{resident.pk}") for resident in residents])
    assert Counter(outcome for outcome, _ in outcomes) == {"created": THREADS}
    assert time.monotonic() - started < WAIT
    assert all(points_of(resident) == (1, 1) for resident in residents)
    assert_intact()


def test_control_awards_to_one_resident_cannot_all_be_inside_at_once(library, monkeypatch):
    """The same probe on one resident: the lock admits one award at a time, so the barrier can never fill."""
    resident = ResidentFactory()
    _inside_the_locked_section(monkeypatch, threading.Barrier(THREADS, timeout=3))
    outcomes = race([award(library, resident, f"loan-{n}") for n in range(THREADS)])
    assert Counter(outcome for outcome, _ in outcomes) == {"barrier_broken": THREADS}
    assert not LedgerEntry.objects.exists()  # each broken award rolled back whole
    assert_intact()


# --- An award racing the nightly ageing pass. -----------------------------------------------------------------


def test_an_award_waiting_on_the_ageing_pass_is_judged_by_the_window_it_then_reads(library):
    """The pass holds the window row FOR UPDATE; an award decided against the old window waits on its FOR SHARE.
    When it gets the lock the window has moved past the record, so the award must refuse it, not count it."""
    resident = ResidentFactory()
    now = timezone.now()
    tomorrow = now + datetime.timedelta(days=1)
    old_start = window_start_for(now)
    occurred_at = old_start + datetime.timedelta(hours=1)  # inside today's window, outside tomorrow's
    assert occurred_at < window_start_for(tomorrow)
    aged, release = threading.Event(), threading.Event()
    award_pid: list[int] = []
    outcome: list[str] = []

    def age():
        try:
            with transaction.atomic():
                scoring_age(now=tomorrow)
                aged.set()
                release.wait(timeout=WAIT)
        finally:
            connection.close()

    def late_award():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                award_pid.append(cursor.fetchone()[0])
            award_grant(
                resident=resident,
                behaviour_code="library-loan",
                source=library,
                external_id="late-1",
                occurred_at=occurred_at,
                now=now,
            )
            outcome.append("created")
        except AwardRefused as refused:
            outcome.append(refused.code)
        finally:
            connection.close()

    ager = threading.Thread(target=age)
    ager.start()
    assert aged.wait(timeout=WAIT)
    awarder = threading.Thread(target=late_award)
    awarder.start()
    try:
        deadline = time.monotonic() + WAIT
        waiting = None
        while time.monotonic() < deadline and waiting != "Lock":  # the award is blocked on the window row
            time.sleep(0.05)
            if award_pid:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [award_pid[0]])
                    row = cursor.fetchone()
                    waiting = row[0] if row else None
        assert waiting == "Lock"
    finally:
        release.set()
        ager.join(timeout=WAIT)
        awarder.join(timeout=WAIT)

    assert outcome == ["outside_window"]
    assert ScoringWindow.objects.get(pk=1).starts_at == window_start_for(tomorrow)
    assert_intact()
