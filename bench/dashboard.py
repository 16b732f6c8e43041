"""The resident's dashboard and history at scale, the dashboard under gunicorn, and the nightly pass, on PostgreSQL.

    .tools/bin/uv run --frozen python bench/dashboard.py [--quick] [--explain]

Goals (the issue's words): the dashboard (`/me/`) and history (`/me/history/`) make the same number of queries and
take at most 1.5 times as long when one resident's entries grow from 10 to 100,000 and the residents from 1,000 to
1,000,000; under gunicorn the dashboard serves at least 0.3 times the requests/s of a bare Django view; the nightly
pass (ageing, tiers, badges) over 1,000,000 residents is set-based SQL, reported as residents/s next to the time of a
plain sequential scan of the same rows.

It recreates the database named in DATABASE_URL (default postgres://postgres@127.0.0.1:5432/citypoints_bench; the
name must contain "bench", nothing else is dropped), migrates it and fills it at database speed (INSERT ... SELECT
generate_series, COPY). `--quick` uses 1,000 -> 100,000 residents and 10 -> 10,000 entries.

Two residents are measured: #1 keeps 10 entries, #2 grows from 10 to the large count (so the four scales need no
deletion from the append-only ledger). Both are measured once #2 has grown, at 1,000 residents and again at
1,000,000, their requests alternating so that other load on the machine weighs on both alike.
"""

import argparse
import datetime
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/citypoints_bench"


@dataclass(frozen=True)
class Scale:
    name: str
    residents: tuple[int, int]
    entries: tuple[int, int]


FULL = Scale("full", (1_000, 1_000_000), (10, 100_000))
QUICK = Scale("quick", (1_000, 100_000), (10, 10_000))

SMALL, BIG = 1, 2  # resident ids: SMALL keeps the few entries, BIG grows to the many
PAGES = (("dashboard", "home"), ("history", "history"))
WARMUP_REQUESTS = 3
TIME_RATIO_GOAL, RPS_RATIO_GOAL = 1.5, 0.3

# (code, category, points, department). Indexes 0-2 feed the badge groups of the background residents.
BEHAVIOURS = (
    ("volunteer-shift", "volunteering", 5, "volunteer-federation"),
    ("gym-visit", "sport-fitness", 2, "gym-operator"),
    ("elderly-visit", "community-care", 3, "community-centre"),
    ("blood-donation", "blood-donation", 20, "blood-centre"),
    ("library-loan", "reading-culture", 1, "library"),
    ("metro-trip", "green-travel", 1, "metro"),
    ("charity-donation", "charity", 10, "civil-affairs"),
    ("lost-property-returned", "good-deeds", 8, "community-centre"),
    ("tree-planting", "environment", 4, "parks-bureau"),
)
DEPARTMENTS = {
    "volunteer-federation": ("Volunteer Federation", "志愿者联合会"),
    "gym-operator": ("City Gyms", "城市健身中心"),
    "community-centre": ("Community Centres", "社区服务中心"),
    "blood-centre": ("Blood Centre", "血液中心"),
    "library": ("City Library", "市图书馆"),
    "metro": ("Metro Group", "地铁集团"),
    "civil-affairs": ("Civil Affairs Bureau", "民政局"),
    "parks-bureau": ("Parks Bureau", "园林局"),
}
GIVEN_NAMES = ("Na", "Wei", "Fang", "Min", "Jing", "Lei", "Emma", "Tom")
HISTORY_DAYS = 390  # entries spread over the 390 days before NOW - 5 days: about a month already aged out
RESIDENT_TABLES = (
    "citizenpoints_user",
    "account_emailaddress",
    "citizenpoints_resident",
    "citizenpoints_consentrecord",
    "citizenpoints_balance",
    "citizenpoints_tierchange",
)
TOUCHED_TABLES = (
    *RESIDENT_TABLES,
    "citizenpoints_ledgerentry",
    "citizenpoints_residentbadge",
    "django_session",
)


def say(*parts) -> None:
    print(*parts, flush=True)


@contextmanager
def step(label: str):
    start = time.perf_counter()
    yield
    say(f"  {label}: {time.perf_counter() - start:.1f} s")


# --- The database -------------------------------------------------------------------------------------------------
def configure_environment() -> None:
    """The product's development settings, without DEBUG's overhead, on the benchmark database."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "citizenpoints.settings"
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["DJANGO_ENV"] = "development"
    os.environ["DEBUG"] = "0"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    # Production's default (settings.py): each gunicorn worker keeps its connection. CONN_MAX_AGE=0 to compare.
    os.environ.setdefault("CONN_MAX_AGE", "60")
    # The badge pass emails the residents it rewards; the console would print thousands of them between the figures.
    os.environ.setdefault("EMAIL_URL", "dummymail://")
    # WhiteNoise notes that STATIC_ROOT was never collected: irrelevant here, the pages' assets are not requested.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)


def recreate_database(url: str) -> str:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or "bench" not in name:
        raise SystemExit(f"DATABASE_URL must name a PostgreSQL database whose name contains 'bench' (got {name!r})")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def execute(statement: str, params=None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def fetchone(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


def fetchall(statement: str, params=None) -> list:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def reset_sequence(table: str) -> None:
    execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def model_defaults(model, named) -> dict:
    """The columns of `model` that a raw INSERT or COPY does not name, with the model's defaults.

    Django applies field defaults in Python, so the database has none: without this, a field added to the model
    (with a default) would break the generator with a NOT NULL error.
    """
    from django.db import connection
    from django.db.models import NOT_PROVIDED

    values = {}
    for model_field in model._meta.concrete_fields:
        if model_field.column in named or model_field.primary_key or model_field.db_default is not NOT_PROVIDED:
            continue
        if model_field.has_default() or not model_field.null:
            values[model_field.column] = model_field.get_db_prep_save(model_field.get_default(), connection)
    return values


def insert_select(model, columns: dict[str, str], tail: str, params: dict, prefix: str = "") -> int:
    """`[prefix] INSERT INTO <model's table> (columns) SELECT <their SQL expressions> <tail>`, every other column at
    its model default. Returns the rows inserted."""
    from django.db import connection

    defaults = model_defaults(model, columns)
    names = ", ".join(connection.ops.quote_name(column) for column in [*columns, *defaults])
    expressions = ", ".join([*columns.values(), *(f"%(default_{column})s" for column in defaults)])
    params = {**params, **{f"default_{column}": value for column, value in defaults.items()}}
    return execute(f"{prefix} INSERT INTO {model._meta.db_table} ({names}) SELECT {expressions} {tail}", params)


# --- Generating data ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BehaviourRow:
    index: int
    id: int
    code: str
    category_id: int
    version_id: int
    source_id: int
    points: Decimal


@dataclass
class Chain:
    """A measured resident's chain head, so later appends link to it."""

    seq: int
    hash: str
    previous: dict | None = None


@dataclass
class World:
    now: datetime.datetime
    behaviours: list[BehaviourRow]
    office_source_id: int
    reviewer_id: int
    lowest_tier_id: int
    scheme_id: int
    base_score: int
    window_start: datetime.datetime
    user_offset: int
    terms_version: str
    chains: dict[int, Chain] = field(default_factory=dict)

    @property
    def origin(self) -> datetime.datetime:
        return self.now - datetime.timedelta(days=HISTORY_DAYS + 5)


def setup_world() -> World:
    """The catalogue (published, one department per behaviour), a reviewer for reversals, the active scheme."""
    from django.conf import settings
    from django.utils import timezone

    from citizenpoints.models import Behaviour, DataSource, ScoringWindow, TierScheme, User
    from tests.factories import published_catalogue

    departments = {
        code: DataSource.objects.create(code=code, name_en=name_en, name_zh=name_zh)
        for code, (name_en, name_zh) in DEPARTMENTS.items()
    }
    specs = [
        {"code": code, "category": category, "rule": {"points": points}, "sources": [departments[department]]}
        for code, category, points, department in BEHAVIOURS
    ]
    version = published_catalogue(behaviours=specs, sources=[])
    by_code = {behaviour.code: behaviour for behaviour in Behaviour.objects.filter(version=version)}
    behaviours = [
        BehaviourRow(
            index=index,
            id=by_code[code].pk,
            code=code,
            category_id=by_code[code].category_id,
            version_id=version.pk,
            source_id=departments[department].pk,
            points=Decimal(points).quantize(Decimal("0.01")),
        )
        for index, (code, _category, points, department) in enumerate(BEHAVIOURS)
    ]
    reviewer = User.objects.create_user(email="reviewer@bench.citypoints.example")
    scheme = TierScheme.objects.prefetch_related("tiers").get(is_active=True)
    lowest = min(scheme.tiers.all(), key=lambda tier: tier.min_score)
    return World(
        now=timezone.now(),
        behaviours=behaviours,
        office_source_id=DataSource.objects.get(code="office").pk,
        reviewer_id=reviewer.pk,
        lowest_tier_id=lowest.pk,
        scheme_id=scheme.pk,
        base_score=scheme.base_score,
        window_start=ScoringWindow.objects.get(pk=1).starts_at,
        user_offset=User.objects.order_by("-pk").values_list("pk", flat=True).first(),
        terms_version=settings.CITYPOINTS_TERMS_VERSION,
    )


def add_residents(world: World, low: int, high: int) -> None:
    """Residents `low`..`high` as resident_join leaves them: account, verified email, consent, empty balance."""
    from allauth.account.models import EmailAddress
    from django.db import transaction

    from citizenpoints.models import Balance, ConsentRecord, Resident, TierChange, User

    params = {
        "low": low,
        "high": high,
        "offset": world.user_offset,
        "now": world.now,
        "names": list(GIVEN_NAMES),
        "terms": world.terms_version,
        "tier": world.lowest_tier_id,
    }
    # Everyone joined before their first entry (which is at most HISTORY_DAYS + 5 days old).
    joined = "%(now)s::timestamptz - interval '400 days' - mod(i, 365) * interval '1 day'"
    series = "FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS i"
    email = "'resident' || i || '@bench.citypoints.example'"
    name = "(%(names)s::text[])[1 + mod(i, cardinality(%(names)s::text[]))]"
    with transaction.atomic():
        insert_select(
            User,
            {
                "id": "%(offset)s + i",
                "password": "'!'",  # unusable, as set_unusable_password leaves it; the bench logs in by session
                "email": email,
                "date_joined": joined,
                "is_active": "true",
            },
            series,
            params,
        )
        insert_select(
            EmailAddress,
            {"email": email, "verified": "true", "primary": "true", "user_id": "%(offset)s + i"},
            series,
            params,
        )
        insert_select(
            Resident,
            {
                "id": "i",
                "user_id": "%(offset)s + i",
                "given_name": name,
                "language": "CASE WHEN mod(i, 3) = 0 THEN 'en' ELSE 'zh-hans' END",
                "joined_at": joined,
                "terms_version": "%(terms)s",
            },
            series,
            params,
        )
        insert_select(
            ConsentRecord,
            {"resident_id": "i", "terms_version": "%(terms)s", "accepted_at": joined},
            series,
            params,
        )
        insert_select(Balance, {"resident_id": "i", "tier_id": "%(tier)s", "updated_at": joined}, series, params)
        insert_select(
            TierChange,
            {"resident_id": "i", "to_tier_id": "%(tier)s", "cause": "'joined'", "changed_at": joined},
            series,
            params,
        )
    reset_sequence("citizenpoints_user")
    reset_sequence("citizenpoints_resident")


def add_background_entries(world: World, low: int, high: int) -> int:
    """A few awards for each of residents `low`..`high`, hashed and chained in SQL.

    Per resident: 0-6 entries of mixed behaviours; every 40th resident 12 volunteering shifts and every 97th 26 gym
    visits (Love messenger, Sports master), every 23rd 6 elderly visits (Good neighbour), evenly spaced over the
    history from a phase that varies by resident, so every day has its slice to age out. Seq runs 1..n and prev_hash
    is the previous entry's hash, so chains link and balances' heads match; but `hash` is sha256 of
    'bench:<resident>:<seq>', not of the entry's content, so `verify_ledger` reports these rows as edited. Only the
    two measured residents carry real content hashes. Rows are inserted in time order, interleaving residents in the
    heap as live traffic would.
    """
    from citizenpoints.models import GENESIS_HASH, LedgerEntry

    params: dict = {"low": low, "high": high, "origin": world.origin, "genesis": GENESIS_HASH, "count": len(BEHAVIOURS)}
    rows = []
    for row in world.behaviours:
        names = [f"b{row.index}_{name}" for name in ("index", "id", "code", "category", "version", "source", "points")]
        values = (row.index, row.id, row.code, row.category_id, row.version_id, row.source_id, row.points)
        params.update(zip(names, values, strict=True))
        rows.append("(" + ", ".join(f"%({name})s" for name in names) + ")")
    chain_hash = "encode(sha256(convert_to('bench:' || r.resident_id || ':' || {seq}, 'UTF8')), 'hex')"
    prefix = f"""
        WITH behaviour (idx, id, code, category_id, version_id, source_id, points) AS (VALUES {", ".join(rows)}),
        plan AS (
            SELECT i AS resident_id,
                CASE WHEN mod(i, 40) = 0 THEN 12 WHEN mod(i, 97) = 0 THEN 26 WHEN mod(i, 23) = 0 THEN 6
                     ELSE mod(i, 7)::int END AS n,
                CASE WHEN mod(i, 40) = 0 THEN 0 WHEN mod(i, 97) = 0 THEN 1 WHEN mod(i, 23) = 0 THEN 2
                     ELSE -1 END AS fixed
            FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS i
        ),
        entry AS (
            SELECT p.resident_id, k.seq,
                CASE WHEN p.fixed >= 0 THEN p.fixed ELSE mod(p.resident_id * 31 + k.seq * 17, %(count)s)::int END
                    AS idx,
                %(origin)s::timestamptz
                    + ((k.seq - 1 + mod(p.resident_id * 7919, 10007) / 10007.0) / p.n)::float8
                    * interval '{HISTORY_DAYS} days' AS occurred_at
            FROM plan p CROSS JOIN LATERAL generate_series(1, p.n) AS k(seq)
        )"""
    columns = {
        "resident_id": "r.resident_id",
        "seq": "r.seq",
        "kind": "'award'",
        "behaviour_id": "b.id",
        "behaviour_code": "b.code",
        "category_id": "b.category_id",
        "catalogue_version_id": "b.version_id",
        "source_id": "b.source_id",
        "external_id": "'bg-' || r.resident_id || '-' || r.seq",
        "occurred_at": "r.occurred_at",
        "recorded_at": "r.occurred_at + interval '2 hours'",
        "points": "b.points",
        "prev_hash": f"CASE WHEN r.seq = 1 THEN %(genesis)s ELSE {chain_hash.format(seq='(r.seq - 1)')} END",
        "hash": chain_hash.format(seq="r.seq"),
    }
    tail = "FROM entry r JOIN behaviour b ON b.idx = r.idx ORDER BY r.occurred_at"
    return insert_select(LedgerEntry, columns, tail, params, prefix=prefix)


def add_measured_entries(world: World, resident_id: int, count: int, rng: random.Random) -> None:
    """Append `count` entries to a measured resident's chain, hashed by the product's `entry_hash`, by COPY.

    Mixed behaviours at random times over the history; every 200th entry (seq 10, 210, ...) reverses the award
    before it, with a reviewer and a reason, as entry_reverse writes it.
    """
    from django.db import connection

    from citizenpoints.models import GENESIS_HASH, LedgerEntry
    from citizenpoints.services.ledger import CHAINED_FIELDS, entry_hash

    named = ("id", *CHAINED_FIELDS, "hash")
    defaults = model_defaults(LedgerEntry, named)
    columns = (*named, *defaults)

    chain = world.chains.setdefault(resident_id, Chain(seq=0, hash=GENESIS_HASH))
    next_id = (fetchone("SELECT COALESCE(max(id), 0) FROM citizenpoints_ledgerentry")[0]) + 1
    span_us = HISTORY_DAYS * 86_400 * 1_000_000
    rows = []
    for _ in range(count):
        seq, previous = chain.seq + 1, chain.previous
        if seq % 200 == 10 and previous is not None and previous["kind"] == "award":
            values = {
                **previous,
                "kind": "reversal",
                "source_id": world.office_source_id,
                "external_id": f"reversal:{previous['id']}",
                "recorded_at": min(previous["recorded_at"] + datetime.timedelta(days=3), world.now),
                "points": -previous["points"],
                "reverses_id": previous["id"],
                "reason": "The department withdrew this record: it was sent twice.",
                "decided_by_id": world.reviewer_id,
            }
        else:
            behaviour = rng.choice(world.behaviours)
            occurred_at = world.origin + datetime.timedelta(microseconds=rng.randrange(span_us))
            values = {
                "resident_id": resident_id,
                "kind": "award",
                "behaviour_id": behaviour.id,
                "behaviour_code": behaviour.code,
                "category_id": behaviour.category_id,
                "catalogue_version_id": behaviour.version_id,
                "source_id": behaviour.source_id,
                "external_id": f"m{resident_id}-{seq}",
                "occurred_at": occurred_at,
                "recorded_at": occurred_at + datetime.timedelta(hours=2),
                "quantity": None,
                "amount": None,
                "points": behaviour.points,
                "capped": False,
                "reverses_id": None,
                "reason": "",
                "decided_by_id": None,
            }
        values.update(id=next_id, seq=seq, prev_hash=chain.hash)
        values["hash"] = entry_hash(values)
        values.update(defaults)
        next_id += 1
        chain.seq, chain.hash, chain.previous = seq, values["hash"], values
        rows.append(values)
    copy_sql = f"COPY citizenpoints_ledgerentry ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
        for values in rows:
            copy.write_row([values[column] for column in columns])
    reset_sequence("citizenpoints_ledgerentry")


def settle_balances(world: World, low: int, high: int) -> None:
    """Balances of residents `low`..`high` made equal to their ledger in one UPDATE, then their tiers set.

    As the award service leaves them: points = the window's sum, lifetime = every award, the chain head, the tier
    for the score (with a TierChange for each move, as balance_retier records).
    """
    from django.db import transaction

    params = {
        "low": low,
        "high": high,
        "start": world.window_start,
        "scheme": world.scheme_id,
        "base": world.base_score,
    }
    with transaction.atomic():
        execute(
            """
            UPDATE citizenpoints_balance b
            SET points = s.points, lifetime_points = s.lifetime, last_seq = s.last_seq, last_hash = head.hash,
                updated_at = s.updated_at
            FROM (
                SELECT resident_id,
                    COALESCE(SUM(points) FILTER (WHERE occurred_at >= %(start)s), 0) AS points,
                    COALESCE(SUM(points) FILTER (WHERE points > 0), 0) AS lifetime,
                    MAX(seq) AS last_seq, MAX(recorded_at) AS updated_at
                FROM citizenpoints_ledgerentry
                WHERE resident_id BETWEEN %(low)s AND %(high)s
                GROUP BY resident_id
            ) s
            JOIN citizenpoints_ledgerentry head ON head.resident_id = s.resident_id AND head.seq = s.last_seq
            WHERE b.resident_id = s.resident_id
            """,
            params,
        )
        execute(
            """
            WITH band AS (
                SELECT id, min_score, lead(min_score) OVER (ORDER BY min_score) AS next_min,
                    row_number() OVER (ORDER BY min_score) AS position
                FROM citizenpoints_tier WHERE scheme_id = %(scheme)s
            ),
            target AS (
                SELECT b.resident_id, b.tier_id AS from_tier, band.id AS to_tier, b.updated_at
                FROM citizenpoints_balance b
                JOIN band ON (band.position = 1 OR %(base)s + b.points >= band.min_score)
                    AND (band.next_min IS NULL OR %(base)s + b.points < band.next_min)
                WHERE b.resident_id BETWEEN %(low)s AND %(high)s AND b.tier_id IS DISTINCT FROM band.id
            ),
            moved AS (
                UPDATE citizenpoints_balance b SET tier_id = target.to_tier FROM target
                WHERE b.resident_id = target.resident_id
                RETURNING target.resident_id, target.from_tier, target.to_tier, target.updated_at
            )
            INSERT INTO citizenpoints_tierchange (resident_id, from_tier_id, to_tier_id, cause, changed_at)
            SELECT resident_id, from_tier, to_tier, 'points', updated_at FROM moved
            """,
            params,
        )


@contextmanager
def indexes_deferred(*tables: str):
    """Drop the tables' secondary indexes and unique constraints for a bulk load; build them again after it.

    One sort per index instead of millions of random insertions (the ledger has 17 indexes). Primary keys stay,
    since foreign keys refer to them. The rebuilt indexes are compact, as after a REINDEX.
    """
    rebuild = []
    for table in tables:
        constraints = fetchall(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'u'",
            [table],
        )
        for name, definition in constraints:
            execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        indexes = fetchall(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
            "WHERE indrelid = %s::regclass AND NOT indisprimary",
            [table],
        )
        for name, definition in indexes:
            execute(f"DROP INDEX {name}")
            rebuild.append(definition)
    try:
        yield
    finally:
        for statement in rebuild:
            execute(statement)


def vacuum_analyze() -> None:
    """What autovacuum would have done on a live system: statistics, and the visibility map for index-only scans."""
    execute(f"VACUUM (ANALYZE) {', '.join(TOUCHED_TABLES)}")


def check_balances() -> int:
    """Balances that differ from their ledger (points in the window, chain head): must be none."""
    return fetchone(
        """
        SELECT count(*) FROM citizenpoints_balance b
        LEFT JOIN (
            SELECT resident_id, SUM(points) FILTER (WHERE occurred_at >= %s) AS points, MAX(seq) AS last_seq
            FROM citizenpoints_ledgerentry GROUP BY resident_id
        ) l USING (resident_id)
        WHERE b.points <> COALESCE(l.points, 0) OR b.last_seq <> COALESCE(l.last_seq, 0)
        """,
        [fetchone("SELECT starts_at FROM citizenpoints_scoringwindow WHERE id = 1")[0]],
    )[0]


def generation_session(on: bool) -> None:
    """Bulk-load settings for this connection only: fewer WAL flushes, room for sorts and the VACUUM, and no
    foreign-key triggers (session_replication_role, superuser only): the generated keys are valid by construction,
    and the ledger's seven foreign keys would otherwise be checked row by row, millions of times."""
    from django.db import DatabaseError

    if on:
        try:
            execute("SET session_replication_role = replica")
        except DatabaseError:
            say("  (not a superuser: foreign keys are checked row by row, generation is slower)")
        execute("SET synchronous_commit = off")
        execute("SET work_mem = '256MB'")
        execute("SET maintenance_work_mem = '1GB'")
    else:
        execute("RESET ALL")


# --- Pages in-process ---------------------------------------------------------------------------------------------
def schedstat_ns(pid: int) -> int | None:
    """CPU time a process has run, in ns (Linux /proc/<pid>/schedstat); None where unreadable."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def database_is_local() -> bool:
    from django.db import connection

    return connection.settings_dict.get("HOST") in ("", "127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Subject:
    """A measured resident at one scale."""

    resident_id: int
    residents: int
    entries: int


@dataclass
class PageResult:
    page: str
    subject: Subject
    status: int
    queries: int = 0
    median_ms: float = 0.0
    min_ms: float = 0.0
    cpu_ms: float | None = None  # median CPU per request: this process (Django) + its PostgreSQL backend
    size: int = 0
    sql: list[str] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)


def measure_pages(subjects: list[Subject], requests: int) -> list[PageResult]:
    """Each page through the test Client, logged in as each subject: its queries, then `requests` timed requests.

    The subjects' requests alternate, so whatever else loads the machine weighs on all of them alike. Besides wall
    time, each request's CPU time (Django in this process plus the PostgreSQL backend serving it) is recorded:
    unlike wall time, it does not grow when other processes compete for the cores.
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    from citizenpoints.models import Resident

    clients = {}
    for subject in subjects:
        clients[subject] = Client()
        clients[subject].force_login(Resident.objects.select_related("user").get(pk=subject.resident_id).user)
    backend = fetchone("SELECT pg_backend_pid()")[0] if database_is_local() else None

    def cpu_ns() -> int | None:
        database = schedstat_ns(backend) if backend else None
        return None if database is None else time.process_time_ns() + database

    results = []
    for page, url_name in PAGES:
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            results += [PageResult(page, subject, status=404) for subject in subjects]
            continue
        live = {}
        for subject in subjects:
            for _ in range(WARMUP_REQUESTS):
                response = clients[subject].get(url)
            result = PageResult(page, subject, status=response.status_code)
            results.append(result)
            if response.status_code != 200:
                continue
            with CaptureQueriesContext(connection) as captured:
                response = clients[subject].get(url)
            result.queries = len(captured.captured_queries)
            result.sql = [query["sql"] for query in captured.captured_queries]
            result.slowest = sorted(
                ((float(query["time"]) * 1000, query["sql"]) for query in captured.captured_queries), reverse=True
            )[:3]
            result.size = len(response.content)
            live[subject] = result
        walls: dict[Subject, list[float]] = {subject: [] for subject in live}
        cpus: dict[Subject, list[float]] = {subject: [] for subject in live}
        for _ in range(requests):
            for subject in live:
                cpu_before = cpu_ns()
                start = time.perf_counter()
                clients[subject].get(url)
                walls[subject].append((time.perf_counter() - start) * 1000)
                cpu_after = cpu_ns()
                if cpu_before is not None and cpu_after is not None:
                    cpus[subject].append((cpu_after - cpu_before) / 1e6)
        for subject, result in live.items():
            result.median_ms = statistics.median(walls[subject])
            result.min_ms = min(walls[subject])
            result.cpu_ms = statistics.median(cpus[subject]) if cpus[subject] else None
    return results


def shorten(sql: str, width: int = 110) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@dataclass(frozen=True)
class PageVerdict:
    page: str
    complete: bool
    queries_equal: bool
    ratio: float
    cpu_ratio: float | None


def spread(values: list[float]) -> float:
    return max(values) / min(values) if values and min(values) > 0 else float("nan")


def plan_and_run_ms(sql: str, repeat: int = 5) -> tuple[float, float, str]:
    """(planning, planning + execution) of a read-only statement in PostgreSQL, in ms.

    With a local server: the backend's CPU time for EXPLAIN alone and for the statement, medians of `repeat`; CPU
    time does not grow with other load. Otherwise EXPLAIN ANALYZE's (wall) timings.
    """
    backend = fetchone("SELECT pg_backend_pid()")[0] if database_is_local() else None
    if backend is not None and schedstat_ns(backend) is not None:

        def cpu_ms(statement: str) -> float:
            samples = []
            for _ in range(repeat):
                before = schedstat_ns(backend)
                fetchall(statement)
                samples.append((schedstat_ns(backend) - before) / 1e6)
            return statistics.median(samples)

        total = cpu_ms(sql)
        return min(cpu_ms("EXPLAIN " + sql), total), total, "CPU"
    planning, execution = [], []
    for _ in range(repeat):
        ((report,),) = fetchall("EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) " + sql)
        planning.append(report[0]["Planning Time"])
        execution.append(report[0]["Planning Time"] + report[0]["Execution Time"])
    return statistics.median(planning), statistics.median(execution), "wall"


def report_pages(results: list[PageResult]) -> list[PageVerdict]:
    say("\nPages, in-process (Django test Client, logged in; the residents' requests alternate after warm-up)")
    say(
        f"  {'page':<10} {'residents':>10} {'entries':>8} {'status':>6} {'queries':>7} {'median ms':>10} "
        f"{'min ms':>8} {'CPU ms':>7} {'bytes':>7}"
    )
    for result in results:
        cpu = f"{result.cpu_ms:7.2f}" if result.cpu_ms is not None else "      -"
        say(
            f"  {result.page:<10} {result.subject.residents:>10,} {result.subject.entries:>8,} {result.status:>6} "
            f"{result.queries:>7} {result.median_ms:>10.2f} {result.min_ms:>8.2f} {cpu} {result.size:>7,}"
        )
    say("  (CPU ms: median per request of Django in this process plus its PostgreSQL backend; not inflated by")
    say("  other load on the machine, unlike wall time)")
    verdicts = []
    for page, _url_name in PAGES:
        rows = [result for result in results if result.page == page]
        complete = all(result.status == 200 for result in rows)
        counts = [result.queries for result in rows]
        equal = complete and len(set(counts)) == 1
        ratio = spread([result.median_ms for result in rows]) if complete else float("nan")
        cpu_times = [result.cpu_ms for result in rows]
        cpu_ratio = spread(cpu_times) if complete and None not in cpu_times else None
        verdicts.append(PageVerdict(page, complete, equal, ratio, cpu_ratio))
        if not complete:
            say(f"  {page}: not measured at every scale (status {[result.status for result in rows]})")
            continue
        met = "met" if ratio <= TIME_RATIO_GOAL else "NOT met"
        cpu = f"; CPU max/min {cpu_ratio:.2f}" if cpu_ratio is not None else ""
        say(
            f"  {page}: queries {'/'.join(map(str, counts))} equal: {'yes' if equal else 'no'}; "
            f"time max/min {ratio:.2f} (goal <= {TIME_RATIO_GOAL}: {met}){cpu}"
        )
        if not equal:
            first, last = rows[0], rows[-1]
            extra = [sql for sql in last.sql if sql not in first.sql] or last.sql[len(first.sql) :]
            for sql in extra[:3]:
                say(f"      only at the large scale: {shorten(sql)}")
        largest = max(rows, key=lambda result: (result.subject.residents, result.subject.entries))
        say(
            f"    slowest queries at {largest.subject.residents:,} residents, {largest.subject.entries:,} entries "
            f"(wall ms as captured; PostgreSQL's own cost, of which planning):"
        )
        for ms, sql in largest.slowest:
            split = ""
            if sql.lstrip().upper().startswith("SELECT"):
                planning, total, kind = plan_and_run_ms(sql)
                split = f"; {kind} {total:6.2f} ms, planning {planning:6.2f}"
            say(f"      {ms:7.2f} ms{split}  {shorten(sql, 80)}")
    return verdicts


# --- The dashboard under gunicorn ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(port: int, path: str, headers: dict, timeout: float = 30) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def gunicorn_server(workers: int):
    """gunicorn serving the product (plus the bare view) on a free loopback port; stopped on exit, by its own pid."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard_settings"}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "citizenpoints.wsgi",
        "-w",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "--pythonpath",
        str(BENCH_DIR),
        "--log-level",
        "warning",
    ]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"gunicorn did not start:\n{log.read().decode(errors='replace')}")
                try:
                    if http_get(port, "/bench/bare", {}, timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            yield port, server.pid
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine, from /proc/stat (Linux); None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    values = [int(value) for value in fields[:8]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def children_of(parent: int) -> list[int]:
    """Pids whose parent is `parent` (gunicorn's workers), read from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            after_name = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(after_name[1]) == parent:
            pids.append(int(entry.name))
    return pids


@dataclass
class Load:
    """What one view served over all its runs."""

    path: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    server_cpu_ns: int = 0  # gunicorn's processes plus the PostgreSQL backends serving them
    machine_busy: int = 0
    machine_total: int = 0
    client_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000 if ordered else float("nan")

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_ns / 1e6 / len(self.latencies) if self.latencies else float("nan")


def drive(load: Load, port: int, headers: dict, seconds: float, connections: int, server_pids: list[int]) -> None:
    """`connections` threads, each issuing one request at a time until `seconds` have passed. Bounded, loopback.

    Only requests completed inside the window count; gunicorn's sync workers close every connection, so each
    request opens its own (as behind a load balancer without keep-alive).
    """
    start = time.perf_counter()
    deadline = start + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def worker(slot: int) -> None:
        while (begun := time.perf_counter()) < deadline:
            try:
                status, _body = http_get(port, load.path, headers)
            except (OSError, http.client.HTTPException):
                status = 0
            done = time.perf_counter()
            if done > deadline:
                return
            if status == 200:
                latencies[slot].append(done - begun)
            else:
                errors[slot] += 1

    def server_cpu() -> int:
        return sum(schedstat_ns(pid) or 0 for pid in server_pids)

    cpu_before, machine_before, times_before = server_cpu(), cpu_jiffies(), os.times()
    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu_after, machine_after, times_after = server_cpu(), cpu_jiffies(), os.times()
    for slot in latencies:
        load.latencies += slot
    load.errors += sum(errors)
    load.seconds += seconds
    load.server_cpu_ns += cpu_after - cpu_before
    if machine_before and machine_after:
        load.machine_busy += machine_after[0] - machine_before[0]
        load.machine_total += machine_after[1] - machine_before[1]
    load.client_cpu_s += (times_after.user + times_after.system) - (times_before.user + times_before.system)


def session_cookie(resident_id: int) -> str:
    """A logged-in session for the resident, written to the session store as django.contrib.auth.login would."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from citizenpoints.models import Resident

    user = Resident.objects.select_related("user").get(pk=resident_id).user
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = user._meta.pk.value_to_string(user)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


@dataclass(frozen=True)
class RpsVerdict:
    ratio: float
    cpu_ratio: float | None  # the same comparison from server CPU per request: capacity, whatever else runs


def measure_gunicorn(resident_id: int, seconds: float, connections: int, workers: int = 2, rounds: int = 2):
    """The dashboard's requests/s against the bare view's, alternating runs so that other load hits both alike."""
    from django.urls import reverse

    dashboard = reverse("home")
    cookie = session_cookie(resident_id)
    say(
        f"\nUnder gunicorn (-w {workers}, sync workers, CONN_MAX_AGE={os.environ['CONN_MAX_AGE']}, DEBUG off): "
        f"{connections} connections, {rounds} alternating runs of {seconds / rounds:g} s per view, loopback, "
        f"resident #{resident_id}; load average {os.getloadavg()[0]:.1f}"
    )
    from django.conf import settings

    say(f"  cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}, sessions {settings.SESSION_ENGINE}")
    with gunicorn_server(workers) as (port, master):
        status, _body = http_get(port, dashboard, {"Cookie": cookie})
        if status != 200:
            raise RuntimeError(f"the dashboard answered {status} under gunicorn: the session cookie was not accepted")
        loads = {"bare view": Load("/bench/bare"), "signed-in": Load("/bench/signed-in"), "dashboard": Load(dashboard)}
        headers = {"bare view": {}, "signed-in": {"Cookie": cookie}, "dashboard": {"Cookie": cookie}}
        for label, load in loads.items():  # warm-up: workers' database connections, templates, caches
            drive(Load(load.path), port, headers[label], 1.0, connections, [])
        server_pids = [master, *children_of(master)]
        # The backends the workers keep (CONN_MAX_AGE > 0); with a connection per request they come and go unseen.
        persistent = os.environ["CONN_MAX_AGE"] != "0"
        if database_is_local() and persistent:
            server_pids += [
                pid
                for (pid,) in fetchall(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ]
        for _round in range(rounds):
            for label, load in loads.items():
                drive(load, port, headers[label], seconds / rounds, connections, server_pids)
    for label, load in loads.items():
        machine = f"{os.cpu_count() * load.machine_busy / load.machine_total:.2f}" if load.machine_total else "?"
        say(
            f"  {label:<10} {load.path:<17}{load.rps:8.1f} req/s  p50 {load.percentile_ms(0.5):6.1f} ms  "
            f"p95 {load.percentile_ms(0.95):6.1f} ms  errors {load.errors}  server CPU {load.cpu_ms_per_request:5.2f} "
            f"ms/request; machine busy {machine} of {os.cpu_count()} cores, load generator "
            f"{load.client_cpu_s / load.seconds:.2f}"
        )
    bare, page, floor = loads["bare view"], loads["dashboard"], loads["signed-in"]
    ratio = page.rps / bare.rps
    counted = page.server_cpu_ns and persistent and database_is_local()
    cpu_ratio = bare.cpu_ms_per_request / page.cpu_ms_per_request if counted else None
    verdict = "met" if ratio >= RPS_RATIO_GOAL else "NOT met"
    say(f"  dashboard / bare requests/s: {ratio:.2f} (goal >= {RPS_RATIO_GOAL}: {verdict})")
    if cpu_ratio is not None:
        say(f"  the same from server CPU per request (gunicorn + PostgreSQL, whatever else runs): {cpu_ratio:.2f}")
        say(
            f"  any signed-in page's chrome (/bench/signed-in) / bare: requests/s {floor.rps / bare.rps:.2f}, "
            f"by CPU {bare.cpu_ms_per_request / floor.cpu_ms_per_request:.2f}; the dashboard's own work: "
            f"{page.cpu_ms_per_request - floor.cpu_ms_per_request:.2f} ms of server CPU per request"
        )
    return RpsVerdict(ratio, cpu_ratio)


# --- The nightly pass ---------------------------------------------------------------------------------------------
def timed_sequential_scan(statement: str, params=None, repeat: int = 3) -> tuple[float, tuple]:
    """The best of `repeat` runs with index access disabled: a plain sequential scan, warm cache."""
    from django.db import transaction

    best, row = float("inf"), ()
    for _ in range(repeat):
        with transaction.atomic():
            execute("SET LOCAL enable_indexscan = off")
            execute("SET LOCAL enable_indexonlyscan = off")
            execute("SET LOCAL enable_bitmapscan = off")
            start = time.perf_counter()
            row = fetchone(statement, params)
            best = min(best, time.perf_counter() - start)
    return best, row


def explain_pass(tick: datetime.datetime, threshold_ms: float) -> list[tuple[str, list[str]]]:
    """The nightly pass once under EXPLAIN ANALYZE, in a transaction rolled back: (statement, plan) of each write
    that took at least `threshold_ms`. Run before the timed pass, on the same data.

    Only INSERT, UPDATE and WITH statements are explained (they execute under EXPLAIN ANALYZE as they would);
    reads pass through, since the services use their rows.
    """
    from django.db import connection, transaction

    from citizenpoints.services.badges import badges_evaluate_all
    from citizenpoints.services.scoring import scoring_age

    plans = []

    def explainer(execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH")):
            return execute(sql, params, many, context)
        result = execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params, many, context)
        lines = [line for (line,) in context["cursor"].fetchall()]
        took = next((float(line.split()[2]) for line in lines if line.startswith("Execution Time")), 0.0)
        if took >= threshold_ms:
            plans.append((sql, lines))
        return result

    with transaction.atomic(), connection.execute_wrapper(explainer):
        scoring_age(now=tick)
        badges_evaluate_all(now=tick)
        transaction.set_rollback(True)
    return plans


def measure_nightly(residents: int, show_plans: bool) -> float:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from citizenpoints.services.badges import badges_evaluate_all
    from citizenpoints.services.scoring import scoring_age

    tick = timezone.now() + datetime.timedelta(days=1)  # the window moves by one day: one day's slice ages out
    year_ago = tick - datetime.timedelta(days=365)
    balance_scan, (balance_rows, _sum) = timed_sequential_scan(
        "SELECT count(*), sum(points) FROM citizenpoints_balance"
    )
    ledger_scan, (ledger_rows, _sum) = timed_sequential_scan(
        "SELECT count(*), sum(points) FROM citizenpoints_ledgerentry WHERE occurred_at >= %s", [year_ago]
    )
    plans = explain_pass(tick, threshold_ms=200) if show_plans else []
    with CaptureQueriesContext(connection) as ageing_queries:
        start = time.perf_counter()
        aged = scoring_age(now=tick)
        ageing = time.perf_counter() - start
    with CaptureQueriesContext(connection) as badge_queries:
        start = time.perf_counter()
        granted = badges_evaluate_all(now=tick)
        badges = time.perf_counter() - start
    total = ageing + badges
    rate = residents / total
    scans = balance_scan + ledger_scan
    moved_to = f"{aged['window_start']:%Y-%m-%d}"
    say(f"\nNightly pass over {residents:,} residents, the window moved by one day (to {moved_to})")
    say(
        f"  ageing + tiers (scoring_age): {ageing:7.2f} s  balances aged {aged['balances_aged']:,}, "
        f"tier changes {aged['tier_changes']:,}, {len(ageing_queries)} statements"
    )
    for query in sorted(ageing_queries.captured_queries, key=lambda q: -float(q["time"]))[:3]:
        say(f"      {float(query['time']):7.2f} s  {shorten(query['sql'], 100)}")
    say(f"  badges (badges_evaluate_all): {badges:7.2f} s  granted {granted:,}, {len(badge_queries)} statements")
    for query in sorted(badge_queries.captured_queries, key=lambda q: -float(q["time"]))[:4]:
        say(f"      {float(query['time']):7.2f} s  {shorten(query['sql'], 100)}")
    statements = len(ageing_queries) + len(badge_queries)
    say(f"  whole pass: {total:.2f} s = {rate:,.0f} residents/s, in {statements} SQL statements (set-based)")
    say(
        f"  baseline, plain sequential scans (best of 3): balances {balance_rows:,} rows {balance_scan:.2f} s; "
        f"ledger's last 365 days {ledger_rows:,} rows {ledger_scan:.2f} s; together {scans:.2f} s "
        f"= {residents / scans:,.0f} residents/s"
    )
    say(f"  pass / scans: {total / scans:.1f}x")
    mismatched = check_balances()
    say(f"  balances equal to the ledger after the pass: {'yes' if mismatched == 0 else f'NO, {mismatched:,} differ'}")
    for sql, plan in plans:
        say(f"\n  EXPLAIN ANALYZE (a rolled-back run before the timed one): {shorten(sql, 80)}")
        for line in plan:
            say(f"    {line}")
    return rate


# --- The run ------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 -> 100,000 residents, 10 -> 10,000 entries")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page and scale (default 20)")
    parser.add_argument("--load-seconds", type=float, default=10, help="gunicorn run per view (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the nightly pass's slow statements")
    parser.add_argument(
        "--gunicorn-only",
        action="store_true",
        help="only the gunicorn part: the smaller population, #2 grown to the large entry count, no page timings, "
        "no million residents, no nightly pass",
    )
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    few, many = scale.entries
    small_population, large_population = scale.residents

    configure_environment()
    database = recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from citizenpoints.services.badges import badges_evaluate_all
    from citizenpoints.services.ledger import ledger_verify

    call_command("migrate", verbosity=0, interactive=False)
    server = fetchone("SELECT current_setting('server_version'), current_setting('shared_buffers')")
    say(
        f"bench/dashboard.py, scale: {scale.name} (residents {small_population:,} -> {large_population:,}, "
        f"entries {few:,} -> {many:,})"
    )
    say(
        f"database {database} on PostgreSQL {server[0]} (shared_buffers {server[1]}), {os.cpu_count()} CPUs, "
        f"settings citizenpoints.settings with DEBUG off"
    )
    rng = random.Random(20261121)  # reproducible data
    results: list[PageResult] = []
    generation = time.perf_counter()

    say(f"\n1. {small_population:,} residents; #{SMALL} and #{BIG} with {few:,} entries each")
    generation_session(True)
    world = setup_world()
    with step("residents, accounts, consents, balances"):
        add_residents(world, 1, small_population)
    with step("ledger"):
        add_measured_entries(world, SMALL, few, rng)
        add_measured_entries(world, BIG, few, rng)
        add_background_entries(world, BIG + 1, small_population)
    with step("balances and tiers from the ledger, badges, VACUUM ANALYZE"):
        settle_balances(world, 1, small_population)
        badges_evaluate_all(now=world.now)
        vacuum_analyze()

    say(f"\n2. #{BIG} grows to {many:,} entries")
    with step("ledger (hashed by entry_hash, COPY)"):
        add_measured_entries(world, BIG, many - few, rng)
    with step("balance, tier, badges, VACUUM ANALYZE"):
        settle_balances(world, BIG, BIG)
        badges_evaluate_all(now=world.now, resident_ids=[BIG])
        vacuum_analyze()
    problems = list(ledger_verify(resident_ids=[SMALL, BIG]))
    say(f"  chains of #{SMALL} and #{BIG} verify: {'yes' if not problems else f'NO: {problems[:3]}'}")
    generation_session(False)
    if args.gunicorn_only:
        rps = measure_gunicorn(BIG, args.load_seconds, args.connections)
        cpu = f", by CPU time: {rps.cpu_ratio:.2f}" if rps.cpu_ratio is not None else ""
        say(f"\ndashboard under gunicorn only: rps ratio: {rps.ratio:.2f}{cpu}")
        return
    say(f"  measuring the pages (load average {os.getloadavg()[0]:.1f})")
    subjects = [Subject(SMALL, small_population, few), Subject(BIG, small_population, many)]
    results += measure_pages(subjects, args.requests)

    say(f"\n3. residents grow to {large_population:,}")
    generation_session(True)
    with step("residents, accounts, consents, balances (indexes rebuilt after)"), indexes_deferred(*RESIDENT_TABLES):
        add_residents(world, small_population + 1, large_population)
    with step("ledger (hashed in SQL, indexes rebuilt after)"), indexes_deferred("citizenpoints_ledgerentry"):
        rows = add_background_entries(world, small_population + 1, large_population)
    with step("balances and tiers from the ledger"):
        settle_balances(world, small_population + 1, large_population)
    with step("badges (badges_evaluate_all, catching up)"):
        badges_evaluate_all(now=world.now)
    with step("VACUUM ANALYZE"):
        vacuum_analyze()
    generation_session(False)
    total_entries = fetchone("SELECT count(*) FROM citizenpoints_ledgerentry")[0]
    mismatched = check_balances()
    say(
        f"  {rows:,} background entries, {total_entries:,} in the ledger; balances equal to the ledger: "
        f"{'yes' if mismatched == 0 else f'NO, {mismatched:,} differ'}"
    )
    say(f"  generation took {time.perf_counter() - generation:.0f} s in all")
    say(f"  measuring the pages (load average {os.getloadavg()[0]:.1f})")
    subjects = [Subject(SMALL, large_population, few), Subject(BIG, large_population, many)]
    results += measure_pages(subjects, args.requests)

    verdicts = report_pages(results)
    rps = measure_gunicorn(BIG, args.load_seconds, args.connections)
    rate = measure_nightly(large_population, args.explain)

    measured = [verdict for verdict in verdicts if verdict.complete]
    queries_equal = len(measured) == len(PAGES) and all(verdict.queries_equal for verdict in measured)
    ratio = max((verdict.ratio for verdict in measured), default=float("nan"))
    cpu_ratios = [verdict.cpu_ratio for verdict in measured if verdict.cpu_ratio is not None]
    if cpu_ratios and rps.cpu_ratio is not None:
        say(
            f"\nfrom CPU time instead of wall time: page time ratio max {max(cpu_ratios):.2f}, "
            f"rps ratio {rps.cpu_ratio:.2f}"
        )
    say(
        f"\ndashboard: queries equal: {'yes' if queries_equal else 'no'}, time ratio max: {ratio:.2f}, "
        f"rps ratio: {rps.ratio:.2f}, nightly: {rate:,.0f} residents/s"
    )


if __name__ == "__main__":
    main()
