"""``bench/read_path.py`` still runs: a tiny case on the test's store (SQLite, and PostgreSQL
when reachable), the as-of reads on both bases (after the last event and mid-case) and a
timeline page timed beside a raw SQL read, every figure and the five goals printed, and on
PostgreSQL its schema dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


def test_the_read_path_benchmark_prints_its_figures(database_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "read_path.py"),
            *("--events", "45", "--samples", "3", "--page", "10"),
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
        "built the case: 45 events",
        "the timeline: 45 events in 5 pages of 10",
        "baseline: raw SQL read of the 45 events",
        "GET /api/v1/cases/{id}?as_of=T&basis=recorded",
        "GET /api/v1/cases/{id}?as_of=T&basis=occurred",
        "GET /api/v1/cases/{id}?as_of=T&basis=recorded (mid-case)",
        "GET /api/v1/cases/{id}?as_of=T&basis=occurred (mid-case)",
        "GET /api/v1/cases/{id}/timeline?limit=10 (a page)",
        "x raw p99",
        "as-of read, recorded basis: p99 under 20 ms",
        "as-of read, occurred basis: p99 under 50 ms",
        "as-of read mid-case, recorded basis: p99 under 20 ms",
        "as-of read mid-case, occurred basis: p99 under 50 ms",
        "timeline page of 10: p99 under 20 ms",
    ):
        assert figure in out, out
    assert out.count("met  ") == 5, out
    if database_url.startswith("postgresql"):
        schema = database_url.split("schema=")[1]
        with psycopg.connect(POSTGRES_URL) as conn:
            left = conn.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            ).fetchone()
        assert left is None, "the benchmark left its schema behind"
