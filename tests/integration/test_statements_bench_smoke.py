"""``bench/statements.py`` still runs: the statements a note write costs on PostgreSQL, by who
sends them, at 1 and 8 clients; tiny, and its schema dropped afterwards."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_statements_benchmark_counts_each_source(database_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "statements.py"),
            *("--writes", "16", "--cases", "4", "--database-url", database_url),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for clients in ("1 client", "8 clients"):
        found = re.search(rf"^{clients}: (\d+\.\d+)$", out, re.MULTILINE)
        assert found is not None, out
        assert float(found.group(1)) > 1, out  # more than the peer's one INSERT
    for source in ("authentication", "append", "projector"):
        assert re.search(rf"^ +\d+\.\d+  {source}$", out, re.MULTILINE), out
    # Each write's own transaction: its insert, once per group commit at most
    assert re.search(r"^ +1\.00  INSERT INTO \S+vigil_events", out, re.MULTILINE), out
    schema = database_url.split("schema=")[1]
    with psycopg.connect(POSTGRES_URL) as conn:
        left = conn.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = %s",
            (schema,),
        ).fetchall()
    assert left == [], "the benchmark left its schema behind"
