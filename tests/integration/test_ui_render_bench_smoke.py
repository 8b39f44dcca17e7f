"""``bench/ui_render.py`` still runs: a tiny log on the test's store (SQLite, and PostgreSQL when
reachable), the case page and queue page timed beside the API, every figure and both checks
printed, and on PostgreSQL its schema dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


def test_the_render_benchmark_prints_its_figures(database_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "ui_render.py"),
            *("--case-events", "40", "--queue-items", "60", "--samples", "3"),
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
    for figure in (
        "built the log:",
        "the case: 40 events; the queue flags_awaiting_action:",
        "the queue page shows 50 items (one page) and the totals",
        "(a) case page GET /ui/cases/{id}",
        "API GET /api/v1/cases/{id} + /timeline",
        "(b) queue page GET /ui/queues/flags_awaiting_action",
        "API GET /api/v1/queues/flags_awaiting_action",
        "x API p95",
        "the case page (40 events) p95 under 300 ms",
        "the queue page (",
    ):
        assert figure in out, out
    assert out.count("PASS") + out.count("FAIL") == 2, out
    if database_url.startswith("postgresql"):
        schema = database_url.split("schema=")[1]
        with psycopg.connect(POSTGRES_URL) as conn:
            left = conn.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            ).fetchone()
        assert left is None, "the benchmark left its schema behind"
