"""Appending to the ledger and proving it intact.

Each resident has a chain: entry n stores hash(n) = sha256(prev_hash || canonical content of n), and prev_hash =
hash(n-1) (GENESIS for the first). The chain head lives on the resident's Balance row, whose lock serialises that
resident's appends, so writers for different residents never wait on each other.
"""

import datetime
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F
from django.db.models.functions import Round

from citizenpoints.models import GENESIS_HASH, Balance, LedgerEntry

CHAINED_FIELDS = (
    "resident_id",
    "seq",
    "kind",
    "behaviour_id",
    "behaviour_code",
    "category_id",
    "catalogue_version_id",
    "source_id",
    "external_id",
    "occurred_at",
    "recorded_at",
    "quantity",
    "amount",
    "points",
    "capped",
    "reverses_id",
    "reason",
    "decided_by_id",
    "prev_hash",
)


def _decimal(value: Decimal) -> str:
    return f"{value:.2f}"


def _instant(value: datetime.datetime) -> str:  # the same instant hashes the same whatever its time zone
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def _same(value):
    return value


# By exact type first, for the types entries hold (a batch hashes thousands of entries: twice as fast as an
# isinstance chain); subclasses and anything else through _canonical.
_CANONICAL_BY_TYPE = {int: _same, bool: _same, type(None): _same, str: _same, Decimal: _decimal}
_CANONICAL_BY_TYPE[datetime.datetime] = _instant


def _canonical(value) -> str | int | bool | None:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, datetime.datetime):
        return _instant(value)
    return str(value)


_encode = json.JSONEncoder(ensure_ascii=False).encode  # what json.dumps(…, ensure_ascii=False) builds per call


def entry_hash(values: dict) -> str:
    """The hash of an entry given its field values (by attribute name, e.g. `resident_id`)."""
    canonical = []
    for name in CHAINED_FIELDS:
        value = values[name]
        canonical.append(_CANONICAL_BY_TYPE.get(type(value), _canonical)(value))
    return hashlib.sha256(_encode(canonical).encode()).hexdigest()


def ledger_append(*, balance: Balance, counts_in_window: bool = True, **values) -> LedgerEntry:
    """Append one entry to the chain of `balance.resident` and move its balance.

    The caller holds `balance` locked (select_for_update) inside a transaction and has checked the business
    rules; this only links, hashes, inserts and updates the balance with F() so nothing is read-modify-written.
    `counts_in_window` is False for a reversal of an entry that already aged out: the score must not move.
    """
    entry = LedgerEntry(
        resident_id=balance.resident_id, seq=balance.last_seq + 1, prev_hash=balance.last_hash, **values
    )
    entry.points = Decimal(entry.points).quantize(Decimal("0.01"))
    entry.hash = entry_hash({name: getattr(entry, name) for name in CHAINED_FIELDS})
    entry.save(force_insert=True)
    lifetime = F("lifetime_points") + entry.points if entry.points > 0 else F("lifetime_points")
    in_window = entry.points if counts_in_window else Decimal(0)
    # Round: SQLite keeps decimals as binary floats, and running sums drift off the cent (125 x 0.40 would be
    # 49.999999999999886, under a 50-point threshold in SQL; -2e-16 would break balance_never_negative).
    Balance.objects.filter(pk=balance.pk).update(
        points=Round(F("points") + in_window, 2),
        lifetime_points=Round(lifetime, 2),
        last_seq=entry.seq,
        last_hash=entry.hash,
        updated_at=entry.recorded_at,
    )
    balance.last_seq, balance.last_hash = entry.seq, entry.hash
    balance.points += in_window
    return entry


@dataclass(frozen=True)
class ChainProblem:
    resident_id: int
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"resident {self.resident_id}" + (f", entry #{self.seq}" if self.seq is not None else "")
        return f"{where}: {self.problem}"


def ledger_verify(*, resident_ids=None, chunk_size: int = 5000) -> Iterator[ChainProblem]:
    """Walk every chain (or those of `resident_ids`) and yield each edited, inserted or deleted row found.

    A chain starts at its balance's floor (GENESIS, or where the retention purge cut it): the first remaining entry
    must be #floor + 1 and link to the floor hash. Streams the ledger in (resident, seq) order with values() so memory
    stays flat on millions of rows.
    """
    entries = LedgerEntry.objects.order_by("resident_id", "seq").values(*CHAINED_FIELDS, "hash")
    heads = Balance.objects.values_list("resident_id", "last_seq", "last_hash", "chain_floor_seq", "chain_floor_hash")
    if resident_ids is not None:
        entries = entries.filter(resident_id__in=resident_ids)
        heads = heads.filter(resident_id__in=resident_ids)
    no_head = (0, GENESIS_HASH, 0, GENESIS_HASH)  # (last seq, last hash, floor seq, floor hash)
    head_by_resident = {row[0]: row[1:] for row in heads.iterator(chunk_size)}

    current, expected_seq, expected_prev = None, 1, GENESIS_HASH
    seen = set()

    def close_chain(resident_id, last_seq, last_hash):
        seq, digest, _floor_seq, _floor_hash = head_by_resident.get(resident_id, no_head)
        if (seq, digest) != (last_seq, last_hash):
            yield ChainProblem(
                resident_id, None, f"chain ends at #{last_seq} but the balance says #{seq}: rows deleted"
            )

    last = (None, 0, GENESIS_HASH)
    for row in entries.iterator(chunk_size=chunk_size):
        resident_id = row["resident_id"]
        if resident_id != current:
            if current is not None:
                yield from close_chain(*last)
            _seq, _digest, floor_seq, floor_hash = head_by_resident.get(resident_id, no_head)
            current, expected_seq, expected_prev = resident_id, floor_seq + 1, floor_hash
            seen.add(resident_id)
        if row["seq"] != expected_seq:
            yield ChainProblem(resident_id, row["seq"], f"expected entry #{expected_seq}: rows deleted or inserted")
        if row["prev_hash"] != expected_prev:
            yield ChainProblem(resident_id, row["seq"], "does not link to the previous entry")
        if entry_hash(row) != row["hash"]:
            yield ChainProblem(resident_id, row["seq"], "content does not match its hash: edited")
        expected_seq, expected_prev = row["seq"] + 1, row["hash"]
        last = (resident_id, row["seq"], row["hash"])
    if current is not None:
        yield from close_chain(*last)
    for resident_id, (seq, digest, floor_seq, floor_hash) in head_by_resident.items():
        # An empty chain is whole only if it was purged up to its head (or never had an entry).
        if resident_id not in seen and (seq, digest) != (floor_seq, floor_hash):
            yield ChainProblem(resident_id, None, f"balance expects #{seq} but the chain is empty: rows deleted")
