"""How fast are the trustee pack and the SLA report made for a quarter of a 1,000,000-event log,
against a raw SQL aggregate over the same events?

Builds a log of N events (default 1,000,000) on PostgreSQL spanning a year, decided in memory by
the domain's own ``decide`` (occurred and recorded over the year, not "now") and appended through
the ledger in large batches, in the order they were recorded:

* case events from ``bench/projections.py``'s generator: cases opened from flags, helpline
  contacts, staff concerns and automated detection over nine categories, three channels and
  every risk level, worked on at the same time (further flags, notes, risk assessments,
  moderation, assignments, escalations and their acknowledgement, referrals and their updates,
  out-of-hours decisions and their reviews, corrections, closures and reopenings);
* helpline contacts from ``bench/contacts.py``'s builder (one for every ``--contact-every`` case
  events): reviews, calibrations, follow-ups, so the SLA report has contact clocks too;
* a year's rota from ``bench/shift_log.py``'s builder (``--shifts``, planned, checked into and
  out of, some handed over).

Then the report facts and the actor activity views are rebuilt from the log and the hash ledger
is caught up (timed and printed: setup, not the measured figures), and, in the same run, for the
calendar quarter around the middle of the log, all services, ``as_of`` the last event recorded:

(1) the trustee pack (``ReportService.report`` and ``to_json``): the first call, and the median
    of ``--repeat`` more; its peak Python memory in one more call under ``tracemalloc``;
(2) the SLA report, the same figures;
(3) a raw SQL aggregate over the same events: the cases opened in the quarter, counted by
    category straight from the events table (the stored JSON, parsed by PostgreSQL), the floor a
    report cannot beat; each report's time as a ratio to it.

Goal on the 2-core reference machine: the trustee pack under 2 s.

Usage: python bench/reports.py [--events N | --quick] [--database-url URL] [--keep] [--reuse]
The default URL is postgresql://postgres@127.0.0.1:5432/test?schema=bench_reports; the schema
is dropped before the run (unless --reuse) and at the end (unless --keep). The keys (master key,
checkpoint signing key) live in ``--data-dir``: a temporary directory, or with ``--keep`` or
``--reuse`` a fixed one (``<tmp>/vigil-bench-reports``), so a reused log is read with the keys
it was written with.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

import psycopg  # noqa: E402
from support import bench_settings, drop_schema, rate, script  # noqa: E402  (bench/support.py)

from application.reports.document import to_json  # noqa: E402
from application.reports.service import ReportRequest  # noqa: E402
from infrastructure.persistence import is_postgres, postgres_conninfo  # noqa: E402
from infrastructure.recorders import events_table  # noqa: E402
from interfaces.composition import Vigil, bootstrap  # noqa: E402
from projections.report_queries import Scope  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_reports"
QUICK_EVENTS = 50_000
TRUSTEE_TARGET_S = 2.0
SPAN_DAYS = 365
KEYS_DIR = Path(tempfile.gettempdir()) / "vigil-bench-reports"
OPENED_TOPIC = "domain.case.events:CaseOpened"


cases_bench = script("bench_projections", "projections.py")
contacts_bench = script("bench_contacts", "contacts.py")
shifts_bench = script("bench_shift_log", "shift_log.py")


# --- the log ---------------------------------------------------------------------------------


def build_log(
    vigil: Vigil, events: int, *, batch: int, seed: int, contact_every: int, shifts: int
) -> None:
    """Append about ``events`` events recorded over ``SPAN_DAYS`` days, in recorded order."""
    rng = random.Random(seed)
    origin = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    origin -= timedelta(days=SPAN_DAYS + 35)
    generator = cases_bench.Generator(random.Random(seed), vigil.calendar, origin)
    # The generator steps 0-60 s (30 s on average) between case events; stretch the steps so the
    # case events cover the year whatever their number.
    rota = shifts_bench.build_rota(shifts, origin, SPAN_DAYS) if shifts else []
    # A contact is about 2.5 events.
    case_share = (events - len(rota)) / (1 + (2.5 / contact_every if contact_every else 0))
    extra = max(0.0, SPAN_DAYS * 86400 / max(1.0, case_share) - 30.0)
    contacts = contacts_bench.ContactBuilder(random.Random(seed + 1))
    counter = itertools.count()
    # Events decided ahead of the log's clock (a contact's review days later, the rota's shifts),
    # appended once the log's clock passes their recorded time.
    pending: list[tuple[datetime, int, Any]] = []
    for event in rota:
        heapq.heappush(pending, (event.recorded_at, next(counter), event))
    started = time.perf_counter()
    written, case_events, contact_count, last_report = 0, 0, 0, started
    while written < events:
        chunk: list[Any] = []
        while len(chunk) < batch and written + len(chunk) < events:
            event = generator.next_event()
            if extra:
                generator.now += timedelta(seconds=rng.uniform(0, 2 * extra))
            while pending and pending[0][0] <= event.recorded_at:
                chunk.append(heapq.heappop(pending)[2])
            chunk.append(event)
            case_events += 1
            if contact_every and case_events % contact_every == 0:
                contacts.contact(contact_count, event.occurred_at)
                contact_count += 1
                for decided in contacts.events:
                    heapq.heappush(pending, (decided.recorded_at, next(counter), decided))
                contacts.events.clear()
        vigil.event_log.save(*chunk)
        written += len(chunk)
        if time.perf_counter() - last_report > 15:
            last_report = time.perf_counter()
            print(f"  ... {written:,} events ({rate(written, last_report - started)})")
    # What was decided ahead of the last case event: appended last (recorded by then).
    rest = [heapq.heappop(pending)[2] for _ in range(len(pending))]
    for i in range(0, len(rest), batch):
        vigil.event_log.save(*rest[i : i + batch])
    written += len(rest)
    seconds = time.perf_counter() - started
    print(
        f"built the log: {rate(written, seconds)}; {generator.opened:,} cases, "
        f"{contact_count:,} helpline contacts, {shifts:,} shifts, from {origin:%Y-%m-%d} "
        f"to {generator.now:%Y-%m-%d}"
    )


# --- measuring -------------------------------------------------------------------------------


def quarter_around(moment: date) -> tuple[date, date]:
    """The calendar quarter holding ``moment``: its first and last days."""
    first = date(moment.year, 3 * ((moment.month - 1) // 3) + 1, 1)
    after = date(first.year + (first.month == 10), (first.month + 3 - 1) % 12 + 1, 1)
    return first, after - timedelta(days=1)


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """The first call's seconds, the median of ``repeat`` more, and the first call's answer."""
    started = time.perf_counter()
    answer = call()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        warm.append(time.perf_counter() - started)
    return cold, statistics.median(warm), answer


def peak_mb(call: Callable[[], Any]) -> float:
    """Peak Python memory (tracemalloc) of one call, in MB."""
    tracemalloc.start()
    try:
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def log_span(conn: psycopg.Connection[Any], schema: str) -> tuple[datetime, datetime, int]:
    """The first and last recorded times of the log's work (cases, contacts, shifts: the
    actor activity holds every event; the bench's users were registered "now") and its
    number of events."""
    row = conn.execute(
        "SELECT MIN(recorded_at), MAX(recorded_at), COUNT(*) "
        f"FROM \"{schema}\".actor_activity WHERE context IN ('case', 'contact', 'shift')"
    ).fetchone()
    assert row is not None
    return row[0], row[1], int(row[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--batch", type=int, default=5000, help="events per append")
    parser.add_argument("--contact-every", type=int, default=100, help="case events per contact")
    parser.add_argument("--shifts", type=int, default=3650, help="the year's rota")
    parser.add_argument("--repeat", type=int, default=5, help="warm calls (median)")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--data-dir", type=Path, default=None, help="where the keys live")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the log (and views, if up to date) left by --keep; keeps them",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="with --reuse: rebuild the views all the same"
    )
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()
    events = QUICK_EVENTS if args.quick else args.events
    url = args.database_url
    if not is_postgres(url):
        parser.error("this benchmark runs on PostgreSQL: pass a postgresql:// URL")
    keys: tempfile.TemporaryDirectory[str] | None = None
    if args.data_dir is not None:
        data_dir = args.data_dir
    elif args.keep or args.reuse:
        data_dir = KEYS_DIR
    else:
        keys = tempfile.TemporaryDirectory()
        data_dir = Path(keys.name)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = bench_settings(
        url, data_dir=data_dir, db_pool_size=4, db_max_overflow=4, rebuild_processes=1
    )
    if not args.reuse:
        drop_schema(url)
    vigil = bootstrap(settings)
    try:
        head = int(vigil.event_log.recorder.max_notification_id() or 0)
        if args.reuse and not head:
            parser.error("--reuse: the schema holds no log; run once with --keep first")
        print(f"store: PostgreSQL ({url})   keys: {data_dir}")
        if head:
            print(f"reusing the log kept in the schema: {head:,} events")
        else:
            for user in (
                *cases_bench.USERS,
                *contacts_bench.HANDLERS,
                *contacts_bench.REVIEWERS,
                shifts_bench.PLANNER,
                *shifts_bench.PEOPLE,
            ):
                vigil.identity.register(user.username, user.role, actor="bench")
            build_log(
                vigil,
                events,
                batch=args.batch,
                seed=args.seed,
                contact_every=args.contact_every,
                shifts=args.shifts,
            )
        head = int(vigil.event_log.recorder.max_notification_id() or 0)

        # Setup, not the measured figures: the two views the reports read, and the hash ledger
        # (a report names the signed checkpoint covering its as_of).
        views = ["report_facts", "actor_activity"]
        if (
            args.reuse
            and not args.rebuild
            and all(vigil.projector.position(name) >= head for name in views)
        ):
            print("setup: report_facts and actor_activity kept up to date from the earlier run")
        else:
            started = time.perf_counter()
            vigil.projector.rebuild(views)
            rebuild_s = time.perf_counter() - started
            print(
                "setup: report_facts and actor_activity rebuilt from the log: "
                f"{rate(head, rebuild_s)}"
            )
        started = time.perf_counter()
        hashed = vigil.integrity.notary.catch_up()
        notary_s = time.perf_counter() - started
        print(f"setup: hash ledger caught up: {hashed:,} events in {notary_s:.1f} s")

        store: Any = vigil.report_facts.store
        schema = store.schema
        with psycopg.connect(postgres_conninfo(url), autocommit=True) as conn:
            # A rebuild fills the tables by COPY; the planner knows nothing of them until they
            # are analysed (autovacuum does it in a deployment; it may be off, as on the test
            # server), and index-only scans need the visibility map a vacuum sets.
            autovacuum = conn.execute("SHOW autovacuum").fetchone()
            started = time.perf_counter()
            tables = ("report_facts", "report_clocks", "report_clock_stops", "actor_activity")
            conn.execute("VACUUM (ANALYZE) " + ", ".join(f'"{schema}"."{name}"' for name in tables))
            vacuum_s = time.perf_counter() - started
            print(
                f"setup: VACUUM (ANALYZE) of the views' tables: {vacuum_s:.1f} s "
                f"(autovacuum here: {autovacuum[0] if autovacuum else '?'})"
            )
            first, last, count = log_span(conn, schema)
            middle = (first + (last - first) / 2).astimezone(vigil.calendar.timezone).date()
            start, end = quarter_around(middle)
            as_of = last
            for table in ("report_facts", "report_clocks", "report_clock_stops"):
                row = conn.execute(f'SELECT COUNT(*) FROM "{schema}"."{table}"').fetchone()
                print(f"  {table}: {int(row[0]) if row else 0:,} rows")
            print(
                f"the log: {count:,} events of cases, contacts and shifts recorded from "
                f"{first:%Y-%m-%d} to {last:%Y-%m-%d}; "
                f"the quarter: {start} to {end}, all services, as_of {as_of.isoformat()}"
            )

            table, _ = events_table(vigil.event_log.recorder)
            zone = str(vigil.calendar.timezone)
            raw_sql = (
                "SELECT e.doc->>'category' AS category, COUNT(*) FROM ("
                "SELECT convert_from(state, 'UTF8')::jsonb AS doc "
                f"FROM {table} WHERE topic = %(topic)s) e "
                "WHERE ((e.doc->>'occurred_at')::timestamptz AT TIME ZONE %(zone)s)::date "
                "BETWEEN %(start)s AND %(end)s "
                "AND (e.doc->>'recorded_at')::timestamptz <= %(as_of)s "
                "GROUP BY 1 ORDER BY 1"
            )
            params = {"topic": OPENED_TOPIC, "zone": zone, "start": start, "end": end}
            params["as_of"] = as_of

            def raw() -> list[Any]:
                return conn.execute(raw_sql, params).fetchall()

            raw_cold, raw_warm, raw_rows = timed(raw, args.repeat)

            def report(kind: str) -> Callable[[], bytes]:
                request = ReportRequest(kind, start, end, None, as_of)
                return lambda: to_json(vigil.reports.report(request))

            trustee_cold, trustee_warm, trustee_doc = timed(report("trustee"), args.repeat)
            trustee_mb = peak_mb(report("trustee"))
            sla_cold, sla_warm, sla_doc = timed(report("sla"), args.repeat)
            sla_mb = peak_mb(report("sla"))

        # The raw aggregate counts what the report counts: the same cases by category.
        opened = vigil.report_facts.case_openings(Scope(start, end, None, as_of))
        by_category = Counter(str(r["category"]) for r in opened)
        raw_counts = {str(r[0]): int(r[1]) for r in raw_rows}
        same = raw_counts == dict(by_category)
        print(
            f"(3) raw SQL: {sum(raw_counts.values()):,} cases opened in the quarter, "
            f"{len(raw_counts)} categories; the report facts count the same: "
            f"{'yes' if same else 'NO'}"
        )
        print(
            f"    trustee pack: {len(trustee_doc):,} bytes of JSON; SLA report: "
            f"{len(sla_doc):,} bytes of JSON"
        )
        print()
        print(f"{'':<44}{'first call':>12}{'warm (median)':>15}{'peak MB':>9}{'x raw':>8}")
        lines = (
            ("(1) trustee pack (report + to_json)", trustee_cold, trustee_warm, trustee_mb),
            ("(2) SLA report (report + to_json)", sla_cold, sla_warm, sla_mb),
            ("(3) raw SQL: cases opened by category", raw_cold, raw_warm, None),
        )
        for label, cold, warm, mb in lines:
            print(
                f"{label:<44}{cold:>10.3f} s{warm:>13.3f} s"
                f"{'' if mb is None else f'{mb:.1f}':>9}{warm / raw_warm:>7.1f}x"
            )
        print(
            f"(peak MB: tracemalloc's peak of Python allocations during one more call; warm: the "
            f"median of {args.repeat} calls after the first)"
        )
        checks = [
            (
                f"the trustee pack for a quarter under {TRUSTEE_TARGET_S:.0f} s "
                f"(first call {trustee_cold:.2f} s, warm {trustee_warm:.2f} s)",
                max(trustee_cold, trustee_warm) < TRUSTEE_TARGET_S,
            ),
            ("the raw aggregate and the report facts count the same cases", same),
        ]
        for label, ok in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {label}")
    finally:
        vigil.close()
        if not (args.keep or args.reuse):
            drop_schema(url)
        if keys is not None:
            keys.cleanup()


if __name__ == "__main__":
    main()
