"""``bench/write_path.py`` still runs: Vigil's note write beside the naive peer (the baseline,
``bench/naive_peer.py``) and the floor (``bench/eventsourcing_floor.py``) on the test's store
(SQLite, and PostgreSQL when reachable), tiny and ``--quick``; every figure, ratio and goal line
printed, no request failed, and on PostgreSQL the three schemas (Vigil's, the peer's and the
floor's) dropped."""

from __future__ import annotations

from tests.bench_support import left_behind, run_bench


def test_the_write_path_benchmark_prints_its_ratios(database_url: str) -> None:
    out = run_bench(
        "write_path.py",
        "--quick",
        *("--seconds", "0.5", "--connections", "1,8,32", "--cases", "10"),
        *("--database-url", database_url),
    )
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
    for goal in (8, 32):
        assert f"{store}: throughput at {goal} connections at least" in out, out
    assert out.count("PASS") + out.count("FAIL") == 2, out
    assert "failed requests: 0" in out, out
    assert " failed x" not in out, out
    left = left_behind(database_url, "_peer", "_floor")
    assert left == [], "the benchmark left its schemas behind"
