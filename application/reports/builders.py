"""The figures of each report kind, counted from the report facts in a scope.

Each builder reads rows through ``projections.report_queries.ReportFacts`` (everything recorded
by the scope's ``as_of`` in its period) and returns the rows of every table its definition
declares (``application.reports.definitions``), keyed ``section.table``, plus what the report
was judged by (policy, calendar and scorecard versions). Pure counting: no clock, no "now",
nothing personal (the facts hold none).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from application.reports.definitions import TIME_BANDS, WEEKDAYS
from domain.case.vocabulary import AGENCIES_THAT_NEVER_ACKNOWLEDGE
from projections.report_queries import ReportFacts, Row, Scope

# A check-in more than this after the planned start is late (the shift report's punctuality).
LATE_CHECK_IN = timedelta(minutes=5)
CLOCK_STATUSES = ("met", "breached", "open", "open_overdue")
# The clocks the trustee pack counts (the rest are the SLA and helpline reports').
TRUSTEE_CLOCKS = (
    "out_of_hours_review",
    "referral_acknowledged",
    "escalation_acknowledged",
    "first_action",
)
_NEVER_ACKNOWLEDGE = frozenset(kind.value for kind in AGENCIES_THAT_NEVER_ACKNOWLEDGE)


@dataclass
class Built:
    """A report's tables (``section.table`` -> rows) and what judged its figures."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    policy_versions: set[int] = field(default_factory=set)
    calendar_versions: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    scorecard_versions: set[int] = field(default_factory=set)

    def judged(self, rows: Iterable[Row]) -> None:
        for row in rows:
            if row.get("policy_version") is not None:
                self.policy_versions.add(int(row["policy_version"]))
            if row.get("calendar_version") is not None and row.get("service") is not None:
                self.calendar_versions[str(row["service"])].add(int(row["calendar_version"]))


def clock_status(row: Row, as_of: datetime) -> str:
    """A clock at ``as_of``: met or breached once stopped; running within or past its due time."""
    stopped, due = row["stopped_at"], row["due_at"]
    if stopped is not None:
        return "met" if stopped <= due else "breached"
    return "open_overdue" if due < as_of else "open"


def _band(hour: int | None) -> str:
    return TIME_BANDS[(hour or 0) // 6]


def _counted(
    rows: Iterable[Row],
    key: Callable[[Row], str | None],
    dimension: str,
    counted: str,
    order: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """One row per value of ``key`` (``order``'s first, in that order, with zeros; then any
    other value in alphabetical order)."""
    counts = Counter(key(r) or "unspecified" for r in rows)
    fixed = list(order)
    values = fixed + sorted(v for v in counts if v not in fixed)
    return [{dimension: v, counted: counts.get(v, 0)} for v in values]


def _tallied(
    rows: Iterable[Row],
    key: Callable[[Row], str | None],
    dimension: str,
    counted: str,
    order: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """``_counted`` over rows that are counts already (each row's ``clocks``)."""
    counts: Counter[str] = Counter()
    for row in rows:
        counts[key(row) or "unspecified"] += int(row["clocks"])
    fixed = list(order)
    values = fixed + sorted(v for v in counts if v not in fixed)
    return [{dimension: v, counted: counts.get(v, 0)} for v in values]


def _statuses(
    clocks: list[Row],
    as_of: datetime,
    by: Callable[[Row], str],
    dimension: str,
    order: Iterable[str] = (),
) -> list[dict[str, Any]]:
    grouped: dict[str, Counter[str]] = defaultdict(Counter)
    for row in clocks:
        grouped[by(row)][clock_status(row, as_of)] += 1
    fixed = list(order)
    keys = fixed + sorted(k for k in grouped if k not in fixed)
    return [
        {
            dimension: k,
            "clocks": sum(grouped[k].values()),
            **{s: grouped[k].get(s, 0) for s in CLOCK_STATUSES},
        }
        for k in keys
    ]


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _median_of(values: list[float]) -> float | None:
    return _round(median(values)) if values else None


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


# --- trustee pack ------------------------------------------------------------------------


def trustee(facts: ReportFacts, scope: Scope) -> Built:
    out = Built()
    cases = facts.case_openings(scope)
    out.judged(cases)
    t = out.tables
    t["volumes.by_category"] = _counted(cases, lambda r: r["category"], "category", "cases")
    t["volumes.by_risk"] = _counted(
        cases,
        lambda r: r["risk_now"],
        "risk_level",
        "cases",
        ("critical", "high", "medium", "low", "unassessed"),
    )
    t["volumes.by_channel"] = _counted(cases, lambda r: r["channel"], "channel", "cases")
    t["volumes.by_service"] = _counted(cases, lambda r: r["service"], "service", "cases")
    t["volumes.by_time_of_day"] = _counted(
        cases, lambda r: _band(r["local_hour"]), "time_of_day", "cases", TIME_BANDS
    )
    t["volumes.by_source"] = _counted(cases, lambda r: r["source"], "source", "cases")

    # The pack counts clocks by status: counted by the database, not a row per clock.
    out.judged(facts.clocks_judged_by(scope, TRUSTEE_CLOCKS))
    decisions = facts.clock_statuses(scope, "out_of_hours_review", outcome=True)
    t["out_of_hours.review_outcomes"] = _tallied(
        decisions,
        lambda r: r["outcome"] or "awaiting_review",
        "outcome",
        "decisions",
        ("ratified", "varied", "overturned", "awaiting_review"),
    )
    t["out_of_hours.review_timeliness"] = _tallied(
        decisions, lambda r: r["status"], "status", "decisions", CLOCK_STATUSES
    )

    referrals = facts.facts(scope, "referral")
    out.judged(referrals)
    t["referrals.by_agency_kind"] = _counted(
        referrals, lambda r: r["agency_kind"], "agency_kind", "referrals"
    )
    t["referrals.by_consent"] = _counted(
        referrals,
        lambda r: r["consent"],
        "consent",
        "referrals",
        ("given", "refused", "not_sought"),
    )
    # Every referral, so the table adds up to the same total as the others of referrals (one
    # population for suppression): those to an agency that never acknowledges are not_expected.
    never = sum(1 for r in referrals if r["agency_kind"] in _NEVER_ACKNOWLEDGE)
    t["referrals.acknowledgement"] = _tallied(
        [
            *facts.clock_statuses(scope, "referral_acknowledged"),
            {"status": "not_expected", "clocks": never},
        ],
        lambda r: r["status"],
        "status",
        "referrals",
        (*CLOCK_STATUSES, "not_expected"),
    )
    hours = [
        (r["stopped_at"] - r["started_at"]).total_seconds() / 3600
        for r in facts.clock_waits(scope, "referral_acknowledged")
    ]
    t["referrals.acknowledgement_time"] = [{"median_hours": _median_of(hours), "_base": len(hours)}]

    escalations = facts.facts(scope, "escalation")
    out.judged(escalations)
    t["escalations.by_level"] = _counted(
        escalations,
        lambda r: r["level"],
        "level",
        "escalations",
        ("coordinator", "safeguarding_lead", "designated_lead", "external"),
    )
    t["escalations.acknowledgement"] = _tallied(
        facts.clock_statuses(scope, "escalation_acknowledged"),
        lambda r: r["status"],
        "status",
        "escalations",
        CLOCK_STATUSES,
    )
    acknowledged = facts.clock_waits(scope, "escalation_acknowledged")
    times = []
    for urgency in ("immediate", "urgent", "routine"):
        waits = [
            _minutes(r["stopped_at"] - r["started_at"])
            for r in acknowledged
            if r["detail"] == urgency
        ]
        times.append({"urgency": urgency, "median_minutes": _median_of(waits), "_base": len(waits)})
    t["escalations.acknowledgement_time"] = times
    t["service_levels.first_action"] = _tallied(
        facts.clock_statuses(scope, "first_action"),
        lambda r: r["status"],
        "status",
        "flags",
        CLOCK_STATUSES,
    )
    _serious_incidents(facts, scope, cases, referrals, out)
    return out


def _serious_incidents(
    facts: ReportFacts, scope: Scope, cases: list[Row], referrals: list[Row], out: Built
) -> None:
    assessed = facts.facts(scope, "si_assessed")
    reported: dict[Any, str] = {}
    for row in facts.recorded(scope.as_of, "si_reported"):
        reported.setdefault(row["item_id"], row["local_date"])  # the service's date
    out.tables["serious_incidents.register"] = [
        {
            "case_id": str(r["subject_id"]),
            "decided_on": r["local_date"],
            "decided_by": r["decided_by"],
            "reportable": r["reportable"] == "true",
            "regulator": r["regulator"],
            "grounds": (r["grounds"] or "").split(",") if r["grounds"] else [],
            "reported_on": reported.get(r["item_id"]),
        }
        for r in assessed
    ]
    decided = {row["subject_id"] for row in facts.recorded(scope.as_of, "si_assessed")}
    reasons: dict[Any, list[str]] = defaultdict(list)
    for row in cases:
        if row["risk_now"] == "critical":
            reasons[row["subject_id"]].append("critical_risk")
    for row in referrals:
        if row["agency_kind"] == "police" and "police_referral" not in reasons[row["subject_id"]]:
            reasons[row["subject_id"]].append("police_referral")
    out.tables["serious_incidents.candidates"] = [
        {"case_id": str(case), "reasons": why, "decision_recorded": case in decided}
        for case, why in reasons.items()  # in the order the log opened (or referred) them
        if why
    ]
    start, end = scope.start.isoformat(), scope.end.isoformat()
    out.tables["serious_incidents.sign_offs"] = [
        {
            "period_from": r["period_from"],
            "period_to": r["period_to"],
            "signed_off_by": r["signed_off_by"],
            "signed_off_at": r["occurred_at"],
            "as_of": r["as_of"],
        }
        for r in facts.recorded(scope.as_of, "register_signed_off")
        if r["period_from"] <= end and r["period_to"] >= start
    ]


# --- SLA report --------------------------------------------------------------------------


def sla(facts: ReportFacts, scope: Scope) -> Built:
    out = Built()
    clocks = facts.clocks(scope)
    out.judged(clocks)
    explanations: dict[str, Row] = {}
    for row in facts.recorded(scope.as_of, "breach_explained"):
        explanations[row["clock_id"]] = row  # the latest explanation of a clock stands
    out.tables["summary.by_clock"] = _statuses(clocks, scope.as_of, lambda r: r["clock"], "clock")
    every, breaches = [], []
    for row in clocks:
        status = clock_status(row, scope.as_of)
        every.append(
            {
                "clock_id": row["clock_id"],
                "clock": row["clock"],
                "subject_kind": row["subject_kind"],
                "subject_id": str(row["subject_id"]),
                "service": row["service"],
                "started_at": row["started_at"],
                "target": row["target"],
                "due_at": row["due_at"],
                "stopped_at": row["stopped_at"],
                "status": status,
                "policy_version": row["policy_version"],
                "calendar_version": row["calendar_version"],
            }
        )
        if status in ("breached", "open_overdue"):
            until = row["stopped_at"] or scope.as_of
            explained = explanations.get(row["clock_id"])
            breaches.append(
                {
                    "clock_id": row["clock_id"],
                    "clock": row["clock"],
                    "subject_kind": row["subject_kind"],
                    "subject_id": str(row["subject_id"]),
                    "target": row["target"],
                    "due_at": row["due_at"],
                    "stopped_at": row["stopped_at"],
                    "late_minutes": _round(_minutes(until - row["due_at"]), 0),
                    "explanation": "unexplained" if explained is None else explained["cause"],
                    "explained_by": None if explained is None else explained["explained_by"],
                }
            )
    out.tables["breaches.breaches"] = breaches
    out.tables["clocks.clocks"] = every
    return out


# --- helpline monitoring -------------------------------------------------------------------


def helpline(facts: ReportFacts, scope: Scope) -> Built:
    out = Built()
    t = out.tables
    contacts = facts.facts(scope, "contact")
    out.judged(contacts)
    t["contacts.by_channel"] = _counted(contacts, lambda r: r["channel"], "channel", "contacts")
    t["contacts.by_direction"] = _counted(
        contacts, lambda r: r["direction"], "direction", "contacts", ("inbound", "outbound")
    )
    t["contacts.by_outcome"] = _counted(contacts, lambda r: r["outcome"], "outcome", "contacts")
    t["contacts.by_time_of_day"] = _counted(
        contacts, lambda r: _band(r["local_hour"]), "time_of_day", "contacts", TIME_BANDS
    )
    t["contacts.by_weekday"] = _counted(
        contacts, lambda r: WEEKDAYS[r["weekday"] or 0], "weekday", "contacts", WEEKDAYS
    )

    reviewed = facts.clocks(scope, ("contact_reviewed",))
    out.judged(reviewed)
    statuses = Counter(clock_status(r, scope.as_of) for r in reviewed)
    total = len(reviewed)
    coverage = [
        ("reviewed within target", statuses["met"]),
        ("reviewed late", statuses["breached"]),
        ("not reviewed, within target", statuses["open"]),
        ("not reviewed, overdue", statuses["open_overdue"]),
    ]
    t["review_coverage.coverage"] = [
        {"status": s, "contacts": n, "percent": _round(100 * n / total) if total else None}
        for s, n in coverage
    ]

    reviews = facts.parts(scope, "contact_review", "contact")
    for row in reviews:
        out.scorecard_versions.add(int(row["scorecard_version"]))
    by_result: dict[str, list[float]] = defaultdict(list)
    for row in reviews:
        by_result[row["result"]].append(float(row["score"]))
    t["quality.results"] = [
        {
            "result": r,
            "reviews": len(by_result[r]),
            "mean_score": _round(sum(by_result[r]) / len(by_result[r])) if by_result[r] else None,
        }
        for r in ("pass", "fail")
    ]
    scores: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in facts.parts(scope, "criterion_score", "contact"):
        scores[(row["criterion"], int(row["scorecard_version"]))].append(float(row["score"]))
    t["quality.by_criterion"] = [
        {
            "criterion": key,
            "scorecard_version": version,
            "reviews": len(values),
            "mean_score": _round(sum(values) / len(values)),
            "zeros": sum(1 for v in values if v == 0),
        }
        for (key, version), values in sorted(scores.items())
    ]
    t["quality.safeguarding"] = [{"reviews": sum(1 for r in reviews if r["safeguarding_fail"])}]

    per_contact: dict[Any, list[Row]] = defaultdict(list)
    for row in reviews:
        per_contact[row["subject_id"]].append(row)
    multi = [rs for rs in per_contact.values() if len(rs) >= 2]
    agreeing = sum(1 for rs in multi if len({r["result"] for r in rs}) == 1)
    spreads = [max(r["score"] for r in rs) - min(r["score"] for r in rs) for rs in multi]
    t["calibration.agreement"] = [
        {
            "contacts": len(multi),
            "agreeing": agreeing,
            "agreement_percent": _round(100 * agreeing / len(multi)) if multi else None,
            "mean_spread": _round(sum(spreads) / len(spreads)) if spreads else None,
        }
    ]
    follow_ups = facts.clocks(scope, ("follow_up",))
    out.judged(follow_ups)
    t["follow_ups.by_kind"] = _statuses(
        follow_ups, scope.as_of, lambda r: r["detail"] or "unspecified", "kind"
    )
    return out


# --- shift report ---------------------------------------------------------------------------


@dataclass
class _Shift:
    row: Row
    assignee: str
    person: str = ""
    cancelled: bool = False
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None


def shifts(facts: ReportFacts, scope: Scope) -> Built:
    out = Built()
    planned = facts.facts(scope, "shift_planned")
    out.judged(planned)
    by_id = {r["subject_id"]: _Shift(r, r["assignee"]) for r in planned}
    for fact in ("shift_reassigned", "shift_cancelled", "checked_in", "checked_out"):
        for row in facts.parts(scope, fact, "shift_planned"):
            shift = by_id.get(row["subject_id"])
            if shift is None:
                continue
            if fact == "shift_reassigned":
                shift.assignee = row["assignee"]
            elif fact == "shift_cancelled":
                shift.cancelled = True
            elif fact == "checked_in" and shift.checked_in_at is None:
                shift.checked_in_at = row["occurred_at"]
                shift.person = row["person"]
            elif fact == "checked_out" and shift.checked_out_at is None:
                shift.checked_out_at = row["occurred_at"]
    as_of = scope.as_of
    roles: dict[str, Counter[str]] = defaultdict(Counter)
    uncovered, punctual, check_outs = [], Counter[str](), Counter[str]()
    windows: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for shift in by_id.values():
        row = shift.row
        starts, ends = row["occurred_at"], row["ends_at"]
        counts = roles[row["role"]]
        counts["planned"] += 1
        if shift.cancelled:
            counts["cancelled"] += 1
            continue
        if shift.checked_in_at is not None:
            counts["covered"] += 1
            late = shift.checked_in_at - starts > LATE_CHECK_IN
            punctual["late" if late else "on time"] += 1
            if shift.checked_out_at is not None:
                check_outs["checked out"] += 1
            elif ends <= as_of:
                check_outs["missed check-out"] += 1
            else:
                check_outs["still on shift"] += 1
            windows[shift.person or shift.assignee].append(
                (shift.checked_in_at, shift.checked_out_at or min(ends, as_of))
            )
        elif starts <= as_of:
            counts["uncovered"] += 1
            uncovered.append(
                {
                    "shift_id": str(row["subject_id"]),
                    "service": row["service"],
                    "role": row["role"],
                    "starts_at": starts,
                    "ends_at": ends,
                }
            )
        else:
            counts["upcoming"] += 1
    t = out.tables
    t["coverage.by_role"] = [
        {
            "role": role,
            **{
                k: roles[role].get(k, 0)
                for k in ("planned", "cancelled", "covered", "uncovered", "upcoming")
            },
        }
        for role in sorted(roles)
    ]
    t["coverage.uncovered"] = sorted(uncovered, key=lambda r: (r["starts_at"], r["shift_id"]))
    t["punctuality.check_ins"] = [
        {"status": s, "shifts": punctual.get(s, 0)} for s in ("on time", "late")
    ]
    t["punctuality.check_outs"] = [
        {"status": s, "shifts": check_outs.get(s, 0)}
        for s in ("checked out", "missed check-out", "still on shift")
    ]
    in_shifts = off_rota = 0
    if planned:
        start = min(r["occurred_at"] for r in planned)
        end = max(r["ends_at"] for r in planned)
        for action in facts.work_actions(start, end, as_of, scope.service):
            if any(a <= action["occurred_at"] < b for a, b in windows.get(action["actor"], ())):
                in_shifts += 1
            else:
                off_rota += 1
    covered = sum(c["covered"] for c in roles.values())
    t["actions.summary"] = [
        {
            "in_shifts": in_shifts,
            "per_covered_shift": _round(in_shifts / covered) if covered else None,
            "off_rota": off_rota,
        }
    ]
    return out


# --- moderation report ---------------------------------------------------------------------


def moderation(facts: ReportFacts, scope: Scope) -> Built:
    out = Built()
    actions = facts.facts(scope, "moderation")
    out.judged(actions)
    t = out.tables
    t["actions.by_action"] = _counted(actions, lambda r: r["action"], "action", "actions")
    clauses = Counter((r["policy"], r["clause"]) for r in actions)
    t["actions.by_clause"] = [
        {"policy": p, "clause": c, "actions": n} for (p, c), n in sorted(clauses.items())
    ]
    t["actions.by_channel"] = _counted(actions, lambda r: r["channel"], "channel", "actions")
    t["reversals.reversals"] = _counted(
        [r for r in actions if r["action"] in ("restore_content", "reinstate_member")],
        lambda r: r["action"],
        "action",
        "actions",
        ("restore_content", "reinstate_member"),
    )
    reviews = facts.facts(scope, "ooh_review")
    out.judged(reviews)
    t["reversals.ooh_reviews"] = _counted(
        reviews,
        lambda r: r["outcome"],
        "outcome",
        "decisions",
        ("overturned", "varied", "ratified"),
    )
    return out


BUILDERS: dict[str, Callable[[ReportFacts, Scope], Built]] = {
    "trustee": trustee,
    "sla": sla,
    "helpline": helpline,
    "shifts": shifts,
    "moderation": moderation,
}
