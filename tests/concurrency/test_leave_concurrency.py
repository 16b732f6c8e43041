"""Leaving while a department batch is being processed for the same resident (PostgreSQL, real connections).

An ingest batch looks its residents up (by card link) before it locks their balances. Without the guard, a resident
who leaves in between would get an entry recorded after they left. The control shows that race; then the real
service, which takes the scoring window FOR UPDATE (batches hold it FOR SHARE), waits for the batch and leaves after.
"""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from citizenpoints.models import IngestBatch, IngestRecord, LedgerEntry, Resident, ScoringWindow
from citizenpoints.services import ingest, leaving
from citizenpoints.services.ingest import batch_process, batch_receive, card_link
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.scoring import balances_verify, window_start_for
from tests.factories import ResidentFactory
from tests.rights_data import catalogue, library

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WAIT = 20
CARD = "330100198001011234"


@pytest.fixture
def batch_and_resident():
    ScoringWindow.objects.filter(pk=1).update(starts_at=window_start_for(timezone.now()))
    catalogue()
    resident = ResidentFactory()
    card_link(resident=resident, card_number=CARD)
    record = {
        "external_id": "loan-1",
        "card_number": CARD,
        "behaviour_code": "library-loan",
        "occurred_at": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
    }
    batch = batch_receive(source=library(), idempotency_key="race", records=[record], preview=True).batch
    IngestBatch.objects.filter(pk=batch.pk).update(status=IngestBatch.Status.RECEIVED)
    return batch, resident


def leave_while_the_batch_is_classified(monkeypatch, batch, resident) -> bool:
    """Pause the batch between looking the resident up and locking the balances; try to leave meanwhile.

    Returns whether the leave finished while the batch was paused."""
    classified, go = threading.Event(), threading.Event()
    real = ingest._part_to_process

    def paused(records, wait_for_locks):
        classified.set()
        go.wait(WAIT)
        return real(records, wait_for_locks)

    monkeypatch.setattr(ingest, "_part_to_process", paused)
    errors: list[BaseException] = []

    def run(call):
        try:
            call()
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connection.close()

    processing = threading.Thread(target=run, args=(lambda: batch_process(batch_id=batch.pk),))
    processing.start()
    assert classified.wait(WAIT)
    user = resident.user
    leaving_thread = threading.Thread(
        target=run, args=(lambda: leaving.resident_leave(resident=resident, acting_user=user),)
    )
    leaving_thread.start()
    leaving_thread.join(timeout=1.5)
    left_while_paused = not leaving_thread.is_alive()
    go.set()
    processing.join(WAIT)
    leaving_thread.join(WAIT)
    assert not processing.is_alive() and not leaving_thread.is_alive()
    assert errors == []
    return left_while_paused


def test_control_without_the_window_lock_an_entry_lands_after_the_resident_left(monkeypatch, batch_and_resident):
    batch, resident = batch_and_resident
    monkeypatch.setattr(leaving, "_hold_writers", lambda: None)
    # The leave committed while the batch was paused before writing anything; the batch then wrote an entry anyway.
    assert leave_while_the_batch_is_classified(monkeypatch, batch, resident)
    assert Resident.objects.get(pk=resident.pk).left_at is not None
    assert LedgerEntry.objects.filter(resident=resident).count() == 1  # recorded for someone who had left


def test_leaving_waits_for_the_batch_in_flight(monkeypatch, batch_and_resident):
    batch, resident = batch_and_resident
    assert not leave_while_the_batch_is_classified(monkeypatch, batch, resident)
    left = Resident.objects.get(pk=resident.pk)
    entry = LedgerEntry.objects.get(resident=resident)
    assert left.left_at is not None and entry.recorded_at < left.left_at  # the batch committed first, then the leave
    assert IngestRecord.objects.get(batch=batch).result == "accepted"
    assert list(ledger_verify()) == [] and list(balances_verify()) == []
