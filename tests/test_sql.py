"""citizenpoints/sql.py: the `any` lookup and binary array parameters give what the plain ORM and cursor give."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from citizenpoints.models import DataSource, IngestBatch, IngestRecord
from citizenpoints.sql import copy_binary, execute_binary

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 11, 21, 12, 0, tzinfo=datetime.UTC)


def test_the_any_lookup_matches_in():
    sources = [DataSource.objects.create(code=f"s{n}", name_en=f"S{n}", name_zh=f"源{n}") for n in range(4)]
    wanted = [sources[0].pk, sources[2].pk, 10**12]
    assert list(DataSource.objects.filter(pk__any=wanted).order_by("pk")) == [sources[0], sources[2]]
    assert list(DataSource.objects.filter(pk__any=[])) == []


@pytest.mark.postgres
def test_binary_arrays_round_trip_nones_decimals_big_integers_text_and_instants():
    columns = [
        [Decimal("1.50"), None, Decimal("-0.01")],
        [1, 2**40, None],
        ["accepted", None, 'naïve "quoted", {braced}'],
        [NOON, None, NOON + datetime.timedelta(microseconds=1)],
    ]
    with connection.cursor() as cursor:
        rows = execute_binary(
            cursor, "SELECT * FROM unnest(%s::numeric[], %s::bigint[], %s::text[], %s::timestamptz[])", columns
        )
    assert rows == list(zip(*columns, strict=True))
    with connection.cursor() as cursor:
        assert execute_binary(cursor, "SELECT * FROM unnest(%s::numeric[])", [[None, None]]) == [(None,), (None,)]


def test_a_statement_without_rows_returns_none_and_errors_are_django_s():
    DataSource.objects.create(code="metro", name_en="Metro", name_zh="地铁")
    table = DataSource._meta.db_table
    with connection.cursor() as cursor:
        assert (
            execute_binary(cursor, f"UPDATE {table} SET name_en = %s WHERE code = %s", ["Metro Group", "metro"]) is None
        )
    assert DataSource.objects.get(code="metro").name_en == "Metro Group"
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        execute_binary(cursor, f"UPDATE {table} SET code = NULL WHERE code = %s", ["metro"])


@pytest.mark.postgres
def test_binary_copy_writes_rows_and_its_errors_are_django_s():
    source = DataSource.objects.create(code="metro", name_en="Metro", name_zh="地铁")
    batch = IngestBatch.objects.create(source=source, idempotency_key="k", body_hash="h", record_count=2)
    columns = (
        "batch_id",
        "line",
        "external_id",
        "card_hash",
        "behaviour_code",
        "occurred_at",
        "quantity",
        "result",
        "detail",
    )
    row = [batch.pk, 1, "m-1", "c" * 64, "metro-ride", NOON, Decimal("2.50"), "pending", ""]
    with connection.cursor() as cursor:
        copy_binary(cursor, IngestRecord, columns, [row])
    stored = IngestRecord.objects.get(batch=batch, line=1)
    assert (stored.external_id, stored.occurred_at, stored.quantity) == ("m-1", NOON, Decimal("2.50"))
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        copy_binary(cursor, IngestRecord, columns, [row])  # (batch, line) again


def test_prepared_statements_honour_the_setting_s_former_name(settings):
    from citizenpoints.sql import _prepared_statements_allowed

    assert _prepared_statements_allowed()
    settings.BENEFITS_PREPARED_STATEMENTS = False
    assert not _prepared_statements_allowed()
    settings.PREPARED_STATEMENTS = True
    assert _prepared_statements_allowed()
