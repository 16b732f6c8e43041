"""A batch whose residents another writer holds: the others' records are awarded and committed at once, the held
ones when they are free, and the outcome is the one sequential awards in batch order give (PostgreSQL, threads).

The holder is a second connection keeping one resident's Balance row locked, as a concurrent batch or award does.
"""

import datetime
import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from django.utils import timezone

from citizenpoints.models import Balance, CardLink, DataSource, IngestBatch, IngestRecord, LedgerEntry, ScoringWindow
from citizenpoints.services import ingest
from citizenpoints.services.ingest import batch_process, batch_receive, card_hash
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.scoring import balances_verify, window_start_for
from tests.factories import ResidentFactory, published_catalogue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WAIT = 30  # seconds, at most, for any thread or state the test waits on


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setattr(ingest, "_queue", lambda batch: None)  # the test runs batch_process itself
    ScoringWindow.objects.filter(pk=1).update(starts_at=window_start_for(timezone.now()))
    library = DataSource.objects.create(code="library", name_en="Library", name_zh="图书馆")
    published_catalogue(sources=[library], behaviours=[{"code": "loan", "rule": {"points": 1}, "cap_per_day": 3}])
    residents = {}
    for name in ("free", "held", "tangled"):
        residents[name] = ResidentFactory()
        CardLink.objects.create(resident=residents[name], card_hash=card_hash(f"CARD{name}"))
    return library, residents


def records() -> list[dict]:
    at = (timezone.now() - datetime.timedelta(hours=1)).isoformat()

    def rec(external_id, who):
        return {"external_id": external_id, "card_number": f"CARD{who}", "behaviour_code": "loan", "occurred_at": at}

    return [
        rec("f1", "free"),
        rec("h1", "held"),
        rec("t1", "tangled"),
        rec("f2", "free"),
        rec("h2", "held"),
        rec("h3", "held"),
        rec("t1", "tangled"),  # the same id again: a duplicate, whichever part it is in
        rec("h4", "held"),  # the fourth loan of the day: over the cap of 3
        rec("u1", "nobody"),  # unknown card: refused in the first part
    ]


EXPECTED = ["accepted", "accepted", "accepted", "accepted", "accepted", "accepted", "duplicate", "cap_reached"]
EXPECTED.append("unknown_card")


def results(batch) -> list[str]:
    return list(IngestRecord.objects.filter(batch=batch).order_by("line").values_list("result", flat=True))


class Holder:
    """Another connection holding `resident`'s Balance row locked until `release()`."""

    def __init__(self, resident):
        self.locked, self.release_now = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, args=(resident.pk,))

    def _hold(self, resident_id):
        try:
            with transaction.atomic():
                Balance.objects.select_for_update().get(resident_id=resident_id)
                self.locked.set()
                self.release_now.wait(WAIT)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(WAIT)
        return self

    def release(self):
        self.release_now.set()
        self.thread.join(WAIT)

    def __exit__(self, *exc):
        self.release()


def wait_until(condition) -> None:
    deadline = timezone.now() + datetime.timedelta(seconds=WAIT)
    while not condition():
        assert timezone.now() < deadline, "timed out"
        threading.Event().wait(0.05)


def process_in_thread(batch, errors: list) -> threading.Thread:
    def run():
        try:
            batch_process(batch_id=batch.pk)
        except Exception as error:  # handed to the test, which fails on it
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_the_free_residents_are_awarded_while_a_held_one_waits(world):
    library, residents = world
    batch = batch_receive(source=library, idempotency_key="k", records=records()).batch
    with Holder(residents["held"]) as holder:
        errors = []
        worker = process_in_thread(batch, errors)
        # The first part commits on its own: the free resident's loans and the refusal, visible to others now.
        wait_until(lambda: results(batch)[0] == "accepted")
        assert results(batch) == ["accepted", "pending", "pending", "accepted", "pending"] + ["pending"] * 3 + [
            "unknown_card"
        ]
        assert LedgerEntry.objects.filter(resident=residents["free"]).count() == 2
        assert IngestBatch.objects.get(pk=batch.pk).status == IngestBatch.Status.RECEIVED
        # The tangled resident (a repeated id) waits with the held one, though nobody holds it.
        assert not LedgerEntry.objects.filter(resident=residents["tangled"]).exists()
        holder.release()
        worker.join(WAIT)
    assert not worker.is_alive() and errors == []
    batch.refresh_from_db()
    assert results(batch) == EXPECTED
    assert batch.status == IngestBatch.Status.DONE
    assert batch.counts == dict(Counter(EXPECTED))
    assert LedgerEntry.objects.filter(resident=residents["held"]).count() == 3
    assert list(ledger_verify()) == [] and list(balances_verify()) == []


def test_nobody_holding_anything_gives_the_same_outcome_in_one_part(world):
    library, _residents = world
    batch = batch_receive(source=library, idempotency_key="k", records=records()).batch
    parts = []
    real_part = ingest._process_part

    def counted_part(*args, wait_for_locks, **kwargs):
        parts.append(wait_for_locks)
        return real_part(*args, wait_for_locks=wait_for_locks, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest, "_process_part", counted_part)
        batch_process(batch_id=batch.pk)
    assert results(batch) == EXPECTED
    # The repeated id sends the tangled resident to the second part; nobody waits there, though.
    assert parts == [False, True]


def test_a_crash_between_the_parts_loses_nothing_and_counts_nothing_twice(world, monkeypatch):
    library, residents = world
    batch = batch_receive(source=library, idempotency_key="k", records=records()).batch

    def crash(*args, wait_for_locks, **kwargs):
        if wait_for_locks:
            raise RuntimeError("worker killed")
        return real_part(*args, wait_for_locks=wait_for_locks, **kwargs)

    real_part = ingest._process_part
    with Holder(residents["held"]):
        monkeypatch.setattr(ingest, "_process_part", crash)
        with pytest.raises(RuntimeError):
            batch_process(batch_id=batch.pk)
    first_part = results(batch)
    assert first_part.count("accepted") == 2
    entries_before = set(LedgerEntry.objects.values_list("pk", flat=True))

    monkeypatch.setattr(ingest, "_process_part", real_part)
    batch_process(batch_id=batch.pk)
    batch.refresh_from_db()
    assert results(batch) == EXPECTED
    assert batch.counts == dict(Counter(EXPECTED))
    # The first part's entries are the ones its records point at; the re-run added only the rest.
    assert entries_before <= set(LedgerEntry.objects.values_list("pk", flat=True))
    assert LedgerEntry.objects.count() == EXPECTED.count("accepted")
    assert list(ledger_verify()) == [] and list(balances_verify()) == []
