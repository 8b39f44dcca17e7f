"""``bench/statements.py`` still runs: the statements a note write costs on PostgreSQL, by who
sends them, at 1 and 8 clients; tiny, and its schema dropped afterwards."""

from __future__ import annotations

import re

import pytest

from tests.bench_support import left_behind, run_bench


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_statements_benchmark_counts_each_source(database_url: str) -> None:
    out = run_bench(
        "statements.py", *("--writes", "16", "--cases", "4", "--database-url", database_url)
    )
    for clients in ("1 client", "8 clients"):
        found = re.search(rf"^{clients}: (\d+\.\d+)$", out, re.MULTILINE)
        assert found is not None, out
        assert float(found.group(1)) > 1, out  # more than the peer's one INSERT
    for source in ("authentication", "append", "projector"):
        assert re.search(rf"^ +\d+\.\d+  {source}$", out, re.MULTILINE), out
    # Each write's own transaction: its insert, once per group commit at most
    assert re.search(r"^ +1\.00  INSERT INTO \S+vigil_events", out, re.MULTILINE), out
    assert left_behind(database_url) == [], "the benchmark left its schema behind"
