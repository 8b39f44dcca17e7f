"""What does the append-only set-up cost a write? (PostgreSQL)

Measures, in the same run and on the same server, appending stored events:

- baseline: eventsourcing's stock recorder, as the owner (``LOCK TABLE ... IN EXCLUSIVE MODE``,
  no triggers);
- Vigil: its recorder as the application role set up by ``vigil db init`` (the same lock taken
  through the SECURITY DEFINER ``vigil_events_lock()``, the append-only triggers in place).

Each with one writer (latency of a one-event transaction) and with several writers at once
(throughput, where every insert waits its turn for the lock). Prints events/s and the ratio.

Usage: python bench/append_only.py [--events N] [--writers W] [--postgres-url URL]
A schema and a role of its own are made and dropped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import psycopg
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from infrastructure.db_admin import drop_role, init_store
from infrastructure.event_log import EventLog
from infrastructure.persistence import recorder_env
from infrastructure.settings import Settings


def settings(url: str, pool: int) -> Settings:
    return Settings(_env_file=None, environment="test", database_url=url, db_pool_size=pool)


def recorder(url: str, *, stock: bool, pool: int) -> Any:
    env = recorder_env(settings(url, pool))
    if stock:
        env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
    factory: Any = InfrastructureFactory.construct(Environment("vigil", env))
    return factory, factory.application_recorder()


def event() -> StoredEvent:
    return StoredEvent(
        originator_id=uuid.uuid4(), originator_version=1, topic="bench:Probe", state=b"{}" * 100
    )


def run(rec: Any, events: int, writers: int) -> float:
    """Events per second, ``writers`` threads each appending one-event transactions."""
    each = events // writers

    def write() -> None:
        for _ in range(each):
            rec.insert_events([event()])

    threads = [threading.Thread(target=write) for _ in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return each * writers / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    token = uuid.uuid4().hex[:8]
    stock_schema, vigil_schema, role = (
        f"bench_stock_{token}",
        f"bench_imm_{token}",
        f"bench_{token}",
    )
    parsed = urlparse(args.postgres_url)
    base = args.postgres_url.split("?")[0]
    app_url = (
        f"postgresql://{role}:bench@{parsed.hostname}:{parsed.port or 5432}{parsed.path}"
        f"?schema={vigil_schema}"
    )
    pool = args.writers + 1
    opened: list[Any] = []
    try:
        init_store(
            settings(app_url, 1), log_name=EventLog.name, owner_url=f"{base}?schema={vigil_schema}"
        )
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{stock_schema}"')
        stock_factory, stock = recorder(f"{base}?schema={stock_schema}", stock=True, pool=pool)
        vigil_factory, vigil = recorder(app_url, stock=False, pool=pool)
        opened += [stock_factory, vigil_factory]
        figures: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.rounds):  # interleaved, so both see the same machine
            for name, rec in (("stock, owner", stock), ("Vigil, app role", vigil)):
                for writers in (1, args.writers):
                    events = args.events if writers > 1 else args.events // 2
                    figures.setdefault((name, writers), []).append(run(rec, events, writers))
        print(f"Appending one-event transactions, median of {args.rounds} rounds (events/s):")
        for writers in (1, args.writers):
            baseline = statistics.median(figures[("stock, owner", writers)])
            ours = statistics.median(figures[("Vigil, app role", writers)])
            print(
                f"  {writers} writer(s): stock recorder as owner {baseline:8.0f}   "
                f"Vigil's as app role {ours:8.0f}   ratio {ours / baseline:.2f}"
            )
    finally:
        for factory in opened:
            factory.close()
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in (stock_schema, vigil_schema):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            drop_role(conn, role)


if __name__ == "__main__":
    main()
