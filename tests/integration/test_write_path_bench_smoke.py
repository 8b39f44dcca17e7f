"""``bench/write_path.py`` still runs: Vigil's note write beside the naive peer (the baseline,
``bench/naive_peer.py``) and the floor (``bench/eventsourcing_floor.py``) on the test's store
(SQLite, and PostgreSQL when reachable), tiny and ``--quick``; every figure, ratio and goal line
printed, no request failed, and on PostgreSQL the three schemas (Vigil's, the peer's and the
floor's) dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


def test_the_write_path_benchmark_prints_its_ratios(database_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "write_path.py"),
            "--quick",
            *("--seconds", "0.5", "--connections", "1,8,32", "--cases", "10"),
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
    store = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    assert "10 cases opened" in out, out
    # PostgreSQL as docker-compose.yml deploys it: the API and a projection worker
    deployed = "and its projection worker's" in out
    assert deployed == (store == "PostgreSQL"), out
    for connections in (" 1", " 8", "32"):
        for name in ("Vigil all", "peer  all", "floor all"):
            assert f"{store} {connections} conn  {name}" in out, out
        for pair in ("Vigil/peer", "floor/peer", "Vigil/floor"):
            assert f"{store} {connections} conn  ratio {pair}: throughput " in out, out
    for connections in (8, 32):
        assert f"{store}: throughput at {connections} connections at least" in out, out
    assert out.count("PASS") + out.count("FAIL") == 2, out
    assert "failed requests: 0" in out, out
    assert " failed x" not in out, out
    if store == "PostgreSQL":
        schema = database_url.split("schema=")[1]
        with psycopg.connect(POSTGRES_URL) as conn:
            left = conn.execute(
                "SELECT schema_name FROM information_schema.schemata "
                "WHERE schema_name IN (%s, %s, %s)",
                (schema, f"{schema}_peer", f"{schema}_floor"),
            ).fetchall()
        assert left == [], "the benchmark left its schemas behind"
