"""Tamper evidence: `verify_ledger` and `verify_balances` notice what was changed behind the application's back.

On PostgreSQL the append-only trigger refuses UPDATE and DELETE outright; to tamper anyway a test does what a DBA
with table rights could do: disable the trigger, edit, re-enable. On SQLite there is no trigger, so raw SQL edits.
"""

import contextlib
import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from citizenpoints.models import Balance, DataSource, LedgerEntry
from citizenpoints.services.awards import award_grant
from citizenpoints.services.ledger import CHAINED_FIELDS, entry_hash
from tests.factories import ResidentFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
TABLE = LedgerEntry._meta.db_table


@pytest.fixture
def ledger():
    """Two residents with three awards each: (resident, [entries in chain order])."""
    library = DataSource.objects.get_or_create(code="library", defaults={"name_en": "Library", "name_zh": "图书馆"})[0]
    published_catalogue(
        sources=[library],
        behaviours=[{"code": "library-loan", "rule": {"points": 1}}, {"code": "reading-club", "rule": {"points": 3}}],
    )
    chains = []
    for _ in range(2):
        resident = ResidentFactory()
        for n, code in enumerate(["library-loan", "reading-club", "library-loan"]):
            award_grant(
                resident=resident,
                behaviour_code=code,
                source=library,
                external_id=f"{resident.pk}-{n}",
                occurred_at=NOW - datetime.timedelta(days=n + 1),
                now=NOW,
            )
        chains.append((resident, list(LedgerEntry.objects.filter(resident=resident).order_by("seq"))))
    return chains


@contextlib.contextmanager
def behind_the_apps_back():
    """What a DBA could do: switch the append-only trigger off for one edit (PostgreSQL), then back on."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test's own transaction holds deferred foreign-key checks; ALTER TABLE wants them settled first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER ledger_append_only")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER ledger_append_only")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def verify(command: str = "verify_ledger") -> str:
    out, err = StringIO(), StringIO()
    call_command(command, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def verify_fails(command: str = "verify_ledger") -> str:
    err = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command(command, stdout=StringIO(), stderr=err)
    assert failed.value.returncode == 1  # `manage.py` exits non-zero
    return err.getvalue()


def test_an_intact_ledger_verifies(ledger):
    assert "Ledger intact: 6 entries verified." in verify()
    assert "All 2 balances equal the ledger." in verify("verify_balances")


def test_an_edited_row_is_found(ledger):
    _resident, entries = ledger[0]
    with behind_the_apps_back() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET points = points + 10 WHERE id = %s", [entries[1].pk])
    report = verify_fails()
    assert f"entry #{entries[1].seq}: content does not match its hash: edited" in report
    assert "balance 5.00 but ledger 15" in verify_fails("verify_balances")  # nor does the balance


def test_an_edit_that_also_fixes_the_balance_is_still_found(ledger):
    resident, entries = ledger[0]
    with behind_the_apps_back() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET points = points + 10 WHERE id = %s", [entries[1].pk])
    Balance.objects.filter(resident=resident).update(points=Decimal(15))
    verify("verify_balances")  # the sums agree now…
    assert "edited" in verify_fails()  # …but the chain does not


@pytest.mark.parametrize("position", [0, 1, 2], ids=["first", "middle", "last"])
def test_a_deleted_row_is_found(ledger, position):
    _resident, entries = ledger[0]
    with behind_the_apps_back() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [entries[position].pk])
    assert "rows deleted" in verify_fails()


def test_an_emptied_chain_is_found(ledger):
    resident, _entries = ledger[1]
    with behind_the_apps_back() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE resident_id = %s", [resident.pk])
    assert "the chain is empty: rows deleted" in verify_fails()


def _insert_copy(entry: LedgerEntry, **changes) -> None:
    values = {field.column: getattr(entry, field.attname) for field in LedgerEntry._meta.concrete_fields}
    values.pop("id")
    values.update(changes)
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} ({columns}) VALUES ({placeholders})", list(values.values()))


def test_a_row_inserted_with_a_forged_hash_is_found(ledger):
    _resident, entries = ledger[0]
    last = entries[-1]
    _insert_copy(last, seq=last.seq + 1, external_id="forged-1", prev_hash=last.hash, hash="f" * 64)
    report = verify_fails()
    assert "content does not match its hash" in report and "balance says" in report


def test_a_row_inserted_with_a_correctly_computed_hash_is_still_found(ledger):
    """Whoever knows the hashing scheme can forge a well-formed link; the chain head on the balance still disagrees."""
    _resident, entries = ledger[0]
    last = entries[-1]
    forged = LedgerEntry(**{f.attname: getattr(last, f.attname) for f in LedgerEntry._meta.concrete_fields})
    forged.seq, forged.external_id, forged.prev_hash, forged.points = last.seq + 1, "forged-2", last.hash, Decimal(50)
    forged_hash = entry_hash({name: getattr(forged, name) for name in CHAINED_FIELDS})
    _insert_copy(last, seq=forged.seq, external_id="forged-2", prev_hash=last.hash, points=50, hash=forged_hash)
    assert "chain ends at #4 but the balance says #3" in verify_fails()  # past the head the balance recorded
    assert "balance 5.00 but ledger 55" in verify_fails("verify_balances")


def test_a_row_inserted_in_the_middle_is_found(ledger):
    _resident, entries = ledger[0]
    with behind_the_apps_back() as cursor:  # make room: shift the tail up by one
        cursor.execute(f"UPDATE {TABLE} SET seq = seq + 100 WHERE id = %s", [entries[2].pk])
    _insert_copy(entries[1], seq=3, external_id="inserted", prev_hash=entries[1].hash, hash="e" * 64)
    report = verify_fails()
    assert "entry #3: content does not match its hash" in report and "entry #103: expected entry #4" in report


def test_two_swapped_rows_are_found(ledger):
    """Swap two entries' places in the chain (their seq), as if history had been reordered."""
    _resident, entries = ledger[0]
    first, second = entries[0], entries[1]
    with behind_the_apps_back() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET seq = 999 WHERE id = %s", [first.pk])
        cursor.execute(f"UPDATE {TABLE} SET seq = %s WHERE id = %s", [first.seq, second.pk])
        cursor.execute(f"UPDATE {TABLE} SET seq = %s WHERE id = %s", [second.seq, first.pk])
    report = verify_fails()
    assert "does not link to the previous entry" in report and "edited" in report


def test_two_rows_that_swapped_their_points_are_found(ledger):
    """A 1-point and a 3-point award trade values: the total is unchanged, so only the chain can tell."""
    _resident, entries = ledger[0]
    one, three = entries[0], entries[1]
    assert (one.points, three.points) == (1, 3)
    with behind_the_apps_back() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET points = %s WHERE id = %s", [three.points, one.pk])
        cursor.execute(f"UPDATE {TABLE} SET points = %s WHERE id = %s", [one.points, three.pk])
    verify("verify_balances")
    assert verify_fails().count("edited") == 2


def test_an_edited_balance_is_found(ledger):
    resident, _entries = ledger[1]
    Balance.objects.filter(resident=resident).update(points=Decimal("999.00"))
    report = verify_fails("verify_balances")
    assert f"resident {resident.pk}: balance 999.00 but ledger 5" in report
    verify()  # the ledger itself is intact


# --- PostgreSQL: the trigger itself -----------------------------------------------------------------------------


def refused(callable_) -> str:
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        callable_()
    return str(error.value)


@pytest.mark.postgres
def test_the_trigger_refuses_updates_and_deletes_through_the_orm_and_raw_sql(ledger):
    _resident, entries = ledger[0]
    entry = entries[0]

    def raw(sql):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(sql, [entry.pk])

        return run

    attempts = {
        "queryset update": lambda: LedgerEntry.objects.filter(pk=entry.pk).update(points=99),
        "instance save": lambda: LedgerEntry.objects.get(pk=entry.pk).save(),
        "queryset delete": lambda: LedgerEntry.objects.filter(pk=entry.pk).delete(),
        "instance delete": lambda: LedgerEntry.objects.get(pk=entry.pk).delete(),
        "raw update": raw(f"UPDATE {TABLE} SET points = 99 WHERE id = %s"),
        "raw delete": raw(f"DELETE FROM {TABLE} WHERE id = %s"),
    }
    for name, attempt in attempts.items():
        assert "the ledger is append-only" in refused(attempt), name
    entry.refresh_from_db()
    assert entry.points == 1
    verify()


@pytest.mark.postgres
def test_the_retention_purge_is_the_one_sanctioned_delete(ledger):
    _resident, entries = ledger[0]
    assert "refused" in refused(lambda: LedgerEntry.objects.filter(pk=entries[0].pk).delete())
    with transaction.atomic(), connection.cursor() as cursor:
        # SET LOCAL lasts to the end of the whole transaction, so the purge must run in a transaction of its own.
        cursor.execute("SET LOCAL citizenpoints.ledger_purge = 'on'")
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [entries[0].pk])
    assert not LedgerEntry.objects.filter(pk=entries[0].pk).exists()


@pytest.mark.postgres
def test_tampering_with_the_trigger_disabled_is_found_afterwards(ledger):
    _resident, entries = ledger[1]
    with behind_the_apps_back() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET points = 2 WHERE id = %s", [entries[0].pk])
    with connection.cursor() as cursor:  # the trigger is back on
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'ledger_append_only' AND tgrelid = %s::regclass", [TABLE]
        )
        assert cursor.fetchone()[0] == "O"
    assert "edited" in verify_fails()
    assert "balance 5.00 but ledger 6" in verify_fails("verify_balances")


@pytest.mark.postgres
def test_a_truncated_ledger_is_found(ledger):
    """Row triggers do not fire on TRUNCATE; the chain heads on the balances still remember every entry."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # settle the test transaction's deferred FK checks
        cursor.execute(f"TRUNCATE {TABLE} CASCADE")
    assert verify_fails().count("the chain is empty") == 2
