"""Notifications at scale on PostgreSQL: the nightly points digest, the email fan-out, and what telling residents adds
to the set-based re-tiers (a department batch, a scheme switch).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_notify_bench .tools/bin/uv run --frozen python \
        bench/notifications.py [--residents 100000] [--entries-per-resident 10]

It recreates the database named in DATABASE_URL (the name must contain "bench"; nothing else is dropped), migrates
it, and fills it at database speed with bench/dashboard.py's generators (accounts with verified emails, residents,
balances), then 10 awards per resident (1,000,000 for 100,000 residents) recorded over the last 10 local days at
pseudo-random times, so one day holds about 100,000 awards for about 85,000 residents (printed).

Measured (each printed with rows and time):
- `points_digest_create` for one day (one INSERT … SELECT … GROUP BY over the ledger, ON CONFLICT DO NOTHING), then
  the same day again (adds nothing), next to a bare `SELECT count(*)` scan of the ledger as the floor;
- the fan-out: walking the day's mailable notices in batches of 200 (what `email_notice_range` does), and claiming
  and rendering one batch of 200 emails (the locmem mail backend: no network);
- `tiers_refresh` for 10,000 residents who all change tier, with and without the notices (the set-based batch path),
  and `scheme_activate` for everyone, with and without.
Celery gets a memory broker, so the email tasks the passes queue after commit are not run inline.

Figures of 2026-11-21 (100,000 residents, 1,000,000 entries; PostgreSQL 15, 2 CPUs shared with other work):
bare scan of the ledger 149 ms; the day's aggregate alone (EXPLAIN ANALYZE) 868 ms; points_digest_create 7.2 s for
85,149 digests (11,800 residents/s, most of it inserting the notices and their indexes), again 2.2 s adding none;
walking the day's mailable digests into 426 batches 1.6 s; a batch of 200 emails claimed, worded in two languages and
handed to the locmem backend 2.4-2.6 s (MIME building included; the first batch 6.2 s, imports); tiers_refresh for
10,000 residents all moving up 2.07 s without notices, 2.23 s with (+8%); scheme_activate for 100,000 residents
11.0 s without notices, 14.7 s with.
"""

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import dashboard  # noqa: E402  (bench/dashboard.py: environment, database and resident generators)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cp_notify_bench"
DAYS = 10


def timed(label: str, action):
    start = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - start
    dashboard.say(f"  {label}: {elapsed * 1000:,.0f} ms  ({result})")
    return result, elapsed


def add_entries(world, residents: int, per_resident: int, day_zero: datetime.datetime) -> int:
    """`per_resident` awards for each resident, recorded over the DAYS local days from `day_zero`, chained by seq."""
    from citizenpoints.models import GENESIS_HASH, LedgerEntry

    behaviour = world.behaviours[4]  # library-loan, 1 point
    params = {
        "residents": residents,
        "per": per_resident,
        "day_zero": day_zero,
        "span": DAYS * 86400,
        "genesis": GENESIS_HASH,
        "bid": behaviour.id,
        "code": behaviour.code,
        "category": behaviour.category_id,
        "version": behaviour.version_id,
        "source": behaviour.source_id,
    }
    chain = "md5('h' || i || ':' || {seq}) || md5('x' || i || ':' || {seq})"
    columns = {
        "resident_id": "i",
        "seq": "k",
        "kind": "'award'",
        "behaviour_id": "%(bid)s",
        "behaviour_code": "%(code)s",
        "category_id": "%(category)s",
        "catalogue_version_id": "%(version)s",
        "source_id": "%(source)s",
        "external_id": "'n-' || i || '-' || k",
        # Pseudo-random seconds into the span (the bench never verifies chains, so times need not grow with seq).
        "recorded_at": "%(day_zero)s::timestamptz + mod(i * 7919 + k * 104729, %(span)s) * interval '1 second'",
        "occurred_at": "%(day_zero)s::timestamptz + mod(i * 7919 + k * 104729, %(span)s) * interval '1 second' "
        "- interval '1 hour'",
        "points": "1",
        "prev_hash": f"CASE WHEN k = 1 THEN %(genesis)s ELSE {chain.format(seq='(k - 1)')} END",
        "hash": chain.format(seq="k"),
    }
    tail = "FROM generate_series(1, %(residents)s::bigint) AS i CROSS JOIN generate_series(1, %(per)s) AS k"
    written = dashboard.insert_select(LedgerEntry, columns, tail, params)
    dashboard.execute(
        "UPDATE citizenpoints_balance SET points = %(per)s, lifetime_points = %(per)s, last_seq = %(per)s",
        {"per": per_resident},
    )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--entries-per-resident", type=int, default=10)
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["EMAIL_URL"] = "memorymail://"
    os.environ["CELERY_BROKER_URL"] = "memory://"  # queue the email tasks, do not run them inline
    dashboard.configure_environment()
    database = dashboard.recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from citizenpoints.models import Notification, Tier, TierScheme
    from citizenpoints.services import notifications
    from citizenpoints.services.notifications import (
        local_day_bounds,
        notice_range_email_batches,
        notices_email,
        points_digest_create,
    )
    from citizenpoints.services.scoring import scheme_activate, tiers_refresh

    call_command("migrate", verbosity=0, interactive=False)
    version = dashboard.fetchone("SELECT current_setting('server_version')")[0]
    dashboard.say(
        f"bench/notifications.py: {args.residents:,} residents x {args.entries_per_resident} awards, "
        f"database {database} on PostgreSQL {version}, {os.cpu_count()} CPUs"
    )
    world = dashboard.setup_world()
    today_local = notifications.yesterday_local() + datetime.timedelta(days=1)
    first_day = today_local - datetime.timedelta(days=DAYS)
    day_zero, _ = local_day_bounds(first_day)
    with dashboard.step("generate residents and awards"):
        dashboard.generation_session(True)
        dashboard.add_residents(world, 1, args.residents)
        entries = add_entries(world, args.residents, args.entries_per_resident, day_zero)
        dashboard.generation_session(False)
        dashboard.execute("VACUUM (ANALYZE)")
    dashboard.say(f"  {entries:,} ledger entries over the {DAYS} local days from {first_day}")

    day = first_day + datetime.timedelta(days=DAYS // 2)
    start, end = local_day_bounds(day)
    in_day = dashboard.fetchone(
        "SELECT count(*), count(DISTINCT resident_id) FROM citizenpoints_ledgerentry "
        "WHERE recorded_at >= %s AND recorded_at < %s",
        [start, end],
    )
    dashboard.say(f"digest of {day}: {in_day[0]:,} awards for {in_day[1]:,} residents")
    timed("floor: SELECT count(*) over the whole ledger", lambda: dashboard.fetchone(
        "SELECT count(*) FROM citizenpoints_ledgerentry")[0])  # fmt: skip
    written, first_run = timed("points_digest_create (first run)", lambda: points_digest_create(day=day))
    timed("points_digest_create (again: adds nothing)", lambda: points_digest_create(day=day))
    dashboard.execute("VACUUM (ANALYZE) citizenpoints_notification")

    first_id, last_id = dashboard.fetchone(
        "SELECT min(id), max(id) FROM citizenpoints_notification WHERE kind = 'points_digest'"
    )
    batches: list[list[int]] = []
    timed(
        "fan-out: mailable digests walked in batches of 200",
        lambda: len(batches.extend(notice_range_email_batches(first_id=first_id, last_id=last_id)) or batches),
    )
    for n, batch in enumerate(batches[:3], start=1):
        timed(f"batch {n}: claim, word and send 200 emails (locmem)", lambda b=batch: notices_email(notice_ids=b))
    if os.environ.get("BENCH_EXPLAIN"):
        dashboard.execute("DELETE FROM citizenpoints_notification WHERE digest_date = %s", [day])
        plan = dashboard.fetchall(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT e.resident_id, COUNT(*), ROUND(SUM(e.points), 2) "
            "FROM citizenpoints_ledgerentry e JOIN citizenpoints_resident r ON r.id = e.resident_id "
            "WHERE e.kind = 'award' AND e.recorded_at >= %s AND e.recorded_at < %s AND r.left_at IS NULL "
            "GROUP BY e.resident_id",
            [start, end],
        )
        dashboard.say("\n".join(row[0] for row in plan))

    # The set-based re-tier with and without its notices: 10,000 residents that all move up one tier.
    scheme = TierScheme.objects.get(is_active=True)
    good = Tier.objects.get(scheme=scheme, code="good")
    movers = "SELECT i FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS i"

    def refresh(low: int, high: int, quiet: bool) -> int:
        real = notifications.tier_changes_notify
        if quiet:
            notifications.tier_changes_notify = lambda **kwargs: 0
        try:
            with transaction.atomic():
                dashboard.execute(
                    "UPDATE citizenpoints_balance SET points = %(points)s "
                    "WHERE resident_id BETWEEN %(low)s AND %(high)s",
                    {"points": good.min_score - scheme.base_score, "low": low, "high": high},
                )
                return tiers_refresh(cause="points", only_residents_sql=movers, only_params={"low": low, "high": high})
        finally:
            notifications.tier_changes_notify = real

    size = min(10_000, args.residents // 2)
    timed(f"tiers_refresh, {size:,} residents move up, notices off", lambda: refresh(1, size, True))
    timed(f"tiers_refresh, {size:,} residents move up, notices on", lambda: refresh(size + 1, 2 * size, False))

    grades = TierScheme.objects.get(code="grades")
    real = notifications.tier_changes_notify
    notifications.tier_changes_notify = lambda **kwargs: 0
    try:
        timed(f"scheme_activate for {args.residents:,} residents, notices off", lambda: scheme_activate(scheme=grades))
    finally:
        notifications.tier_changes_notify = real
    timed(
        f"scheme_activate for {args.residents:,} residents, notices on",
        lambda: scheme_activate(scheme=scheme, reason="Back to five bands"),
    )
    dashboard.say(
        f"notices now: {Notification.objects.count():,}; digest rate "
        f"{written / first_run:,.0f} residents/s; connection {connection.vendor}"
    )


if __name__ == "__main__":
    main()
