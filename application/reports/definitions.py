"""The compliance reports Vigil produces: their kinds, sections, tables and columns.

A report is a JSON document (the reference; ``application.reports.document``) whose sections
hold tables; CSV, HTML and PDF are renderings of it (``interfaces.reports``). What each kind
holds is declared here, once: ``GET /reports`` lists it, the JSON Schema of each kind is made
from it (``json_schema``), and a report's ``definition_version`` names the version of its
declaration, bumped whenever what a figure means changes (a saved report names the definition it
was made under, and ``--check`` compares like with like).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Cell(StrEnum):
    """What a column holds."""

    TEXT = "text"
    COUNT = "count"  # a number of things: suppressed under the threshold in the trustee pack
    NUMBER = "number"  # a statistic (mean, median, percentage): withheld over too few things
    TIME = "time"  # RFC 3339
    DATE = "date"
    LIST = "list"  # of strings
    BOOL = "bool"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    cell: Cell = Cell.TEXT


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[Column, ...]
    chart: tuple[str, str] | None = None  # (label column, value column): a bar chart
    totals: bool = False  # a totals row summing its count columns
    # The things a count column counts (say "cases opened"): a population's total is the same in
    # every table that breaks it down, so suppression hides it everywhere if anywhere.
    population: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    tables: tuple[Table, ...]
    description: str = ""


@dataclass(frozen=True)
class ReportDefinition:
    kind: str
    title: str
    version: int
    description: str
    sections: tuple[Section, ...]
    suppressed: bool = False  # small counts shown as "fewer than N" (the trustee pack)


def _count(key: str, label: str) -> Column:
    return Column(key, label, Cell.COUNT)


def _by(key: str, title: str, dimension: str, label: str, counted: str, population: str) -> Table:
    return Table(
        key,
        title,
        (Column(dimension, label), _count(counted, counted.replace("_", " ").capitalize())),
        chart=(dimension, counted),
        totals=True,
        population=population,
    )


_CLOCK_STATUS = (
    _count("clocks", "Clocks"),
    _count("met", "Met"),
    _count("breached", "Breached"),
    _count("open", "Running, within target"),
    _count("open_overdue", "Running, overdue"),
)

TIME_BANDS = ("00:00-06:00", "06:00-12:00", "12:00-18:00", "18:00-24:00")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

TRUSTEE = ReportDefinition(
    kind="trustee",
    title="Trustee pack",
    version=1,
    description="Volumes, out-of-hours decisions, referrals, escalations, service levels and "
    "the serious-incident register, for trustees. Counts under the threshold are shown as "
    "'fewer than N', and a total that would reveal one is withheld.",
    suppressed=True,
    sections=(
        Section(
            "volumes",
            "Cases opened",
            (
                _by("by_category", "By category", "category", "Category", "cases", "cases"),
                _by(
                    "by_risk",
                    "By risk (as assessed by the report's as_of)",
                    "risk_level",
                    "Risk",
                    "cases",
                    "cases",
                ),
                _by("by_channel", "By channel", "channel", "Channel", "cases", "cases"),
                _by("by_service", "By service", "service", "Service", "cases", "cases"),
                _by(
                    "by_time_of_day",
                    "By time of day (service's local time)",
                    "time_of_day",
                    "Time of day",
                    "cases",
                    "cases",
                ),
                _by("by_source", "By source", "source", "Source", "cases", "cases"),
            ),
        ),
        Section(
            "out_of_hours",
            "Out-of-hours decisions",
            (
                _by(
                    "review_outcomes",
                    "Review outcomes",
                    "outcome",
                    "Outcome",
                    "decisions",
                    "ooh_decisions",
                ),
                _by(
                    "review_timeliness",
                    "Reviewed on time (by the end of the next working day)",
                    "status",
                    "Status",
                    "decisions",
                    "ooh_decisions",
                ),
            ),
        ),
        Section(
            "referrals",
            "Referrals to agencies",
            (
                _by(
                    "by_agency_kind",
                    "By kind of agency",
                    "agency_kind",
                    "Agency",
                    "referrals",
                    "referrals",
                ),
                _by("by_consent", "By consent", "consent", "Consent", "referrals", "referrals"),
                _by(
                    "acknowledgement",
                    "Acknowledged by the agency on time (not_expected: an agency that never "
                    "acknowledges, such as a crisis line)",
                    "status",
                    "Status",
                    "referrals",
                    "referrals",
                ),
                Table(
                    "acknowledgement_time",
                    "Time to acknowledgement",
                    (Column("median_hours", "Median hours", Cell.NUMBER),),
                    description="Withheld when fewer referrals than the threshold were "
                    "acknowledged.",
                ),
            ),
        ),
        Section(
            "escalations",
            "Escalations",
            (
                _by("by_level", "By level", "level", "Level", "escalations", "escalations"),
                _by(
                    "acknowledgement",
                    "Acknowledged on time",
                    "status",
                    "Status",
                    "escalations",
                    "escalations",
                ),
                Table(
                    "acknowledgement_time",
                    "Time to acknowledgement, by urgency",
                    (
                        Column("urgency", "Urgency"),
                        Column("median_minutes", "Median minutes", Cell.NUMBER),
                    ),
                    description="Withheld when fewer escalations than the threshold were "
                    "acknowledged.",
                ),
            ),
        ),
        Section(
            "service_levels",
            "First action on flags",
            (
                _by(
                    "first_action",
                    "Flags acted on within the target for their risk",
                    "status",
                    "Status",
                    "flags",
                    "flags",
                ),
            ),
        ),
        Section(
            "serious_incidents",
            "Serious incidents",
            (
                Table(
                    "register",
                    "Serious-incident decisions (the register)",
                    (
                        Column("case_id", "Case"),
                        Column("decided_on", "Decided", Cell.DATE),
                        Column("decided_by", "By"),
                        Column("reportable", "Reportable", Cell.BOOL),
                        Column("regulator", "Regulator"),
                        Column("grounds", "Grounds", Cell.LIST),
                        Column("reported_on", "Reported", Cell.DATE),
                    ),
                    description="Every decision recorded in the period, reported or not. The "
                    "lead's full rationale is on the case (it may name people, so it is sealed "
                    "and never copied into a report); the grounds are the reasons given.",
                ),
                Table(
                    "candidates",
                    "Cases that may be serious incidents (critical risk or a police referral)",
                    (
                        Column("case_id", "Case"),
                        Column("reasons", "Why listed", Cell.LIST),
                        Column("decision_recorded", "Decision recorded", Cell.BOOL),
                    ),
                ),
                Table(
                    "sign_offs",
                    "Trustees' sign-off of the register",
                    (
                        Column("period_from", "From", Cell.DATE),
                        Column("period_to", "To", Cell.DATE),
                        Column("signed_off_by", "Signed off by"),
                        Column("signed_off_at", "Signed off at", Cell.TIME),
                        Column("as_of", "Register as of", Cell.TIME),
                    ),
                ),
            ),
        ),
    ),
)

SLA = ReportDefinition(
    kind="sla",
    title="SLA report",
    version=2,
    description="Every SLA clock that started in the period, met or breached, with the target "
    "and the policy and calendar versions that judged it; breaches with their explanations.",
    sections=(
        Section(
            "summary",
            "Summary",
            (
                Table(
                    "by_clock",
                    "By clock",
                    (Column("clock", "Clock"), *_CLOCK_STATUS),
                    chart=("clock", "breached"),
                    totals=True,
                ),
            ),
        ),
        Section(
            "breaches",
            "Breaches",
            (
                Table(
                    "breaches",
                    "Clocks that missed their target, with the lead's explanation",
                    (
                        Column("clock_id", "Clock id"),
                        Column("clock", "Clock"),
                        Column("subject_kind", "On a"),
                        Column("subject_id", "Case, contact or member"),
                        Column("target", "Target"),
                        Column("due_at", "Due", Cell.TIME),
                        Column("stopped_at", "Met at", Cell.TIME),
                        Column(
                            "late_minutes",
                            "Late by (minutes, at as_of if still running)",
                            Cell.NUMBER,
                        ),
                        Column("explanation", "Explanation"),
                        Column("explained_by", "Explained by"),
                    ),
                ),
            ),
        ),
        Section(
            "clocks",
            "Every clock",
            (
                Table(
                    "clocks",
                    "Every clock started in the period",
                    (
                        Column("clock_id", "Clock id"),
                        Column("clock", "Clock"),
                        Column("subject_kind", "On a"),
                        Column("subject_id", "Case, contact or member"),
                        Column("service", "Service"),
                        Column("started_at", "Started", Cell.TIME),
                        Column("target", "Target"),
                        Column("due_at", "Due", Cell.TIME),
                        Column("stopped_at", "Met at", Cell.TIME),
                        Column("status", "Status"),
                        Column("policy_version", "SLA policy version", Cell.NUMBER),
                        Column("calendar_version", "Calendar version", Cell.NUMBER),
                    ),
                ),
            ),
        ),
    ),
)

HELPLINE = ReportDefinition(
    kind="helpline",
    title="Helpline monitoring report",
    version=1,
    description="Contacts by channel, direction, outcome and time; review coverage; quality "
    "scores by criterion; reviewers' agreement; follow-ups on time.",
    sections=(
        Section(
            "contacts",
            "Contacts",
            (
                _by("by_channel", "By channel", "channel", "Channel", "contacts", "contacts"),
                _by(
                    "by_direction", "By direction", "direction", "Direction", "contacts", "contacts"
                ),
                _by("by_outcome", "By outcome", "outcome", "Outcome", "contacts", "contacts"),
                _by(
                    "by_time_of_day",
                    "By time of day (service's local time)",
                    "time_of_day",
                    "Time of day",
                    "contacts",
                    "contacts",
                ),
                _by("by_weekday", "By weekday", "weekday", "Weekday", "contacts", "contacts"),
            ),
        ),
        Section(
            "review_coverage",
            "Review coverage",
            (
                Table(
                    "coverage",
                    "Contacts quality-reviewed, and within the target",
                    (
                        Column("status", "Status"),
                        _count("contacts", "Contacts"),
                        Column("percent", "% of contacts", Cell.NUMBER),
                    ),
                    chart=("status", "contacts"),
                    totals=True,
                ),
            ),
        ),
        Section(
            "quality",
            "Quality scores",
            (
                Table(
                    "results",
                    "Reviews by result",
                    (
                        Column("result", "Result"),
                        _count("reviews", "Reviews"),
                        Column("mean_score", "Mean score", Cell.NUMBER),
                    ),
                    chart=("result", "reviews"),
                    totals=True,
                ),
                Table(
                    "by_criterion",
                    "By criterion",
                    (
                        Column("criterion", "Criterion"),
                        Column("scorecard_version", "Scorecard version", Cell.NUMBER),
                        _count("reviews", "Reviews"),
                        Column("mean_score", "Mean score", Cell.NUMBER),
                        _count("zeros", "Scored 0"),
                    ),
                ),
                Table(
                    "safeguarding",
                    "Reviews that failed a safeguarding criterion",
                    (_count("reviews", "Reviews"),),
                ),
            ),
        ),
        Section(
            "calibration",
            "Reviewers' agreement (calibration)",
            (
                Table(
                    "agreement",
                    "Contacts reviewed by two or more reviewers",
                    (
                        _count("contacts", "Contacts"),
                        _count("agreeing", "Same result"),
                        Column("agreement_percent", "Agreement %", Cell.NUMBER),
                        Column("mean_spread", "Mean score spread", Cell.NUMBER),
                    ),
                ),
            ),
        ),
        Section(
            "follow_ups",
            "Follow-ups",
            (
                Table(
                    "by_kind",
                    "Follow-ups due in the period, by kind",
                    (Column("kind", "Kind"), *_CLOCK_STATUS),
                    totals=True,
                ),
            ),
        ),
    ),
)

SHIFTS = ReportDefinition(
    kind="shifts",
    title="Shift report",
    version=1,
    description="Coverage of the rota, punctuality, uncovered periods, actions per shift and "
    "actions taken off the rota.",
    sections=(
        Section(
            "coverage",
            "Coverage of the rota",
            (
                Table(
                    "by_role",
                    "Shifts starting in the period, by role",
                    (
                        Column("role", "Role"),
                        _count("planned", "Planned"),
                        _count("cancelled", "Cancelled"),
                        _count("covered", "Checked in"),
                        _count("uncovered", "Nobody checked in"),
                        _count("upcoming", "Not started by as_of"),
                    ),
                    chart=("role", "uncovered"),
                    totals=True,
                ),
                Table(
                    "uncovered",
                    "Uncovered shifts",
                    (
                        Column("shift_id", "Shift"),
                        Column("service", "Service"),
                        Column("role", "Role"),
                        Column("starts_at", "Starts", Cell.TIME),
                        Column("ends_at", "Ends", Cell.TIME),
                    ),
                ),
            ),
        ),
        Section(
            "punctuality",
            "Punctuality",
            (
                Table(
                    "check_ins",
                    "Check-ins against the planned start (late: more than 5 minutes after)",
                    (
                        Column("status", "Status"),
                        _count("shifts", "Shifts"),
                    ),
                    chart=("status", "shifts"),
                    totals=True,
                ),
                Table(
                    "check_outs",
                    "Check-outs",
                    (Column("status", "Status"), _count("shifts", "Shifts")),
                    totals=True,
                ),
            ),
        ),
        Section(
            "actions",
            "Actions",
            (
                Table(
                    "summary",
                    "Actions on cases and contacts in the period",
                    (
                        _count("in_shifts", "Within someone's checked-in shift"),
                        Column("per_covered_shift", "Mean per covered shift", Cell.NUMBER),
                        _count("off_rota", "Off the rota"),
                    ),
                ),
            ),
        ),
    ),
)

MODERATION = ReportDefinition(
    kind="moderation",
    title="Moderation report",
    version=1,
    description="A transparency report: moderation actions by type, policy clause and channel; "
    "reversals and out-of-hours decisions varied or overturned on review.",
    sections=(
        Section(
            "actions",
            "Moderation actions",
            (
                _by("by_action", "By action", "action", "Action", "actions", "actions"),
                Table(
                    "by_clause",
                    "By policy clause",
                    (
                        Column("policy", "Policy"),
                        Column("clause", "Version and clause"),
                        _count("actions", "Actions"),
                    ),
                    totals=True,
                    population="actions",
                ),
                _by("by_channel", "By channel", "channel", "Channel", "actions", "actions"),
            ),
        ),
        Section(
            "reversals",
            "Reversals",
            (
                _by(
                    "reversals",
                    "Content restored and members reinstated",
                    "action",
                    "Action",
                    "actions",
                    "reversals",
                ),
                _by(
                    "ooh_reviews",
                    "Out-of-hours decisions reviewed, by outcome",
                    "outcome",
                    "Outcome",
                    "decisions",
                    "ooh_reviews",
                ),
            ),
        ),
    ),
)

_WHERE = (
    Column("service", "Service"),
    Column("category", "Category"),
    Column("category_id", "Category id", Cell.NUMBER),
)
_DAY = (
    Column("date", "Date", Cell.DATE),
    *_WHERE,
    _count("topics", "Topics"),
    _count("posts", "Posts"),
    Column("trailing_median", "Median posts a day, 28 days before", Cell.NUMBER),
)

COMMUNITY = ReportDefinition(
    kind="community",
    title="Community report",
    version=1,
    description="A forum's new members and their welcome within the target, flags by category "
    "and channel, and topics and posts per category and day with spikes in engagement marked.",
    sections=(
        Section(
            "new_members",
            "New members",
            (
                Table(
                    "summary",
                    "Members who joined the forum in the period, welcomed within the target?",
                    (
                        _count("joined", "Joined"),
                        _count("welcomed_in_time", "Welcomed in time"),
                        _count("welcomed_late", "Welcomed late"),
                        _count("not_yet_welcomed", "Not yet welcomed"),
                        Column("in_time_percent", "% welcomed in time", Cell.NUMBER),
                        Column("targets", "Target", Cell.LIST),
                    ),
                    description="A member's welcome clock starts when their account was made "
                    "on the forum; the target is the SLA policy's in force then. The share "
                    "welcomed in time is of the members whose clock has run its course "
                    "(welcomed, or overdue): one still within its target is not counted yet.",
                ),
                _by("by_status", "By status at as_of", "status", "Status", "members", "members"),
            ),
        ),
        Section(
            "flags",
            "Flags",
            (
                _by("by_category", "By category", "category", "Category", "flags", "flags"),
                _by("by_channel", "By channel", "channel", "Channel", "flags", "flags"),
                Table(
                    "by_category_and_channel",
                    "By category and channel",
                    (
                        Column("category", "Category"),
                        Column("channel", "Channel"),
                        _count("flags", "Flags"),
                    ),
                    totals=True,
                    population="flags",
                    description="Cases opened from a flag and flags raised on a case.",
                ),
            ),
        ),
        Section(
            "engagement",
            "Engagement",
            (
                Table(
                    "by_category",
                    "Topics and posts by category",
                    (
                        *_WHERE,
                        _count("topics", "Topics"),
                        _count("posts", "Posts"),
                        _count("spike_days", "Days with a spike"),
                    ),
                    chart=("category", "posts"),
                    totals=True,
                ),
                Table(
                    "by_day",
                    "Topics and posts by category and day (service's local date)",
                    (*_DAY, Column("spike", "Spike", Cell.BOOL)),
                ),
                Table("spikes", "Spikes: days whose posts exceed the rule below", _DAY),
                Table(
                    "rule",
                    "How a spike is marked",
                    (
                        Column("multiple", "Multiple of the trailing median", Cell.NUMBER),
                        Column("minimum_posts", "At least this many posts", Cell.NUMBER),
                        Column("trailing_days", "Trailing days", Cell.NUMBER),
                        Column("minimum_history_days", "Days of history needed", Cell.NUMBER),
                    ),
                    description="A day is a spike in a category when its posts exceed the "
                    "multiple of the median posts a day of the category over the trailing days "
                    "before it (a day without a post counts as 0), and are at least the minimum. "
                    "The trailing days start no earlier than the service's first recorded topic "
                    "or post (Vigil saw nothing before it); a day with fewer days of history "
                    "than needed is not judged (no median).",
                ),
            ),
        ),
    ),
)

REPORTS: dict[str, ReportDefinition] = {
    d.kind: d for d in (TRUSTEE, SLA, HELPLINE, SHIFTS, MODERATION, COMMUNITY)
}


_CELL_SCHEMA: dict[Cell, dict[str, Any]] = {
    Cell.TEXT: {"type": ["string", "null"]},
    Cell.COUNT: {
        "type": ["integer", "string"],
        "minimum": 0,
        "description": "A count; in the trustee pack, 'fewer than N' or 'withheld'.",
    },
    Cell.NUMBER: {"type": ["number", "string", "null"]},
    Cell.TIME: {"type": ["string", "null"], "format": "date-time"},
    Cell.DATE: {"type": ["string", "null"], "format": "date"},
    Cell.LIST: {"type": "array", "items": {"type": "string"}},
    Cell.BOOL: {"type": ["boolean", "null"]},
}


def json_schema(definition: ReportDefinition) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one kind's report, from its declaration."""

    def table_schema(table: Table) -> dict[str, Any]:
        row = {
            "type": "object",
            "properties": {c.key: _CELL_SCHEMA[c.cell] for c in table.columns},
            "required": [c.key for c in table.columns],
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "properties": {
                "key": {"const": table.key},
                "title": {"type": "string"},
                "columns": {"type": "array"},
                "rows": {"type": "array", "items": row},
                "totals": {"type": ["object", "null"]},
                "chart": {"type": ["object", "null"]},
                "description": {"type": "string"},
            },
            "required": ["key", "title", "columns", "rows"],
        }

    sections = [
        {
            "type": "object",
            "properties": {
                "key": {"const": s.key},
                "title": {"type": "string"},
                "tables": {
                    "type": "array",
                    "prefixItems": [table_schema(t) for t in s.tables],
                    "items": False,
                },
            },
            "required": ["key", "title", "tables"],
        }
        for s in definition.sections
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://vigil.example/schemas/reports/{definition.kind}-v{definition.version}.json",
        "title": definition.title,
        "description": definition.description,
        "type": "object",
        "properties": {
            "kind": {"const": definition.kind},
            "title": {"type": "string"},
            "definition_version": {"const": definition.version},
            "parameters": {
                "type": "object",
                "properties": {
                    "from": {"type": "string", "format": "date"},
                    "to": {"type": "string", "format": "date"},
                    "service": {"type": ["string", "null"]},
                    "as_of": {"type": "string", "format": "date-time"},
                },
                "required": ["from", "to", "service", "as_of"],
            },
            "basis": {
                "type": "object",
                "properties": {
                    "as_of": {"type": "string", "format": "date-time"},
                    "checkpoint": {
                        "type": ["object", "null"],
                        "properties": {
                            "tree_size": {"type": "integer"},
                            "root_hash": {"type": "string"},
                            "signed_at": {"type": "string"},
                            "key_id": {"type": "string"},
                        },
                    },
                    "sla_policy_versions": {"type": "array", "items": {"type": "integer"}},
                    "calendar_versions": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "integer"}},
                    },
                    "scorecard_versions": {"type": "array", "items": {"type": "integer"}},
                    "suppression_threshold": {"type": ["integer", "null"]},
                },
                "required": ["as_of", "checkpoint", "sla_policy_versions", "calendar_versions"],
            },
            "sections": {"type": "array", "prefixItems": sections, "items": False},
        },
        "required": ["kind", "title", "definition_version", "parameters", "basis", "sections"],
    }
