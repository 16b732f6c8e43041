"""Department ingest end to end, on PostgreSQL + Redis, against the physical limit of a bare COPY.

    .tools/bin/uv run --frozen python bench/ingest.py [--quick] [--clients N] [--workers N]

The goal (the issue's words): ingest 1,000,000 records for 100,000 residents end to end (accepted by the API, then
ledger, balances, tiers updated) at >= 0.4 times the rate of COPYing the same rows into a bare table shaped and
indexed like the ledger, and in any case >= 12,000 records/s (ten times the peak of a city sending 10 million
records a day); re-sending the whole million adds 0 rows and is no slower than the first pass. Also: the API's
accept latency for a 10,000-record batch (p50, p99) and the workers' peak memory.

How: it recreates the database named in DATABASE_URL (default postgres://postgres@127.0.0.1:5432/
citypoints_bench_ingest; the name must contain "bench", nothing else is dropped), migrates it, and fills residents,
balances and card links at database speed (INSERT ... SELECT generate_series, COPY). The catalogue has five
departments (metro rides with day and month caps, library loans, gym visits, volunteer hours per unit, donations
by amount band). gunicorn (2 workers) serves the real API on a loopback port; real Celery workers (subprocesses,
--pool=solo) consume a queue of their own on REDIS_URL (default redis://127.0.0.1:6379/14). A few client threads
POST 100 batches of 10,000 records (JSON encoded before the clock starts); end to end = first POST to last batch
done. Then the same rows are COPYed into `bench_ledger_copy` (LIKE the ledger INCLUDING ALL: same columns,
indexes, checks; no trigger, no foreign key). Then the million is re-sent twice: with the same Idempotency-Keys (the
API answers with the existing batches) and with new keys (the workers re-process every record and find it already
awarded). `--quick`: 100,000 records for 10,000 residents.

The per-source throttle is raised for the run (INGEST_RATE=1000/min): the bench sends 300 batches from 5 sources in
a few minutes, more than the production default of 120 a minute allows; that limit is not what is measured.
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/citypoints_bench_ingest"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
PER_BATCH = 10_000
RATIO_GOAL, RATE_GOAL = 0.4, 12_000
WAIT_S = 3600  # no phase may take longer than this; everything stops by itself
CHINA = datetime.timezone(datetime.timedelta(hours=8))


@dataclass(frozen=True)
class Scale:
    name: str
    residents: int
    records: int


FULL = Scale("full", 100_000, 1_000_000)
QUICK = Scale("quick", 10_000, 100_000)

# Departments and what they send. (code, names, behaviour spec for tests.factories.published_catalogue)
DEPARTMENTS = (
    (
        "metro",
        ("Metro Group", "地铁集团"),
        {
            "code": "metro-ride",
            "category": "green-travel",
            "rule": {"points": 1},
            "cap_per_day": 4,
            "cap_per_month": 60,
        },
    ),
    (
        "library",
        ("City Library", "市图书馆"),
        {"code": "library-loan", "category": "reading-culture", "rule": {"points": 1}, "cap_per_day": 5},
    ),
    (
        "gym",
        ("City Gyms", "城市健身中心"),
        {"code": "gym-visit", "category": "sport-fitness", "rule": {"points": 2}, "cap_per_day": 2},
    ),
    (
        "volunteers",
        ("Volunteer Federation", "志愿者联合会"),
        {
            "code": "volunteer-hours",
            "category": "volunteering",
            "rule_kind": "per_unit",
            "rule": {"unit": "hour", "steps": [[20, 1], [80, 2], [200, 3], [None, 4]]},
        },
    ),
    (
        "charity",
        ("Charity Federation", "慈善总会"),
        {
            "code": "donation",
            "category": "charity",
            "rule_kind": "amount_bands",
            "rule": {"unit": "yuan", "bands": [[100, 1000, 2], [1000, 10000, 5], [10000, None, 10]]},
        },
    ),
)


def say(*parts) -> None:
    print(*parts, flush=True)


@contextmanager
def step(label: str):
    start = time.perf_counter()
    yield
    say(f"  {label}: {time.perf_counter() - start:.1f} s")


# --- The database -------------------------------------------------------------------------------------------------
def configure_environment(settings_dir: Path, queue: str) -> None:
    """Development settings without DEBUG, on the bench database; a settings module routing tasks to `queue`."""
    (settings_dir / "ingest_bench_settings.py").write_text(
        f"from citizenpoints.settings import *  # noqa\nCELERY_TASK_DEFAULT_QUEUE = {queue!r}\n"
    )
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(settings_dir))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(settings_dir), str(ROOT)])
    os.environ["DJANGO_SETTINGS_MODULE"] = "ingest_bench_settings"
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ["DJANGO_ENV"] = "development"
    os.environ["DEBUG"] = "0"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    os.environ.setdefault("CONN_MAX_AGE", "60")
    os.environ["INGEST_RATE"] = "1000/min"
    os.environ.pop("CELERY_BROKER_URL", None)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)


def recreate_database(url: str) -> str:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or "bench" not in name:
        raise SystemExit(f"DATABASE_URL must name a PostgreSQL database whose name contains 'bench' (got {name!r})")
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
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


def insert_series(model, expressions: dict[str, str], params: dict) -> None:
    """INSERT ... SELECT over i = 1..%(n)s: `expressions` by column; every other column gets its model default
    (a parameter), NULL if it has none and may be null, and the id its identity if not given."""
    columns, values, extra = [], [], {}
    for field in model._meta.concrete_fields:
        if field.column in expressions:
            columns.append(field.column)
            values.append(expressions[field.column])
        elif field.primary_key or field.null:
            continue
        elif field.get_default() is not None:  # its default, or "" for text
            extra[f"default_{field.column}"] = field.get_db_prep_save(field.get_default(), connection=_connection())
            columns.append(field.column)
            values.append(f"%(default_{field.column})s")
        else:
            raise SystemExit(f"{model.__name__}.{field.name} needs a value in the bench's data generator")
    execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM generate_series(1::bigint, %(n)s::bigint) AS i",
        {**params, **extra},
    )


def _connection():
    from django.db import connection

    return connection


def card_number(resident: int) -> str:
    return f"3301{resident:012d}"


@dataclass
class World:
    now: datetime.datetime
    keys: dict[str, str]  # source code -> API key
    sources: dict[str, int]  # source code -> id
    behaviours: dict[str, tuple[int, int, int]]  # behaviour code -> (id, category id, version id)


def setup_world(residents: int) -> World:
    """Catalogue, departments and keys through the services; residents, balances and card links in bulk SQL."""
    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils import timezone

    from citizenpoints.models import (
        Balance,
        Behaviour,
        ConsentRecord,
        DataSource,
        Resident,
        TierChange,
        TierScheme,
        User,
    )
    from citizenpoints.services.ingest import api_key_create
    from tests.factories import published_catalogue

    sources = {
        code: DataSource.objects.create(code=code, name_en=names[0], name_zh=names[1])
        for code, names, _spec in DEPARTMENTS
    }
    version = published_catalogue(
        behaviours=[{**spec, "sources": [sources[code]]} for code, _names, spec in DEPARTMENTS], sources=[]
    )
    manager = User.objects.create_user(email="manager@bench.citypoints.example", is_staff=True)
    manager.groups.add(Group.objects.get(name="data_source_manager"))
    keys = {
        code: api_key_create(acting_user=manager, source=source, label="bench")[1] for code, source in sources.items()
    }
    scheme = TierScheme.objects.prefetch_related("tiers").get(is_active=True)
    lowest = min(scheme.tiers.all(), key=lambda tier: tier.min_score)
    now = timezone.now()
    offset = User.objects.order_by("-pk").values_list("pk", flat=True).first()
    params = {
        "n": residents,
        "offset": offset,
        "now": now,
        "terms": settings.CITYPOINTS_TERMS_VERSION,
        "tier": lowest.pk,
        "genesis": "0" * 64,
    }
    joined = "%(now)s::timestamptz - interval '400 days'"
    with transaction.atomic():
        # Columns not named here take their model default, so the rows stay valid as the models grow.
        insert_series(
            User,
            {
                "id": "%(offset)s + i",
                "password": "'!'",
                "date_joined": joined,
                "email": "'resident' || i || '@bench.citypoints.example'",
            },
            params,
        )
        insert_series(
            Resident,
            {
                "id": "i",
                "user_id": "%(offset)s + i",
                "given_name": "'Wei'",
                "language": "'zh-hans'",
                "joined_at": joined,
                "terms_version": "%(terms)s",
            },
            params,
        )
        insert_series(ConsentRecord, {"resident_id": "i", "terms_version": "%(terms)s", "accepted_at": joined}, params)
        insert_series(Balance, {"resident_id": "i", "tier_id": "%(tier)s", "updated_at": joined}, params)
        insert_series(
            TierChange,
            {
                "resident_id": "i",
                "from_tier_id": "NULL",
                "to_tier_id": "%(tier)s",
                "cause": "'joined'",
                "changed_at": joined,
            },
            params,
        )
        # Card links: the keyed hash is computed here (the key never reaches the database), then COPYed.
        key = settings.CITYPOINTS_CARD_KEY.encode()
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                "COPY citizenpoints_cardlink (resident_id, card_hash, linked_at, linked_by_office) FROM STDIN"
            ) as copy,
        ):
            for resident in range(1, residents + 1):
                digest = hmac.new(key, card_number(resident).encode(), hashlib.sha256).hexdigest()
                copy.write_row((resident, digest, now, False))
    for table in ("citizenpoints_user", "citizenpoints_resident"):
        execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    execute("VACUUM ANALYZE")
    behaviours = {b.code: (b.pk, b.category_id, b.version_id) for b in Behaviour.objects.filter(version=version)}
    return World(now=now, keys=keys, sources={code: s.pk for code, s in sources.items()}, behaviours=behaviours)


# --- The records ------------------------------------------------------------------------------------------------
@dataclass
class Batch:
    source: str
    key: str
    body: bytes
    records: list[dict]


def generate_batches(world: World, scale: Scale, seed: int = 20261121) -> list[Batch]:
    """Batches of 10,000 from one department each, interleaved by department, as departments send them.

    About 0.5% unknown cards, 0.2% repeated records, 0.05% malformed; caps, per-unit totals and bands apply.
    Metro riders are a fifth of the residents (so the day and month caps bite); donations below 100 earn nothing.
    """
    rng = random.Random(seed)
    count = scale.records // PER_BATCH
    codes = [code for code, _names, _spec in DEPARTMENTS]
    local_now = world.now.astimezone(CHINA).replace(microsecond=0)
    batches = []
    for number in range(count):
        source = codes[number % len(codes)]
        records = []
        for line in range(PER_BATCH):
            if records and rng.random() < 0.002:
                records.append(dict(rng.choice(records)))
                continue
            if source == "metro":
                resident = rng.randint(1, max(1, scale.residents // 5))
                when = local_now - datetime.timedelta(seconds=rng.randint(600, 30 * 86400))
            else:
                resident = rng.randint(1, scale.residents)
                when = local_now - datetime.timedelta(seconds=rng.randint(600, 180 * 86400))
            card = card_number(resident) if rng.random() >= 0.005 else f"9999{rng.randint(0, 10**12):012d}"
            record = {
                "external_id": f"{source}-{number:04d}-{line:05d}",
                "card_number": card,
                "behaviour_code": DEPARTMENTS[codes.index(source)][2]["code"],
                "occurred_at": when.isoformat(),
            }
            if source == "volunteers":
                record["quantity"] = str(Decimal(rng.randint(1, 16)) / 2)
            elif source == "charity":
                record["amount"] = str(rng.choice((50, 200, 500, 1000, 2000, 20000)))
            if rng.random() < 0.0005:
                record["occurred_at"] = when.replace(tzinfo=None).isoformat()  # no offset: malformed
            records.append(record)
        body = json.dumps({"records": records}, separators=(",", ":")).encode()
        batches.append(Batch(source=source, key=f"bench-{number:04d}", body=body, records=records))
    return batches


# --- Processes: gunicorn and Celery workers ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@contextmanager
def gunicorn_server(workers: int, log_dir: Path):
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "citizenpoints.wsgi", "-w", str(workers)]
    command += ["-b", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning"]
    with (log_dir / "gunicorn.log").open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{(log_dir / 'gunicorn.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        stop(server)


@contextmanager
def celery_workers(count: int, queue: str, log_dir: Path):
    """`count` worker processes (--pool=solo: the task runs in the process we measure) on `queue`."""
    processes = []
    try:
        for number in range(count):
            log = log_dir / f"worker-{number}.log"
            command = [sys.executable, "-m", "celery", "-A", "citizenpoints", "worker", "--pool=solo"]
            command += ["-Q", queue, "-n", f"bench-{number}-{queue}@%h", "--loglevel=WARNING"]
            command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT)
                )
        # Ready when it has connected to the broker and imported Django (a little while after start).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(_memory_kb(p.pid, "VmRSS") > 60_000 for p in processes):
            if any(p.poll() is not None for p in processes):
                raise RuntimeError("a worker died at start:\n" + _tail_logs(log_dir))
            time.sleep(0.2)
        time.sleep(2)
        yield processes
    finally:
        for process in processes:
            stop(process)


def _tail_logs(log_dir: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted(log_dir.glob("*.log")))


def _memory_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds() -> dict[int, float]:
    """CPU time (user + system) of the processes doing the work: gunicorn and Celery (this process's descendants)
    and the PostgreSQL server processes of the bench database (other than this process's own connection).

    On a shared machine the wall-clock rate depends on what else runs; CPU per record does not (much)."""
    from django.db import connection

    pids = set(_descendants(os.getpid()))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids |= {row[0] for row in cursor.fetchall()}
    return {pid: _cpu_of(pid) for pid in pids}


def _kind_of(pid: int) -> str:
    """web (gunicorn), workers (Celery) or PostgreSQL, for the CPU breakdown."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "gunicorn" in command:
        return "web"
    if "celery" in command:
        return "workers"
    return "PostgreSQL" if command.startswith("postgres") else "other"


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(parent: int) -> list[int]:
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [parent]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


# --- Driving the API --------------------------------------------------------------------------------------------
@dataclass
class Pass:
    label: str
    elapsed: float
    records: int
    latencies: list[float]
    statuses: dict[int, int]
    batch_ids: list[str]
    cpu: float  # CPU seconds used by gunicorn, the workers and their PostgreSQL server processes
    cpu_by_kind: dict[str, float]  # the same, by kind of process (web, workers, PostgreSQL)

    @property
    def rate(self) -> float:
        return self.records / self.elapsed


def post_all(port: int, batches: list[Batch], keys: list[str], clients: int) -> tuple[list, list, float]:
    """POST every batch from `clients` threads; returns (status, batch id, seconds) per batch and the start time."""
    results: list = [None] * len(batches)
    cursor = iter(range(len(batches)))
    lock = threading.Lock()
    start = time.perf_counter()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                batch = batches[index]
                headers = {
                    "Content-Type": "application/json",
                    "Authorization": f"Api-Key {batch.key}",
                    "Idempotency-Key": keys[index],
                }
                for attempt in range(20):
                    began = time.perf_counter()
                    connection.request("POST", "/api/v1/ingest/batches/", body=batch.body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                    took = time.perf_counter() - began
                    if response.status not in (409, 429) or attempt == 19:
                        break
                    time.sleep(float(response.getheader("Retry-After") or 1))
                batch_id = json.loads(payload).get("batch_id") if response.status in (200, 202) else None
                results[index] = (response.status, batch_id, took, payload[:300])
        finally:
            connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_S)
    return results, start


def wait_done(batch_ids: list[str], deadline: float, workers: list[subprocess.Popen]) -> float:
    """Poll the database until every batch is done; the moment it saw that. Fails if a worker died."""
    from django.db import connection

    report = time.perf_counter() + 30
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'failed') "
                "FROM citizenpoints_ingestbatch WHERE id = ANY(%s::uuid[])",
                [batch_ids],
            )
            done, failed = cursor.fetchone()
            if done == len(batch_ids):
                return time.perf_counter()
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {len(batch_ids)} batches done in time ({failed} failed)")
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError("a Celery worker died")
            if time.perf_counter() > report:
                say(f"    ... {done} of {len(batch_ids)} batches done, {failed} failed")
                report = time.perf_counter() + 30
            time.sleep(0.05)


def run_pass(label: str, port: int, batches: list[Batch], keys: list[str], clients: int, workers: list) -> Pass:
    cpu_before = cpu_seconds()
    results, start = post_all(port, batches, keys, clients)
    statuses: dict[int, int] = {}
    for status, _batch_id, _took, _payload in results:
        statuses[status] = statuses.get(status, 0) + 1
    bad = [r for r in results if r[0] not in (200, 202)]
    if bad:
        raise RuntimeError(f"{label}: {len(bad)} POSTs failed, e.g. {bad[0][0]} {bad[0][3]!r}")
    batch_ids = [r[1] for r in results]
    end = wait_done(batch_ids, time.monotonic() + WAIT_S, workers)
    records = sum(len(b.records) for b in batches)
    cpu = cpu_seconds()
    used = sum(cpu.get(pid, 0) - cpu_before.get(pid, 0) for pid in cpu)
    by_kind: dict[str, float] = {}
    for pid in cpu:
        kind = _kind_of(pid)
        by_kind[kind] = by_kind.get(kind, 0.0) + cpu[pid] - cpu_before.get(pid, 0)
    return Pass(label, end - start, records, [r[2] for r in results], statuses, batch_ids, used, by_kind)


# --- The physical limit -----------------------------------------------------------------------------------------
def copy_baseline(world: World, batches: list[Batch], residents: int) -> tuple[float, int, float]:
    """COPY one ledger-shaped row per record (as if every record were accepted) into a bare copy of the ledger.

    The rows are rendered to COPY's binary format (as ingest writes the ledger) before the clock starts: what is
    timed is the database taking them in, with the ledger's indexes and checks, and the commit.
    """
    import psycopg
    from django.db import connection

    from citizenpoints.services.ingest import COPY_COLUMNS

    execute("DROP TABLE IF EXISTS bench_ledger_copy")
    execute("CREATE TABLE bench_ledger_copy (LIKE citizenpoints_ledgerentry INCLUDING ALL)")
    points_of = {"metro": "1.00", "library": "1.00", "gym": "2.00", "volunteers": "1.00", "charity": "5.00"}
    recorded = world.now.isoformat()
    heads: dict[int, tuple[int, str]] = {}  # resident -> (seq, hash) of the last row
    seen: set[tuple[int, str]] = set()
    lines = []
    for batch in batches:
        source_id = world.sources[batch.source]
        for record in batch.records:
            code = record["behaviour_code"]
            behaviour_id, category_id, version_id = world.behaviours[code]
            card = record["card_number"]
            resident = int(card[4:]) if card.startswith("3301") else 1 + int(card[4:]) % residents
            seq, prev_hash = heads.get(resident, (0, "0" * 64))
            external_id = record["external_id"]
            if (source_id, external_id) in seen:  # a repeated record: same shape, kept unique
                external_id = f"{external_id}#{seq + 1}"
            seen.add((source_id, external_id))
            digest = hashlib.sha256(f"{prev_hash}:{source_id}:{external_id}".encode()).hexdigest()
            heads[resident] = (seq + 1, digest)
            occurred_at = record["occurred_at"]
            values = (
                resident,
                seq + 1,
                "award",
                behaviour_id,
                code,
                category_id,
                version_id,
                source_id,
                external_id,
                occurred_at if "+" in occurred_at else f"{occurred_at}+08:00",
                recorded,
                record.get("quantity", "\\N"),
                record.get("amount", "\\N"),
                points_of[batch.source],
                "f",
                "\\N",
                "",
                "\\N",
                prev_hash,
                digest,
            )
            lines.append("\t".join(map(str, values)) + "\n")
    # Attribute names; for these fields they are the column names. The id comes from the table's identity.
    columns = [column for column in COPY_COLUMNS if column != "id"]
    payload = "".join(lines).encode()
    del lines
    database = connection.settings_dict
    conninfo = (
        f"host={database['HOST']} port={database['PORT'] or 5432} dbname={database['NAME']} user={database['USER']}"
    )
    if database.get("PASSWORD"):
        conninfo += f" password={database['PASSWORD']}"
    chunk = 1 << 20
    listed = ", ".join(columns)
    with psycopg.connect(conninfo) as raw:
        # In PostgreSQL's binary format, as ingest writes the ledger: the text rows go through an unindexed scratch
        # table and come back binary, before the clock starts.
        with raw.cursor() as cursor:
            cursor.execute(f"CREATE TEMP TABLE bench_copy_rows AS SELECT {listed} FROM bench_ledger_copy WITH NO DATA")
            with cursor.copy(f"COPY bench_copy_rows ({listed}) FROM STDIN") as copy:
                for offset in range(0, len(payload), chunk):
                    copy.write(payload[offset : offset + chunk])
            binary = bytearray()
            with cursor.copy(f"COPY bench_copy_rows ({listed}) TO STDOUT (FORMAT BINARY)") as copy:
                for data in copy:
                    binary += data
            cursor.execute("DROP TABLE bench_copy_rows")
        raw.commit()
        del payload
        backend = raw.info.backend_pid
        cpu_before = _cpu_of(backend)
        start = time.perf_counter()
        statement = f"COPY bench_ledger_copy ({listed}) FROM STDIN (FORMAT BINARY)"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for offset in range(0, len(binary), chunk):
                copy.write(binary[offset : offset + chunk])
        raw.commit()
        elapsed = time.perf_counter() - start
        cpu = _cpu_of(backend) - cpu_before
    rows = fetchone("SELECT count(*) FROM bench_ledger_copy")[0]
    return elapsed, rows, cpu


# --- Checks -----------------------------------------------------------------------------------------------------
def outcome_counts(batch_ids: list[str]) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT result, count(*) FROM citizenpoints_ingestrecord WHERE batch_id = ANY(%s::uuid[]) "
            "GROUP BY result ORDER BY count(*) DESC",
            [batch_ids],
        )
        return dict(cursor.fetchall())


def tiers_out_of_place() -> int:
    """Balances whose tier is not the one their score reaches under the active scheme."""
    return fetchone(
        """SELECT count(*) FROM citizenpoints_balance b
           JOIN citizenpoints_tierscheme s ON s.is_active
           WHERE b.tier_id IS DISTINCT FROM COALESCE(
               (SELECT t.id FROM citizenpoints_tier t
                WHERE t.scheme_id = s.id AND t.min_score <= s.base_score + b.points ORDER BY t.min_score DESC LIMIT 1),
               (SELECT t.id FROM citizenpoints_tier t WHERE t.scheme_id = s.id ORDER BY t.min_score LIMIT 1))"""
    )[0]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def forget_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.zrem("_kombu.binding_deadlines", queue)
    finally:
        client.close()


# --- Main -------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 records for 10,000 residents")
    parser.add_argument("--clients", type=int, default=3, help="concurrent HTTP clients (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument("--web", type=int, default=2, help="gunicorn workers (default 2)")
    args = parser.parse_args()
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so gunicorn and the workers are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scale = QUICK if args.quick else FULL
    queue = f"bench-ingest-{uuid.uuid4().hex[:8]}"

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as temp:
        temp_dir = Path(temp)
        configure_environment(temp_dir, queue)
        import django

        name = recreate_database(os.environ["DATABASE_URL"])
        django.setup()
        from django.core.management import call_command

        say(f"Ingest benchmark ({scale.name}): {scale.records:,} records for {scale.residents:,} residents")
        say(f"  database {name}, broker {os.environ['REDIS_URL']}, queue {queue}, cores {os.cpu_count()}")
        with step("migrate"):
            call_command("migrate", verbosity=0)
        with step(f"{scale.residents:,} residents, balances, card links; catalogue of {len(DEPARTMENTS)} departments"):
            world = setup_world(scale.residents)
        with step(f"{scale.records:,} records in {scale.records // PER_BATCH} batches, JSON encoded"):
            batches = generate_batches(world, scale)
        mb = sum(len(b.body) for b in batches) / len(batches) / 1e6
        say(f"  one batch: {PER_BATCH:,} records, {mb:.1f} MB of JSON")
        for batch in batches:
            batch.key = world.keys[batch.source]  # the department's API key
        first_keys = [f"first-{n:04d}" for n in range(len(batches))]
        second_keys = [f"again-{n:04d}" for n in range(len(batches))]

        try:
            with gunicorn_server(args.web, temp_dir) as port, celery_workers(args.workers, queue, temp_dir) as workers:
                say(f"  gunicorn -w {args.web} on :{port}; {args.workers} Celery workers; {args.clients} clients")
                first = run_pass("first pass", port, batches, first_keys, args.clients, workers)
                ledger_rows = fetchone("SELECT count(*) FROM citizenpoints_ledgerentry")[0]
                outcomes = outcome_counts(first.batch_ids)
                same = run_pass("re-send, same keys", port, batches, first_keys, args.clients, workers)
                rows_after_same = fetchone("SELECT count(*) FROM citizenpoints_ledgerentry")[0]
                again = run_pass("re-send, new keys", port, batches, second_keys, args.clients, workers)
                rows_after_again = fetchone("SELECT count(*) FROM citizenpoints_ledgerentry")[0]
                again_outcomes = outcome_counts(again.batch_ids)
                peak_kb = [_memory_kb(p.pid, "VmHWM") for p in workers]
        except Exception:
            say(_tail_logs(temp_dir))
            raise
        finally:
            forget_queue(queue)

        with step("COPY baseline (rows rendered first, then timed)"):
            copy_elapsed, copy_rows, copy_cpu = copy_baseline(world, batches, scale.residents)
        copy_rate = copy_rows / copy_elapsed

        with step("verify_ledger, verify_balances, tiers"):
            call_command("verify_ledger", stdout=open(os.devnull, "w"))  # noqa: SIM115
            call_command("verify_balances", stdout=open(os.devnull, "w"))  # noqa: SIM115
            misplaced = tiers_out_of_place()
        if misplaced:
            raise SystemExit(f"{misplaced} balances are in the wrong tier")

    say("")
    say(f"Outcomes of the first pass: {outcomes}")
    say(f"  ledger rows written: {ledger_rows:,}")
    say(f"Outcomes of the re-send under new keys: {again_outcomes}")
    say("")
    say(f"{'pass':<22}{'records':>11}{'seconds':>10}{'records/s':>12}{'CPU µs/record':>15}   HTTP")
    for p in (first, same, again):
        say(
            f"{p.label:<22}{p.records:>11,}{p.elapsed:>10.1f}{p.rate:>12,.0f}{p.cpu / p.records * 1e6:>15,.0f}"
            f"   {p.statuses}"
        )
    copy_us = copy_cpu / copy_rows * 1e6
    say(f"{'COPY into bare ledger':<22}{copy_rows:>11,}{copy_elapsed:>10.1f}{copy_rate:>12,.0f}{copy_us:>15,.0f}")
    for p in (first, again):
        kinds = ", ".join(f"{kind} {seconds / p.records * 1e6:,.0f}" for kind, seconds in sorted(p.cpu_by_kind.items()))
        say(f"  {p.label}, CPU µs/record by process: {kinds}")
    cpu_ratio = (copy_cpu / copy_rows) / (first.cpu / first.records)
    projected = os.cpu_count() / first.cpu * first.records
    say(
        f"By CPU time (less sensitive to other load on the machine): ingest/COPY {cpu_ratio:.2f}; on "
        f"{os.cpu_count()} dedicated cores the first pass would reach ~{projected:,.0f} records/s"
    )
    say("")
    say(
        f"Accept latency, 10,000-record POST ({args.clients} clients, gunicorn -w {args.web}, workers busy): "
        f"p50 {statistics.median(first.latencies) * 1000:.0f} ms, p99 {percentile(first.latencies, 0.99) * 1000:.0f} ms"
    )
    say(
        f"Accept latency when re-sent under the same key: p50 {statistics.median(same.latencies) * 1000:.0f} ms, "
        f"p99 {percentile(same.latencies, 0.99) * 1000:.0f} ms"
    )
    say(f"Worker peak memory (VmHWM): {', '.join(f'{kb / 1024:.0f} MB' for kb in peak_kb)}")
    ratio = first.rate / copy_rate
    replay_new = (rows_after_same - ledger_rows) + (rows_after_again - rows_after_same)
    say("")
    say(f"Goal: ratio >= {RATIO_GOAL} -> {'met' if ratio >= RATIO_GOAL else 'NOT met'} ({ratio:.2f})")
    say(f"Goal: >= {RATE_GOAL:,} records/s -> {'met' if first.rate >= RATE_GOAL else 'NOT met'} ({first.rate:,.0f})")
    say(
        f"Goal: re-send adds 0 rows ({replay_new}) and is no slower than the first pass "
        f"(same keys {same.rate:,.0f}/s, new keys {again.rate:,.0f}/s vs {first.rate:,.0f}/s) -> "
        f"{'met' if replay_new == 0 and min(same.rate, again.rate) >= first.rate else 'NOT met'}"
    )
    say(f"ingest/COPY ratio: {ratio:.2f}, ingest: {first.rate:.0f} records/s, replay new rows: {replay_new}")


if __name__ == "__main__":
    main()
