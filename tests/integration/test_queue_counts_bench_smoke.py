"""``bench/queue_counts.py`` still runs: a few open cases seeded on the test's store (SQLite, and
PostgreSQL when reachable), the kept counts checked against the GROUP BY they replaced, then
both timed for each kind of reader, and on PostgreSQL its schema dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


def test_the_queue_counts_benchmark_prints_its_figures(database_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "queue_counts.py"),
            *("--cases", "40,120", "--samples", "3"),
            *("--database-url", database_url),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for figure in ("40 open cases:", "120 open cases:", "overdue items", "idle cases"):
        assert figure in out, out
    for reader in ("every reader", "a restricted reader", "one assignee"):
        assert out.count(f"baseline GROUP BY over every item, {reader}") == 2, out
        assert out.count(f"WorkQueues.counts (kept counts), {reader}") == 2, out
    if database_url.startswith("postgresql"):
        schema = database_url.split("schema=")[1]
        with psycopg.connect(POSTGRES_URL) as conn:
            left = conn.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            ).fetchone()
        assert left is None, "the benchmark left its schema behind"
