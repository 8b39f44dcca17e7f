"""``bench/projections.py`` still runs: a tiny log, a short load, every figure printed.

PostgreSQL only (the benchmark's store): skipped without a server, failed when
VIGIL_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, postgres_available

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def test_the_projection_benchmark_prints_its_figures() -> None:
    if not postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (VIGIL_REQUIRE_POSTGRES=1): {POSTGRES_URL}")
        pytest.skip("PostgreSQL not reachable")
    schema = f"bench_smoke_{uuid.uuid4().hex[:12]}"
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "projections.py"),
                "--events",
                "5000",
                "--lag-seconds",
                "2",
                "--write-rate",
                "100",
                "--database-url",
                f"{POSTGRES_URL.split('?')[0]}?schema={schema}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        with psycopg.connect(POSTGRES_URL.split("?")[0]) as conn:
            left = conn.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            ).fetchone()
    finally:
        with psycopg.connect(POSTGRES_URL.split("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for figure in (
        "built the log:",
        "(a) raw sequential read",
        "(b) rebuild of all views together",
        "(c) rebuild / raw read:",
        "(d) lag under load:",
        "p50",
        "p99",
    ):
        assert figure in out, out
    assert out.count("PASS") + out.count("FAIL") == 2, out
    assert left is None, "the benchmark left its schema behind"
