"""The moment at the counter: scan (verify), then confirm. Exactly once per token.

Each request reads everything its checks need in ONE statement, without locks: the staff account (by user), its
location, the token by code, the benefit with its partner's active flag and minimum tier, the resident's initial and
tier now, whether the benefit names locations and honours this one, and (confirm) any earlier answer to this
scanner's nonce. The statement's text is built once per process from the models; rows become model instances with
the ORM's own converters, so both backends give the same Python values.

`redemption_confirm` is then one durable transaction of four short writes, each its own guard:

1. UPDATE the token's used_at WHERE used_at IS NULL: the guard of "exactly once". A concurrent confirmation of the
   same token waits for this row lock, then finds used_at set and updates nothing (already_used);
2. the resident's counter for the period, upserted with `count + 1` only while below the limit (if limited);
3. INSERT the redemption (its unique token and (staff, nonce) back step 1 and idempotency);
4. UPDATE the benefit's `used + 1` only while below the quota (if it has one); COMMIT.

Locks are taken in that fixed order (token, resident's period counter, benefit) and the hot one, the benefit's quota
row that every counter shares, last, so it is held only for the commit; nothing is read, logged or computed while it
is held. Steps 1, 2 and 4 are conditional writes (the database re-checks the condition on the latest row version
after any wait), and CheckConstraints back 2 and 4. The resident's counter row is per benefit and resident, so
residents never wait on one another except at the quota row.

On PostgreSQL the four writes are ONE statement (data-modifying CTEs, each reading the one before, so the same
order), run on its own in autocommit: a used token leaves nothing for the later steps, and the limit and the quota
are enforced by their CheckConstraints, whose violation aborts the whole statement (mapped back to limit_reached and
quota_exhausted). The quota row is then locked only inside the server, never while a gunicorn thread waits for the
GIL to send COMMIT. The statements of the hot path are prepared once per connection (see `_execute`).

Refusals raise RedemptionError with a stable code and are recorded as RedemptionDenial rows (in their own
transaction, after the refused one rolled back). A repeat of a confirmation with the same nonce from the same staff
account returns the first answer: the redemption, or the same refusal.
"""

import datetime
import functools
import re
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import FileField, Model, signals
from django.db.models.base import ModelState
from django.utils import timezone

from benefits import conf
from benefits.exceptions import RedemptionError, refuse
from benefits.models import (
    Benefit,
    Merchant,
    MerchantLocation,
    MerchantStaff,
    Redemption,
    RedemptionDenial,
    RedemptionToken,
    ResidentBenefitUsage,
)
from benefits.selectors import local_today, period_start, static_refusal
from benefits.services.ratelimits import rate_hit, rate_hit_unless_spent
from benefits.services.tokens import ParsedCode, token_parse
from citizenpoints.models import Balance, Resident, Tier, User
from citizenpoints.sql import execute_prepared

NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
GUESS_CODES = {"forged", "unknown_code"}


@dataclass(frozen=True)
class ScanResult:
    """All the cashier sees before confirming: the benefit, the tier, the resident's initial."""

    code: str  # what to send back with the confirmation (the scanned payload or the typed code)
    benefit: Benefit
    tier: Tier
    initial: str
    expires_at: datetime.datetime


def staff_for(user: User) -> MerchantStaff:
    """The active staff record of `user`, with its location; cached on the user object. Raises not_merchant_staff."""
    staff = getattr(user, "_benefits_staff", None)
    if staff is None and user.is_authenticated:
        staff = MerchantStaff.objects.select_related("location").filter(user=user).first()
        user._benefits_staff = staff
    if staff is None or not staff.is_active or not user.is_active:
        raise refuse("not_merchant_staff")
    return staff


# --- The one read -----------------------------------------------------------------------------------------------------
# (alias, model, fields): what the checks, the answer and the redemption row need, and nothing else.
_PARTS = (
    ("s", MerchantStaff, ("id", "user_id", "merchant_id", "role", "location_id", "is_active")),
    ("l", MerchantLocation, ("id", "merchant_id", "name_en", "name_zh", "is_active")),
    (
        "t",
        RedemptionToken,
        ("id", "code", "resident_id", "benefit_id", "issued_at", "expires_at", "verified_at", "used_at"),
    ),
    (
        "b",
        Benefit,
        (
            "id",
            "merchant_id",
            "family",
            "title_en",
            "title_zh",
            "terms_en",
            "terms_zh",
            "min_tier_id",
            "valid_from",
            "valid_until",
            "quota",
            "used",
            "limit_count",
            "limit_period",
            "is_active",
        ),
    ),
    ("m", Merchant, ("id", "is_active")),
    ("mt", Tier, ("id", "scheme_id", "code", "label", "name_en", "name_zh", "min_score")),
    ("r", Resident, ("id", "given_name")),
    ("rt", Tier, ("id", "scheme_id", "code", "label", "name_en", "name_zh", "min_score")),
)


@dataclass
class _Read:
    staff: MerchantStaff | None
    token: RedemptionToken | None
    resident_tier: Tier | None
    names_locations: bool = False
    honoured_here: bool = False
    prior_redemption: int | None = None
    prior_denial: str | None = None


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _execute(sql: str, params: list, *, returns: bool = False) -> tuple[tuple | None, int]:
    """Run one statement of the counter's hot path: (first row or None, rows affected). Prepared once per
    PostgreSQL connection: the joined read cost about 0.6 ms of planning against 0.1 ms of execution."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        return (cursor.fetchone() if returns else None), cursor.rowcount


@functools.cache
def _read_plan(vendor: str, with_nonce: bool) -> tuple[str, tuple]:
    """The statement and, per part, its fields and their converters. Built once per backend and variant."""
    q = connection.ops.quote_name
    columns, parts = [], []
    for alias, model, names in _PARTS:
        fields = [model._meta.get_field(name) for name in names]
        converters = []
        for field in fields:
            expression = field.get_col(alias)
            functions = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
            converters.append((tuple(functions), expression))
            columns.append(f"{alias}.{q(field.column)}")
        parts.append((model, tuple(field.attname for field in fields), tuple(converters), _plain(model, fields)))
    through = Benefit._meta.get_field("locations")
    honours = f"{q(through.m2m_db_table())} bl WHERE bl.{q(through.m2m_column_name())} = t.{q('benefit_id')}"
    columns += [
        f"EXISTS (SELECT 1 FROM {honours})",
        f"EXISTS (SELECT 1 FROM {honours} AND bl.{q(through.m2m_reverse_name())} = s.{q('location_id')})",
    ]
    if with_nonce:
        columns += [
            f"(SELECT x.{q('id')} FROM {_table(Redemption)} x WHERE x.{q('staff_id')} = s.{q('id')} "
            f"AND x.{q('nonce')} = %s)",
            f"(SELECT d.{q('code')} FROM {_table(RedemptionDenial)} d WHERE d.{q('staff_id')} = s.{q('id')} "
            f"AND d.{q('nonce')} = %s LIMIT 1)",
        ]
    sql = (
        f"SELECT {', '.join(columns)} FROM {_table(MerchantStaff)} s "
        f"LEFT JOIN {_table(MerchantLocation)} l ON l.{q('id')} = s.{q('location_id')} "
        f"LEFT JOIN {_table(RedemptionToken)} t ON t.{q('code')} = %s "
        f"LEFT JOIN {_table(Benefit)} b ON b.{q('id')} = t.{q('benefit_id')} "
        f"LEFT JOIN {_table(Merchant)} m ON m.{q('id')} = b.{q('merchant_id')} "
        f"LEFT JOIN {_table(Tier)} mt ON mt.{q('id')} = b.{q('min_tier_id')} "
        f"LEFT JOIN {_table(Resident)} r ON r.{q('id')} = t.{q('resident_id')} "
        f"LEFT JOIN {_table(Balance)} bal ON bal.{q('resident_id')} = r.{q('id')} "
        f"LEFT JOIN {_table(Tier)} rt ON rt.{q('id')} = bal.{q('tier_id')} "
        f"WHERE s.{q('user_id')} = %s"
    )
    return sql, tuple(parts)


def _plain(model, fields) -> bool:
    """Whether an instance of `model` loaded with `fields` is only their values: Model's own __init__ and from_db,
    no pre_init or post_init receivers, none of `fields` a file (whose descriptor acts on assignment; a foreign key's
    id only clears a cache that a new instance does not have yet). Decided once per process, with the plan: a
    receiver connected later (none is, in this project) is not seen."""
    return (
        model.__init__ is Model.__init__
        and model.from_db.__func__ is Model.from_db.__func__
        and not signals.pre_init.has_listeners(model)
        and not signals.post_init.has_listeners(model)
        and not any(isinstance(field, FileField) for field in fields)
    )


def _instance(model, attnames, converters, plain: bool, values) -> Model | None:
    if values[0] is None:  # no row on that side of the join
        return None
    converted = []
    for value, (functions, expression) in zip(values, converters, strict=True):
        for function in functions:
            value = function(value, expression, connection)
        converted.append(value)
    if not plain:
        return model.from_db(connection.alias, attnames, converted)
    # What from_db makes of it, without Model.__init__ (most of the read's CPU for its eight instances): the loaded
    # values in the instance's __dict__, the other fields deferred (loaded if asked, as from_db leaves them).
    instance = model.__new__(model)
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = connection.alias
    instance.__dict__.update(zip(attnames, converted, strict=True))
    return instance


def _read(user: User, code: str | None, nonce: str | None = None) -> _Read:
    """Staff, token and everything the checks read, in one statement without locks."""
    sql, parts = _read_plan(connection.vendor, nonce is not None)
    params = [nonce, nonce] if nonce is not None else []
    params += [code or "", user.pk]
    row, _ = _execute(sql, params, returns=True)
    if row is None:
        return _Read(staff=None, token=None, resident_tier=None)
    objects, at = [], 0
    for model, attnames, converters, plain in parts:
        objects.append(_instance(model, attnames, converters, plain, row[at : at + len(attnames)]))
        at += len(attnames)
    staff, location, token, benefit, merchant, min_tier, resident, resident_tier = objects
    staff.location = location
    user._benefits_staff = staff
    if token is not None:
        benefit.merchant = merchant
        benefit.min_tier = min_tier
        token.benefit = benefit
        token.resident = resident
    rest = row[at:]
    return _Read(
        staff=staff,
        token=token,
        resident_tier=resident_tier,
        names_locations=bool(rest[0]),
        honoured_here=bool(rest[1]),
        prior_redemption=rest[2] if nonce is not None else None,
        prior_denial=rest[3] if nonce is not None else None,
    )


def _active_staff(user: User, read: _Read) -> MerchantStaff:
    if read.staff is None or not read.staff.is_active or not user.is_active:
        raise refuse("not_merchant_staff")
    return read.staff


def _throttle(staff: MerchantStaff) -> None:
    """Refuse once guessing spent its allowance (without counting the scan), or scans theirs (one Redis trip)."""
    allowed = rate_hit_unless_spent(
        scope="scan",
        key=staff.pk,
        limit=conf.scan_rate(),
        unless_scope="scan-fail",
        unless_limit=conf.failed_scan_rate(),
    )
    if not allowed:
        raise refuse("rate_limited")


def _check(read: _Read, now: datetime.datetime, *, confirming: bool) -> None:
    """Every refusal that the loaded rows can decide, in the order a cashier needs them."""
    token, staff = read.token, read.staff
    if token is None:
        raise refuse("unknown_code")
    benefit = token.benefit
    if benefit.merchant_id != staff.merchant_id:
        raise refuse("not_valid_here")
    if staff.location_id is not None and read.names_locations and not read.honoured_here:
        raise refuse("not_valid_here")
    if token.used_at is not None:
        raise refuse("already_used")
    live = now <= token.expires_at
    held = (
        confirming
        and token.verified_at is not None
        and token.verified_at <= token.expires_at
        and now <= token.verified_at + conf.confirm_grace()
    )
    if not (live or held):
        raise refuse("expired")
    refusal = static_refusal(benefit=benefit, resident_tier=read.resident_tier, today=local_today(now))
    if refusal:
        code, extra = refusal
        raise refuse(code, **extra)


def _deny(staff: MerchantStaff, error: RedemptionError, *, step: str, token=None, nonce: str = "") -> None:
    """Record a refusal (its own transaction: the refused one has rolled back). Guessing counts against the staff."""
    if error.code in GUESS_CODES:
        rate_hit(scope="scan-fail", key=staff.pk, limit=conf.failed_scan_rate())
    if error.code in ("rate_limited", "not_merchant_staff", "bad_nonce"):
        return
    try:
        with transaction.atomic():
            RedemptionDenial.objects.create(
                staff=staff,
                merchant_id=staff.merchant_id,
                token=token,
                benefit_id=token.benefit_id if token else None,
                step=step,
                code=error.code,
                nonce=nonce,
            )
    except IntegrityError:
        pass  # the same nonce was refused a moment ago by a concurrent repeat: one record is enough


def _parse_or_deny(user: User, text: str, *, step: str, nonce: str = "") -> ParsedCode:
    """Parse before the read (a forged code needs no lookup); a refusal still names the staff account first."""
    try:
        return token_parse(text)
    except RedemptionError as error:
        staff = staff_for(user)
        if step == "confirm" and not NONCE.match(nonce or ""):
            raise refuse("bad_nonce") from None
        _throttle(staff)
        _deny(staff, error, step=step, nonce=nonce)
        raise


def redemption_verify(*, acting_user: User, text: str, now: datetime.datetime | None = None) -> ScanResult:
    """Read a scanned QR or typed code and say what it is for, or why it cannot be used here and now.

    Writes only `verified_at` (first scan while live), which lets a confirmation follow within the grace period even
    if the code expires meanwhile. Rate-limited per staff account: scans, and more tightly unknown or forged codes.
    Raises RedemptionError; refusals are recorded. Two statements: the read, and that write the first time.
    """
    now = now or timezone.now()
    parsed = _parse_or_deny(acting_user, text, step="verify")
    read = _read(acting_user, parsed.code)
    staff = _active_staff(acting_user, read)
    _throttle(staff)
    try:
        _check(read, now, confirming=False)
    except RedemptionError as error:
        _deny(staff, error, step="verify", token=read.token)
        raise
    token = read.token
    if token.verified_at is None:
        _execute(
            f"UPDATE {_table(RedemptionToken)} SET verified_at = %s WHERE id = %s AND verified_at IS NULL",
            [connection.ops.adapt_datetimefield_value(now), token.pk],
        )
    return ScanResult(
        code=text.strip(),
        benefit=token.benefit,
        tier=read.resident_tier,
        initial=token.resident.initial,
        expires_at=token.expires_at,
    )


def _claim_token(token: RedemptionToken, now: datetime.datetime) -> bool:
    """The guard of "exactly once": mark the token used unless it already is. Locks its row to commit; a concurrent
    claim waits, then sees used_at set and claims nothing."""
    _, claimed = _execute(
        f"UPDATE {_table(RedemptionToken)} SET used_at = %s WHERE id = %s AND used_at IS NULL",
        [connection.ops.adapt_datetimefield_value(now), token.pk],
    )
    return claimed == 1


def _take_usage(token: RedemptionToken, today: datetime.date) -> bool:
    """Count one use in the resident's period unless that reaches past the limit. One statement; locks that row."""
    benefit = token.benefit
    table = _table(ResidentBenefitUsage)
    row, _ = _execute(
        f"""INSERT INTO {table} AS u (benefit_id, resident_id, period_start, count, allowed)
            VALUES (%s, %s, %s, 1, %s)
            ON CONFLICT (benefit_id, resident_id, period_start)
            DO UPDATE SET count = u.count + 1, allowed = EXCLUDED.allowed WHERE u.count < EXCLUDED.allowed
            RETURNING count""",
        [
            benefit.pk,
            token.resident_id,
            connection.ops.adapt_datefield_value(period_start(benefit.limit_period, today)),
            benefit.limit_count,
        ],
        returns=True,
    )
    return row is not None


def _insert_redemption(redemption: Redemption) -> None:
    """INSERT the row built in memory (its related objects are the ones already read); sets its id."""
    fields = [f for f in Redemption._meta.concrete_fields if not f.primary_key]
    q = connection.ops.quote_name
    values = [f.get_db_prep_save(getattr(redemption, f.attname), connection) for f in fields]
    row, _ = _execute(
        f"INSERT INTO {_table(Redemption)} ({', '.join(q(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {q('id')}",
        values,
        returns=True,
    )
    redemption.pk = row[0]
    redemption._state.adding = False
    redemption._state.db = connection.alias


def _take_quota(benefit: Benefit) -> bool:
    """Take one unit of the quota unless none is left. One conditional UPDATE; locks the benefit row to commit."""
    _, taken = _execute(f"UPDATE {_table(Benefit)} SET used = used + 1 WHERE id = %s AND used < quota", [benefit.pk])
    return taken == 1


# PostgreSQL: the four writes as one statement (below). The race tests switch it off to reach the step-by-step path.
ONE_STATEMENT = True
REFUSAL_FOR_CONSTRAINT = {"usage_within_limit": "limit_reached", "benefit_used_within_quota": "quota_exhausted"}


@functools.cache
def _one_statement_sql(limited: bool) -> str:
    """Claim, count, insert and take the quota in one statement, in that order (each step reads the one before).

    A used token makes `t` empty and so every later step; the limit and the quota are enforced by their
    CheckConstraints, whose violation aborts the whole statement. Locks: token, period counter, then the benefit's
    row, held only until the statement ends (autocommit), not for a round trip to a gunicorn thread.
    """
    q = connection.ops.quote_name

    def param(model, name: str) -> str:
        return f"CAST(%s AS {model._meta.get_field(name).db_type(connection)})"

    ctes = [f"t AS (UPDATE {_table(RedemptionToken)} SET used_at = %s WHERE id = %s AND used_at IS NULL RETURNING id)"]
    source = "t"
    if limited:
        ctes.append(
            f"u AS (INSERT INTO {_table(ResidentBenefitUsage)} AS x (benefit_id, resident_id, period_start, count, "
            f"allowed) SELECT {param(ResidentBenefitUsage, 'benefit')}, {param(ResidentBenefitUsage, 'resident')}, "
            f"{param(ResidentBenefitUsage, 'period_start')}, 1, {param(ResidentBenefitUsage, 'allowed')} FROM t "
            f"ON CONFLICT (benefit_id, resident_id, period_start) "
            f"DO UPDATE SET count = x.count + 1, allowed = EXCLUDED.allowed RETURNING x.count)"
        )
        source = "t, u"
    fields = [f for f in Redemption._meta.concrete_fields if not f.primary_key]
    ctes.append(
        f"r AS (INSERT INTO {_table(Redemption)} ({', '.join(q(f.column) for f in fields)}) "
        f"SELECT {', '.join(param(Redemption, f.name) for f in fields)} FROM {source} RETURNING id)"
    )
    ctes.append(
        f"b AS (UPDATE {_table(Benefit)} SET used = used + 1 "
        f"WHERE id = %s AND quota IS NOT NULL AND EXISTS (SELECT 1 FROM r) RETURNING used)"
    )
    return "WITH " + ", ".join(ctes) + " SELECT (SELECT id FROM r), (SELECT count(*) FROM b)"


def _redeem_in_one_statement(redemption: Redemption, token: RedemptionToken, now: datetime.datetime) -> None:
    """PostgreSQL: the four writes of `redemption_confirm` as one statement. Raises the refusal; sets the id."""
    benefit = token.benefit
    limited = benefit.limit_count is not None
    fields = [f for f in Redemption._meta.concrete_fields if not f.primary_key]
    params = [now, token.pk]
    if limited:
        params += [benefit.pk, token.resident_id, period_start(benefit.limit_period, local_today(now))]
        params += [benefit.limit_count]
    params += [f.get_db_prep_save(getattr(redemption, f.attname), connection) for f in fields]
    params += [benefit.pk]
    try:
        # Alone, the statement is its own transaction; inside a caller's (a test's) it gets a savepoint. Durable
        # either way, as the step-by-step path: nothing outside may hold it open.
        if connection.in_atomic_block:
            with transaction.atomic(durable=True):
                row, _ = _execute(_one_statement_sql(limited), params, returns=True)
        else:
            row, _ = _execute(_one_statement_sql(limited), params, returns=True)
    except IntegrityError as error:
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if constraint in REFUSAL_FOR_CONSTRAINT:
            code = REFUSAL_FOR_CONSTRAINT[constraint]
            extra = {"period": benefit.limit_period} if code == "limit_reached" else {}
            raise refuse(code, **extra) from None
        raise
    if row[0] is None:
        raise refuse("already_used")
    redemption.pk = row[0]
    redemption._state.adding = False
    redemption._state.db = connection.alias


def _prior_answer(staff: MerchantStaff, nonce: str) -> Redemption | RedemptionError | None:
    redemption = Redemption.objects.filter(staff=staff, nonce=nonce).select_related("benefit", "tier").first()
    if redemption is not None:
        return redemption
    code = RedemptionDenial.objects.filter(staff=staff, nonce=nonce).values_list("code", flat=True).first()
    return refuse(code) if code else None


def redemption_confirm(*, acting_user: User, text: str, nonce: str, now: datetime.datetime | None = None) -> Redemption:
    """Redeem the token read from `text`, exactly once. See the module docstring for the transaction.

    Idempotent per (staff account, nonce): a repeat returns the first answer (the same Redemption, or the same
    refusal raised again) and changes nothing. Rate-limited as verify is (a confirmation counts as a scan, and
    unknown or forged codes count against guessing). Raises RedemptionError; refusals are recorded.
    """
    now = now or timezone.now()
    parsed = _parse_or_deny(acting_user, text, step="confirm", nonce=nonce)
    if not NONCE.match(nonce or ""):
        staff_for(acting_user)
        raise refuse("bad_nonce")
    read = _read(acting_user, parsed.code, nonce)
    staff = _active_staff(acting_user, read)
    token = read.token
    try:
        if read.prior_redemption or read.prior_denial:
            raise _Replay  # a repeat is answered as before, however many scans came since
        # Counted like a scan, and refused once guessing spent its allowance: otherwise a code could be guessed
        # here, where a right guess redeems at once.
        _throttle(staff)
        _check(read, now, confirming=True)
        benefit = token.benefit
        redemption = Redemption(
            token=token,
            resident=token.resident,
            benefit=benefit,
            merchant_id=staff.merchant_id,
            location=staff.location,
            staff=staff,
            tier=read.resident_tier,
            nonce=nonce,
            redeemed_at=now,
        )
        if ONE_STATEMENT and connection.vendor == "postgresql":
            _redeem_in_one_statement(redemption, token, now)
            return redemption
        with transaction.atomic(durable=True):
            if not _claim_token(token, now):
                raise refuse("already_used")
            if benefit.limit_count is not None and not _take_usage(token, local_today(now)):
                raise refuse("limit_reached", period=benefit.limit_period)
            _insert_redemption(redemption)
            # Last: the benefit's row is the one every counter shares, so its lock is held only for the commit.
            if benefit.quota is not None and not _take_quota(benefit):
                raise refuse("quota_exhausted")
        return redemption
    except _Replay:
        answer = _prior_answer(staff, nonce)
        if isinstance(answer, Redemption):
            return answer
        raise answer from None
    except RedemptionError as error:
        answer = _prior_answer(staff, nonce) if error.code == "already_used" else None
        if isinstance(answer, Redemption):  # our own earlier success, repeated
            return answer
        _deny(staff, error, step="confirm", token=token, nonce=nonce)
        raise
    except IntegrityError:
        # The same nonce sent with another code at the same moment (the unique (staff, nonce) stopped the second
        # redemption): answer as for any repeat. Anything else is a real integrity error.
        answer = _prior_answer(staff, nonce)
        if isinstance(answer, Redemption):
            return answer
        raise


class _Replay(Exception):
    """This nonce was answered before; leave the transaction and answer the same."""
