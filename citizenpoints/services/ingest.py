"""Department records in bulk: keys, pseudonymous card links, receiving batches and processing them set-wise.

Receiving is quick (validate, HMAC the card numbers, insert staging rows, answer 202). Processing runs in a Celery
task, one transaction per batch: set-based UPDATEs classify the records in the award service's order of checks,
then one Python pass applies the same points rules (citizenpoints.rules) and caps to the survivors, and the ledger
rows, balances, tiers and badges are written in bulk. A crash rolls the batch back, so re-running converges; the
ledger's unique (source, external id) is the last guard against double counting.
"""

import datetime
import hashlib
import hmac
import json
import secrets
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache as memoize

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncYear
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

Result = IngestRecord.Result


# --- Citizen cards: only a keyed hash is ever stored ---------------------------------------------------------


def normalise_card_number(card_number: str) -> str:
    return "".join(str(card_number or "").split()).upper()


def card_hash(card_number: str) -> str:
    """HMAC-SHA256 of the normalised card number, keyed by a secret that lives outside the database."""
    key = settings.CITYPOINTS_CARD_KEY.encode()
    return hmac.new(key, normalise_card_number(card_number).encode(), hashlib.sha256).hexdigest()


def card_number_valid(card_number: str) -> bool:
    number = normalise_card_number(card_number)
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
        if not card_number_valid(raw["card_number"]):
            raise ValueError("card_number must have 6 to 32 letters and digits")
        record.card_hash = card_hash(raw["card_number"])
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
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {IngestRecord._meta.db_table} ({', '.join(STAGING_COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _queue(batch: IngestBatch) -> None:
    from citizenpoints.tasks import process_ingest_batch  # tasks import this module

    process_ingest_batch.delay(batch_id=str(batch.pk))


# --- Processing --------------------------------------------------------------------------------------------------


def batch_process(*, batch_id, now: datetime.datetime | None = None) -> IngestBatch:
    """Process a received batch in one transaction; a no-op for a batch already done.

    Locks, in order: the batch row, a per-source advisory lock (PostgreSQL: batches of one source run one at a time,
    so their external ids cannot race), the scoring window (shared), then the touched residents' balances sorted
    by id. Award_grant locks only one balance, so no lock cycle can form.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # `of=self`: with select_related, FOR UPDATE would also lock the source's row until the batch is done, and
        # every new batch of that source (whose foreign key check at COMMIT takes a share lock on it) waited for it.
        batch = IngestBatch.objects.select_for_update(of=("self",)).select_related("source").get(pk=batch_id)
        if batch.status in {IngestBatch.Status.DONE, IngestBatch.Status.PREVIEW}:
            return batch
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7301, batch.source_id])
        # The later of the two: the window may have moved while this batch waited for the ageing pass's lock.
        earliest = max(window_start_for(now), window_start_locked())
        _classify(batch, now, earliest)
        awarded = _award_survivors(batch, now)
        _link_entries(batch)
        if awarded and connection.vendor == "postgresql":
            # The residents as a literal list, not a subquery on the staging rows: those rows are too fresh to have
            # statistics, and PostgreSQL, expecting a handful, re-scanned the subquery for every ledger row of the
            # badge query (minutes per batch once the ledger held a few hundred thousand entries).
            only = {
                "only_residents_sql": "SELECT unnest(%(residents)s::bigint[])",
                "only_params": {"residents": awarded},
            }
            tiers_refresh(cause=TierChange.Cause.POINTS, **only)
            badges_evaluate_all(now=now, resident_ids=awarded)
        elif awarded:
            touched = (
                f"SELECT resident_id FROM {IngestRecord._meta.db_table} "
                f"WHERE batch_id = %(batch)s AND result = 'accepted'"
            )
            tiers_refresh(
                cause=TierChange.Cause.POINTS, only_residents_sql=touched, only_params={"batch": _db_key(batch)}
            )
            badges_evaluate_all(
                now=now,
                resident_ids=IngestRecord.objects.filter(batch=batch, result=Result.ACCEPTED).values("resident_id"),
            )
        counts = dict(IngestRecord.objects.filter(batch=batch).values_list("result").annotate(n=Count("id")).order_by())
        IngestBatch.objects.filter(pk=batch.pk).update(
            status=IngestBatch.Status.DONE, counts=counts, processed_at=timezone.now(), error=""
        )
    batch.refresh_from_db()
    return batch


def _db_key(batch: IngestBatch):
    """The batch id as raw SQL needs it (a uuid on PostgreSQL, hex text on SQLite)."""
    return IngestBatch._meta.pk.get_db_prep_value(batch.pk, connection)


def _classify(batch: IngestBatch, now: datetime.datetime, earliest: datetime.datetime) -> None:
    """Set-based checks, in award_grant's order; each marks the still-pending records it refuses."""
    staging = IngestRecord._meta.db_table
    ledger = LedgerEntry._meta.db_table
    behaviour = Behaviour._meta.db_table
    version = CatalogueVersion._meta.db_table
    allowed = Behaviour.sources.through._meta.db_table
    params = {"batch": _db_key(batch), "source": batch.source_id}
    pending = f"UPDATE {staging} SET result = %(result)s WHERE batch_id = %(batch)s AND result = 'pending'"

    def mark(result: str, condition: str, extra: dict | None = None) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"{pending} AND {condition}", {**params, "result": result, **(extra or {})})

    # Already awarded from this source: the first result stands, and the record points at it (linked here, in the
    # same pass, rather than by rewriting every row again in _link_entries: a re-sent batch is all duplicates).
    first_entry = (
        f"SELECT l.id FROM {ledger} l WHERE l.source_id = %(source)s AND l.external_id = {staging}.external_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {staging} SET result = 'duplicate', ledger_entry_id = ({first_entry}) "
            f"WHERE batch_id = %(batch)s AND result = 'pending' AND EXISTS ({first_entry})",
            params,
        )
    if not batch.source.is_active:
        mark(Result.SOURCE_INACTIVE, "1 = 1")
        return
    # Both lookups in one pass: each full UPDATE rewrites every staging row and its index entries. (The card is
    # looked up before its check's turn; only `result` says which check refused a record.)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {staging} SET behaviour_id = (
                    SELECT b.id FROM {behaviour} b JOIN {version} v ON v.id = b.version_id
                    WHERE v.status = 'published' AND b.code = {staging}.behaviour_code),
                resident_id = (
                    SELECT c.resident_id FROM {CardLink._meta.db_table} c WHERE c.card_hash = {staging}.card_hash)
                WHERE batch_id = %(batch)s AND result = 'pending'""",
            params,
        )
    mark(Result.UNKNOWN_BEHAVIOUR, "behaviour_id IS NULL")
    mark(
        Result.NOT_AUTHORISED,
        f"NOT EXISTS (SELECT 1 FROM {allowed} a WHERE a.behaviour_id = {staging}.behaviour_id "
        f"AND a.datasource_id = %(source)s)",
    )
    mark(Result.IN_FUTURE, "occurred_at > %(latest)s", {"latest": now + CLOCK_SKEW})
    mark(Result.OUTSIDE_WINDOW, "occurred_at < %(earliest)s", {"earliest": earliest})
    per_unit = [b.pk for b in _published_by_kind(PerUnitRule)]
    by_amount = [b.pk for b in _published_by_kind(AmountBandRule)]
    if per_unit:
        mark(Result.QUANTITY_REQUIRED, f"quantity IS NULL AND behaviour_id IN ({','.join(map(str, per_unit))})")
    if by_amount:
        mark(Result.AMOUNT_REQUIRED, f"amount IS NULL AND behaviour_id IN ({','.join(map(str, by_amount))})")
    mark(Result.UNKNOWN_CARD, "resident_id IS NULL")
    mark(
        Result.NOT_JOINED,
        f"(NOT EXISTS (SELECT 1 FROM {Balance._meta.db_table} b WHERE b.resident_id = {staging}.resident_id) "
        f"OR EXISTS (SELECT 1 FROM {Resident._meta.db_table} r WHERE r.id = {staging}.resident_id "
        f"AND r.left_at IS NOT NULL))",  # left the programme (their card links are gone too)
    )


def _published_by_kind(kind) -> list[Behaviour]:
    behaviours = Behaviour.objects.filter(version__status=CatalogueVersion.Status.PUBLISHED)
    return [b for b in behaviours if isinstance(b.points_rule, kind)]


def _award_survivors(batch: IngestBatch, now: datetime.datetime) -> list[int]:
    """Points, caps and chain for the records that passed every check, in batch order (as sequential awards would).
    Returns the residents awarded, by id.

    The hot loop works on plain values (no model instances): each rule is parsed once per behaviour, each local
    day's period bounds computed once, and the results go back in one statement per table on PostgreSQL.
    """
    rows = list(
        IngestRecord.objects.filter(batch=batch, result=Result.PENDING)
        .order_by("line")
        .values("id", "line", "resident_id", "behaviour_id", "external_id", "occurred_at", "quantity", "amount")
    )
    if not rows:
        return []
    behaviours = {
        b.pk: b for b in Behaviour.objects.filter(pk__in={r["behaviour_id"] for r in rows}).select_related("version")
    }
    rules = {pk: behaviour.points_rule for pk, behaviour in behaviours.items()}
    points_for = memoize(_points_for)  # per-unit rules do exact fraction arithmetic; totals repeat a lot
    zone, bounds_by_day = local_zone(), {}
    for row in rows:
        day = row["occurred_at"].astimezone(zone).date()
        if day not in bounds_by_day:
            bounds_by_day[day] = period_bounds(row["occurred_at"])
        row["bounds"] = bounds_by_day[day]
    resident_ids = sorted({r["resident_id"] for r in rows})
    heads = {
        resident_id: (last_seq, last_hash)
        for resident_id, last_seq, last_hash in Balance.objects.select_for_update()
        .filter(resident_id__in=resident_ids)
        .order_by("resident_id")
        .values_list("resident_id", "last_seq", "last_hash")
    }
    usage = _period_usage(rows, behaviours)

    entries, results, deltas, seen = [], [], defaultdict(Decimal), {}
    for row in rows:
        behaviour = behaviours[row["behaviour_id"]]
        if row["external_id"] in seen:  # an earlier record of this batch with the same id was awarded
            results.append((row["id"], Result.DUPLICATE, None, ""))
            continue
        bounds = row["bounds"]
        key = (row["resident_id"], behaviour.code)
        day, month, year = (key, "day", bounds.day[0]), (key, "month", bounds.month[0]), (key, "year", bounds.year[0])
        points = points_for(rules[behaviour.pk], row["quantity"], row["amount"], usage[(key, "units", bounds.year[0])])
        if points <= 0:
            results.append((row["id"], Result.BELOW_MINIMUM, None, ""))
            continue
        room = [
            cap - usage[period]
            for cap, period in (
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
                results.append((row["id"], Result.CAP_REACHED, None, ""))
                continue
            if points > allowed:
                points, capped = allowed, True
        for period in (day, month, year):
            usage[period] += points
        if row["quantity"] is not None:
            usage[(key, "units", bounds.year[0])] += row["quantity"]
        last_seq, last_hash = heads[row["resident_id"]]
        entry = {
            "resident_id": row["resident_id"],
            "seq": last_seq + 1,
            "kind": LedgerEntry.Kind.AWARD,
            "behaviour_id": behaviour.pk,
            "behaviour_code": behaviour.code,
            "category_id": behaviour.category_id,
            "catalogue_version_id": behaviour.version_id,
            "source_id": batch.source_id,
            "external_id": row["external_id"],
            "occurred_at": row["occurred_at"],
            "recorded_at": now,
            "quantity": row["quantity"],
            "amount": row["amount"],
            "points": points,
            "capped": capped,
            "reverses_id": None,
            "reason": "",
            "decided_by_id": None,
            "prev_hash": last_hash,
        }
        entry["hash"] = entry_hash(entry)
        heads[row["resident_id"]] = (entry["seq"], entry["hash"])
        deltas[row["resident_id"]] += points
        entries.append(entry)
        seen[row["external_id"]] = row["line"]
        results.append((row["id"], Result.ACCEPTED, points, "capped" if capped else ""))

    # A record refused by _classify whose id a later-checked, earlier-placed record of this batch was awarded
    # under: sequential awards would have answered "duplicate" before any other check.
    refused_before = (
        IngestRecord.objects.filter(batch=batch)
        .exclude(result__in=[Result.PENDING, Result.ACCEPTED, Result.DUPLICATE, Result.MALFORMED])
        .values_list("id", "line", "external_id")
    )
    results += [(pk, Result.DUPLICATE, None, "") for pk, line, ext in refused_before if seen.get(ext, line) < line]

    _insert_entries(entries)
    balance_rows = [(r, delta, *heads[r]) for r, delta in deltas.items()]
    staging = IngestRecord._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if balance_rows:  # one statement, not one per resident
                cursor.execute(
                    f"""UPDATE {Balance._meta.db_table} AS b SET points = b.points + v.delta,
                            lifetime_points = b.lifetime_points + v.delta, last_seq = v.seq, last_hash = v.hash,
                            updated_at = %s
                        FROM unnest(%s::bigint[], %s::numeric[], %s::bigint[], %s::text[])
                            AS v(resident_id, delta, seq, hash)
                        WHERE b.resident_id = v.resident_id""",
                    [now, *map(list, zip(*balance_rows, strict=True))],
                )
            # The few refusals by id; then every record still pending was awarded: one set-based UPDATE reads its
            # points from the entry just written and links the record to it.
            cursor.executemany(
                f"UPDATE {staging} SET result = %s, points = %s, detail = %s WHERE id = %s",
                [(result, points, detail, pk) for pk, result, points, detail in results if result != Result.ACCEPTED],
            )
            cursor.execute(
                f"""UPDATE {staging} SET result = 'accepted', (ledger_entry_id, points, detail) = (
                        SELECT l.id, l.points, CASE WHEN l.capped THEN 'capped' ELSE '' END
                        FROM {LedgerEntry._meta.db_table} l
                        WHERE l.source_id = %(source)s AND l.external_id = {staging}.external_id)
                    WHERE batch_id = %(batch)s AND result = 'pending'""",
                {"batch": _db_key(batch), "source": batch.source_id},
            )
        else:
            cursor.executemany(
                # ROUND: SQLite keeps decimals as binary floats (see ledger_append).
                f"UPDATE {Balance._meta.db_table} SET points = ROUND(points + %s, 2), "
                f"lifetime_points = ROUND(lifetime_points + %s, 2), "
                f"last_seq = %s, last_hash = %s, updated_at = %s WHERE resident_id = %s",
                [(delta, delta, seq, digest, now, r) for r, delta, seq, digest in balance_rows],
            )
            cursor.executemany(
                f"UPDATE {staging} SET result = %s, points = %s, detail = %s WHERE id = %s",
                [(result, points, detail, pk) for pk, result, points, detail in results],
            )
    return sorted(deltas)


def _points_for(rule, quantity: Decimal | None, amount: Decimal | None, prior_quantity: Decimal) -> Decimal:
    return rule.points_for(quantity=quantity, amount=amount, prior_quantity=prior_quantity)


def _period_usage(rows: list[dict], behaviours: dict[int, Behaviour]) -> defaultdict:
    """Points already in the ledger per (resident, code) for each day/month/year the batch touches, and units per year.

    One grouped query per period kind over the ledger index (resident, behaviour_code, occurred_at), limited to
    the residents, codes and date range of the batch.
    """
    usage: defaultdict = defaultdict(Decimal)
    needed = defaultdict(set)  # period kind -> {(resident, code, start, end)}
    for row in rows:
        behaviour = behaviours[row["behaviour_id"]]
        bounds = row["bounds"]
        key = (row["resident_id"], behaviour.code)
        if behaviour.cap_per_day is not None:
            needed["day"].add((*key, *bounds.day))
        if behaviour.cap_per_month is not None:
            needed["month"].add((*key, *bounds.month))
        if behaviour.cap_per_year is not None:
            needed["year"].add((*key, *bounds.year))
        if isinstance(behaviour.points_rule, PerUnitRule):
            needed["units"].add((*key, *bounds.year))
    for kind, periods in needed.items():
        by_key = defaultdict(list)
        for resident_id, code, start, end in periods:
            by_key[(resident_id, code)].append((start, end))
        residents = {r for r, _code in by_key}
        codes = {c for _r, c in by_key}
        earliest = min(start for spans in by_key.values() for start, _ in spans)
        latest = max(end for spans in by_key.values() for _, end in spans)
        entries = LedgerEntry.objects.filter(
            resident_id__in=residents, behaviour_code__in=codes, occurred_at__gte=earliest, occurred_at__lt=latest
        )
        if kind == "units":
            entries = entries.filter(kind=LedgerEntry.Kind.AWARD, reversed_by__isnull=True)
        field = "quantity" if kind == "units" else "points"
        if connection.vendor == "postgresql":
            # Summed by the database, one row per (resident, code, local period) rather than one per entry: the
            # entries of a month's or year's caps grow with the ledger. (Exact numerics; SQLite sums floats.)
            periods = (
                entries.order_by()
                .annotate(start=TRUNCATE[kind]("occurred_at", tzinfo=local_zone()))
                .values("resident_id", "behaviour_code", "start")
                .annotate(total=Sum(field))
                .values_list("resident_id", "behaviour_code", "start", "total")
            )
            for resident_id, code, start, total in periods:
                usage[((resident_id, code), kind, start)] += total or Decimal(0)
            continue
        for resident_id, code, occurred_at, value in entries.values_list(
            "resident_id", "behaviour_code", "occurred_at", field
        ).iterator(chunk_size=10_000):
            for start, end in by_key.get((resident_id, code), ()):
                if start <= occurred_at < end:
                    usage[((resident_id, code), kind, start)] += value or Decimal(0)
    return usage


TRUNCATE = {"day": TruncDay, "month": TruncMonth, "year": TruncYear, "units": TruncYear}


COPY_COLUMNS = ("resident_id", *(c for c in CHAINED_FIELDS if c != "resident_id"), "hash")


def _insert_entries(entries: list[dict]) -> None:
    """COPY on PostgreSQL (the fastest way in); multi-row INSERTs elsewhere. `entries`: field values by attname."""
    if not entries:
        return
    if connection.vendor != "postgresql":
        LedgerEntry.objects.bulk_create([LedgerEntry(**entry) for entry in entries], batch_size=500)
        return
    column_of = {field.attname: field.column for field in LedgerEntry._meta.concrete_fields}
    columns = [column_of[name] for name in COPY_COLUMNS]
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY {LedgerEntry._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
            for entry in entries:
                copy.write_row([entry[name] for name in COPY_COLUMNS])


def _link_entries(batch: IngestBatch) -> None:
    """Point accepted and duplicate records at their ledger entry (the first award of their id)."""
    staging = IngestRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {staging} SET ledger_entry_id = (
                    SELECT l.id FROM {LedgerEntry._meta.db_table} l
                    WHERE l.source_id = %(source)s AND l.external_id = {staging}.external_id)
                WHERE batch_id = %(batch)s AND result IN ('accepted', 'duplicate') AND ledger_entry_id IS NULL""",
            {"batch": _db_key(batch), "source": batch.source_id},
        )


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
