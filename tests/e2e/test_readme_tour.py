"""The README's five-minute tour, and the night on call in docs/guides/night-shift.md, run as a
new user would: their shell blocks, in order, against `vigil serve` over real HTTP on the
embedded store the demo filled, with curl and the CLI.

So the docs stay true at every commit: a changed answer, route or command that a tour relies on
fails this test (the script runs under ``set -euo pipefail``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli import REPO, serving, vigil, vigil_command

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the tour uses curl")


README = REPO / "README.md"
NIGHT_SHIFT_GUIDE = REPO / "docs" / "guides" / "night-shift.md"


def tour_script(title: str = "## A five-minute tour", document: Path = README) -> str:
    """The shell blocks of a tour section (up to the next section or the end), joined."""
    text = document.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    section = text[start:] if end == -1 else text[start:end]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) >= 5, "the tour's shell blocks were not found"
    return "\n".join(blocks)


def run_tour(
    title: str,
    document: Path,
    served: tuple[str, dict[str, str]],
    tmp_path: Path,
    tail: str,
) -> tuple[Path, str]:
    """Run a tour section's shell blocks as written (`set -euo pipefail`), then ``tail``."""
    base, env = served
    cli = " ".join(shlex.quote(part) for part in vigil_command())
    script = tour_script(title, document).replace("http://127.0.0.1:8000", base)
    script = script.replace(".venv/bin/vigil", cli)
    script = f"set -euo pipefail\n{script}\n{tail}\n"
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
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return tour, result.stdout


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
    script = f'set -euo pipefail\n{script}\necho "TOUR CASE=$CASE DECISION=$DECISION OUT=$OUT"\n'
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
    found = re.search(
        r"^TOUR CASE=([0-9a-f-]{36}) DECISION=([0-9a-f-]{36}) OUT=(\S+)$", out, re.MULTILINE
    )
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
    # The files it saved went to a temporary directory of its own, never the working directory
    # (the repository, for a user who follows the README).
    saved = Path(found.group(3))
    try:
        assert (saved / "case-export.json").stat().st_size > 0
        assert (saved / "ledger.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
        assert list(tour.iterdir()) == []
    finally:
        shutil.rmtree(saved, ignore_errors=True)


def test_the_night_shift_guides_night_on_call_runs_as_written(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    _, out = run_tour(
        "## A night on call, through the API",
        NIGHT_SHIFT_GUIDE,
        served,
        tmp_path,
        'echo "NIGHT SHIFT=$SHIFT CASE=$CASE HANDOVER=$HANDOVER FLAGGED=$FLAGGED START=$START"',
    )

    uuid = "[0-9a-f-]{36}"
    found = re.search(
        rf"^NIGHT SHIFT=({uuid}) CASE=({uuid}) HANDOVER=({uuid}) FLAGGED=(\S+) START=(\S+)$",
        out,
        re.MULTILINE,
    )
    assert found, out[-3000:]
    shift_id, case_id, handover_id, flagged, start = found.groups()
    documents = _json_documents(out)
    # Who was on call when the flag came in: as recorded then, nobody (the cover was recorded
    # afterwards); as known now, Jude, planned and checked in since the shift's start.
    [on_call] = [d for d in documents if "as_recorded_then" in d]
    assert on_call["at"] == flagged
    then, known = on_call["as_recorded_then"], on_call["as_known_now"]
    assert shift_id not in {p["shift_id"] for p in then["planned"]}
    assert shift_id not in {c["shift_id"] for c in then["checked_in"]}
    assert [(p["assignee"], p["role"]) for p in known["planned"] if p["shift_id"] == shift_id] == [
        ("jude.lead", "on_call")
    ]
    [jude] = [c for c in known["checked_in"] if c["shift_id"] == shift_id]
    assert (jude["person"], jude["checked_in_at"]) == ("jude.lead", start)
    # The shift log: the late-logged check-in, Jude's actions with the decision among them, the
    # handover given.
    [log] = [d for d in documents if "out_of_hours_decisions" in d]
    assert log["shift"]["id"] == shift_id
    [person] = log["people"]
    assert (person["person"], person["check_in_logged_late"]) == ("jude.lead", True)
    assert [(a["type"], a["case_id"]) for a in log["actions"]] == [
        ("CaseOpened", case_id),
        ("OutOfHoursDecisionRecorded", case_id),
    ]
    assert [a["case_id"] for a in log["out_of_hours_decisions"]] == [case_id]
    [given] = log["handovers_given"]
    assert (given["handover_id"], given["given_to"], given["case_ids"]) == (
        handover_id,
        "priya.lead",
        [case_id],
    )
    assert given["acknowledged_at"] is None
    # The queue held the handover until Priya acknowledged it; then it is empty.
    [queue] = [d for d in documents if d.get("items") and "queue" in d["items"][0]]
    assert [(i["queue"], i["item_id"], i["person"]) for i in queue["items"]] == [
        ("handovers_unacknowledged", handover_id, "priya.lead")
    ]
    # The answers printed: Jude's check-in (logged late) and Priya's acknowledgement.
    shift_writes = [d["events"] for d in documents if d.get("events") and "shift" in d]
    assert [[e["type"] for e in events] for events in shift_writes] == [
        ["CheckedIn"],
        ["HandoverAcknowledged"],
    ]
    checked_in = shift_writes[0][0]
    assert checked_in["occurred_at"] == start
    assert checked_in["recorded_at"] > checked_in["occurred_at"]
    assert shift_writes[1][0]["handover_id"] == handover_id
    [acknowledged_at] = [d["position"] for d in documents if d.get("events") == shift_writes[1]]
    # The queue read after the acknowledgement (printed right after its answer): empty.
    assert out.rstrip().splitlines()[-2].endswith(f'"position":{acknowledged_at}}}[]')


def _json_documents(out: str) -> list[dict[str, Any]]:
    """Every JSON object printed (pretty-printed, or one answer after another)."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    i = 0
    while (i := out.find("{", i)) != -1:
        try:
            document, end = decoder.raw_decode(out, i)
        except json.JSONDecodeError:
            i += 1
            continue
        if isinstance(document, dict):
            found.append(document)
        i = end
    return found
