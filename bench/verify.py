"""How fast does ``vigil verify`` check the log against the hash ledger, against reading the log?

Builds a log of N events (default 1,000,000) on PostgreSQL: ``--seed-events`` (default 50,000)
with ``bench/projections.py``'s builder (interleaved cases of varied length, decided by the
domain, appended through the ledger with its mapper), then copied by SQL under new case ids
until the log holds N events (verify hashes stored bytes, so copies cost it exactly what
originals do; the builder itself runs at only ~500 events/s on this machine since personal
fields are encrypted per data subject). Or reuses a log (``--reuse``, with ``--keep`` on the run
that built it). Then, in the same run and on the same table:

(a) the notary catches the hash ledger up from nothing (leaves, stored nodes, a signed
    checkpoint every ``--checkpoint-every`` events): its rate;
(b) the raw sequential read of the events table: ``select_notifications`` in batches, the
    projector's own access path (as in bench/projections.py), rows fetched, not decoded;
(c) the same table read the way verify reads it (one REPEATABLE READ snapshot, a server-side
    binary cursor, large batches) without hashing: the floor verify cannot go below;
(d) ``IntegrityService.verify`` (what ``vigil verify`` runs): every leaf recomputed from the
    stored bytes and compared, the tree rebuilt, every checkpoint's root, signature and the
    consistency proofs between them;
(e) the ratios of (d) to (b) and (c);
(f) verify's views part (``--views``, on by default): every view rebuilt aside from the log
    and compared with the live one (caught up first), timed on its own.

Target on the 2-core reference machine: verify >= 50,000 events/s.

Usage: python bench/verify.py [--events N | --quick] [--database-url URL] [--reuse] [--keep]
The default URL is postgresql://postgres@127.0.0.1:5432/test?schema=bench_verify; the schema
is dropped before the run (unless --reuse) and at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

from support import bench_settings, drop_schema, rate, script  # noqa: E402  (bench/support.py)

from infrastructure.persistence import is_postgres  # noqa: E402
from interfaces.composition import Vigil, bootstrap  # noqa: E402
from projections.ledger_snapshot import log_snapshot  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_verify"
QUICK_EVENTS = 50_000
VERIFY_TARGET = 50_000  # events/s


def replicate(vigil: Vigil, target: int) -> tuple[int, float]:
    """Copy the log's rows under new originator ids (md5 of the id and the copy number) until
    it holds ``target`` events. Returns rows copied and seconds."""
    recorder: Any = vigil.event_log.recorder
    table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
    started = time.perf_counter()
    copied = 0
    store: Any = vigil.integrity.notary.store
    with psycopg.connect(**store.connection_kwargs()) as conn:
        found = conn.execute(f"SELECT MAX(notification_id) FROM {table}").fetchone()
        base = int(found[0]) if found else 0
        copy = 0
        while base + copied < target:
            copy += 1
            rows = min(base, target - base - copied)
            conn.execute(
                f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                f"SELECT md5(originator_id::text || %s)::uuid, originator_version, topic, state "
                f"FROM {table} WHERE notification_id <= %s ORDER BY notification_id LIMIT %s",
                (str(copy), base, rows),
            )
            conn.commit()
            copied += rows
    return copied, time.perf_counter() - started


def driver_read(vigil: Vigil, batch: int) -> tuple[int, float]:
    """Read every event the way verify does, without hashing anything."""
    started = time.perf_counter()
    count = 0
    with log_snapshot(vigil.event_log, vigil.integrity.notary.store) as snapshot:
        for rows in snapshot.event_batches(batch):
            count += len(rows)
    return count, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--batch", type=int, default=5000, help="events per append while building")
    parser.add_argument(
        "--seed-events",
        type=int,
        default=50_000,
        help="events built through the domain; the rest are copies (0: build them all)",
    )
    parser.add_argument("--read-batch", type=int, default=5000, help="(b): rows per select")
    parser.add_argument("--verify-batch", type=int, default=10_000, help="(c), (d): rows per fetch")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261117)
    parser.add_argument("--reuse", action="store_true", help="reuse the log left by --keep")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()
    events = QUICK_EVENTS if args.quick else args.events
    url = args.database_url
    if not is_postgres(url):
        parser.error("this benchmark runs on PostgreSQL: pass a postgresql:// URL")
    builder = script("bench_projections", "projections.py")

    with tempfile.TemporaryDirectory() as keys:
        settings = bench_settings(
            url,
            data_dir=Path(keys),
            db_pool_size=4,
            db_max_overflow=4,
            checkpoint_every_events=args.checkpoint_every,
        )
        if not args.reuse:
            drop_schema(url)
        vigil = bootstrap(settings)
        try:
            head = int(vigil.event_log.recorder.max_notification_id() or 0)
            print(f"store: PostgreSQL ({url})   events wanted: {events:,}   in the log: {head:,}")
            if head < events:
                if head:
                    parser.error("the reused log is smaller than --events; run without --reuse")
                for user in builder.USERS:
                    vigil.identity.register(user.username, user.role, actor="bench")
                seed = events if args.seed_events <= 0 else min(events, args.seed_events)
                builder.build_log(vigil, seed - len(builder.USERS), args.batch, args.seed)
                if seed < events:
                    copied, copy_s = replicate(vigil, events)
                    print(
                        f"copied the log under new case ids up to N events: {rate(copied, copy_s)}"
                    )
            head = int(vigil.event_log.recorder.max_notification_id() or 0)

            notary = vigil.integrity.notary
            started = time.perf_counter()
            appended = notary.catch_up()
            seconds = time.perf_counter() - started
            state = notary.state()
            signed = len(notary.checkpoints(limit=1_000_000))
            if appended:
                print(
                    f"(a) notary catch-up (leaves, nodes, a checkpoint every "
                    f"{args.checkpoint_every:,} events): {rate(appended, seconds)}; "
                    f"tree size {state.tree_size:,}, {signed:,} checkpoints"
                )
            else:
                print(f"(a) the ledger was already caught up: {state.tree_size:,} leaves")

            builder.raw_read(vigil, args.read_batch)  # warm the table into the cache
            count, read_s = builder.raw_read(vigil, args.read_batch)
            raw_rate = count / read_s
            print(
                f"(b) raw sequential read (select_notifications, batches of {args.read_batch:,}): "
                f"{rate(count, read_s)}"
            )
            count, driver_s = driver_read(vigil, args.verify_batch)
            driver_rate = count / driver_s
            print(
                "(c) the same rows as verify reads them (snapshot, server-side binary cursor, "
                f"batches of {args.verify_batch:,}), no hashing: {rate(count, driver_s)}"
            )

            key = vigil.integrity.public_key()
            # (d) is the log against the ledger (view positions and keys are checked too, and
            # cheaply); the views' comparison with their rebuild is (f), timed on its own.
            report = vigil.integrity.verify([key], batch_size=args.verify_batch, views=False)
            verify_rate = report.events / report.seconds
            verdict = "OK" if report.ok else f"FAIL: {report.first}"
            print(
                f"(d) verify (leaves recomputed and compared, tree rebuilt, {report.checkpoints:,} "
                f"roots, signatures and consistency proofs): "
                f"{rate(report.events, report.seconds)}   [{verdict}]"
            )
            print(
                f"(e) verify / raw read: {verify_rate / raw_rate:.1%}   "
                f"verify / verify's own read: {verify_rate / driver_rate:.1%}"
            )
            started = time.perf_counter()
            vigil.projector.catch_up()  # the live views, as a running Vigil keeps them
            print(f"    the views caught up: {rate(head, time.perf_counter() - started)}")
            with_views = vigil.integrity.verify([key], batch_size=args.verify_batch)
            views_s = with_views.views_seconds or 0.0
            print(
                "(f) verify's views part (every view rebuilt aside from the log and compared "
                f"row for row with the live one): {views_s:.1f} s "
                f"({head / views_s if views_s else 0:,.0f} events/s)   "
                f"[{'OK' if with_views.ok else f'FAIL: {with_views.first}'}]"
            )
            checks = [
                (f"verify >= {VERIFY_TARGET:,} events/s", verify_rate >= VERIFY_TARGET),
                ("verify finds the untouched log intact", report.ok and with_views.ok),
            ]
            for label, ok in checks:
                print(f"{'PASS' if ok else 'FAIL'}  {label}")
        finally:
            vigil.close()
            if not args.keep:
                drop_schema(url)


if __name__ == "__main__":
    main()
