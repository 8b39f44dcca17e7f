"""The benchmarks' smoke tests: run a script of bench/ as ``make bench`` does, and check it left
no PostgreSQL schema behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, *arguments: str) -> str:
    """``python bench/<script> <arguments>`` from the checkout (at most 5 minutes): its
    standard output, once it has exited 0. Past the time, the script and every server it
    started (its process group) are stopped, and the test fails."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / script), *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
                break
        raise
    assert process.returncode == 0, stdout + stderr
    return stdout


def left_behind(database_url: str, *suffixes: str) -> list[str]:
    """Which of the benchmark's schemas (``database_url``'s, and its name with each of
    ``suffixes``) the test database still holds; none on SQLite."""
    if not database_url.startswith("postgresql"):
        return []
    schema = database_url.split("schema=")[1]
    with psycopg.connect(POSTGRES_URL) as conn:
        rows = conn.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY(%s)",
            ([schema, *(schema + suffix for suffix in suffixes)],),
        ).fetchall()
    return [row[0] for row in rows]
