"""The office's statistics over a city of a million residents, on PostgreSQL, against plain table scans.

    .tools/bin/uv run --frozen python bench/office_statistics.py [--quick] [--repeat 5] [--explain] [--try-index]

The issue asks for aggregates computed in SQL and fast with a million residents. This recreates the database named in
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/citypoints_bench_statistics; the name must contain "bench",
nothing else is dropped), migrates it and fills it at database speed with INSERT ... SELECT generate_series (no
service is called; the loading connection skips triggers and foreign-key checks, the ledger's append-only trigger
included, and rebuilds the big tables' indexes after the load):

- 1,000,000 residents, each with a balance in a tier of the active scheme (about half a percent have left);
- about 3,000,000 ledger awards over 13 months in nine categories, and a reversal for every 200th;
- about 50,000 badges, 20,000 appeals (a tenth still open), 50,000 claims;
- 300 department batches of 10,000 records each (3,000,000 records, a few percent refused);
- 50 partners with 150 benefits and 200,000 redemptions.

Then, for each registered statistic over the default period (the last twelve months), the time of its row function and
headline figures (best and median of --repeat runs, warm cache), its query count and its slowest statement; the
whole statistics page through Django's test client; and baselines measured in the same run: `SELECT count(*)` of the
ledger, the balances and the ingest records (what merely reading the rows costs). `--explain` prints EXPLAIN ANALYZE
of each statistic's slowest statement; `--try-index` builds a candidate index and measures again.
Ends with: `statistics: slowest N ms (key), all N ms total, page N ms; ledger count(*) N ms`.
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import dashboard  # noqa: E402  (bench/dashboard.py: environment, database recreation, SQL helpers)
from dashboard import execute, fetchall, fetchone, model_defaults, recreate_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/citypoints_bench_statistics"
BEHAVIOURS = (  # (code, category, points, department)
    ("volunteer-shift", "volunteering", 5, "volunteers"),
    ("gym-visit", "sport-fitness", 2, "gyms"),
    ("elderly-visit", "community-care", 3, "community"),
    ("blood-donation", "blood-donation", 20, "blood-centre"),
    ("library-loan", "reading-culture", 1, "library"),
    ("metro-trip", "green-travel", 1, "metro"),
    ("charity-donation", "charity", 10, "civil-affairs"),
    ("lost-property-returned", "good-deeds", 8, "community"),
    ("tree-planting", "environment", 4, "parks"),
)
DEPARTMENTS = {
    "volunteers": ("Volunteer Federation", "志愿者联合会"),
    "gyms": ("City Gyms", "城市健身中心"),
    "community": ("Community Centres", "社区服务中心"),
    "blood-centre": ("Blood Centre", "血液中心"),
    "library": ("City Library", "市图书馆"),
    "metro": ("Metro Group", "地铁集团"),
    "civil-affairs": ("Civil Affairs Bureau", "民政局"),
    "parks": ("Parks Bureau", "园林局"),
}
HISTORY_DAYS = 395
BULK_TABLES = ("citizenpoints_ledgerentry", "citizenpoints_ingestrecord", "citizenpoints_balance")
TOUCHED_TABLES = (
    "citizenpoints_resident",
    "citizenpoints_balance",
    "citizenpoints_ledgerentry",
    "citizenpoints_residentbadge",
    "citizenpoints_appeal",
    "citizenpoints_claim",
    "citizenpoints_ingestbatch",
    "citizenpoints_ingestrecord",
    "benefits_redemptiontoken",
    "benefits_redemption",
)
CANDIDATE_INDEX = [
    # Narrow rows for the points statistic: an index-only scan reads a fifth of the ledger's pages.
    "CREATE INDEX bench_ledger_statistics ON citizenpoints_ledgerentry (occurred_at) "
    "INCLUDE (category_id, kind, points)",
    # How many (local month, category) groups there are: the planner then hashes in parallel without work_mem.
    "CREATE STATISTICS bench_ledger_month_category (ndistinct) ON "
    "(date_trunc('month', occurred_at AT TIME ZONE 'Asia/Shanghai')), category_id FROM citizenpoints_ledgerentry",
]


def say(*parts) -> None:
    print(*parts, flush=True)


@contextmanager
def step(label: str):
    start = time.perf_counter()
    yield
    say(f"  {label}: {time.perf_counter() - start:.1f} s")


# --- The database -------------------------------------------------------------------------------------------------
def configure_environment() -> None:
    """bench/dashboard.py's environment (the product's settings without DEBUG), on this benchmark's database."""
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    dashboard.configure_environment()


def insert_select(model, columns: dict[str, str], tail: str, params: dict, prefix: str = "") -> int:
    """`[prefix] INSERT INTO <table> (columns) SELECT <expressions> <tail>`, every other column at its default."""
    from django.db import connection

    defaults = model_defaults(model, columns)
    names = ", ".join(connection.ops.quote_name(column) for column in [*columns, *defaults])
    expressions = ", ".join([*columns.values(), *(f"%(default_{column})s" for column in defaults)])
    params = {**params, **{f"default_{column}": value for column, value in defaults.items()}}
    return execute(f"{prefix} INSERT INTO {model._meta.db_table} ({names}) SELECT {expressions} {tail}", params)


def reset_sequence(table: str) -> None:
    execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(max(id), 1) FROM {table}))")


@contextmanager
def indexes_deferred(*tables: str):
    """Drop the tables' secondary indexes and unique constraints for the load; build them again after it."""
    rebuild = []
    for table in tables:
        for name, definition in fetchall(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'u'",
            [table],
        ):
            execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in fetchall(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = %s::regclass AND NOT indisprimary",
            [table],
        ):
            execute(f"DROP INDEX {name}")
            rebuild.append(definition)
    try:
        yield
    finally:
        for statement in rebuild:
            execute(statement)


def generation_session(on: bool) -> None:
    """This connection only: no triggers or foreign-key checks (session_replication_role, superuser only), fewer WAL
    flushes, room for sorts. Generated keys are valid by construction."""
    from django.db import DatabaseError

    if on:
        try:
            execute("SET session_replication_role = replica")
        except DatabaseError:
            say("  (not a superuser: triggers and foreign keys run, generation is slower)")
        execute("SET synchronous_commit = off")
        execute("SET work_mem = '256MB'")
        execute("SET maintenance_work_mem = '1GB'")
    else:
        execute("RESET ALL")


# --- Generating data ----------------------------------------------------------------------------------------------
def generate(residents: int, now: datetime.datetime) -> dict:
    from django.conf import settings
    from django.db import transaction

    from benefits.models import Benefit, Merchant, MerchantStaff, Redemption, RedemptionToken
    from citizenpoints.models import (
        Appeal,
        Badge,
        Balance,
        Behaviour,
        Claim,
        DataSource,
        IngestBatch,
        IngestRecord,
        LedgerEntry,
        Resident,
        ResidentBadge,
        Tier,
        User,
    )
    from tests.factories import published_catalogue

    departments = {
        code: DataSource.objects.create(code=code, name_en=en, name_zh=zh) for code, (en, zh) in DEPARTMENTS.items()
    }
    version = published_catalogue(
        behaviours=[
            {"code": code, "category": category, "rule": {"points": points}, "sources": [departments[department]]}
            for code, category, points, department in BEHAVIOURS
        ],
        sources=[],
    )
    behaviours = {behaviour.code: behaviour for behaviour in Behaviour.objects.filter(version=version)}
    reviewer = User.objects.create_user(email="reviewer@bench.citypoints.example")
    office = DataSource.objects.get(code="office")
    tiers = list(Tier.objects.filter(scheme__is_active=True).order_by("min_score").values_list("pk", flat=True))
    origin = now - datetime.timedelta(days=HISTORY_DAYS)
    params = {"n": residents, "now": now, "origin": origin, "days": HISTORY_DAYS, "reviewer": reviewer.pk}
    series = "FROM generate_series(1, %(n)s::bigint) AS i"

    with step(f"{residents:,} residents and balances (tiers 45/25/15/10/5 %, 0.5 % left)"), transaction.atomic():
        insert_select(
            Resident,
            {
                "id": "i",
                "given_name": "''",
                "language": "CASE WHEN mod(i, 3) = 0 THEN 'en' ELSE 'zh-hans' END",
                "joined_at": "%(origin)s::timestamptz - interval '30 days'",
                "terms_version": f"'{settings.CITYPOINTS_TERMS_VERSION}'",
                "left_at": "CASE WHEN mod(i, 200) = 7 THEN %(now)s::timestamptz END",
            },
            series,
            params,
        )
        bucket = "mod(i * 7919, 100)"
        tier_sql = (
            f"CASE WHEN {bucket} < 45 THEN {tiers[0]} WHEN {bucket} < 70 THEN {tiers[1]} "
            f"WHEN {bucket} < 85 THEN {tiers[2]} WHEN {bucket} < 95 THEN {tiers[3]} ELSE {tiers[4]} END"
        )
        with indexes_deferred("citizenpoints_balance"):
            insert_select(Balance, {"resident_id": "i", "tier_id": tier_sql, "updated_at": "%(now)s"}, series, params)
        reset_sequence("citizenpoints_resident")

    values = ", ".join(
        f"({index}, {behaviours[code].pk}, '{code}', {behaviours[code].category_id}, {version.pk}, "
        f"{departments[department].pk}, {points})"
        for index, (code, _category, points, department) in enumerate(BEHAVIOURS)
    )
    digest = "md5('b:' || {r} || ':' || {s}) || md5('c:' || {r} || ':' || {s})"
    with step("ledger: 0-6 awards per resident over 13 months, a reversal for every 200th (indexes rebuilt after)"):
        with transaction.atomic(), indexes_deferred("citizenpoints_ledgerentry"):
            insert_select(
                LedgerEntry,
                {
                    "resident_id": "e.resident_id",
                    "seq": "e.seq",
                    "kind": "'award'",
                    "behaviour_id": "b.id",
                    "behaviour_code": "b.code",
                    "category_id": "b.category_id",
                    "catalogue_version_id": "b.version_id",
                    "source_id": "b.source_id",
                    "external_id": "'bg-' || e.resident_id || '-' || e.seq",
                    "occurred_at": "e.occurred_at",
                    "recorded_at": "e.occurred_at + interval '2 hours'",
                    "points": "b.points",
                    "prev_hash": "''",
                    "hash": digest.format(r="e.resident_id", s="e.seq"),
                },
                "FROM entry e JOIN behaviour b ON b.idx = e.idx ORDER BY e.occurred_at",
                params,
                prefix=f"""
                WITH behaviour (idx, id, code, category_id, version_id, source_id, points) AS (VALUES {values}),
                entry AS (
                    SELECT i AS resident_id, k AS seq, mod(i * 31 + k * 17, {len(BEHAVIOURS)})::int AS idx,
                        %(origin)s::timestamptz + mod(i * 7919 + k * 104729, %(days)s * 1440) * interval '1 minute'
                            AS occurred_at
                    FROM generate_series(1, %(n)s::bigint) AS i
                    CROSS JOIN LATERAL generate_series(1, mod(i * 2654435761, 7)::int) AS k
                )""",
            )
            reversals = insert_select(
                LedgerEntry,
                {
                    "resident_id": "a.resident_id",
                    "seq": "a.seq + 1000",
                    "kind": "'reversal'",
                    "behaviour_id": "a.behaviour_id",
                    "behaviour_code": "a.behaviour_code",
                    "category_id": "a.category_id",
                    "catalogue_version_id": "a.catalogue_version_id",
                    "source_id": str(office.pk),
                    "external_id": "'reversal:' || a.id",
                    "occurred_at": "a.occurred_at",
                    "recorded_at": "a.recorded_at + interval '3 days'",
                    "points": "-a.points",
                    "reverses_id": "a.id",
                    "reason": "'The department withdrew this record.'",
                    "decided_by_id": "%(reviewer)s",
                    "prev_hash": "''",
                    "hash": digest.format(r="a.resident_id", s="(a.seq + 1000)"),
                },
                "FROM citizenpoints_ledgerentry a WHERE mod(a.id, 200) = 0",
                params,
            )
        reset_sequence("citizenpoints_ledgerentry")

    with step("badges, appeals, claims"), transaction.atomic():
        badges = list(Badge.objects.order_by("pk").values_list("pk", flat=True))
        badge_sql = "(ARRAY[" + ", ".join(map(str, badges)) + "])[1 + mod(i / 20, " + str(len(badges)) + ")]"
        insert_select(
            ResidentBadge,
            {
                "resident_id": "i",
                "badge_id": badge_sql,
                "awarded_at": "%(now)s::timestamptz - mod(i * 31, %(days)s) * interval '1 day'",
            },
            series + " WHERE mod(i, 20) = 0",
            params,
        )
        loan = behaviours["library-loan"].pk
        filed = "%(now)s::timestamptz - mod(i * 104729, %(days)s * 24) * interval '1 hour'"
        is_open = "mod(i, 10) = 0"
        insert_select(
            Appeal,
            {
                "resident_id": "1 + mod(i * 7919, %(n)s)",
                "subject": "'missing'",
                "behaviour_id": str(loan),
                "occurred_at": f"{filed} - interval '2 days'",
                "statement": "'bench'",
                "status": f"CASE WHEN {is_open} THEN 'received' WHEN mod(i, 3) = 0 THEN 'refused' ELSE 'granted' END",
                "filed_at": filed,
                "due_on": f"({filed} + interval '7 days')::date",
                "decided_at": f"CASE WHEN {is_open} THEN NULL ELSE {filed} + mod(i * 13, 240) * interval '1 hour' END",
                "decided_by_id": f"CASE WHEN {is_open} THEN NULL ELSE %(reviewer)s END",
                "decision_reason": f"CASE WHEN {is_open} THEN '' ELSE 'Checked with the department.' END",
            },
            "FROM generate_series(1, 20000::bigint) AS i",
            params,
        )
        claim_status = "(ARRAY['approved', 'approved', 'rejected', 'pending'])[1 + mod(i, 4)]"
        insert_select(
            Claim,
            {
                "resident_id": "1 + mod(i * 104729, %(n)s)",
                "behaviour_id": str(loan),
                "description": "'bench'",
                "occurred_at": filed,
                "place": "'Library'",
                "status": claim_status,
                "filed_at": filed,
                "decided_at": f"CASE WHEN mod(i, 4) = 3 THEN NULL ELSE {filed} + interval '2 days' END",
                "decided_by_id": "CASE WHEN mod(i, 4) = 3 THEN NULL ELSE %(reviewer)s END",
                "decision_reason": "CASE WHEN mod(i, 4) = 2 THEN 'No receipt.' ELSE '' END",
            },
            "FROM generate_series(1, 50000::bigint) AS i",
            params,
        )

    with step("ingest: 300 batches of 10,000 records (indexes rebuilt after)"):
        source_ids = [department.pk for department in departments.values()]
        sources = "(ARRAY[" + ", ".join(map(str, source_ids)) + f"])[1 + mod(i, {len(source_ids)})]"
        with transaction.atomic():
            insert_select(
                IngestBatch,
                {
                    "id": "gen_random_uuid()",
                    "source_id": sources,
                    "idempotency_key": "'bench-' || i",
                    "body_hash": "md5(i::text) || md5(i::text)",
                    "status": "'done'",
                    "record_count": "10000",
                    "received_at": "%(now)s::timestamptz - i * interval '31 hours'",
                    "processed_at": "%(now)s::timestamptz - i * interval '31 hours' + interval '5 minutes'",
                    "attempts": "1",
                },
                "FROM generate_series(1, 300::bigint) AS i",
                params,
            )
            outcome = (
                "CASE WHEN mod(k * 7, 100) < 93 THEN 'accepted' WHEN mod(k * 7, 100) < 96 THEN 'duplicate' "
                "WHEN mod(k * 7, 100) < 98 THEN 'cap_reached' WHEN mod(k * 7, 100) < 99 THEN 'unknown_card' "
                "ELSE 'malformed' END"
            )
            with indexes_deferred("citizenpoints_ingestrecord"):
                insert_select(
                    IngestRecord,
                    {
                        "batch_id": "b.id",
                        "line": "k",
                        "external_id": "'r' || k",
                        "behaviour_code": "'library-loan'",
                        "occurred_at": "b.received_at - interval '1 day'",
                        "resident_id": "1 + mod(k * 7919, %(n)s)",
                        "result": outcome,
                    },
                    "FROM citizenpoints_ingestbatch b CROSS JOIN generate_series(1, 10000::bigint) AS k",
                    params,
                )
            # Each batch's results by outcome, as batch_process writes them when it finishes.
            execute(
                "UPDATE citizenpoints_ingestbatch b SET counts = c.counts FROM ("
                "  SELECT batch_id, jsonb_object_agg(result, n) AS counts FROM ("
                "    SELECT batch_id, result, count(*) AS n FROM citizenpoints_ingestrecord GROUP BY 1, 2"
                "  ) per_result GROUP BY batch_id"
                ") c WHERE b.id = c.batch_id"
            )

    with step("benefits: 50 partners, 150 benefits, 200,000 redemptions"), transaction.atomic():
        families = list(Benefit.Family.values)
        benefit_ids, merchant_of, staff_of = [], {}, {}
        for number in range(50):
            merchant = Merchant.objects.create(
                slug=f"partner-{number}", name_en=f"Partner {number}", name_zh=f"合作商户{number}"
            )
            user = User.objects.create_user(email=f"cashier{number}@bench.citypoints.example")
            staff = MerchantStaff.objects.create(user=user, merchant=merchant)
            for offset in range(3):
                benefit = Benefit.objects.create(
                    merchant=merchant,
                    family=families[(number + offset) % len(families)],
                    title_en=f"Benefit {number}-{offset}",
                    title_zh=f"权益{number}-{offset}",
                    min_tier_id=tiers[offset],
                    valid_from=origin.date(),
                )
                benefit_ids.append(benefit.pk)
                merchant_of[benefit.pk], staff_of[benefit.pk] = merchant.pk, staff.pk
        pick = f"(ARRAY[{', '.join(map(str, benefit_ids))}])[1 + mod(i * 7, {len(benefit_ids)})]"
        when = "%(now)s::timestamptz - mod(i * 104729, %(days)s * 24) * interval '1 hour'"
        insert_select(
            RedemptionToken,
            {
                "id": "i",
                "code": "'B' || lpad(i::text, 7, '0')",
                "resident_id": "1 + mod(i * 7919, %(n)s)",
                "benefit_id": pick,
                "issued_at": when,
                "expires_at": f"{when} + interval '5 minutes'",
                "used_at": f"{when} + interval '1 minute'",
            },
            "FROM generate_series(1, 200000::bigint) AS i",
            params,
        )
        merchants = "CASE t.benefit_id " + " ".join(f"WHEN {b} THEN {m}" for b, m in merchant_of.items()) + " END"
        staff = "CASE t.benefit_id " + " ".join(f"WHEN {b} THEN {s}" for b, s in staff_of.items()) + " END"
        insert_select(
            Redemption,
            {
                "token_id": "t.id",
                "resident_id": "t.resident_id",
                "benefit_id": "t.benefit_id",
                "merchant_id": merchants,
                "staff_id": staff,
                "tier_id": str(tiers[2]),
                "nonce": "'n' || t.id",
                "redeemed_at": "t.used_at",
            },
            "FROM benefits_redemptiontoken t",
            params,
        )
        reset_sequence("benefits_redemptiontoken")
        reset_sequence("benefits_redemption")
    with step("VACUUM ANALYZE"):
        execute("VACUUM (ANALYZE)")  # every table, the small ones the ORM filled included
    counts = {
        table: fetchone(f"SELECT count(*) FROM {table}")[0]
        for table in (
            "citizenpoints_balance",
            "citizenpoints_ledgerentry",
            "citizenpoints_residentbadge",
            "citizenpoints_appeal",
            "citizenpoints_claim",
            "citizenpoints_ingestrecord",
            "benefits_redemption",
        )
    }
    counts["reversals"] = reversals
    return counts


# --- Measuring ----------------------------------------------------------------------------------------------------
def best_and_median(times: list[float]) -> str:
    return f"best {min(times) * 1000:8.1f} ms  median {statistics.median(times) * 1000:8.1f} ms"


def timed(statement: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fetchone(statement)
        times.append(time.perf_counter() - start)
    return times


def make_auditor():
    from django.contrib.auth.models import Group

    from citizenpoints.mfa import totp_enrol
    from citizenpoints.models import OfficeRole, User

    auditor, _created = User.objects.get_or_create(email="auditor@bench.citypoints.example")
    auditor.groups.add(Group.objects.get(name=OfficeRole.AUDITOR))
    if _created:
        totp_enrol(user=auditor)
    return auditor


def measure_statistics(period, repeat: int, explain: bool) -> dict[str, float]:
    """Each statistic through `statistics_compute` (role check, work_mem, rows, headline figures), `repeat` times
    after one warm-up run: {key: best seconds}."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from citizenpoints.statistics import statistics as registered
    from citizenpoints.statistics import statistics_compute

    auditor = make_auditor()
    best = {}
    for statistic in registered():
        times, captured, rows = [], None, []
        for attempt in range(repeat + 1):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                (result,) = statistics_compute(acting_user=auditor, period=period, keys=[statistic.key])
                took = time.perf_counter() - start
            if attempt:  # the first run warms the cache and the plans
                times.append(took)
                captured, rows = queries, result.rows
        slowest = max(captured.captured_queries, key=lambda query: float(query["time"]))
        best[statistic.key] = min(times)
        say(
            f"  {statistic.key:<20} {best_and_median(times)}  {len(captured)} queries, {len(rows)} rows; "
            f"slowest statement {float(slowest['time']) * 1000:.0f} ms"
        )
        if explain:
            from django.db import transaction

            with transaction.atomic():
                execute("SET LOCAL work_mem = '64MB'")
                plan = fetchall("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
            for (line,) in plan:
                say(f"      {line}")
    return best


def schedstat_ns(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def measure_cpu(period) -> None:
    """CPU time per statistic, which other load on the machine does not inflate as it does wall time: the Django side
    (this process) and the PostgreSQL backend (read from /proc, a local server only), with parallel workers off so
    the backend does all of the database's work."""
    from django.db import connection

    from citizenpoints.statistics import statistics as registered
    from citizenpoints.statistics import statistics_compute

    if connection.settings_dict.get("HOST") not in ("", "127.0.0.1", "localhost", "::1"):
        say("  (the database is not local: no CPU figures)")
        return
    auditor = make_auditor()
    backend = fetchone("SELECT pg_backend_pid()")[0]
    execute("SET max_parallel_workers_per_gather = 0")
    try:
        for statistic in registered():
            statistics_compute(acting_user=auditor, period=period, keys=[statistic.key])  # warm
            database, django = schedstat_ns(backend), time.process_time()
            statistics_compute(acting_user=auditor, period=period, keys=[statistic.key])
            django = time.process_time() - django
            database = (schedstat_ns(backend) - database) / 1e6 if database is not None else float("nan")
            say(f"  {statistic.key:<20} CPU: PostgreSQL {database:8.1f} ms, Django {django * 1000:6.1f} ms")
    finally:
        execute("RESET max_parallel_workers_per_gather")


def measure_page(repeat: int) -> float:
    """GET /office/statistics/ through Django's test client, as an auditor with two-factor authentication."""
    from django.test import Client

    client = Client()
    client.force_login(make_auditor())
    times = []
    for attempt in range(repeat + 1):
        start = time.perf_counter()
        response = client.get("/office/statistics/")
        took = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f"the statistics page answered {response.status_code}")
        if attempt:
            times.append(took)
    say(f"  GET /office/statistics/ (all {len(measure_keys())} statistics, charts, tables): {best_and_median(times)}")
    return min(times)


def measure_keys() -> list[str]:
    from citizenpoints.statistics import statistics as registered

    return [statistic.key for statistic in registered()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 residents instead of 1,000,000")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each statistic (default 5)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each statistic's slowest statement")
    parser.add_argument("--try-index", action="store_true", help="measure again with a covering index")
    args = parser.parse_args()
    residents = 100_000 if args.quick else 1_000_000

    configure_environment()
    database = recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from citizenpoints.statistics import Period

    call_command("migrate", verbosity=0, interactive=False)
    server = fetchone("SELECT current_setting('server_version'), current_setting('shared_buffers')")
    parallel = fetchone("SELECT current_setting('max_parallel_workers_per_gather')")[0]
    say(f"bench/office_statistics.py: {residents:,} residents")
    say(
        f"database {database} on PostgreSQL {server[0]} (shared_buffers {server[1]}, "
        f"max_parallel_workers_per_gather {parallel}), {os.cpu_count()} CPUs, DEBUG off"
    )
    now = timezone.now()
    say("\n1. Generating (INSERT ... SELECT generate_series, no services)")
    started = time.perf_counter()
    generation_session(True)
    counts = generate(residents, now)
    generation_session(False)
    say(
        f"  generation took {time.perf_counter() - started:.0f} s: "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items())
    )

    period = Period.last_months(12)
    say(f"\n2. Baselines: bare scans, best of {args.repeat} (load average {os.getloadavg()[0]:.1f})")
    baselines = {}
    for table in ("citizenpoints_ledgerentry", "citizenpoints_balance", "citizenpoints_ingestrecord"):
        timed(f"SELECT count(*) FROM {table}", 1)
        times = timed(f"SELECT count(*) FROM {table}", args.repeat)
        baselines[table] = min(times)
        say(f"  SELECT count(*) FROM {table:<27} {best_and_median(times)}")

    say(
        f"\n3. Each statistic over {period.since:%Y-%m-%d} .. {period.until:%Y-%m-%d}: rows and headline figures, "
        f"best of {args.repeat} after a warm-up (load average {os.getloadavg()[0]:.1f})"
    )
    best = measure_statistics(period, args.repeat, args.explain)
    page = measure_page(args.repeat)
    say("  the same, one run each in CPU time (no parallel workers):")
    measure_cpu(period)
    ledger = baselines["citizenpoints_ledgerentry"]
    say("\n  ratio to the ledger's count(*): " + ", ".join(f"{key} {t / ledger:.2f}" for key, t in best.items()))

    if args.try_index:
        say("\n4. With the candidate index and statistics:\n  " + ";\n  ".join(CANDIDATE_INDEX))
        with step("CREATE INDEX, CREATE STATISTICS, VACUUM ANALYZE"):
            for statement in CANDIDATE_INDEX:
                execute(statement)
            execute("VACUUM (ANALYZE) citizenpoints_ledgerentry")
        measure_statistics(period, args.repeat, args.explain)
        measure_page(args.repeat)
        measure_cpu(period)

    slowest = max(best, key=best.get)
    say(
        f"\nstatistics: slowest {best[slowest] * 1000:.0f} ms ({slowest}), "
        f"all {sum(best.values()) * 1000:.0f} ms total, page {page * 1000:.0f} ms; "
        f"ledger count(*) {ledger * 1000:.0f} ms "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
