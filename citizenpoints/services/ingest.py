"""Department records in bulk: keys, pseudonymous card links, receiving batches and processing them set-wise.

Receiving is quick (validate, HMAC the card numbers, COPY staging rows, answer 202). Processing runs in a Celery
task, in at most two transactions per batch (see batch_process): one SELECT classifies the records in the award
service's order of checks, one Python pass applies the same points rules (citizenpoints.rules) and caps to the
survivors, and the ledger rows (COPY), balances, results and tiers are written in bulk, a statement each; badges
follow. A crash rolls back the part in progress, so re-running converges; the ledger's unique (source, external
id) is the last guard against double counting.
"""

import datetime
import hashlib
import hmac
import itertools
import json
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache as memoize

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import (
    ApiKey,
    Balance,
    Behaviour,
    CardLink,
    CatalogueVersion,
    DataSource,
    IngestBatch,
    IngestRecord,
    LedgerEntry,
    OfficeRole,
    Resident,
    TierChange,
    User,
)
from citizenpoints.rules import AmountBandRule, PerUnitRule
from citizenpoints.services.audit import audit_record
from citizenpoints.services.awards import CLOCK_SKEW, period_bounds
from citizenpoints.services.badges import badges_evaluate_all
from citizenpoints.services.ledger import CHAINED_FIELDS, entry_hash
from citizenpoints.services.permissions import require_role
from citizenpoints.services.scoring import local_zone, tiers_refresh, window_start_for, window_start_locked
from citizenpoints.sql import copy_binary, execute_binary

Result = IngestRecord.Result


# --- Citizen cards: only a keyed hash is ever stored ---------------------------------------------------------


def normalise_card_number(card_number: str) -> str:
    return "".join(str(card_number or "").split()).upper()


def card_hash(card_number: str) -> str:
    """HMAC-SHA256 of the normalised card number, keyed by a secret that lives outside the database."""
    return _hash_normalised(normalise_card_number(card_number))


def _hash_normalised(number: str) -> str:
    return hmac.new(settings.CITYPOINTS_CARD_KEY.encode(), number.encode(), hashlib.sha256).hexdigest()


def card_number_valid(card_number: str) -> bool:
    return _normalised_valid(normalise_card_number(card_number))


def _normalised_valid(number: str) -> bool:
    return 6 <= len(number) <= 32 and number.isalnum()


def card_link(*, resident: Resident, card_number: str, acting_user: User | None = None) -> CardLink:
    """Link a citizen card to a resident: by the resident themself, or by data-source staff (`acting_user`).

    Refuses `invalid_card`, `card_taken` (linked to someone else). Linking the same card again is a no-op.
    """
    if acting_user is not None and acting_user != resident.user:
        require_role(acting_user, OfficeRole.DATA_SOURCE_MANAGER)
    if not card_number_valid(card_number):
        raise ApplicationError(
            _("A citizen card number has 6 to 32 letters and digits."), code="invalid_card", extra={}
        )
    digest = card_hash(card_number)
    with transaction.atomic():
        existing = CardLink.objects.select_for_update().filter(card_hash=digest).first()
        if existing is not None:
            if existing.resident_id != resident.pk:
                raise ApplicationError(
                    _("This card is already linked to another account. If it is yours, contact the credit office."),
                    code="card_taken",
                )
            return existing
        link = CardLink.objects.create(
            resident=resident,
            card_hash=digest,
            linked_by_office=acting_user is not None and acting_user != resident.user,
        )
        if link.linked_by_office:
            audit_record(actor=acting_user, action="card.link", obj=link, after={"resident": resident.pk})
    return link


# --- API keys ----------------------------------------------------------------------------------------------------

KEY_PREFIX_BYTES = 6


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, acting_user: User, source: DataSource, label: str) -> tuple[ApiKey, str]:
    """A new key for `source`. Returns the row and the full key, which is shown once and never stored."""
    require_role(acting_user, OfficeRole.DATA_SOURCE_MANAGER)
    prefix = secrets.token_hex(KEY_PREFIX_BYTES)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            source=source,
            label=label.strip() or "key",
            prefix=prefix,
            secret_hash=_secret_hash(secret),
            created_by=acting_user,
        )
        audit_record(actor=acting_user, action="api_key.create", obj=key, after={"source": source.code, "label": label})
    return key, f"cp_{prefix}_{secret}"


def api_key_revoke(*, acting_user: User, key: ApiKey) -> ApiKey:
    require_role(acting_user, OfficeRole.DATA_SOURCE_MANAGER)
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if updated:
            audit_record(actor=acting_user, action="api_key.revoke", obj=key)
    key.refresh_from_db()
    return key


def api_key_authenticate(raw_key: str) -> ApiKey:
    """The active key for `raw_key` ("cp_<prefix>_<secret>").

    Refuses `invalid_key`, `key_revoked`, `source_inactive`.
    """
    try:
        scheme, prefix, secret = (raw_key or "").split("_", 2)
    except ValueError:
        scheme = prefix = secret = ""
    key = ApiKey.objects.select_related("source").filter(prefix=prefix).first() if scheme == "cp" else None
    if key is None or not hmac.compare_digest(key.secret_hash, _secret_hash(secret)):
        raise ApplicationError(_("This API key is not valid."), code="invalid_key")
    if key.revoked_at is not None:
        raise ApplicationError(
            _("This API key has been revoked; ask the credit office for a new one."), code="key_revoked"
        )
    if not key.source.is_active:
        raise ApplicationError(_("This data source is not active."), code="source_inactive")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > datetime.timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # at most once a minute: not a hot-path write
    return key


# --- Receiving ---------------------------------------------------------------------------------------------------

RECORD_FIELDS = ("external_id", "card_number", "behaviour_code", "occurred_at", "quantity", "amount")


@dataclass
class ParsedRecord:
    line: int
    external_id: str = ""
    card_hash: str = ""
    behaviour_code: str = ""
    occurred_at: datetime.datetime | None = None
    quantity: Decimal | None = None
    amount: Decimal | None = None
    error: str = ""


def _number(value, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise ValueError(f"{name} must be a number") from error
    if not number.is_finite() or number <= 0 or number >= Decimal("1e10"):
        raise ValueError(f"{name} must be a positive number")
    return number.quantize(Decimal("0.01"))


def record_parse(line: int, raw) -> ParsedRecord:
    """Validate one record's shape and types; anything wrong goes into `error` (result `malformed`)."""
    record = ParsedRecord(line=line)
    if not isinstance(raw, dict):
        record.error = "a record must be an object"
        return record
    try:
        for name in ("external_id", "card_number", "behaviour_code", "occurred_at"):
            value = raw.get(name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} is required and must be text")
        record.external_id = raw["external_id"].strip()
        if len(record.external_id) > 100:
            raise ValueError("external_id is longer than 100 characters")
        number = normalise_card_number(raw["card_number"])
        if not _normalised_valid(number):
            raise ValueError("card_number must have 6 to 32 letters and digits")
        record.card_hash = _hash_normalised(number)
        record.behaviour_code = raw["behaviour_code"].strip()[:60]
        occurred_at = parse_datetime(raw["occurred_at"].strip())
        if occurred_at is None:
            raise ValueError("occurred_at must be an ISO 8601 date and time")
        if timezone.is_naive(occurred_at):
            raise ValueError("occurred_at must include a time zone offset, e.g. +08:00")
        record.occurred_at = occurred_at
        record.quantity = _number(raw.get("quantity"), "quantity")
        record.amount = _number(raw.get("amount"), "amount")
    except ValueError as error:
        record.error = str(error)
    return record


def body_hash(records: list) -> str:
    payload = json.dumps(records, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Received:
    batch: IngestBatch
    created: bool


def batch_receive(
    *,
    source: DataSource,
    idempotency_key: str,
    records: list,
    channel: str = IngestBatch.Channel.API,
    uploaded_by: User | None = None,
    preview: bool = False,
) -> Received:
    """Store a batch for processing and queue it; idempotent per (source, idempotency key).

    The same key with the same records returns the first batch (re-queued if it is not done yet: a client
    re-sending after a crash makes it converge). Refuses: `idempotency_key_required`, `empty_batch`,
    `too_many_records`, `idempotency_key_reused` (same key, other records), `request_in_progress` (the same key
    is being received right now). With `preview`, the batch waits for `batch_confirm` instead of being queued.
    """
    idempotency_key = (idempotency_key or "").strip()
    if not idempotency_key or len(idempotency_key) > 100:
        raise ApplicationError(_("Send an Idempotency-Key of 1 to 100 characters."), code="idempotency_key_required")
    if not isinstance(records, list) or not records:
        raise ApplicationError(_("The batch has no records."), code="empty_batch")
    limit = settings.CITYPOINTS_INGEST_MAX_RECORDS
    if len(records) > limit:
        raise ApplicationError(
            _("A batch holds at most %(limit)s records; this one has %(count)s. Split it.")
            % {"limit": f"{limit:,}", "count": f"{len(records):,}"},
            code="too_many_records",
            extra={"limit": limit, "count": len(records)},
        )
    digest = body_hash(records)
    lock = f"ingest-receiving:{source.pk}:{hashlib.sha256(idempotency_key.encode()).hexdigest()}"
    if not cache.add(lock, 1, timeout=120):
        raise ApplicationError(
            _("A request with this Idempotency-Key is still being received. Retry in a few seconds."),
            code="request_in_progress",
        )
    try:
        existing = IngestBatch.objects.filter(source=source, idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.body_hash != digest:
                raise ApplicationError(
                    _("This Idempotency-Key was already used for different records."), code="idempotency_key_reused"
                )
            if existing.status not in {IngestBatch.Status.DONE, IngestBatch.Status.PREVIEW}:
                _queue(existing)
            return Received(existing, created=False)
        parsed = [record_parse(line, raw) for line, raw in enumerate(records, start=1)]
        with transaction.atomic():
            batch = IngestBatch.objects.create(
                source=source,
                idempotency_key=idempotency_key,
                body_hash=digest,
                channel=channel,
                record_count=len(parsed),
                uploaded_by=uploaded_by,
                status=IngestBatch.Status.PREVIEW if preview else IngestBatch.Status.RECEIVED,
            )
            _insert_staging(batch, parsed)
            if not preview:
                transaction.on_commit(lambda: _queue(batch))
        return Received(batch, created=True)
    finally:
        cache.delete(lock)


def batch_confirm(*, acting_user: User, batch: IngestBatch) -> IngestBatch:
    """Queue an uploaded batch the officer has previewed. Idempotent."""
    require_role(acting_user, OfficeRole.DATA_SOURCE_MANAGER)
    with transaction.atomic():
        updated = IngestBatch.objects.filter(pk=batch.pk, status=IngestBatch.Status.PREVIEW).update(
            status=IngestBatch.Status.RECEIVED
        )
        if updated:
            audit_record(
                actor=acting_user, action="ingest.confirm_upload", obj=batch, after={"records": batch.record_count}
            )
            transaction.on_commit(lambda: _queue(batch))
    batch.refresh_from_db()
    return batch


def batch_dry_run(*, batch: IngestBatch) -> dict[str, int]:
    """What processing would do now, counted by outcome, without keeping anything (the transaction rolls back)."""

    class DryRun(Exception):
        pass

    counts: dict[str, int] = {}
    try:
        with transaction.atomic():
            IngestBatch.objects.filter(pk=batch.pk).update(status=IngestBatch.Status.RECEIVED)
            counts = dict(batch_process(batch_id=batch.pk).counts)
            raise DryRun
    except DryRun:
        pass
    return counts


STAGING_COLUMNS = (
    "batch_id",
    "line",
    "external_id",
    "card_hash",
    "behaviour_code",
    "occurred_at",
    "quantity",
    "amount",
    "result",
    "detail",
)


def _insert_staging(batch: IngestBatch, parsed: list[ParsedRecord]) -> None:
    """COPY on PostgreSQL (the ORM's bulk INSERT was most of the time a 10,000-record POST took); bulk_create
    elsewhere."""
    rows = [
        (
            batch.pk,
            p.line,
            p.external_id,
            p.card_hash,
            p.behaviour_code,
            p.occurred_at,
            p.quantity,
            p.amount,
            Result.MALFORMED if p.error else Result.PENDING,
            p.error[:200],
        )
        for p in parsed
    ]
    if connection.vendor != "postgresql":
        records = [IngestRecord(**dict(zip(STAGING_COLUMNS, row, strict=True))) for row in rows]
        IngestRecord.objects.bulk_create(records, batch_size=2000)
        return
    with connection.cursor() as cursor:
        copy_binary(cursor, IngestRecord, STAGING_COLUMNS, rows)


def _queue(batch: IngestBatch) -> None:
    from citizenpoints.tasks import process_ingest_batch  # tasks import this module

    process_ingest_batch.delay(batch_id=str(batch.pk))


# --- Processing --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Record:
    """One staging row on its way through processing: what it says, what the checks found, and its final result."""

    id: int
    line: int
    external_id: str
    occurred_at: datetime.datetime | None
    quantity: Decimal | None
    amount: Decimal | None
    first_entry: int | None  # the ledger entry already holding this (source, external id)
    behaviour_id: int | None
    resident_id: int | None
    result: str
    points: Decimal | None = None
    detail: str = ""


def batch_process(*, batch_id, now: datetime.datetime | None = None) -> IngestBatch:
    """Process a received batch; a no-op for a batch already done.

    In at most two transactions, so that two workers whose batches share residents award side by side instead of
    taking turns: the first awards the records of the residents no other writer holds right now (their balances
    locked with SKIP LOCKED, never waiting); the second, if any record is left, waits for the others' balances and
    awards the rest. Each part commits its ledger rows, balances and the final results of its records together, so
    a crash between them loses nothing: a re-run finds the first part's records final and processes the rest. A
    resident's records are all in one part, in batch order, and so are all the records sharing an external id, so
    the outcome is the one sequential awards in batch order would give.

    Locks, in order: the batch row, a per-source advisory lock (PostgreSQL: batches of one source run one at a time,
    so their external ids cannot race), the scoring window (shared), then the touched residents' balances sorted
    by id. Award_grant locks only one balance, so no lock cycle can form.

    Each staging row is read once per part (classified by one SELECT) and written once (its final result).
    """
    now = now or timezone.now()
    for wait_for_locks in (False, True):
        done, residents, categories = _process_part(batch_id, now, wait_for_locks=wait_for_locks)
        if residents:
            # Badges after the part's commit, holding no balance lock: they read every entry of each resident in
            # their categories, the longest step of a batch, and only add rows. Should the worker die first, the
            # nightly pass evaluates every resident with entries recorded since the previous one.
            with transaction.atomic():
                _without_jit()
                badges_evaluate_all(now=now, resident_ids=residents, category_ids=categories)
        if done:
            break
    return IngestBatch.objects.get(pk=batch_id)


def _without_jit() -> None:
    """PostgreSQL's JIT compiles a plan whose estimated cost is high: for a batch's per-resident subqueries that
    took 250 ms of a 790 ms statement, to run for 0.05 ms a resident. Off for this transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def _process_part(batch_id, now: datetime.datetime, *, wait_for_locks: bool) -> tuple[bool, list[int], set[int]]:
    """One transaction of batch_process. Returns whether the batch is done, and whom it awarded in what
    categories."""
    with transaction.atomic():
        _without_jit()
        # `of=self`: with select_related, FOR UPDATE would also lock the source's row until the batch is done, and
        # every new batch of that source (whose foreign key check at COMMIT takes a share lock on it) waited for it.
        batch = IngestBatch.objects.select_for_update(of=("self",)).select_related("source").get(pk=batch_id)
        if batch.status in {IngestBatch.Status.DONE, IngestBatch.Status.PREVIEW}:
            return True, [], set()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7301, batch.source_id])
        # The later of the two: the window may have moved while this batch waited for the ageing pass's lock.
        earliest = max(window_start_for(now), window_start_locked())
        records = _classify(batch, now, earliest)
        part, heads = _part_to_process(records, wait_for_locks)
        residents, categories = _award(batch, part, heads, now)
        _store_results(part)
        if residents:
            tiers_refresh(cause=TierChange.Cause.POINTS, **_residents_subquery(batch, residents))
        done = len(part) == len(records)  # every open record settled
        if done:
            counts = dict(
                IngestRecord.objects.filter(batch=batch).values_list("result").annotate(n=Count("id")).order_by()
            )
            IngestBatch.objects.filter(pk=batch.pk).update(
                status=IngestBatch.Status.DONE, counts=counts, processed_at=timezone.now(), error=""
            )
    return done, residents, categories


def _part_to_process(records: list[_Record], wait_for_locks: bool) -> tuple[list[_Record], dict]:
    """The open records this part settles, and the chain heads of their residents, locked.

    Waiting: every open record. Not waiting: the refused ones, and the passing ones of residents whose balances
    could be locked at once; but never a resident with a record whose external id is repeated in the batch, nor
    such a record (the first of them to be awarded decides what the others are, so they go together, in order).
    """
    if wait_for_locks:
        residents = {record.resident_id for record in records if record.result == Result.PENDING}
        return records, _heads_locked(residents, skip_locked=False)
    repeated = {i for i, n in Counter(record.external_id for record in records).items() if n > 1}
    tangled = {record.resident_id for record in records if record.external_id in repeated}
    wanted = {
        record.resident_id
        for record in records
        if record.result == Result.PENDING and record.resident_id not in tangled
    }
    heads = _heads_locked(wanted, skip_locked=True)
    part = [
        record
        for record in records
        if record.external_id not in repeated and (record.result != Result.PENDING or record.resident_id in heads)
    ]
    return part, heads


def _heads_locked(residents: set[int], *, skip_locked: bool) -> dict[int, tuple[int, str]]:
    """{resident id: (last seq, last hash)} of their balances, locked FOR UPDATE in id order; with `skip_locked`,
    only those no other transaction holds."""
    if not residents:
        return {}
    balances = Balance.objects.select_for_update(
        skip_locked=skip_locked and connection.features.has_select_for_update_skip_locked
    )
    return {
        resident_id: (last_seq, last_hash)
        for resident_id, last_seq, last_hash in balances.filter(resident_id__any=sorted(residents))
        .order_by("resident_id")
        .values_list("resident_id", "last_seq", "last_hash")
    }


def _db_key(batch: IngestBatch):
    """The batch id as raw SQL needs it (a uuid on PostgreSQL, hex text on SQLite)."""
    return IngestBatch._meta.pk.get_db_prep_value(batch.pk, connection)


def _residents_subquery(batch: IngestBatch, residents: list[int]) -> dict:
    """The residents awarded, as tiers_refresh's subquery: a literal array on PostgreSQL, not a subquery on the
    staging rows, which are too fresh to have statistics (PostgreSQL, expecting a handful, re-scanned such a
    subquery for every ledger row); the staging rows elsewhere."""
    if connection.vendor == "postgresql":
        return {"only_residents_sql": "SELECT unnest(%(residents)s::bigint[])", "only_params": {"residents": residents}}
    return {
        "only_residents_sql": f"SELECT resident_id FROM {IngestRecord._meta.db_table} "
        f"WHERE batch_id = %(batch)s AND result = 'accepted'",
        "only_params": {"batch": _db_key(batch)},
    }


def _classify(batch: IngestBatch, now: datetime.datetime, earliest: datetime.datetime) -> list[_Record]:
    """The batch's open records in line order, with the first check each fails in award_grant's order (`pending`
    when it passes them all): one SELECT joining the staging rows to the ledger, catalogue, card links and balances.
    """
    staging = IngestRecord._meta.db_table
    per_unit = [b.pk for b in _published_by_kind(PerUnitRule)] or [0]
    by_amount = [b.pk for b in _published_by_kind(AmountBandRule)] or [0]
    refusals = [
        ("d.id IS NOT NULL", Result.DUPLICATE),  # the first result stands
        ("NOT %(active)s", Result.SOURCE_INACTIVE),
        ("b.id IS NULL", Result.UNKNOWN_BEHAVIOUR),
        (
            f"NOT EXISTS (SELECT 1 FROM {Behaviour.sources.through._meta.db_table} a "
            f"WHERE a.behaviour_id = b.id AND a.datasource_id = %(source)s)",
            Result.NOT_AUTHORISED,
        ),
        ("s.occurred_at > %(latest)s", Result.IN_FUTURE),
        ("s.occurred_at < %(earliest)s", Result.OUTSIDE_WINDOW),
        (f"s.quantity IS NULL AND b.id IN ({','.join(map(str, per_unit))})", Result.QUANTITY_REQUIRED),
        (f"s.amount IS NULL AND b.id IN ({','.join(map(str, by_amount))})", Result.AMOUNT_REQUIRED),
        ("c.resident_id IS NULL", Result.UNKNOWN_CARD),
        # Not joined, or left the programme (their card links are gone too).
        ("bal.resident_id IS NULL OR r.left_at IS NOT NULL", Result.NOT_JOINED),
    ]
    cases = " ".join(f"WHEN {condition} THEN '{result}'" for condition, result in refusals)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT s.id, s.line, s.external_id, s.occurred_at, s.quantity, s.amount,
                    d.id, b.id, c.resident_id,
                    CASE {cases} ELSE 'pending' END
                FROM {staging} s
                LEFT JOIN {LedgerEntry._meta.db_table} d ON d.source_id = %(source)s AND d.external_id = s.external_id
                LEFT JOIN (
                    {Behaviour._meta.db_table} b JOIN {CatalogueVersion._meta.db_table} v
                        ON v.id = b.version_id AND v.status = 'published'
                ) ON b.code = s.behaviour_code
                LEFT JOIN {CardLink._meta.db_table} c ON c.card_hash = s.card_hash
                LEFT JOIN {Balance._meta.db_table} bal ON bal.resident_id = c.resident_id
                LEFT JOIN {Resident._meta.db_table} r ON r.id = c.resident_id
                WHERE s.batch_id = %(batch)s AND s.result = 'pending'
                ORDER BY s.line""",
            {
                "batch": _db_key(batch),
                "source": batch.source_id,
                "active": batch.source.is_active,
                "latest": now + CLOCK_SKEW,
                "earliest": earliest,
            },
        )
        records = [_Record(*row) for row in cursor.fetchall()]
    if connection.vendor != "postgresql":  # SQLite gives raw SQL naive UTC datetimes and float numerics
        for record in records:
            occurred_at = parse_datetime(str(record.occurred_at)) if record.occurred_at is not None else None
            if occurred_at is not None and timezone.is_naive(occurred_at):
                occurred_at = timezone.make_aware(occurred_at, datetime.UTC)
            record.occurred_at = occurred_at
            record.quantity, record.amount = (
                None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))
                for value in (record.quantity, record.amount)
            )
    return records


def _published_by_kind(kind) -> list[Behaviour]:
    behaviours = Behaviour.objects.filter(version__status=CatalogueVersion.Status.PUBLISHED)
    return [b for b in behaviours if isinstance(b.points_rule, kind)]


def _award(
    batch: IngestBatch, records: list[_Record], heads: dict, now: datetime.datetime
) -> tuple[list[int], set[int]]:
    """Points, caps and chain for the records that passed every check, in batch order (as sequential awards would),
    then the ledger rows and balances in bulk. Sets each record's final result. Returns the residents awarded (by
    id, sorted) and the categories they were awarded in.

    The hot loop works on plain values (no model instances): each rule is parsed once per behaviour, each local
    day's period bounds computed once.
    """
    survivors = [record for record in records if record.result == Result.PENDING]
    if not survivors:  # every record refused: nothing to award, and no repeat of an award to mark
        return [], set()
    behaviours = {
        b.pk: b for b in Behaviour.objects.filter(pk__in={r.behaviour_id for r in survivors}).select_related("version")
    }
    rules = {pk: behaviour.points_rule for pk, behaviour in behaviours.items()}
    points_for = memoize(_points_for)  # per-unit rules do exact fraction arithmetic; totals repeat a lot
    zone, bounds_by_day, bounds = local_zone(), {}, {}
    for record in survivors:
        day = record.occurred_at.astimezone(zone).date()
        if day not in bounds_by_day:
            bounds_by_day[day] = period_bounds(record.occurred_at)
        bounds[record.id] = bounds_by_day[day]
    usage = _period_usage(survivors, bounds, behaviours)
    entry_ids = iter(_ledger_ids(len(survivors)))

    entries, deltas, accepted = [], defaultdict(Decimal), {}  # accepted: external id -> its entry
    for record in records:
        if record.external_id in accepted and record.result != Result.DUPLICATE:
            # An earlier record of this batch with the same id was awarded: sequential awards would have answered
            # "duplicate" before any other check.
            record.result = Result.DUPLICATE
            continue
        if record.result != Result.PENDING:
            continue
        behaviour = behaviours[record.behaviour_id]
        period = bounds[record.id]
        key = (record.resident_id, behaviour.code)
        day, month, year = (key, "day", period.day[0]), (key, "month", period.month[0]), (key, "year", period.year[0])
        units = (key, "units", period.year[0])
        points = points_for(rules[behaviour.pk], record.quantity, record.amount, usage[units])
        if points <= 0:
            record.result = Result.BELOW_MINIMUM
            continue
        room = [
            cap - usage[used]
            for cap, used in (
                (behaviour.cap_per_day, day),
                (behaviour.cap_per_month, month),
                (behaviour.cap_per_year, year),
            )
            if cap is not None
        ]
        capped = False
        if room:
            allowed = min(room)
            if allowed <= 0:
                record.result = Result.CAP_REACHED
                continue
            if points > allowed:
                points, capped = allowed, True
        for used in (day, month, year):
            usage[used] += points
        if record.quantity is not None:
            usage[units] += record.quantity
        last_seq, last_hash = heads[record.resident_id]
        entry = {
            "id": next(entry_ids),
            "resident_id": record.resident_id,
            "seq": last_seq + 1,
            "kind": LedgerEntry.Kind.AWARD,
            "behaviour_id": behaviour.pk,
            "behaviour_code": behaviour.code,
            "category_id": behaviour.category_id,
            "catalogue_version_id": behaviour.version_id,
            "source_id": batch.source_id,
            "external_id": record.external_id,
            "occurred_at": record.occurred_at,
            "recorded_at": now,
            "quantity": record.quantity,
            "amount": record.amount,
            "points": points,
            "capped": capped,
            "reverses_id": None,
            "reason": "",
            "decided_by_id": None,
            "prev_hash": last_hash,
        }
        entry["hash"] = entry_hash(entry)
        heads[record.resident_id] = (entry["seq"], entry["hash"])
        deltas[record.resident_id] += points
        entries.append(entry)
        accepted[record.external_id] = entry
        record.result, record.points, record.detail = Result.ACCEPTED, points, "capped" if capped else ""

    _insert_entries(entries)
    for record in records:  # each accepted record and each repeat of it in this batch points at its entry
        if record.first_entry is None and record.external_id in accepted:
            record.first_entry = accepted[record.external_id]["id"]
    _move_balances([(r, delta, *heads[r]) for r, delta in deltas.items()], now)
    return sorted(deltas), {entry["category_id"] for entry in entries}


def _ledger_ids(count: int) -> Iterable[int | None]:
    """Ids for the entries about to be written, taken from the ledger's sequence in one statement, so each record
    can point at its entry without reading it back (PostgreSQL); None elsewhere (bulk_create sets them)."""
    if connection.vendor != "postgresql" or not count:
        return itertools.repeat(None)
    with connection.cursor() as cursor:
        # The name as a literal, which PostgreSQL casts once: pg_get_serial_sequence in the select list was a
        # catalogue lookup for every row (37 ms per 10,000 ids; 6.7 ms with the name given).
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [_ledger_sequence(), count])
        return [row[0] for row in cursor.fetchall()]


def _ledger_sequence() -> str:
    """The name of the sequence behind the ledger's ids, looked up once per database connection object."""
    name = getattr(connection, "_citypoints_ledger_sequence", None)
    if name is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [LedgerEntry._meta.db_table])
            name = cursor.fetchone()[0]
        if name is None:
            raise RuntimeError(f"{LedgerEntry._meta.db_table}.id has no sequence")
        connection._citypoints_ledger_sequence = name
    return name


def _move_balances(balance_rows: list[tuple], now: datetime.datetime) -> None:
    """(resident id, points to add, new last seq, new last hash) for each resident awarded."""
    if not balance_rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one statement, not one per resident
            execute_binary(
                cursor,
                f"""UPDATE {Balance._meta.db_table} AS b SET points = b.points + v.delta,
                        lifetime_points = b.lifetime_points + v.delta, last_seq = v.seq, last_hash = v.hash,
                        updated_at = %s
                    FROM unnest(%s::bigint[], %s::numeric[], %s::bigint[], %s::text[])
                        AS v(resident_id, delta, seq, hash)
                    WHERE b.resident_id = v.resident_id""",
                [now, *map(list, zip(*balance_rows, strict=True))],
            )
            return
        cursor.executemany(
            # ROUND: SQLite keeps decimals as binary floats (see ledger_append).
            f"UPDATE {Balance._meta.db_table} SET points = ROUND(points + %s, 2), "
            f"lifetime_points = ROUND(lifetime_points + %s, 2), "
            f"last_seq = %s, last_hash = %s, updated_at = %s WHERE resident_id = %s",
            [(delta, delta, seq, digest, now, r) for r, delta, seq, digest in balance_rows],
        )


def _store_results(records: list[_Record]) -> None:
    """Each record's final result, in one statement on PostgreSQL (a single rewrite of each staging row)."""
    if not records:
        return
    staging = IngestRecord._meta.db_table
    columns = ("result", "points", "detail", "ledger_entry_id", "resident_id", "behaviour_id")
    rows = [(r.result, r.points, r.detail[:200], r.first_entry, r.resident_id, r.behaviour_id, r.id) for r in records]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            execute_binary(
                cursor,
                f"""UPDATE {staging} AS s SET {", ".join(f"{c} = v.{c}" for c in columns)}
                    FROM unnest(%s::text[], %s::numeric[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[],
                        %s::bigint[]) AS v({", ".join(columns)}, id)
                    WHERE s.id = v.id""",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        cursor.executemany(f"UPDATE {staging} SET {', '.join(f'{c} = %s' for c in columns)} WHERE id = %s", rows)


def _points_for(rule, quantity: Decimal | None, amount: Decimal | None, prior_quantity: Decimal) -> Decimal:
    return rule.points_for(quantity=quantity, amount=amount, prior_quantity=prior_quantity)


def _period_usage(records: list[_Record], bounds: dict, behaviours: dict[int, Behaviour]) -> defaultdict:
    """Points already in the ledger per (resident, code) for each day/month/year the batch touches, and units per year.

    On PostgreSQL one statement: each (kind, resident, code, period) the batch needs, summed by a range scan of the
    ledger index (resident, behaviour_code, occurred_at), so its cost follows the batch, not the ledger. (A filter
    on the batch's residents, codes and date range let the planner pick a parallel scan of the whole ledger once
    it held a few hundred thousand entries: seconds per batch.) Elsewhere one query per period kind.
    """
    usage: defaultdict = defaultdict(Decimal)
    needed = defaultdict(set)  # period kind -> {(resident, code, start, end)}
    # Which periods each behaviour needs, decided once per behaviour (`points_rule` parses the rule on every read).
    kinds_of = {
        pk: (
            behaviour.code,
            tuple(
                kind
                for kind, needs in (
                    ("day", behaviour.cap_per_day is not None),
                    ("month", behaviour.cap_per_month is not None),
                    ("year", behaviour.cap_per_year is not None),
                    ("units", isinstance(behaviour.points_rule, PerUnitRule)),
                )
                if needs
            ),
        )
        for pk, behaviour in behaviours.items()
    }
    for record in records:
        code, kinds = kinds_of[record.behaviour_id]
        period = bounds[record.id]
        for kind in kinds:
            needed[kind].add((record.resident_id, code, *getattr(period, "year" if kind == "units" else kind)))
    if connection.vendor == "postgresql":
        return _period_usage_postgresql(needed)
    for kind, periods in needed.items():
        by_key = defaultdict(list)
        for resident_id, code, start, end in periods:
            by_key[(resident_id, code)].append((start, end))
        residents = {r for r, _code in by_key}
        codes = {c for _r, c in by_key}
        earliest = min(start for spans in by_key.values() for start, _ in spans)
        latest = max(end for spans in by_key.values() for _, end in spans)
        entries = LedgerEntry.objects.filter(
            resident_id__any=residents,
            behaviour_code__in=codes,
            occurred_at__gte=earliest,
            occurred_at__lt=latest,
        )
        if kind == "units":
            entries = entries.filter(kind=LedgerEntry.Kind.AWARD, reversed_by__isnull=True)
        field = "quantity" if kind == "units" else "points"
        for resident_id, code, occurred_at, value in entries.values_list(
            "resident_id", "behaviour_code", "occurred_at", field
        ).iterator(chunk_size=10_000):
            for start, end in by_key.get((resident_id, code), ()):
                if start <= occurred_at < end:
                    usage[((resident_id, code), kind, start)] += value or Decimal(0)
    return usage


def _period_usage_postgresql(needed: dict[str, set]) -> defaultdict:
    """_period_usage's sums in one statement: a LATERAL index range scan per period (points; for `units`, the
    quantity of awards not reversed), summed by the database in exact numerics."""
    usage: defaultdict = defaultdict(Decimal)
    rows = [(kind, *period) for kind, periods in needed.items() for period in periods]
    if not rows:
        return usage
    ledger = LedgerEntry._meta.db_table
    with connection.cursor() as cursor:
        rows = execute_binary(
            cursor,
            f"""SELECT p.kind, p.resident_id, p.code, p.starts, used.total
                FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::timestamptz[], %s::timestamptz[])
                    AS p(kind, resident_id, code, starts, ends)
                CROSS JOIN LATERAL (
                    SELECT SUM(CASE WHEN p.kind = 'units' THEN l.quantity ELSE l.points END) AS total
                    FROM {ledger} l
                    WHERE l.resident_id = p.resident_id AND l.behaviour_code = p.code
                        AND l.occurred_at >= p.starts AND l.occurred_at < p.ends
                        AND (p.kind <> 'units' OR (l.kind = 'award'
                            AND NOT EXISTS (SELECT 1 FROM {ledger} r WHERE r.reverses_id = l.id)))
                ) AS used
                WHERE used.total IS NOT NULL""",
            [list(column) for column in zip(*rows, strict=True)],
        )
    for kind, resident_id, code, start, total in rows:
        usage[((resident_id, code), kind, start)] += total
    return usage


COPY_COLUMNS = ("id", "resident_id", *(c for c in CHAINED_FIELDS if c != "resident_id"), "hash")


def _insert_entries(entries: list[dict]) -> None:
    """COPY on PostgreSQL (the fastest way in); multi-row INSERTs elsewhere, which set each entry's id.
    `entries`: field values by attname."""
    if not entries:
        return
    if connection.vendor != "postgresql":
        rows = [LedgerEntry(**{k: v for k, v in entry.items() if k != "id"}) for entry in entries]
        LedgerEntry.objects.bulk_create(rows, batch_size=500)
        for entry, row in zip(entries, rows, strict=True):
            entry["id"] = row.pk
        return
    with connection.cursor() as cursor:
        copy_binary(cursor, LedgerEntry, COPY_COLUMNS, ([entry[name] for name in COPY_COLUMNS] for entry in entries))


# --- Data sources ------------------------------------------------------------------------------------------------

DATA_SOURCE_FIELDS = ("name_en", "name_zh", "contact", "is_active")


def data_source_save(*, acting_user: User, source: DataSource | None = None, code: str = "", **fields) -> DataSource:
    """Create a department source (with its `code`) or update one; audited. Pausing refuses its keys at once."""
    require_role(acting_user, OfficeRole.DATA_SOURCE_MANAGER)
    unknown = set(fields) - set(DATA_SOURCE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        if source is None:
            if DataSource.objects.filter(code=code).exists():
                raise ApplicationError(
                    _("A source with the code “%(code)s” exists.") % {"code": code}, code="code_taken"
                )
            source = DataSource(code=code, kind=DataSource.Kind.DEPARTMENT)
            before = None
        else:
            source = DataSource.objects.select_for_update().get(pk=source.pk)
            before = {name: getattr(source, name) for name in DATA_SOURCE_FIELDS}
        for name, value in fields.items():
            setattr(source, name, value)
        source.save()
        audit_record(
            actor=acting_user,
            action="data_source.create" if before is None else "data_source.update",
            obj=source,
            before=before,
            after={name: getattr(source, name) for name in DATA_SOURCE_FIELDS},
        )
    return source
