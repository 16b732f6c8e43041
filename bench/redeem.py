"""Verify-and-confirm at the counter under gunicorn + PostgreSQL, against a bare Django view on the same server.

    .tools/bin/uv run --frozen python bench/redeem.py [--seconds 10] [--clients 32] [--workers N] [--threads 0]

One gunicorn (2 x CPUs + 1 sync workers, as the README deploys it and the other benchmarks serve; persistent
database connections as in production) serves both: `/bench/bare`, a view
that returns "ok" through the whole middleware stack without touching the database (asked without a session, so the
user stays anonymous), and the partner API, `POST /api/merchant/verify/` then `POST /api/merchant/confirm/` with a
fresh nonce, signed in as partner staff. Each client redeems its own pre-issued tokens (one per redemption, as at a
real counter), for a benefit with a total quota and a per-resident daily limit, so every check and counter of the
real transaction runs. The clients spread over many staff accounts: a real counter scans a code every few seconds,
far below the per-account scan limit, which this load would otherwise trip at once.

The database (default postgres://postgres@127.0.0.1:5432/citypoints_bench_redeem; its name must contain "bench") is
dropped and recreated. The load is bounded in time, goes to 127.0.0.1 only, and stops by itself.

Printed: requests/s, p50 and p99 for the bare view and for the redemption requests (verify and confirm each count as
one request; redemptions/s and the latency of the verify+confirm pair are printed too), and the final line
`redeem/bare ratio: X.XX, redeem p99: N ms` (requests/s ratio; p99 over verify and confirm requests).

Those phases are closed loops (each client sends its next request as soon as the last is answered), so they measure
capacity, and their latency is the queue: 32 clients / N requests/s is the mean (Little's law). A last, open-loop
phase offers `--paced` (default 0.2) times the bare view's measured rate, each client starting a pair on a fixed
schedule, and times each request from when it was due: the latency a counter sees at that load. Next to wall figures
it prints the server CPU per request (gunicorn and its PostgreSQL backends, from /proc), the load average before the
server started, and how much CPU other work on the machine took during the measured phases.
`--redis URL` serves with REDIS_URL set, as production does (rate limits and cached_db sessions in Redis).
"""

import argparse
import datetime
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/citypoints_bench_redeem"
GOAL_RATIO, GOAL_P99_MS = 0.2, 50


# --- The server side: imported by gunicorn as `redeem:application` ------------------------------------------------
def bare(request):
    from django.http import HttpResponse

    return HttpResponse(b"ok", content_type="text/plain")


def signed_in_view():
    """A signed-in DRF POST that does nothing: what any partner API call costs before its own work."""
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class SignedIn(APIView):
        def post(self, request):
            return Response({"ok": request.user.pk})

    return SignedIn.as_view()


def _urlpatterns():
    from django.urls import include, path

    return [
        path("bench/bare", bare),
        path("bench/signed-in", signed_in_view()),
        path("", include("citizenpoints.urls")),
    ]


def __getattr__(name):  # gunicorn asks for `application`; Django's URL resolver for `urlpatterns`
    if name == "urlpatterns":
        return _urlpatterns()
    if name == "application":
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        from citizenpoints.gc_freeze import load_views_and_freeze

        settings.ROOT_URLCONF = "redeem"  # the product's URLs plus /bench/bare; everything else as shipped
        application = get_wsgi_application()
        load_views_and_freeze()  # as citizenpoints/wsgi.py does
        return application
    raise AttributeError(name)


# --- Setup ----------------------------------------------------------------------------------------------------------
def environment(database_url: str, redis_url: str = "") -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="citizenpoints.settings",
        DEBUG="0",  # no query log, no debug pages
        CONN_MAX_AGE="60",  # production's default: each worker thread keeps its connection
        PYTHONPATH=f"{ROOT}{os.pathsep}{BENCH_DIR}",
    )
    env.pop("REDIS_URL", None)  # by default the cache stays in-process; the rate-limit counters need no round trip
    if redis_url:  # as in production: rate limits and (cached_db) sessions in the shared cache
        env["REDIS_URL"] = redis_url
    return env


def recreate_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the benchmark database's name must contain 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)


def prepare(*, clients: int, tokens_per_client: int, accounts_per_client: int) -> list[dict]:
    """Staff sessions and tokens for each client. Runs in this process, against the benchmark database."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.test import Client
    from django.utils import timezone

    from benefits.models import Benefit, Merchant, MerchantLocation, MerchantStaff, RedemptionToken
    from benefits.services.tokens import new_code, qr_payload
    from citizenpoints.models import Balance, Resident, Tier, User

    tier = Tier.objects.get(scheme__is_active=True, code="good")
    merchant = Merchant.objects.create(slug="bench-bikes", name_en="Bench Bikes", name_zh="基准单车")
    location = MerchantLocation.objects.create(merchant=merchant, name_en="Kiosk", name_zh="租车点")
    benefit = Benefit.objects.create(
        merchant=merchant,
        family="go",
        title_en="Deposit-free bike hire",
        title_zh="免押金租车",
        min_tier=tier,
        valid_from=timezone.localdate(),
        quota=10_000_000,
        limit_count=1000,
        limit_period="day",
    )
    benefit.locations.set([location])
    residents_n = 2000
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"resident{n}@bench.example", password=password) for n in range(residents_n)]
    )
    residents = Resident.objects.bulk_create(
        [Resident(user=user, given_name=f"R{n}", terms_version="bench") for n, user in enumerate(users)]
    )
    Balance.objects.bulk_create([Balance(resident=resident, tier=tier) for resident in residents])
    staff_users = User.objects.bulk_create(
        [User(email=f"cashier{n}@bench.example", password=password) for n in range(clients * accounts_per_client)]
    )
    MerchantStaff.objects.bulk_create(
        [MerchantStaff(user=user, merchant=merchant, location=location) for user in staff_users]
    )
    now = timezone.now()
    expires = now + datetime.timedelta(minutes=30)
    codes = set()
    while len(codes) < clients * tokens_per_client:
        codes.add(new_code())
    codes = sorted(codes)
    # Client c's i-th token is for resident (c + clients * i): clients at the same step serve different residents, as
    # real counters do (a resident shows one phone at one counter). Before, n % 2000 made clients 0, 4, 8, ... redeem
    # for the same resident at the same moment, so they queued on that resident's period counter row.
    RedemptionToken.objects.bulk_create(
        [
            RedemptionToken(
                code=code,
                resident=residents[(n // tokens_per_client + clients * (n % tokens_per_client)) % residents_n],
                benefit=benefit,
                issued_at=now,
                expires_at=expires,
            )
            for n, code in enumerate(codes)
        ],
        batch_size=5000,
    )
    plan = []
    for c in range(clients):
        sessions = []
        for user in staff_users[c * accounts_per_client : (c + 1) * accounts_per_client]:
            client = Client()
            client.force_login(user)
            sessions.append(client.cookies["sessionid"].value)
        plan.append(
            {
                "sessions": sessions,
                "payloads": [qr_payload(code) for code in codes[c * tokens_per_client : (c + 1) * tokens_per_client]],
            }
        )
    return plan


# --- gunicorn -----------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen:
    """Sync workers unless `threads` (gthread). Sync workers answer in the order the kernel queued the connections;
    gthread workers on two cores made threads queue for the GIL, and p99 was four times the median."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "redeem:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        *(("--worker-class", "gthread", "--threads", str(threads)) if threads else ("--worker-class", "sync")),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--chdir",
        str(ROOT),
    ]
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/bench/bare")
            if connection.getresponse().status == 200:
                connection.close()
                return server
        except OSError:
            time.sleep(0.2)
        if server.poll() is not None:
            raise SystemExit("gunicorn exited before serving")
    stop_gunicorn(server)
    raise SystemExit("gunicorn did not start within 120 s")


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # its own process group: gunicorn and its workers, nothing else
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --- Server CPU time: what a request costs, whatever else the machine runs --------------------------------------------
TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 1e7


def cpu_ns(pid: int) -> int:
    """CPU time (user + system) of a process and all its threads, in ns (Linux /proc/<pid>/stat); 0 if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int((int(fields[11]) + int(fields[12])) * TICK_NS)
    except (OSError, ValueError, IndexError):
        return 0


def server_pids(server: subprocess.Popen, database_url: str) -> tuple[list[int], list[int]]:
    """(gunicorn's master and workers, the PostgreSQL backends connected to the benchmark database)."""
    import psycopg

    pids = [server.pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == server.pid:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
        ).fetchall()
    return pids, [pid for (pid,) in rows]


def server_cpu_ns(pids: list[int]) -> int:
    return sum(cpu_ns(pid) for pid in pids)


def machine_busy_ns() -> int:
    """CPU time all processes on the machine spent busy (not idle or waiting for I/O), in ns (Linux /proc/stat)."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return int((sum(fields[:8]) - idle) * TICK_NS)


def own_cpu_ns() -> int:
    """This process (the clients): user + system time of all its threads."""
    times = os.times()
    return int((times.user + times.system) * 1e9)


# --- Load -----------------------------------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.pairs: list[float] = []
        self.errors: list[str] = []
        self.cpu_ns = 0  # gunicorn's processes, while this phase ran
        self.db_cpu_ns = 0  # the PostgreSQL backends serving them


def run_bare(port: int, clients: int, seconds: float) -> Recorder:
    record = Recorder()
    stop_at = time.monotonic() + seconds

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            connection.request("GET", "/bench/bare")
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                record.errors.append(f"bare {response.status}")
        connection.close()
        with record.lock:
            record.latencies.extend(mine)

    run_threads(client, clients)
    return record


def run_redeem(
    port: int, plan: list[dict], seconds: float, floor: bool = False, pair_interval: float | None = None
) -> Recorder:
    """Each client: verify then confirm its next token. `floor`: two signed-in no-op POSTs instead.

    `pair_interval`: open loop. Each client starts a pair every that many seconds (staggered across clients) instead
    of as soon as the last one ends, and a verify's latency counts from when it was due, so a backlog shows in the
    figures instead of slowing the clients down (no coordinated omission)."""
    record = Recorder()
    stop_at = time.monotonic() + seconds

    def client(slot: int):
        csrf = secrets.token_hex(16)  # 32 characters: Django's unmasked CSRF secret form
        sessions, payloads = plan[slot]["sessions"], iter(plan[slot]["payloads"])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, pairs, n = [], [], 0
        due = time.monotonic() + (pair_interval * slot / len(plan) if pair_interval else 0.0)
        while time.monotonic() < stop_at:
            if pair_interval:
                if due >= stop_at:
                    break
                time.sleep(max(0.0, due - time.monotonic()))
            payload = next(payloads, None)
            if payload is None:
                record.errors.append("ran out of tokens: raise --tokens")
                break
            headers = {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Cookie": f"sessionid={sessions[n % len(sessions)]}; csrftoken={csrf}",
                "X-CSRFToken": csrf,
            }
            n += 1
            pair_started = time.perf_counter()
            late = pair_late = max(0.0, time.monotonic() - due) if pair_interval else 0.0
            due += pair_interval or 0.0
            steps = (
                (("/bench/signed-in", {}, 200),) * 2
                if floor
                else (
                    ("/api/merchant/verify/", {"code": payload}, 200),
                    ("/api/merchant/confirm/", {"code": payload, "nonce": secrets.token_urlsafe(12)}, 201),
                )
            )
            for path, body, expected in steps:
                started = time.perf_counter()
                connection.request("POST", path, body=json.dumps(body), headers=headers)
                response = connection.getresponse()
                text = response.read()
                mine.append(time.perf_counter() - started + late)
                late = 0.0
                if response.status != expected:
                    record.errors.append(f"{path} {response.status} {text[:200]!r}")
            pairs.append(time.perf_counter() - pair_started + pair_late)
        connection.close()
        with record.lock:
            record.latencies.extend(mine)
            record.pairs.extend(pairs)

    run_threads(client, len(plan), with_slot=True)
    return record


def run_threads(target, count: int, with_slot: bool = False) -> None:
    threads = [threading.Thread(target=target, args=(slot,) if with_slot else (), daemon=True) for slot in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (statistics.quantiles' "inclusive" method)."""
    if len(values) < 2:
        return 0.0
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def report(name: str, record: Recorder, seconds: float) -> float:
    rps = len(record.latencies) / seconds
    p50, p99 = percentile(record.latencies, 0.5) * 1000, percentile(record.latencies, 0.99) * 1000
    print(f"{name:<34} {rps:9.1f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   ({len(record.latencies)} requests)")
    return rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per phase (default 10)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=0, help="gthread workers with this many threads (0: sync)")
    parser.add_argument("--tokens", type=int, default=1500, help="tokens per client")
    parser.add_argument("--rounds", type=int, default=4, help="bare and redeem phases alternate this many times")
    parser.add_argument(
        "--redis",
        default="",
        metavar="URL",
        help="serve with REDIS_URL=URL, as production does (shared cache: rate limits, cached_db sessions)",
    )
    parser.add_argument(
        "--paced",
        type=float,
        default=GOAL_RATIO,
        help="then an open-loop redeem phase offering this fraction of the bare view's requests/s (0: skip)",
    )
    args = parser.parse_args()
    if not 1 <= args.seconds <= 120:
        raise SystemExit("--seconds must be between 1 and 120")

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    env = environment(database_url, args.redis)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "CONN_MAX_AGE")})
    os.environ.pop("REDIS_URL", None)
    os.environ.update({"REDIS_URL": args.redis} if args.redis else {})
    sys.path[:0] = [str(ROOT)]
    print(f"database {urlsplit(database_url).path.lstrip('/')}: recreating, migrating, preparing...", flush=True)
    recreate_database(database_url)
    migrate(env)
    plan = prepare(clients=args.clients, tokens_per_client=args.tokens, accounts_per_client=32)

    idle_load = os.getloadavg()
    port = free_port()
    server = start_gunicorn(env, port, args.workers, args.threads)
    kind = f"gthread workers x {args.threads} threads" if args.threads else "sync workers"
    try:
        print(
            f"gunicorn: {args.workers} {kind} on 127.0.0.1:{port}; "
            f"{args.clients} clients; {args.seconds:.0f} s per phase; {os.cpu_count()} CPUs shared with the clients; "
            f"cache: {'Redis ' + args.redis if args.redis else 'in-process (locmem)'}"
        )
        run_bare(port, args.clients, 2)  # warm up: imports, connections
        warm = [{"sessions": p["sessions"], "payloads": p["payloads"][-50:]} for p in plan]
        run_redeem(port, warm, 2)
        for p in plan:
            del p["payloads"][-50:]
        paced_plan = [{"sessions": p["sessions"], "payloads": p["payloads"][-300:]} for p in plan]
        for p in plan:
            del p["payloads"][-300:]

        # Alternate short phases so that other load on the machine weighs on both alike.
        bare_record, redeem_record, floor_record = Recorder(), Recorder(), Recorder()
        slice_seconds = args.seconds / args.rounds
        web_pids, db_pids = server_pids(server, database_url) if sys.platform == "linux" else ([], [])
        busy_before, own_before, started = machine_busy_ns(), own_cpu_ns(), time.monotonic()
        for round_ in range(args.rounds):
            share = [{"sessions": p["sessions"], "payloads": p["payloads"][round_ :: args.rounds]} for p in plan]
            for record, run in (
                (bare_record, lambda: run_bare(port, args.clients, slice_seconds)),
                (redeem_record, lambda share=share: run_redeem(port, share, slice_seconds)),
                (floor_record, lambda share=share: run_redeem(port, share, slice_seconds / 2, floor=True)),
            ):
                if sys.platform == "linux":  # threads open their database connections when first used
                    web_pids, db_pids = server_pids(server, database_url)
                before = server_cpu_ns(web_pids), server_cpu_ns(db_pids)
                part = run()
                record.cpu_ns += server_cpu_ns(web_pids) - before[0]
                record.db_cpu_ns += server_cpu_ns(db_pids) - before[1]
                record.latencies += part.latencies
                record.pairs += part.pairs
                record.errors += part.errors
        busy, wall = machine_busy_ns() - busy_before, time.monotonic() - started
        own = (
            own_cpu_ns() - own_before + sum(r.cpu_ns + r.db_cpu_ns for r in (bare_record, redeem_record, floor_record))
        )

        # Open loop at a fixed offered rate: what latency a counter sees when the server is not saturated.
        paced_record, offered = Recorder(), 0.0
        bare_measured = len(bare_record.latencies) / args.seconds
        if args.paced > 0 and bare_measured:
            offered = args.paced * bare_measured
            pair_interval = 2 * args.clients / offered  # two requests per pair
            paced_record = run_redeem(port, paced_plan, args.seconds / 2, pair_interval=pair_interval)
    finally:
        stop_gunicorn(server)

    load = os.getloadavg()
    errors = bare_record.errors + redeem_record.errors + floor_record.errors + paced_record.errors
    if errors:
        print(f"{len(errors)} errors, e.g. {errors[:3]}")
    print(
        f"\nload average before gunicorn started: {idle_load[0]:.1f} (1 min), {idle_load[1]:.1f} (5 min); "
        f"after the run: {load[0]:.1f}, {load[1]:.1f} (the benchmark's own threads count too) on {os.cpu_count()} CPUs"
    )
    if busy > 0 and wall > 0:
        print(
            f"CPU busy during the measured phases: {busy / 1e9 / wall:.2f} of {os.cpu_count()} cores, of which "
            f"other work on the machine {max(0, busy - own) / 1e9 / wall:.2f} (all busy time less gunicorn, "
            f"its PostgreSQL backends and the client threads)"
        )
    bare_rps = report("bare view (GET /bench/bare)", bare_record, args.seconds)
    redeem_rps = report("redeem (verify + confirm requests)", redeem_record, args.seconds)
    report("signed-in no-op DRF POST (floor)", floor_record, args.seconds / 2)
    pairs = redeem_record.pairs
    print(
        f"{'redemptions (verify then confirm)':<34} {len(pairs) / args.seconds:9.1f} /s      "
        f"p50 {percentile(pairs, 0.5) * 1000:6.1f} ms   p99 {percentile(pairs, 0.99) * 1000:6.1f} ms"
    )
    if bare_record.cpu_ns and redeem_record.cpu_ns:

        def per_request(record: Recorder, ns: int) -> float:
            return ns / 1e6 / len(record.latencies)

        bare_cpu = per_request(bare_record, bare_record.cpu_ns + bare_record.db_cpu_ns)
        floor_cpu = per_request(floor_record, floor_record.cpu_ns + floor_record.db_cpu_ns)
        redeem_web = per_request(redeem_record, redeem_record.cpu_ns)
        redeem_db = per_request(redeem_record, redeem_record.db_cpu_ns)
        print(
            f"server CPU per request: bare {bare_cpu:.2f} ms; redeem {redeem_web + redeem_db:.2f} ms "
            f"(gunicorn {redeem_web:.2f}, PostgreSQL {redeem_db:.2f}); "
            f"CPU-bound capacity ratio redeem/bare: {bare_cpu / (redeem_web + redeem_db):.2f}"
        )
        print(
            f"of which any signed-in API request costs {floor_cpu:.2f} ms (session, user, middleware, DRF, CSRF): "
            f"the redemption's own work is {redeem_web + redeem_db - floor_cpu:.2f} ms per request"
        )
    ratio = redeem_rps / bare_rps if bare_rps else 0.0
    p99 = percentile(redeem_record.latencies, 0.99) * 1000
    print(
        f"closed loop, Little's law: {args.clients} clients / {redeem_rps:.0f} req/s = "
        f"{args.clients / redeem_rps * 1000 if redeem_rps else 0:.0f} ms mean latency; p99 < {GOAL_P99_MS} ms at "
        f"saturation would need more than {args.clients / (GOAL_P99_MS / 1000):.0f} req/s"
    )
    if paced_record.latencies:
        report(f"redeem, open loop at {offered:.0f} req/s", paced_record, args.seconds / 2)
        paced_p99 = percentile(paced_record.latencies, 0.99) * 1000
        print(
            f"  ({args.paced:.2f} of the bare view's rate offered; p99 from when each request was due: "
            f"{'under' if paced_p99 < GOAL_P99_MS else 'over'} {GOAL_P99_MS} ms)"
        )
    verdict = "meets" if ratio >= GOAL_RATIO and p99 < GOAL_P99_MS else "misses"
    print(f"goal: ratio >= {GOAL_RATIO} and p99 < {GOAL_P99_MS} ms: {verdict}")
    print(f"redeem/bare ratio: {ratio:.2f}, redeem p99: {p99:.0f} ms")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
