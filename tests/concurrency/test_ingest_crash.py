"""A worker killed mid-batch loses nothing and double-counts nothing (PostgreSQL, Redis, real worker processes).

Celery workers run as subprocesses on a throwaway Redis queue, connected to this test's database. Batches go in
through the real API view; the first worker is killed with SIGKILL while a batch's transaction has written rows;
then new workers start, every batch is re-sent with its Idempotency-Key (batch_receive re-queues what is not
done), and the outcome is checked record by record and with verify_ledger / verify_balances. Two races follow on
the recovered system: one batch sent twice at once under one key, and the same records sent at once under two keys.
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count
from django.test import Client

from citizenpoints.celery import app
from citizenpoints.models import (
    Balance,
    CardLink,
    DataSource,
    IngestBatch,
    IngestRecord,
    LedgerEntry,
    Resident,
    Tier,
    TierScheme,
    User,
)
from citizenpoints.services.ingest import api_key_create, card_hash
from citizenpoints.services.scoring import score_of, tier_for_score
from tests.factories import UserFactory, published_catalogue

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/v1/ingest/batches/"
RESIDENTS = 1_000
BATCHES, PER_BATCH = 5, 6_000
OVERLAP = 600  # each batch re-sends this many records of the previous one: cross-batch duplicates
EVENT_CAP = 6  # "reading-event": 3 points, at most 6 a day
WAIT = 240  # seconds, at most, for any one thing we wait on (a busy CI machine is slow, not stuck)


def card(n: int) -> str:
    return f"CRASH{n:06d}"


def make_record(batch: int, line: int, now: datetime.datetime) -> dict:
    """Deterministic: the same (batch, line) is always the same record, so an overlap repeats it exactly."""
    n = batch * PER_BATCH + line
    when = now - datetime.timedelta(days=n % 20, minutes=n % 600)
    return {
        "external_id": f"r{batch}-{line}",
        "card_number": card(RESIDENTS + 1 if n % 997 == 0 else (n * 7919) % RESIDENTS),  # the +1: unknown card
        "behaviour_code": "reading-event" if n % 10 == 0 else "loan",
        "occurred_at": when.astimezone(datetime.timezone(datetime.timedelta(hours=8))).isoformat(),
    }


def batch_records(batch: int, now: datetime.datetime) -> list[dict]:
    own = [make_record(batch, line, now) for line in range(PER_BATCH - (OVERLAP if batch else 0))]
    previous = [make_record(batch - 1, line, now) for line in range(OVERLAP)] if batch else []
    own[10:10] = own[:5]  # five repeats inside the batch
    return (own + previous)[:PER_BATCH]


# --- The world: one department, a published catalogue, residents with cards, a key ------------------------------
@pytest.fixture
def world():
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "loan", "rule": {"points": 1}},
            {"code": "reading-event", "rule": {"points": 3}, "cap_per_day": EVENT_CAP},
        ],
    )
    scheme = TierScheme.objects.get(is_active=True)
    lowest = Tier.objects.filter(scheme=scheme).order_by("min_score").first()
    users = User.objects.bulk_create([User(email=f"crash{n}@example.org", password="!") for n in range(RESIDENTS)])
    residents = Resident.objects.bulk_create(
        [Resident(user=user, given_name="Crash", terms_version="2026-11") for user in users]
    )
    Balance.objects.bulk_create([Balance(resident=resident, tier=lowest) for resident in residents])
    CardLink.objects.bulk_create(
        [CardLink(resident=resident, card_hash=card_hash(card(n))) for n, resident in enumerate(residents)]
    )
    manager = UserFactory(roles=["data_source_manager"])
    return library, api_key_create(acting_user=manager, source=library, label="crash test")[1]


# --- Workers: real processes on a queue of our own ----------------------------------------------------------------
@pytest.fixture
def queue():
    """A unique queue on the real broker for this test's tasks; the queue and its unacked leftovers are removed."""
    name = f"ingest-crash-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    previous = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue")}
    app.conf.update(broker_url=os.environ["REDIS_URL"], task_always_eager=False, task_default_queue=name)
    try:
        yield name
    finally:
        app.conf.update(previous)
        forget_queue(name)


def forget_queue(name: str) -> None:
    """A SIGKILLed worker leaves its message in Redis's unacked hash; drop ours so no worker restores it later."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        client.delete(name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
        client.zrem("_kombu.binding_deadlines", name)
        for tag, raw in client.hgetall("unacked").items():
            try:
                routing_key = json.loads(raw)[2]
            except (ValueError, IndexError, TypeError):
                continue
            if routing_key == name:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


class Workers:
    """Celery worker subprocesses on `queue`, each tagged in pg_stat_activity by its application_name."""

    def __init__(self, queue: str, log_dir: Path):
        self.queue, self.log_dir = queue, log_dir
        self.tag = f"crash-{uuid.uuid4().hex[:8]}"
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> str:
        database = connection.settings_dict
        url = f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "citizenpoints.settings",
            "DATABASE_URL": url + database["NAME"],  # the test database, not the one the suite was pointed at
            "DEBUG": "0",
            "PGAPPNAME": f"{self.tag}-{name}",
        }
        if database.get("PASSWORD"):
            env["PGPASSWORD"] = database["PASSWORD"]
        command = [sys.executable, "-m", "celery", "-A", "citizenpoints", "worker", "--pool=solo", "--concurrency=1"]
        command += ["-Q", self.queue, "-n", f"{self.tag}-{name}@%h", "--loglevel=INFO"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        log = (self.log_dir / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return f"{self.tag}-{name}"

    def kill(self, name: str) -> int:
        process = self.processes[name]
        os.kill(process.pid, signal.SIGKILL)
        return process.wait(timeout=WAIT)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.log_dir.glob("*.log"))

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=WAIT)
        # A killed worker's server process ends when PostgreSQL notices the socket closed; make sure it has.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE %s",
                [f"{self.tag}-%"],
            )


@pytest.fixture
def workers(queue, tmp_path):
    pool = Workers(queue, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()


# --- Helpers ----------------------------------------------------------------------------------------------------
def post(key: str, idempotency_key: str, records: list[dict]) -> tuple[int, dict]:
    response = Client().post(
        URL,
        data=json.dumps({"records": records}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
        HTTP_IDEMPOTENCY_KEY=idempotency_key,
    )
    return response.status_code, response.json()


def at_once(*calls) -> list:
    """Run the calls at the same moment (a barrier), each in its own thread and database connection."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=WAIT)
            results[index] = call()
        except Exception as error:  # reported by the caller's assertions
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * WAIT)
    return results


def wait_until(condition, what: str, workers: Workers, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{workers.logs()}")


def statuses(batch_ids) -> Counter:
    return Counter(IngestBatch.objects.filter(pk__in=batch_ids).values_list("status", flat=True))


def writing_the_ledger(application_name: str):
    """The worker's server process, if its open transaction has written ledger rows (it holds the table's
    RowExclusiveLock, which only INSERT/COPY take here, until it commits or rolls back)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.pid, a.state, left(a.query, 60) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
            "WHERE a.application_name = %s AND l.relation = 'citizenpoints_ledgerentry'::regclass "
            "AND l.mode = 'RowExclusiveLock' AND l.granted",
            [application_name],
        )
        return cursor.fetchone()


def backend_gone(application_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [application_name])
        return cursor.fetchone()[0] == 0


def assert_exactly_once(source: DataSource) -> None:
    """Every record has a final result that adds up, and each accepted id is in the ledger exactly once."""
    assert not IngestRecord.objects.filter(result=IngestRecord.Result.PENDING).exists()
    for batch in IngestBatch.objects.all():
        actual = dict(batch.records.values_list("result").annotate(n=Count("id")).order_by())
        assert batch.status == IngestBatch.Status.DONE, batch
        assert batch.counts == actual and sum(actual.values()) == batch.record_count, batch
    accepted = list(
        IngestRecord.objects.filter(batch__source=source, result="accepted").values_list("external_id", flat=True)
    )
    ledger = list(LedgerEntry.objects.filter(source=source).values_list("external_id", flat=True))
    assert len(accepted) == len(set(accepted)), "an id was accepted twice"
    assert sorted(accepted) == sorted(ledger), "the ledger and the accepted records differ"
    unlinked = IngestRecord.objects.filter(result__in=["accepted", "duplicate"], ledger_entry_id__isnull=True)
    assert not unlinked.exists()
    entry_ids = dict(LedgerEntry.objects.filter(source=source).values_list("pk", "external_id"))
    for external_id, entry_id in IngestRecord.objects.filter(result="duplicate").values_list(
        "external_id", "ledger_entry_id"
    ):
        assert entry_ids[entry_id] == external_id
    call_command("verify_ledger")
    call_command("verify_balances")
    # Tiers follow the balances.
    scheme = TierScheme.objects.prefetch_related("tiers").get(is_active=True)
    for balance in Balance.objects.exclude(points=0):
        assert balance.tier_id == tier_for_score(scheme=scheme, score=score_of(balance=balance, scheme=scheme)).pk


def test_a_killed_worker_loses_nothing_and_double_counts_nothing(world, workers):
    source, key = world
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    bodies = {f"crash-{b}": batch_records(b, now) for b in range(BATCHES)}
    started = time.monotonic()

    # 1. Send every batch through the API: each is committed and queued on Redis before the worker starts.
    ids = {}
    for idempotency_key, records in bodies.items():
        status, body = post(key, idempotency_key, records)
        assert status == 202, body
        ids[idempotency_key] = body["batch_id"]
    first = workers.start("first")

    # 2. SIGKILL it once a batch is done and the next one's transaction has written its ledger rows.
    in_flight = wait_until(
        lambda: statuses(ids.values())["done"] >= 1 and writing_the_ledger(first),
        "the first worker to be writing a batch's ledger rows",
        workers,
    )
    assert workers.kill("first") == -signal.SIGKILL
    done_at_kill = statuses(ids.values())["done"]
    assert 1 <= done_at_kill < BATCHES, f"the kill must land mid-run (in flight: {in_flight})"
    wait_until(lambda: backend_gone(first), "PostgreSQL to notice the killed worker", workers)
    # Its transaction rolled back: the ledger holds exactly the finished batches' awards.
    assert LedgerEntry.objects.count() == IngestRecord.objects.filter(batch__status="done", result="accepted").count()

    # 3. New workers drain the queue, but the killed batch's message died with its worker (unacked, and Redis
    # gives it back only after an hour): without a re-send it stays unprocessed. That is the gap the re-send closes.
    workers.start("second")
    workers.start("third")
    wait_until(lambda: statuses(ids.values())["done"] == BATCHES - 1, "the queued batches to be done", workers)
    time.sleep(1)
    assert statuses(ids.values()) == Counter({"done": BATCHES - 1, "received": 1})
    # The department re-sends everything with the same keys and gets the same batches back.
    for idempotency_key, records in bodies.items():
        status, body = post(key, idempotency_key, records)
        assert (status, body["batch_id"]) == (200, ids[idempotency_key]), body
    wait_until(lambda: statuses(ids.values())["done"] == BATCHES, "every batch to be done", workers)
    assert IngestBatch.objects.count() == BATCHES
    assert_exactly_once(source)

    # Nothing lost: every loan with a known card is in the ledger, once; capped events never pass the cap.
    expected_loans = {
        r["external_id"]
        for records in bodies.values()
        for r in records
        if r["behaviour_code"] == "loan" and r["card_number"] != card(RESIDENTS + 1)
    }
    assert set(LedgerEntry.objects.filter(behaviour_code="loan").values_list("external_id", flat=True)) == (
        expected_loans
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(total) FROM (SELECT sum(points) AS total FROM citizenpoints_ledgerentry "
            "WHERE behaviour_code = 'reading-event' "
            "GROUP BY resident_id, (occurred_at AT TIME ZONE 'Asia/Shanghai')::date) AS days"
        )
        assert cursor.fetchone()[0] <= EVENT_CAP

    # 4. One batch sent twice at the same moment under one key: one batch, one set of awards.
    twice = [make_record(9, line, now) for line in range(2_000)]
    answers = at_once(lambda: post(key, "twice", twice), lambda: post(key, "twice", twice))
    codes = sorted(answer[0] for answer in answers)
    assert codes in ([200, 202], [202, 409]), answers
    if codes == [202, 409]:  # the second arrived while the first was being received: it re-sends
        assert post(key, "twice", twice)[0] == 200
    batch_ids = {answer[1]["batch_id"] for answer in answers if answer[0] in (200, 202)}
    assert len(batch_ids) == 1 and IngestBatch.objects.filter(idempotency_key="twice").count() == 1

    # 5. The same records under two keys at the same moment, processed by two workers: each awarded once.
    same = [make_record(8, line, now) for line in range(3_000)]
    answers = at_once(lambda: post(key, "same-a", same), lambda: post(key, "same-b", same))
    assert [answer[0] for answer in answers] == [202, 202], answers
    pair = [answer[1]["batch_id"] for answer in answers]
    wait_until(
        lambda: statuses([*pair, *batch_ids])["done"] == 3, "the raced batches to be done", workers, timeout=WAIT
    )
    assert_exactly_once(source)
    by_id = Counter(
        IngestRecord.objects.filter(batch_id__in=pair, result="accepted").values_list("external_id", flat=True)
    )
    valid = {r["external_id"] for r in same if r["card_number"] != card(RESIDENTS + 1)}
    loans = {r["external_id"] for r in same if r["external_id"] in valid and r["behaviour_code"] == "loan"}
    assert loans <= set(by_id) <= valid and max(by_id.values()) == 1
    assert LedgerEntry.objects.filter(external_id__in=[r["external_id"] for r in same]).count() == len(by_id)
    elapsed = time.monotonic() - started
    print(f"ingest crash test: {done_at_kill} batch(es) done at the kill, in flight {in_flight}; {elapsed:.1f} s")
