"""How long does ``WorkQueues.counts`` (what ``GET /api/v1/queues`` answers) take at 1,000 and
100,000 open cases, beside the GROUP BY over every item it replaced, in the same run?

The view's rows are SEEDED DIRECTLY (building 100,000 cases through the log would take far
longer than the read measured): for each open case, its ``no_recent_action`` row, and
``--items-per-case`` further items (on average) in the queues with due times, a fifth of the
cases also ``high_risk_open``; categories drawn from ten, two of them restricted; one case in
ten assigned (to one of 50 staff). ``--overdue`` of the items with due times are overdue at the
moment asked about (default 2%) and ``--idle`` of the cases idle (default 5%): overdue and idle
items are counted by index range, so their share is what the read's cost follows. The kept
counts are then counted from the rows as a rebuild counts them (``filled_statements``), and the
tables analysed (on PostgreSQL vacuumed too, as autovacuum would soon: without a visibility map
PostgreSQL reads the table's pages for every overdue item instead of the index alone).

Each figure is p50 and p99 (ms) of ``--samples`` reads after a warm-up, for: every reader (the
common case), a reader kept out of the restricted categories (with their own cases and two
break-glass grants), and one assignee's counts; each beside the baseline: today's previous
query (``SELECT queue, COUNT(*), SUM(overdue) ... GROUP BY queue`` over the whole table, with
the same filters, and the idle count) on the same table.

Before timing, each reader's counts are checked against the baseline's answer (the script
stops if they differ).

Usage: python bench/queue_counts.py [--cases 1000,100000] [--samples N] [--database-url URL]
Without ``--database-url`` (or ``VIGIL_BENCH_DATABASE_URL``) it runs on SQLite (a temporary
file); with a PostgreSQL URL (e.g.
postgresql://postgres@127.0.0.1:5432/test?schema=bench_queue_counts) on that store, its schema
dropped before and after.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

import psycopg  # noqa: E402
from support import bench_settings, drop_schema, pct, timed  # noqa: E402  (bench/support.py)

from domain.access.rules import Visibility  # noqa: E402
from infrastructure.persistence import is_postgres  # noqa: E402
from interfaces.composition import bootstrap  # noqa: E402
from projections.queue_rows import COLUMNS, Queue  # noqa: E402
from projections.restricted import restriction_clause  # noqa: E402
from projections.store import PostgresViewStore  # noqa: E402
from projections.work_queues import WorkQueues  # noqa: E402

WARM_UP = 5
CATEGORIES = (
    "self_harm_risk",
    "harm_to_others",
    "hate_incident",
    "harassment",
    "medical_misinformation",
    "spam",
    "offensive_content",
    "account_issue",
    "complaint",
    "other",
)
RESTRICTED = ("self_harm_risk", "harm_to_others")
DUE_QUEUES = (
    Queue.OUT_OF_HOURS_REVIEWS,
    Queue.UNACKNOWLEDGED_ESCALATIONS,
    Queue.REFERRALS_AWAITING_ACKNOWLEDGEMENT,
    Queue.REFERRALS_AWAITING_FOLLOW_UP,
    Queue.APPROVALS_AWAITING_DECISION,
    Queue.REFERRALS_AWAITING_REVIEW,
    Queue.FLAGS_AWAITING_ACTION,
)
STAFF = [f"worker{n}" for n in range(50)]
# Kept out of the restricted categories, but for their own cases and two break-glass grants.
READER = Visibility(RESTRICTED, STAFF[0], (uuid4(), uuid4()))


def seed(queues: WorkQueues, cases: int, now: datetime, args: argparse.Namespace) -> int:
    """Replace the view's rows with those of ``cases`` open cases; their kept counts."""
    rng = random.Random(cases)
    store = queues.store
    view = queues.view
    rows: list[tuple[Any, ...]] = []

    def add(queue: Queue, case_id: UUID, category: str, assignee: str | None, **kw: Any) -> None:
        row = {
            "queue": queue.value,
            "item_id": store.encode_uuid(kw.get("item_id", case_id)),
            "case_id": store.encode_uuid(case_id),
            "kind": kw.get("kind", "case"),
            "category": category,
            "risk_level": kw.get("risk_level"),
            "risk_rank": kw.get("risk_rank"),
            "assignee": assignee,
            "urgency": None,
            "agency_kind": None,
            "since_at": store.encode_time(kw["since_at"]),
            "due_at": store.encode_time(kw.get("due_at")),
            "position": 1,
        }
        rows.append(tuple(row[c] for c in COLUMNS))

    for _ in range(cases):
        case_id = uuid4()
        category = rng.choice(CATEGORIES)
        assignee = rng.choice(STAFF) if rng.random() < 0.1 else None
        idle = rng.random() < args.idle
        last = now - timedelta(days=rng.uniform(8, 60) if idle else rng.uniform(0, 6.9))
        add(Queue.NO_RECENT_ACTION, case_id, category, assignee, since_at=last)
        if rng.random() < 0.2:
            add(
                Queue.HIGH_RISK_OPEN,
                case_id,
                category,
                assignee,
                since_at=last,
                risk_level="high",
                risk_rank=1,
            )
        extra = int(args.items_per_case) + (rng.random() < args.items_per_case % 1)
        for _ in range(extra):
            overdue = rng.random() < args.overdue
            due = now + timedelta(hours=-rng.uniform(1, 500) if overdue else rng.uniform(1, 500))
            add(
                rng.choice(DUE_QUEUES),
                case_id,
                category,
                assignee,
                item_id=uuid4(),
                kind="item",
                since_at=due - timedelta(days=1),
                due_at=due,
            )
    table = view.table(store)
    with store.transaction(commit=True) as tx:
        tx.execute(f"DELETE FROM {table}")
        for start in range(0, len(rows), 20_000):
            tx.copy_rows(table, COLUMNS, rows[start : start + 20_000])
        for statement in view.filled_statements(store):
            tx.execute(statement)
        if store.dialect == "sqlite":
            tx.execute("ANALYZE")
    if isinstance(store, PostgresViewStore):
        # What autovacuum does to a table this size soon after: statistics, and the visibility
        # map that lets the counts read an index alone.
        with psycopg.connect(**store.connection_kwargs(), autocommit=True) as connection:
            connection.execute(f"VACUUM (ANALYZE) {table}")
            connection.execute(f"VACUUM (ANALYZE) {view.counts_table(store)}")
    return len(rows)


def previous_counts(
    queues: WorkQueues,
    as_of: datetime,
    assignee: str | None = None,
    visibility: Visibility | None = None,
) -> Any:
    """The query ``counts`` made before the counts were kept (the baseline)."""
    store = queues.store
    table = queues.view.table(store)
    params: dict[str, Any] = {
        "as_of": store.encode_time(as_of),
        "cutoff": store.encode_time(as_of - timedelta(days=7)),
        "idle": Queue.NO_RECENT_ACTION.value,
        "assignee": assignee,
    }
    mine = " AND assignee = %(assignee)s" if assignee is not None else ""
    restricted = restriction_clause(store, visibility, params)
    if restricted is not None:
        mine += f" AND {restricted}"
    with store.transaction(commit=False) as tx:
        rows = tx.fetchall(
            "SELECT queue, COUNT(*) AS total, "
            "SUM(CASE WHEN due_at < %(as_of)s THEN 1 ELSE 0 END) AS overdue "
            f"FROM {table} WHERE queue <> %(idle)s{mine} GROUP BY queue",
            params,
        )
        idle = tx.fetchone(
            f"SELECT COUNT(*) AS total FROM {table} "
            f"WHERE queue = %(idle)s AND since_at < %(cutoff)s{mine}",
            params,
        )
    return rows, idle


def same_counts(counts: list[Any], rows: list[Any], idle: Any) -> bool:
    """Whether ``counts`` (totals and overdue per queue) answer what the GROUP BY found."""
    found = {row["queue"]: (int(row["total"]), int(row["overdue"] or 0)) for row in rows}
    idle_total = int(idle["total"]) if idle is not None else 0
    found[Queue.NO_RECENT_ACTION.value] = (idle_total, idle_total)
    for count in counts:
        total, overdue = found.get(count.name.value, (0, 0))
        if count.total != total or (count.overdue is not None and count.overdue != overdue):
            return False
    return True


def run(url: str, args: argparse.Namespace) -> None:
    postgres = is_postgres(url)
    work = tempfile.TemporaryDirectory()
    settings = bench_settings(
        url,
        environment="development",
        data_dir=Path(work.name),
        restricted_categories=",".join(RESTRICTED),
    )
    if postgres:
        drop_schema(url)
    vigil = bootstrap(settings)
    try:
        print(f"store: {'PostgreSQL' if postgres else 'SQLite'}")
        queues = WorkQueues(vigil.event_log, projector=vigil.projector)
        queues.catch_up()
        now = datetime.now(UTC).replace(microsecond=0)
        header = f"{'':<58}{'p50':>10}{'p99':>10}"
        for cases in [int(n) for n in args.cases.split(",")]:
            started = time.perf_counter()
            items = seed(queues, cases, now, args)
            print(
                f"\n{cases:,} open cases: {items:,} queue items seeded in "
                f"{time.perf_counter() - started:.1f} s"
            )
            kept = {
                "every reader": lambda: queues.counts(as_of=now),
                "a restricted reader": lambda: queues.counts(as_of=now, visibility=READER),
                "one assignee": lambda: queues.counts(as_of=now, assignee=STAFF[1]),
            }
            before = {
                "every reader": lambda: previous_counts(queues, now),
                "a restricted reader": lambda: previous_counts(queues, now, visibility=READER),
                "one assignee": lambda: previous_counts(queues, now, assignee=STAFF[1]),
            }
            totals = {c.name.value: (c.total, c.overdue) for c in kept["every reader"]()}
            overdue = sum(o or 0 for q, (_, o) in totals.items() if q != "no_recent_action")
            print(f"overdue items {overdue:,}, idle cases {totals['no_recent_action'][0]:,}")
            for reader in kept:
                # The same answer, or the figures mean nothing.
                if not same_counts(kept[reader](), *before[reader]()):
                    raise SystemExit(f"kept counts differ from the GROUP BY for {reader}")
            print(header)
            for reader in kept:
                new = timed(kept[reader], args.samples, WARM_UP)
                old = timed(before[reader], args.samples, WARM_UP)
                print(
                    f"{f'baseline GROUP BY over every item, {reader}':<58}"
                    f"{pct(old, 0.5):>7.2f} ms{pct(old, 0.99):>7.2f} ms"
                )
                print(
                    f"{f'WorkQueues.counts (kept counts), {reader}':<58}"
                    f"{pct(new, 0.5):>7.2f} ms{pct(new, 0.99):>7.2f} ms"
                )
    finally:
        vigil.close()
        if postgres:
            drop_schema(url)
        work.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="1000,100000", help="open cases, comma-separated")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--items-per-case", type=float, default=1.0)
    parser.add_argument("--overdue", type=float, default=0.02, help="share of items overdue")
    parser.add_argument("--idle", type=float, default=0.05, help="share of cases idle")
    parser.add_argument("--database-url", default=os.environ.get("VIGIL_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    sqlite_dir = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(sqlite_dir.name) / 'bench.db'}"
    try:
        run(url, args)
    finally:
        sqlite_dir.cleanup()


if __name__ == "__main__":
    main()
