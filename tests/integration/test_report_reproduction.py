"""A report reproduces exactly: the same parameters with ``as_of`` give the same bytes, whatever
was recorded, re-versioned or rebuilt since; without ``as_of`` the late events are counted; and
``vigil report --check`` catches a changed number.

Given the golden story and every report of November as of noon on the 17th, when events are
logged late (they happened in November, before noon, but are recorded after it), the service's
calendar and the SLA policy get new versions, a member's data is erased, and every view is
rebuilt from the log, then each report as of noon is the same bytes in JSON and CSV; asked for
now, the late events are in it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from application.reports.definitions import REPORTS
from application.reports.document import to_json
from application.reports.service import ReportRequest
from domain.case import commands as c
from domain.case.vocabulary import CaseSource, Category, RiskLevel, SubjectKind
from domain.policy.commands import VersionSlaPolicy
from domain.policy.sla import DEFAULT_TARGETS
from domain.service.commands import VersionCalendar
from domain.shared import Actor, Role
from domain.subject.subject import EraseSubject
from interfaces.composition import Vigil
from interfaces.reports import render_csv_zip
from tests.integration.test_cli import env as env
from tests.integration.test_cli import vigil as run_cli
from tests.report_story import AS_OF, COORDINATOR, PERIOD, record_story

LEAD = Actor(username="lee.lead", role=Role.SAFEGUARDING_LEAD)


def _reports(vigil: Vigil, as_of: Any = AS_OF) -> dict[str, tuple[bytes, bytes]]:
    out = {}
    for kind in REPORTS:
        document = vigil.reports.report(ReportRequest(kind, PERIOD[0], PERIOD[1], None, as_of))
        out[kind] = (to_json(document), render_csv_zip(document))
    return out


def _escalation_clock(report: bytes) -> dict[str, Any]:
    sla = json.loads(report)
    rows = sla["sections"][2]["tables"][0]["rows"]
    return next(r for r in rows if r["clock"] == "escalation_acknowledged" and r["status"] != "met")


def test_a_report_as_of_a_moment_is_the_same_bytes_whatever_happened_since(vigil: Vigil) -> None:
    record_story(vigil)
    vigil.projector.catch_up()
    before = _reports(vigil)
    open_escalation = _escalation_clock(before["sla"][0])

    # Logged late: an acknowledgement of the routine escalation that happened at 11:45 (before
    # noon), and a case opened from a flag on the 16th, both recorded at 13:00.
    vigil.clock.set(AS_OF + timedelta(hours=1))
    case_id = open_escalation["subject_id"]
    escalation_id = open_escalation["clock_id"].split(":", 1)[1]
    vigil.cases.execute(
        UUID(case_id),
        c.AcknowledgeEscalation.model_validate(
            {"escalation_id": escalation_id, "occurred_at": AS_OF - timedelta(minutes=15)}
        ),
        LEAD,
    )
    vigil.cases.execute(
        None,
        c.OpenCase.model_validate(
            {
                "subject": {"kind": "member", "ref": "member-8100"},
                "source": CaseSource.FLAG,
                "category": Category.SPAM,
                "summary": "Spam links in the welcome thread.",
                "risk_level": RiskLevel.LOW,
                "channel": "forum",
                "occurred_at": AS_OF - timedelta(days=1),
            }
        ),
        COORDINATOR,
    )
    # The default service's hours change from now on.
    vigil.services.add_version(
        "default",
        VersionCalendar(
            timezone="Europe/London",
            operating_hours={day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
            rationale="Longer hours for the winter appeal.",
        ),
        LEAD,
    )
    # A new SLA policy from now on: every target halved or shorter.
    targets = DEFAULT_TARGETS.model_dump()
    targets["first_action"] = {level: {"minutes": 30} for level in targets["first_action"]}
    targets["contact_reviewed"] = {"working_days": 2}
    vigil.sla_policies.add_version(
        VersionSlaPolicy.model_validate({**targets, "rationale": "Tighter targets from today."}),
        LEAD,
    )
    # The critical case's member asks for their data to be erased: reports read no personal
    # field, so nothing they count goes with it.
    vigil.data_protection.erase(
        "member-7002",
        EraseSubject(
            kind=SubjectKind.MEMBER,
            lawful_basis="UK GDPR Art 17(1)(a)",
            reason="The member asked for their data to be erased.",
        ),
        LEAD,
    )
    # Every view rebuilt from the log.
    vigil.projector.rebuild()
    vigil.projector.catch_up()

    after = _reports(vigil)
    for kind in REPORTS:
        assert after[kind][0] == before[kind][0], kind
        assert after[kind][1] == before[kind][1], kind

    # Asked for the latest final moment, the late events are counted: the escalation was
    # acknowledged in time, and November has one more case opened from a flag.
    vigil.clock.advance(minutes=5)
    now = _reports(vigil, as_of=None)
    clocks = json.loads(now["sla"][0])["sections"][2]["tables"][0]["rows"]
    acknowledged = next(r for r in clocks if r["clock_id"] == open_escalation["clock_id"])
    assert acknowledged["status"] == "met"
    assert open_escalation["status"] == "open"
    flags = lambda doc: sum(  # noqa: E731
        r["clocks"] for r in json.loads(doc)["sections"][0]["tables"][0]["rows"]
        if r["clock"] == "first_action"
    )  # fmt: skip
    assert flags(now["sla"][0]) == flags(before["sla"][0]) + 1


@pytest.mark.parametrize("kind", ["sla"])
def test_vigil_report_check_catches_a_changed_number(
    vigil: Vigil, env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    record_story(vigil)
    vigil.projector.catch_up()
    saved = tmp_path / "saved.json"
    written = run_cli(
        env, tmp_path, "report", kind, "--from", PERIOD[0].isoformat(), "--to",
        PERIOD[1].isoformat(), "--as-of", AS_OF.isoformat(), "--output", str(saved),
        "--no-progress",
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    document = json.loads(saved.read_bytes())
    assert saved.read_bytes() == to_json(
        vigil.reports.report(ReportRequest(kind, PERIOD[0], PERIOD[1], None, AS_OF))
    )

    checked = run_cli(env, tmp_path, "report", kind, "--check", str(saved), "--no-progress")
    assert checked.returncode == 0, checked.stderr
    assert "matches the log" in checked.stderr

    document["sections"][0]["tables"][0]["rows"][0]["met"] += 1
    saved.write_text(json.dumps(document, indent=2))
    changed = run_cli(env, tmp_path, "report", kind, "--check", str(saved), "--no-progress")
    assert changed.returncode == 1
    assert "sections[0].tables[0].rows[0].met" in changed.stderr


def test_check_refuses_a_file_that_is_not_a_report(
    vigil: Vigil, env: dict[str, str], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": "world"}')

    found = run_cli(env, tmp_path, "report", "sla", "--check", str(junk), "--no-progress")

    assert found.returncode == 2
    assert "is not a 'sla' report" in found.stderr
