"""The community report: new members welcomed within the target, flags by category and channel,
engagement per category and day with spikes marked (``tests/community_story.py``).

Its figures are worked out by hand (``EXPECTED``) and the whole document is the reviewed golden
file ``tests/fixtures/reports/community-forum.json`` (``VIGIL_UPDATE_GOLDEN=1`` rewrites it);
it reproduces byte for byte as of a past moment whatever is recorded since; a spike needs more
than the multiple of its category's trailing median and at least the minimum of posts.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jsonschema

from application.reports.community import SPIKE_MINIMUM_POSTS, community
from application.reports.definitions import COMMUNITY, REPORTS, json_schema
from application.reports.document import to_json
from application.reports.service import ReportRequest
from domain.community.ids import member_id
from domain.policy.commands import VersionSlaPolicy
from domain.policy.sla import DEFAULT_TARGETS
from domain.shared import Actor, Role
from interfaces.composition import Vigil
from interfaces.reports import render_csv_zip
from projections.report_queries import Scope
from tests.community_story import (
    AS_OF,
    EXPECTED,
    PERIOD,
    SERVICE,
    Forum,
    record_community_story,
)
from tests.integration.test_reports_golden import (
    GOLDEN,
    UPDATE,
    _the_csv_files_hold_the_json_figures_cell_for_cell,
    _the_html_page_shows_every_figure_of_the_json,
    _the_pdf_text_carries_every_figure_of_the_json,
    normalised,
)

LEAD = Actor(username="lee.lead", role=Role.SAFEGUARDING_LEAD)


def _report(vigil: Vigil, as_of: datetime | None = AS_OF) -> dict[str, Any]:
    return vigil.reports.report(ReportRequest("community", PERIOD[0], PERIOD[1], None, as_of))


def _tables(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        f"{section['key']}.{table['key']}": table["rows"]
        for section in document["sections"]
        for table in section["tables"]
    }


def test_the_community_kind_is_declared_with_its_sections_and_schema() -> None:
    assert REPORTS["community"] is COMMUNITY
    assert [s.key for s in COMMUNITY.sections] == ["new_members", "flags", "engagement"]
    schema = json_schema(COMMUNITY)
    assert schema["properties"]["kind"] == {"const": "community"}
    engagement = schema["properties"]["sections"]["prefixItems"][2]
    tables = engagement["properties"]["tables"]["prefixItems"]
    assert [t["properties"]["key"]["const"] for t in tables] == [
        "by_category", "by_day", "spikes", "rule",
    ]  # fmt: skip
    assert "spike" in tables[1]["properties"]["rows"]["items"]["required"]


def test_the_story_gives_the_figures_worked_out_by_hand_in_every_format(vigil: Vigil) -> None:
    record_community_story(vigil)
    vigil.projector.catch_up()

    document = _report(vigil)

    jsonschema.validate(document, json_schema(COMMUNITY))
    tables = _tables(document)
    for path, rows in EXPECTED.items():
        assert tables[path] == rows, path
    spikes = tables["engagement.spikes"]
    assert [(r["date"], r["category"], r["posts"]) for r in spikes] == [
        ("2026-11-01", "wellbeing", 5)
    ]
    # The welcome clocks are in the SLA report too, judged by the policy in force at the join.
    sla = vigil.reports.report(ReportRequest("sla", PERIOD[0], PERIOD[1], None, AS_OF))
    welcomes = [
        r for r in sla["sections"][2]["tables"][0]["rows"] if r["clock"] == "new_member_welcomed"
    ]
    assert len(welcomes) == 5
    assert {r["subject_kind"] for r in welcomes} == {"member"}
    assert sorted(r["status"] for r in welcomes) == [
        "breached", "met", "met", "open", "open_overdue",
    ]  # fmt: skip
    # Nothing personal: no forum username reaches the report.
    assert "m10" not in to_json(document).decode()

    found = normalised(document)
    golden = GOLDEN / "community-forum.json"
    if UPDATE:
        golden.write_text(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
    assert found == json.loads(golden.read_text())
    _the_csv_files_hold_the_json_figures_cell_for_cell(document)
    _the_html_page_shows_every_figure_of_the_json(document)
    _the_pdf_text_carries_every_figure_of_the_json(document)


def test_the_report_as_of_a_moment_is_the_same_bytes_whatever_is_recorded_since(
    vigil: Vigil,
) -> None:
    record_community_story(vigil)
    vigil.projector.catch_up()
    before = _report(vigil)

    # Recorded an hour after as_of, though they happened before it: the running member's
    # welcome at 10:00 on the 20th, five more posts in category 9 on the 3rd, a member who
    # joined on the 15th; then every view rebuilt from the log.
    forum = Forum(vigil)
    late = AS_OF + timedelta(hours=1)
    forum.welcome(member_id(SERVICE, 104), datetime(2026, 11, 20, 10, tzinfo=UTC), recorded=late)
    for minute in range(5):
        forum.activity(datetime(2026, 11, 3, 11, minute, tzinfo=UTC), 9, None, recorded=late)
    forum.join(106, datetime(2026, 11, 15, 9, tzinfo=UTC), recorded=late)
    vigil.projector.rebuild()
    vigil.projector.catch_up()

    again = _report(vigil)
    assert to_json(again) == to_json(before)
    assert render_csv_zip(again) == render_csv_zip(before)

    # Asked for the latest final moment, they are counted.
    vigil.clock.set(late + timedelta(minutes=5))
    now = _tables(_report(vigil, as_of=None))
    summary = now["new_members.summary"][0]
    assert (summary["joined"], summary["welcomed_in_time"], summary["not_yet_welcomed"]) == (
        6, 3, 2,
    )  # fmt: skip
    [category_9] = [r for r in now["engagement.by_day"] if r["category_id"] == 9]
    # 8 posts after a silent month: a spike now (8 > 2 x 0, and at least 5).
    assert (category_9["posts"], category_9["spike"]) == (8, True)


def test_a_burst_over_the_multiple_of_a_quiet_median_is_a_spike_and_the_boundary_is_not(
    vigil: Vigil,
) -> None:
    forum = Forum(vigil)
    day = date(2026, 10, 4)
    while day <= date(2026, 10, 31):
        forum.posts(day, 1, 1, "quiet")  # trailing median 1
        forum.posts(day, 2, 2, "busy")  # trailing median 2
        day += timedelta(days=1)
    november = date(2026, 11, 1)
    forum.posts(november, SPIKE_MINIMUM_POSTS, 1, "quiet")
    forum.posts(november, SPIKE_MINIMUM_POSTS, 2, "busy")
    forum.posts(november, SPIKE_MINIMUM_POSTS - 1, 3, "new")  # median 0, under the minimum
    vigil.projector.catch_up()
    scope = Scope(november, november, None, AS_OF)

    built = community(vigil.report_facts, scope, spike_multiple=2.5)

    marked = {
        r["category"]: (r["trailing_median"], r["spike"]) for r in built.tables["engagement.by_day"]
    }
    # 5 > 2.5 x 1: a spike; 5 is not more than 2.5 x 2; 4 posts are under the minimum.
    assert marked == {"quiet": (1.0, True), "busy": (2.0, False), "new": (0.0, False)}
    assert [r["category"] for r in built.tables["engagement.spikes"]] == ["quiet"]
    assert built.tables["engagement.rule"] == [
        {
            "multiple": 2.5,
            "minimum_posts": SPIKE_MINIMUM_POSTS,
            "trailing_days": 28,
            "minimum_history_days": 14,
        }
    ]
    # With the default multiple (2.0) the busy category's 5 posts are a spike too (5 > 4).
    default = community(vigil.report_facts, scope)
    assert [r["category"] for r in default.tables["engagement.spikes"]] == ["quiet", "busy"]


def test_the_days_before_the_forum_was_seen_are_not_quiet_days(vigil: Vigil) -> None:
    """A forum posting a steady 8 a day from its first delivery has no spikes: the days before
    Vigil saw it are not zeros, and a day with under 14 days of history is not judged."""
    forum = Forum(vigil)
    first = date(2026, 11, 1)
    day = first
    while day <= date(2026, 11, 20):
        forum.posts(day, 8, 1, "steady")
        day += timedelta(days=1)
    vigil.projector.catch_up()
    built = community(vigil.report_facts, Scope(first, date(2026, 11, 20), None, AS_OF))
    by_day = built.tables["engagement.by_day"]
    assert built.tables["engagement.spikes"] == []
    # 1 to 14 November: fewer than 14 days of history before them, not judged
    assert [r["trailing_median"] for r in by_day[:14]] == [None] * 14
    # From the 15th: 14 days of 8 posts
    assert {r["trailing_median"] for r in by_day[14:]} == {8.0}


def test_a_welcome_clock_is_judged_by_the_policy_in_force_when_the_account_was_made(
    vigil: Vigil,
) -> None:
    # From 10:00 on the 10th a new member is to be welcomed within 12 hours, not 24.
    vigil.clock.set(datetime(2026, 11, 10, 10, tzinfo=UTC))
    targets = DEFAULT_TARGETS.model_dump()
    targets["new_member_welcomed"] = {"minutes": 12 * 60}
    vigil.sla_policies.add_version(
        VersionSlaPolicy.model_validate({**targets, "rationale": "Welcome within half a day."}),
        LEAD,
    )
    forum = Forum(vigil)
    # Both delivered on the 12th; one account was made before the new version, one after.
    delivered = datetime(2026, 11, 12, 9, tzinfo=UTC)
    before = forum.join(201, datetime(2026, 11, 9, 9, tzinfo=UTC), recorded=delivered)
    after = forum.join(202, datetime(2026, 11, 11, 9, tzinfo=UTC), recorded=delivered)
    # Each welcomed 20 hours after their account was made.
    forum.welcome(before, datetime(2026, 11, 10, 5, tzinfo=UTC), recorded=delivered)
    forum.welcome(after, datetime(2026, 11, 12, 5, tzinfo=UTC), recorded=delivered)
    vigil.clock.set(delivered + timedelta(hours=1))
    vigil.projector.catch_up()

    document = _report(vigil, as_of=delivered + timedelta(minutes=5))

    summary = _tables(document)["new_members.summary"][0]
    assert summary["targets"] == ["12 h", "24 h"]
    assert (summary["joined"], summary["welcomed_in_time"], summary["welcomed_late"]) == (2, 1, 1)
    assert document["basis"]["sla_policy_versions"] == [1, 2]
