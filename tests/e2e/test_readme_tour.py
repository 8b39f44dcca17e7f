"""The README's five-minute tour, run as a new user would: its shell blocks, in order, against
`vigil serve` over real HTTP on the embedded store the demo filled, with curl and the CLI.

So the README stays true at every commit: a changed answer, route or command that the tour
relies on fails this test (the script runs under ``set -euo pipefail``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli import REPO, serving, vigil, vigil_command

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the tour uses curl")


def tour_script() -> str:
    """The shell blocks of the README's tour section, joined."""
    readme = (REPO / "README.md").read_text()
    start = readme.index("## A five-minute tour")
    end = readme.index("\n## ", start + 1)
    blocks = re.findall(r"```sh\n(.*?)```", readme[start:end], flags=re.DOTALL)
    assert len(blocks) >= 5, "the tour's shell blocks were not found"
    return "\n".join(blocks)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`vigil demo` then `vigil serve` in a fresh data directory (SQLite), as `make run` does."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env = {**clean, "VIGIL_DATA_DIR": str(tmp_path / "data")}
    demo = vigil(env, tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    with serving(env, tmp_path, tmp_path / "serve.log") as base:
        yield base, env


def test_the_readme_tour_runs_as_written(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = served
    cli = " ".join(shlex.quote(part) for part in vigil_command())
    script = tour_script().replace("http://127.0.0.1:8000", base).replace(".venv/bin/vigil", cli)
    # Then print what the tour left in its variables, to check below.
    script = f'set -euo pipefail\n{script}\necho "TOUR CASE=$CASE DECISION=$DECISION"\n'
    tour = tmp_path / "tour"
    tour.mkdir()

    result = subprocess.run(
        ["bash", "-c", script],
        env=env,
        cwd=tour,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    out = result.stdout
    assert result.returncode == 0, f"{out[-3000:]}\n{result.stderr[-3000:]}"
    found = re.search(r"^TOUR CASE=([0-9a-f-]{36}) DECISION=([0-9a-f-]{36})$", out, re.MULTILINE)
    assert found, out[-3000:]
    case_id = found.group(1)
    # Kit, who opened the restricted case, sees only his own records; Priya sees all of it.
    assert '"access":"own_records"' in out
    assert '"type": "OutOfHoursDecisionReviewed"' in out  # the lead's timeline
    # As told to Vigil by 23:30 last night: nothing, so the case is not found.
    assert '"status":404' in out.replace(" ", "")
    # The access log, the export checked offline and the whole log checked against the ledger.
    assert f'"case_id": "{case_id}"' in out
    assert f"OK: 5 events of case {case_id} are in the log as stored" in out
    assert "OK: the log matches the hash ledger" in out
    assert (tour / "case-export.json").stat().st_size > 0
