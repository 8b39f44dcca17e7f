"""How long does an as-of read of a long case, and a page of its timeline, take over HTTP,
beside a raw SQL read of the same events in the same run?

Builds one case of ``--events`` events (default 10,000: opened from a flag, then notes, further
flags and risk assessments over two days), decided in memory by the domain's own ``decide`` and
appended through the ledger in large batches (as ``bench/ui_render.py`` builds its long case),
and snapshotted every ``snapshot_interval`` (50) versions, as the service's write path would have
done (``CaseService.take_snapshot``). Then, over real HTTP (uvicorn in this process, on a socket
of its own), a safeguarding lead holding an API token reads, ``--samples`` times each after a
warm-up:

- ``GET /api/v1/cases/{id}?as_of=T&basis=recorded`` (T just after the last event: the whole
  case replayed as Vigil knew it then);
- the same with ``basis=occurred``;
- both again as of a moment in the middle of the case (T the recorded time of its middle event:
  half the case folded, from the snapshot before it);
- a timeline page ``GET /api/v1/cases/{id}/timeline?limit=100`` (each sample the next page,
  following ``next_cursor``, round the whole timeline);

beside ``GET /api/v1/cases/{id}`` (the case now, from the process's cache: what any case read
costs over HTTP, access record included, with no history to read; a reference, not a goal) and
the baseline, a raw SQL read of the same events (``SELECT`` of the case's rows from the
events table by originator id, in version order, on the recorder's own connection: no decoding,
no HTTP). It prints p50 and p99 (ms) of each and its ratio to the baseline, and the goals of
issue 18 (as-of p99 under 20 ms on the recorded basis and under 50 ms on the occurred basis, at
either moment; a timeline page p99 under 20 ms) as met or not met. Every case read appends its
access record, as in service.

Usage: python bench/read_path.py [--events N] [--samples N] [--page N] [--database-url URL]
       [--keep]
Without ``--database-url`` (or ``VIGIL_BENCH_DATABASE_URL``) it runs on SQLite (a temporary
file); with a PostgreSQL URL (e.g.
postgresql://postgres@127.0.0.1:5432/test?schema=bench_read_path) on that store, its schema
dropped before and after unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

from eventsourcing.postgres import PostgresApplicationRecorder  # noqa: E402
from eventsourcing.sqlite import SQLiteApplicationRecorder  # noqa: E402
from psycopg import sql  # noqa: E402
from support import (  # noqa: E402  (bench/support.py)
    Server,
    bench_settings,
    client,
    drop_schema,
    pct,
    script,
    timed,
)

from domain.shared import Actor, Role  # noqa: E402
from infrastructure.persistence import is_postgres  # noqa: E402
from interfaces.composition import Vigil, bootstrap  # noqa: E402

WARM_UP = 5
LEAD = Actor(username="bench.lead", role=Role.SAFEGUARDING_LEAD)
WORKER = Actor(username="bench.coordinator", role=Role.COORDINATOR)
GOALS_MS = {
    "recorded": 20.0,
    "occurred": 50.0,
    "recorded_mid": 20.0,
    "occurred_mid": 50.0,
    "page": 20.0,
}


render = script("bench_ui_render", "ui_render.py")


def raw_read(vigil: Vigil, case_id: UUID) -> Callable[[], int]:
    """A raw SQL read of the case's stored events, on the recorder's own connection."""
    recorder: Any = vigil.event_log.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        statement: Any = sql.SQL(
            "SELECT originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = %s ORDER BY originator_version"
        ).format(
            sql.Identifier(recorder.datastore.schema),
            sql.Identifier(recorder.events_table_name),
        )
        key: Any = case_id
    elif isinstance(recorder, SQLiteApplicationRecorder):
        statement = (
            f"SELECT originator_version, topic, state FROM {recorder.events_table_name} "
            "WHERE originator_id = ? ORDER BY originator_version"
        )
        key = case_id.hex  # the SQLite recorder stores ids as hex
    else:
        raise TypeError(f"no raw read on {type(recorder).__name__}")

    def read() -> int:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (key,))
            return len(cursor.fetchall())

    return read


def run(url: str, args: argparse.Namespace) -> list[tuple[str, bool]]:
    """Build the case on ``url``, measure, print; the goals, met or not."""
    postgres = is_postgres(url)
    work = tempfile.TemporaryDirectory()
    settings = bench_settings(
        url,
        environment="development",
        data_dir=Path(work.name),
        db_pool_size=4,
        db_max_overflow=4,
    )
    if postgres:
        drop_schema(url)
    vigil = bootstrap(settings)
    try:
        print(f"store: {'PostgreSQL' if postgres else 'SQLite'} ({url})")
        for actor in (LEAD, WORKER):
            vigil.identity.register(actor.username, actor.role, actor="bench")
        now = datetime.now(UTC).replace(microsecond=0)
        started = time.perf_counter()
        case_id, events = render.long_case(vigil.calendar, args.events, now - timedelta(days=3))
        for i in range(0, len(events), args.batch):
            vigil.event_log.save(*events[i : i + args.batch])
        for version in range(
            settings.snapshot_interval, len(events) + 1, settings.snapshot_interval
        ):
            vigil.cases.take_snapshot(case_id, version=version)  # as the write path takes them
        vigil.projector.catch_up()
        print(f"built the case: {len(events):,} events in {time.perf_counter() - started:.1f} s")
        as_of = (events[-1].recorded_at + timedelta(minutes=1)).isoformat()
        middle = events[len(events) // 2].recorded_at.isoformat()
        raw = raw_read(vigil, case_id)
        assert raw() == len(events)
        token = vigil.identity.issue_token(LEAD.username, actor="bench")
        with Server(vigil) as server:
            api = client(server.base_url, token, timeout=render.TIMEOUT)
            try:
                base = f"/api/v1/cases/{case_id}"
                cursors: list[str | None] = [None]
                while True:
                    query: dict[str, Any] = {"limit": args.page}
                    if cursors[-1]:
                        query["cursor"] = cursors[-1]
                    answer = api.get(f"{base}/timeline", params=query)
                    render.ok(answer)
                    page = answer.json()
                    if page["next_cursor"] is None:
                        break
                    cursors.append(page["next_cursor"])
                print(
                    f"the timeline: {page['total']:,} events in {len(cursors)} pages of "
                    f"{args.page}; as of {as_of}, and mid-case as of {middle}"
                )
                turn = {"n": 0}

                def next_page() -> None:
                    cursor = cursors[turn["n"] % len(cursors)]
                    turn["n"] += 1
                    query = {"limit": args.page, **({"cursor": cursor} if cursor else {})}
                    render.ok(api.get(f"{base}/timeline", params=query))

                def as_of_read(basis: str, moment: str = as_of) -> Callable[[], None]:
                    def read() -> None:
                        render.ok(api.get(base, params={"as_of": moment, "basis": basis}))

                    return read

                baseline = timed(raw, args.samples, WARM_UP)
                figures = {
                    "now": timed(lambda: render.ok(api.get(base)), args.samples, WARM_UP),
                    "recorded": timed(as_of_read("recorded"), args.samples, WARM_UP),
                    "occurred": timed(as_of_read("occurred"), args.samples, WARM_UP),
                    "recorded_mid": timed(as_of_read("recorded", middle), args.samples, WARM_UP),
                    "occurred_mid": timed(as_of_read("occurred", middle), args.samples, WARM_UP),
                    "page": timed(next_page, args.samples, WARM_UP),
                }
            finally:
                api.close()
        print()
        print(f"{'':<62}{'p50':>10}{'p99':>10}{'x raw p50':>11}{'x raw p99':>11}")
        labels = {
            "now": "GET /api/v1/cases/{id} (now: reference, no as_of)",
            "recorded": "GET /api/v1/cases/{id}?as_of=T&basis=recorded",
            "occurred": "GET /api/v1/cases/{id}?as_of=T&basis=occurred",
            "recorded_mid": "GET /api/v1/cases/{id}?as_of=T&basis=recorded (mid-case)",
            "occurred_mid": "GET /api/v1/cases/{id}?as_of=T&basis=occurred (mid-case)",
            "page": f"GET /api/v1/cases/{{id}}/timeline?limit={args.page} (a page)",
        }
        print(
            f"{f'baseline: raw SQL read of the {len(events):,} events':<62}"
            f"{pct(baseline, 0.5):>7.2f} ms{pct(baseline, 0.99):>7.2f} ms"
        )
        for name, label in labels.items():
            samples = figures[name]
            print(
                f"{label:<62}{pct(samples, 0.5):>7.1f} ms{pct(samples, 0.99):>7.1f} ms"
                f"{pct(samples, 0.5) / pct(baseline, 0.5):>10.1f}x"
                f"{pct(samples, 0.99) / pct(baseline, 0.99):>10.1f}x"
            )
        print(f"({args.samples} reads of each after {WARM_UP} to warm up)")
        goals = {
            "recorded": "as-of read, recorded basis",
            "occurred": "as-of read, occurred basis",
            "recorded_mid": "as-of read mid-case, recorded basis",
            "occurred_mid": "as-of read mid-case, occurred basis",
            "page": f"timeline page of {args.page}",
        }
        return [
            (
                f"{goals[name]}: p99 under {GOALS_MS[name]:.0f} ms "
                f"({pct(figures[name], 0.99):.1f} ms)",
                pct(figures[name], 0.99) < GOALS_MS[name],
            )
            for name in goals
        ]
    finally:
        vigil.close()
        if postgres and not args.keep:
            drop_schema(url)
        work.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--page", type=int, default=100, help="the timeline page's limit")
    parser.add_argument("--batch", type=int, default=2000, help="events per append")
    parser.add_argument("--database-url", default=os.environ.get("VIGIL_BENCH_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    args = parser.parse_args()
    sqlite_dir = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(sqlite_dir.name) / 'bench.db'}"
    store = "PostgreSQL" if is_postgres(url) else "SQLite"
    checks = run(url, args)
    print()
    for label, met in checks:
        print(f"{'met    ' if met else 'not met'}  {store}: {label}")
    sqlite_dir.cleanup()


if __name__ == "__main__":
    main()
