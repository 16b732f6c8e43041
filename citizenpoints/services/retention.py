"""The nightly retention purge: records older than CITYPOINTS_RETENTION_YEARS are deleted, chains stay verifiable.

It is the only sanctioned path around the ledger's no-delete rule (on PostgreSQL the trigger lets a DELETE through only
in a transaction that said `SET LOCAL citizenpoints.ledger_purge = 'on'`).

The ledger: per resident, every entry up to the last one recorded before the cutoff goes (a prefix of the chain:
`recorded_at` grows with `seq`, and cutting at the last old entry keeps it a prefix even where two concurrent writers
stamped their entries a few milliseconds out of order). The balance records the cut as its chain floor (the last
purged seq and hash), and `ledger_verify` starts the chain there: the first remaining entry must be #floor + 1 and
link to the floor hash. Purged entries are years outside the 12-month scoring window, so no balance moves.

A reversal younger than the cutoff may outlive the award it reverses: `LedgerEntry.reverses` has no database
constraint, and the reversal keeps the award's id, which its own hash commits to. Purging both together would mean
cutting the chain past younger entries (losing points still in the window) or keeping the award beyond the retention
period; neither is acceptable.
"""

import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from citizenpoints.models import AuditEvent, Balance, IngestBatch, IngestRecord, LedgerEntry, TierChange
from citizenpoints.personal_data import datasets
from citizenpoints.services.awards import CLOCK_SKEW
from citizenpoints.services.scoring import months_before
from citizenpoints.signals import retention_due


def retention_cutoff(now: datetime.datetime) -> datetime.datetime:
    """`now` minus the retention period in calendar years (29 February steps back to 28 February)."""
    years = settings.CITYPOINTS_RETENTION_YEARS
    day = months_before(now.date(), 12 * years)
    return now.replace(year=day.year, month=day.month, day=day.day)


def retention_purge(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete (or anonymise) what is older than the retention period; returns rows affected by kind.

    Set-based: one UPDATE of the balances' chain floors and one DELETE of the ledger prefixes, then one DELETE per
    other table. One transaction: a failure leaves everything as it was, and re-running converges.
    """
    now = now or timezone.now()
    cutoff = retention_cutoff(now)
    report: dict[str, int] = {}
    with transaction.atomic(durable=True):  # SET LOCAL must not outlive the purge in a caller's transaction
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL citizenpoints.ledger_purge = 'on'")
        report["ledger_entries"], report["chains_cut"] = _ledger_purge(cutoff)
        report["tier_changes"] = TierChange.objects.filter(changed_at__lt=cutoff).delete()[0]
        # Department batches received before the cutoff, with their per-record results (which hold card keys).
        report["ingest_records"] = IngestRecord.objects.filter(batch__received_at__lt=cutoff).delete()[0]
        report["ingest_batches"] = IngestBatch.objects.filter(received_at__lt=cutoff).delete()[0]
        report["audit_events"] = _audit_purge(cutoff)
        for _receiver, counts in retention_due.send(sender=LedgerEntry, cutoff=cutoff):
            report.update(counts or {})
    return report


def _ledger_purge(cutoff: datetime.datetime) -> tuple[int, int]:
    # An entry recorded before the cutoff happened before it too (give or take the clock skew awards allow), so the
    # occurred_at index narrows the search; recorded_at has no index of its own, to keep ledger writes lean.
    expired = LedgerEntry.objects.filter(occurred_at__lt=cutoff + CLOCK_SKEW, recorded_at__lt=cutoff)
    last_expired = expired.filter(resident_id=OuterRef("resident_id")).order_by("-seq")
    cut = Balance.objects.filter(resident_id__in=expired.values("resident_id")).update(
        chain_floor_seq=Subquery(last_expired.values("seq")[:1]),
        chain_floor_hash=Subquery(last_expired.values("hash")[:1]),
    )
    if not cut:
        return 0, 0
    ledger, balance = LedgerEntry._meta.db_table, Balance._meta.db_table
    with connection.cursor() as cursor:
        # The chains cut tonight (the same selection as above), each up to its new floor: a prefix, by seq.
        cursor.execute(
            f"""DELETE FROM {ledger} WHERE resident_id IN (
                    SELECT e.resident_id FROM {ledger} e WHERE e.occurred_at < %(near)s AND e.recorded_at < %(cutoff)s)
                AND seq <= (SELECT b.chain_floor_seq FROM {balance} b WHERE b.resident_id = {ledger}.resident_id)""",
            {"near": cutoff + CLOCK_SKEW, "cutoff": cutoff},
        )
        return cursor.rowcount, cut


def _audit_purge(cutoff: datetime.datetime) -> int:
    """Audit rows older than the cutoff about an object of a type that holds resident data (residents, card links,
    entries, redemptions...: every registered dataset's model)."""
    types = {dataset.model._meta.label_lower for dataset in datasets()}
    return AuditEvent.objects.filter(at__lt=cutoff, object_type__in=types).delete()[0]
