"""``bench/soak.py`` still runs: a few seconds of load, its table and summary printed, and it
stops the server it started (and, on PostgreSQL, drops its schema)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.bench_support import left_behind, run_bench


def test_the_soak_prints_its_table_and_summary_and_stops_its_server(database_url: str) -> None:
    # Given a store of its own (the soak makes its users with `vigil demo`)
    # When the soak runs for a few seconds of mixed load (and exits 0)
    out = run_bench(
        "soak.py",
        *("--minutes", "0.15", "--mode", "mixed", "--rate", "10"),
        *("--sample-seconds", "1", "--report-minutes", "0.05", "--seed-cases", "3"),
        *("--database-url", database_url),
    )

    # Then it printed a row per interval and every figure of the summary, with no refusals
    rows = re.findall(r"^\s+\d+\.\d\s+(\d+)\s+(\d+\.\d)$", out, flags=re.MULTILINE)
    assert len(rows) >= 3, out
    assert int(rows[-1][0]) > 0, out
    for figure in (
        "answers: ",
        "RSS at start:",
        "RSS at end:",
        "growth, first half:",
        "growth, second half:",
        "second half / first half:",
    ):
        assert figure in out, out
    assert "unexpected answer" not in out
    # And the server it started is gone
    pid = int(re.search(r"server pid (\d+)", out).group(1))  # type: ignore[union-attr]
    assert not Path(f"/proc/{pid}").exists()
    # And on PostgreSQL its schema was dropped
    assert left_behind(database_url) == []
