"""`retention_purge`: records older than the retention period go, every chain still verifies, no balance moves."""

import datetime
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from citizenpoints.models import (
    GENESIS_HASH,
    AuditEvent,
    Balance,
    IngestBatch,
    IngestRecord,
    LedgerEntry,
    TierChange,
)
from citizenpoints.services.audit import audit_record
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.retention import retention_cutoff, retention_purge
from citizenpoints.services.scoring import balances_verify
from citizenpoints.tasks import nightly_retention
from tests.rights_data import YEAR, award_at, history, library

pytestmark = pytest.mark.django_db


def verified() -> None:
    """Both checks the issue names, through their commands (exit 1 on any problem), and the services."""
    assert list(ledger_verify()) == []
    assert list(balances_verify()) == []
    call_command("verify_ledger", stdout=StringIO())
    call_command("verify_balances", stdout=StringIO())


@pytest.fixture
def data():
    data = history()
    verified()
    return data


def test_the_cutoff_is_the_retention_period_in_calendar_years():
    now = datetime.datetime(2028, 2, 29, 12, 0, tzinfo=datetime.UTC)
    assert retention_cutoff(now) == datetime.datetime(2023, 2, 28, 12, 0, tzinfo=datetime.UTC)
    with override_settings(CITYPOINTS_RETENTION_YEARS=2):
        assert retention_cutoff(now) == datetime.datetime(2026, 2, 28, 12, 0, tzinfo=datetime.UTC)


def test_the_purge_deletes_each_chains_old_prefix_and_the_chains_still_verify(data):
    mixed, old, recent = (data["residents"][name] for name in ("mixed", "old", "recent"))
    balances_before = {b.resident_id: (b.points, b.last_seq, b.last_hash) for b in Balance.objects.all()}

    report = retention_purge(now=data["now"])

    assert report["ledger_entries"] == 3 + 2 and report["chains_cut"] == 2
    # Mixed: #1-#3 (recorded 7 and 6 years ago) went; the chain restarts at #4, linked to #3's hash.
    assert list(LedgerEntry.objects.filter(resident=mixed).values_list("seq", flat=True)) == [4, 5, 6]
    floor = Balance.objects.get(resident=mixed)
    assert (floor.chain_floor_seq, floor.chain_floor_hash) == (3, data["entries"]["mixed"][2].hash)
    assert LedgerEntry.objects.get(resident=mixed, seq=4).prev_hash == floor.chain_floor_hash
    # Old: the whole chain was past the period: empty, its floor at its head.
    assert not LedgerEntry.objects.filter(resident=old).exists()
    head = Balance.objects.get(resident=old)
    assert (head.chain_floor_seq, head.chain_floor_hash) == (head.last_seq, head.last_hash) == (2, head.last_hash)
    # Recent: untouched.
    untouched = Balance.objects.get(resident=recent)
    assert (untouched.chain_floor_seq, untouched.chain_floor_hash) == (0, GENESIS_HASH)
    assert LedgerEntry.objects.filter(resident=recent).count() == 2
    # No balance moved: what went was years outside the scoring window.
    assert {b.resident_id: (b.points, b.last_seq, b.last_hash) for b in Balance.objects.all()} == balances_before
    verified()


def test_a_reversal_outlives_the_award_it_reverses(data):
    """The award (6 years old) goes; its reversal (2 years old) stays, keeping the award's id in its hashed content."""
    award, reversal = data["entries"]["mixed"][2], data["entries"]["mixed"][4]
    assert reversal.reverses_id == award.pk
    retention_purge(now=data["now"])
    assert not LedgerEntry.objects.filter(pk=award.pk).exists()
    kept = LedgerEntry.objects.get(pk=reversal.pk)
    assert kept.reverses_id == award.pk  # dangling by design: no database constraint
    verified()


def test_running_it_again_changes_nothing(data):
    retention_purge(now=data["now"])
    floors = list(Balance.objects.values_list("resident_id", "chain_floor_seq", "chain_floor_hash"))
    assert retention_purge(now=data["now"])["ledger_entries"] == 0
    assert list(Balance.objects.values_list("resident_id", "chain_floor_seq", "chain_floor_hash")) == floors
    verified()


def test_later_nights_move_the_floor_on_and_new_awards_extend_a_purged_chain(data):
    mixed = data["residents"]["mixed"]
    retention_purge(now=data["now"])
    award_at(mixed, data["now"] + datetime.timedelta(minutes=5), external_id="after-purge")
    retention_purge(now=data["now"] + 4 * YEAR)  # the award of 3 years ago (#4) and the reversal (#5) are 7 and 6
    assert list(LedgerEntry.objects.filter(resident=mixed).values_list("seq", flat=True)) == [6, 7]
    assert Balance.objects.get(resident=mixed).chain_floor_seq == 5
    verified()


def test_tampering_after_a_purge_is_still_found(data):
    mixed = data["residents"]["mixed"]
    retention_purge(now=data["now"])
    # Deleting the first remaining entry outside the purge (here: by hand, trigger off on PostgreSQL) is caught.
    table = LedgerEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ledger_append_only")
        cursor.execute(f"DELETE FROM {table} WHERE resident_id = %s AND seq = 4", [mixed.pk])
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER ledger_append_only")
    problems = [str(problem) for problem in ledger_verify()]
    assert any("entry #5: expected entry #4" in problem for problem in problems), problems


def test_moving_a_floor_by_hand_to_hide_a_deletion_is_found(data):
    """The floor records the last purged hash: deleting the next entry and lifting only the floor's number is found
    (as with the head, whoever can rewrite both the number and the hash on the balance row can hide a cut prefix)."""
    mixed = data["residents"]["mixed"]
    retention_purge(now=data["now"])
    table = LedgerEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ledger_append_only")
        cursor.execute(f"DELETE FROM {table} WHERE resident_id = %s AND seq = 4", [mixed.pk])
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER ledger_append_only")
    Balance.objects.filter(resident=mixed).update(chain_floor_seq=4)
    assert any("entry #5: does not link to the previous entry" in str(problem) for problem in ledger_verify())


def test_old_audit_rows_about_residents_tier_changes_and_department_batches_go(data):
    mixed = data["residents"]["mixed"]
    now, long_ago = data["now"], data["now"] - 6 * YEAR
    about_resident = audit_record(actor=None, action="resident.view", obj=mixed, after={"roles": ["reviewer"]})
    about_catalogue = audit_record(actor=None, action="catalogue.publish", obj=library())
    recent = audit_record(actor=None, action="resident.view", obj=mixed, after={"roles": ["auditor"]})
    AuditEvent.objects.filter(pk__in=[about_resident.pk, about_catalogue.pk]).update(at=long_ago)
    TierChange.objects.filter(resident=mixed).update(changed_at=long_ago)
    batch = IngestBatch.objects.create(source=library(), idempotency_key="k", body_hash="0" * 64, status="done")
    IngestRecord.objects.create(batch=batch, line=1, card_hash="c" * 64, resident_id=mixed.pk, result="accepted")
    IngestBatch.objects.filter(pk=batch.pk).update(received_at=long_ago)

    report = retention_purge(now=now)

    assert not AuditEvent.objects.filter(pk=about_resident.pk).exists()
    assert AuditEvent.objects.filter(pk=about_catalogue.pk).exists()  # names no resident: the programme's history
    assert AuditEvent.objects.filter(pk=recent.pk).exists()
    assert not TierChange.objects.filter(resident=mixed).exists()
    assert not IngestBatch.objects.filter(pk=batch.pk).exists() and not IngestRecord.objects.exists()
    assert report["audit_events"] == 1 and report["ingest_records"] == 1 and report["ingest_batches"] == 1


def test_the_retention_period_is_configurable(data):
    with override_settings(CITYPOINTS_RETENTION_YEARS=10):
        assert retention_purge(now=data["now"])["ledger_entries"] == 0
    with override_settings(CITYPOINTS_RETENTION_YEARS=1):
        retention_purge(now=data["now"])
    # One year: everything of "mixed" but the award of a month ago went (the reversal was recorded 2 years ago).
    assert list(LedgerEntry.objects.filter(resident=data["residents"]["mixed"]).values_list("seq", flat=True)) == [6]
    verified()


def test_the_nightly_task_is_scheduled_and_runs_the_purge(data):
    schedule = settings.CELERY_BEAT_SCHEDULE["nightly-retention"]
    assert schedule["task"] == "citizenpoints.tasks.nightly_retention"
    result = nightly_retention.delay().get()
    assert result["ledger_entries"] == 5 and "exports_expired" in result
    verified()


@pytest.mark.postgres
def test_on_postgresql_the_trigger_lets_only_the_purge_delete(data):
    """The purge's DELETE passes the append-only trigger (SET LOCAL in its transaction); the trigger is still on."""
    retention_purge(now=data["now"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'ledger_append_only' AND tgrelid = %s::regclass",
            [LedgerEntry._meta.db_table],
        )
        assert cursor.fetchone()[0] == "O"
    assert LedgerEntry.objects.count() == 3 + 2
    verified()


def test_entries_recorded_a_little_out_of_order_are_still_cut_as_a_prefix(data):
    """Two writers may stamp recorded_at a few milliseconds out of seq order: the cut is by seq, leaving no hole."""
    recent = data["residents"]["recent"]
    now = data["now"]
    first = LedgerEntry.objects.get(resident=recent, seq=1)
    # Pretend #1 was recorded just after the cutoff and #2 just before it (out of order by a millisecond).
    cutoff = retention_cutoff(now)
    table = LedgerEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ledger_append_only")
        cursor.execute(
            f"UPDATE {table} SET recorded_at = %s, occurred_at = %s WHERE id = %s",
            [cutoff + datetime.timedelta(milliseconds=1), cutoff - datetime.timedelta(days=1), first.pk],
        )
        cursor.execute(
            f"UPDATE {table} SET recorded_at = %s, occurred_at = %s WHERE resident_id = %s AND seq = 2",
            [cutoff - datetime.timedelta(milliseconds=1), cutoff - datetime.timedelta(days=1), recent.pk],
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER ledger_append_only")
    retention_purge(now=now)
    assert not LedgerEntry.objects.filter(resident=recent).exists()  # both: #2 was old, so its prefix went
    assert Balance.objects.get(resident=recent).chain_floor_seq == 2


def test_timezone_now_is_the_default(data):
    assert retention_purge()["ledger_entries"] == 5
    assert retention_cutoff(timezone.now()) < timezone.now() - 4 * YEAR


def test_a_reversal_whose_award_was_purged_still_reads_well(client, data):
    """The history and the report explain a reversal that outlived its award instead of failing on the gap."""
    from django.urls import reverse

    mixed = data["residents"]["mixed"]
    retention_purge(now=data["now"])
    client.force_login(mixed.user)
    for name in ("history", "rights_report"):
        page = client.get(reverse(name)).content.decode()
        assert "that record has since been deleted, as every record is after the retention period" in page, name


def test_the_history_counts_what_is_left_after_a_purge(client, data):
    """The unfiltered history takes its count from the balance row (head less floor), not COUNT(*): after a purge
    it must still equal the rows the resident can page through."""
    retention_purge(now=data["now"])
    for resident in data["residents"].values():
        rows = LedgerEntry.objects.filter(resident=resident).count()
        client.force_login(resident.user)
        page = client.get(reverse("history")).content.decode()
        assert page.count('<li class="entry') == rows
        if rows:
            assert f"{rows} in all" in page
        else:
            assert "No points yet." in page
