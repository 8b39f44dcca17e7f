"""The case page's actions, as a table: what each form asks for and which API request it makes.

Each ``Action`` names the permission the API route requires, the API's own request schema (the
pydantic body the route takes) and, for a route that names a thing inside the case in its path
(``/escalations/{escalation_id}/acknowledgements``), the command field that thing fills and the
command the route builds. A form's fields are read into that schema exactly as a JSON body would
be (dotted names nest: ``policy_ref.clause``), so the same validation answers the same messages;
``interfaces.web.case_actions`` then runs the write through the API's ``CaseWrites``.

Nothing here decides what is allowed: a form is offered when the person holds the permission
(and, for a form about an item, when the case has such an item); the route checks again, and the
domain has the last word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from domain.access.permissions import Permission
from domain.access.rules import FRONTLINE_COMMANDS
from domain.case import commands as c
from domain.case.vocabulary import (
    AgencyKind,
    ApprovalDecision,
    CaseSource,
    CaseStatus,
    Category,
    Consent,
    EscalationLevel,
    EscalationStatus,
    ModerationAction,
    NoteKind,
    ReferralStatus,
    ReferralUpdateStatus,
    Regulator,
    ReviewOutcome,
    RiskLevel,
    SeriousIncidentGround,
    SubjectKind,
    Urgency,
)
from interfaces.http.schemas import (
    AcknowledgementBody,
    ApprovalDecisionBody,
    CaseRead,
    EventReadBase,
    ReferralUpdateBody,
    ResolutionBody,
    ReviewBody,
)
from interfaces.http.serious_incidents import SeriousIncidentReportBody
from interfaces.web.render import plain

# A datetime-local field's value: the service's local time, to the minute or the second.
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")
OCCURRED_AT = "occurred_at"
ITEM = "item"

Choices = tuple[tuple[str, str], ...]
Describe = Callable[[datetime], str]


def choices(kind: type[Enum]) -> Choices:
    return tuple((str(m.value), plain(m).capitalize()) for m in kind)


@dataclass(frozen=True)
class FormField:
    """One control: ``name`` is the body's field (dotted into nested objects)."""

    name: str
    label: str
    kind: str = "text"  # text | textarea | select | number | lines | checkboxes
    options: Choices = ()
    required: bool = True
    hint: str = ""
    # A starting value from the case (e.g. the subject's ref as a moderation action's target).
    default: Callable[[CaseRead], str] | None = None

    @property
    def control_id(self) -> str:
        return self.name.replace(".", "-")


@dataclass(frozen=True)
class Action:
    """One thing a person may do to a case, over one API route."""

    name: str
    label: str  # the form's heading (its <summary>)
    button: str
    permission: Permission
    body: type[BaseModel]  # the API route's request schema
    fields: tuple[FormField, ...]
    done: str  # what the notice after it says
    api_path: str  # the API route it stands for (documentation, and the docs row)
    # For a route naming an item of the case in its path: the command field it fills, the
    # command the route builds, the items to choose from, and the chooser's label.
    item: str | None = None
    command: type[c.CaseCommand] | None = None
    items: Callable[[CaseRead, Describe], list[tuple[str, str]]] | None = None
    item_label: str = ""
    # Whether the form is worth offering in the case's state (the domain decides, not this).
    when: Callable[[CaseRead], bool] = field(default=lambda case: True)
    # Events of the case to choose from (a correction names one).
    needs_events: bool = False

    def command_type(self) -> type[BaseModel]:
        return self.command or self.body

    def frontline(self) -> bool:
        """What a person involved in a restricted case, without full access, may still add."""
        return self.item is None and issubclass(self.command_type(), FRONTLINE_COMMANDS)


def _open(case: CaseRead) -> bool:
    return case.status is not CaseStatus.CLOSED


def _closed(case: CaseRead) -> bool:
    return case.status is CaseStatus.CLOSED


POLICY = (
    FormField("policy_ref.policy", "Policy", hint="The policy's id, e.g. community-guidelines."),
    FormField("policy_ref.version", "Policy version", hint="e.g. 2024-03."),
    FormField("policy_ref.clause", "Clause", hint="e.g. 4.2."),
)
RATIONALE_HINT = "Why: at least ten characters and two different words."


def _rationale(label: str = "Rationale") -> FormField:
    return FormField("rationale", label, "textarea", hint=RATIONALE_HINT)


def _decisions(case: CaseRead, when: Describe) -> list[tuple[str, str]]:
    pending = set(case.pending_reviews)
    return [
        (str(d.decision_id), f"By {d.decided_by}, {when(d.decided_at)}")
        for d in case.out_of_hours_decisions
        if d.decision_id in pending
    ]


def _unacknowledged(case: CaseRead, when: Describe) -> list[tuple[str, str]]:
    waiting = set(case.unacknowledged_escalations)
    return [
        (str(e.escalation_id), f"To {plain(e.level)} ({plain(e.urgency)}), {when(e.raised_at)}")
        for e in case.escalations
        if e.escalation_id in waiting
    ]


def _acknowledged(case: CaseRead, when: Describe) -> list[tuple[str, str]]:
    return [
        (str(e.escalation_id), f"To {plain(e.level)} ({plain(e.urgency)}), {when(e.raised_at)}")
        for e in case.escalations
        if e.status is EscalationStatus.ACKNOWLEDGED
    ]


def _referrals(case: CaseRead, when: Describe) -> list[tuple[str, str]]:
    return [
        (str(r.referral_id), f"To {plain(r.agency.kind)} ({plain(r.status)}), {when(r.made_at)}")
        for r in case.referrals
        if r.status is not ReferralStatus.CLOSED
    ]


def _referrals_to_review(case: CaseRead, when: Describe) -> list[tuple[str, str]]:
    waiting = set(case.referrals_awaiting_review)
    return [
        (str(r.referral_id), f"To {plain(r.agency.kind)} by {r.made_by}, {when(r.made_at)}")
        for r in case.referrals
        if r.referral_id in waiting
    ]


def approval_words(kind: str, rule: str, action: Any, level: Any, target: str | None) -> str:
    """What a held decision would do, in plain words: "Ban member forum-member-48213"."""
    if action is not None:
        what = plain(action).capitalize()
        return f"{what} {target}" if target else what
    if level is not None:
        return f"Lower the risk to {plain(level)}"
    return "Close the case" if kind == "closure" else plain(rule).capitalize()


def _approvals(case: CaseRead, when: Describe) -> list[tuple[str, str]]:
    pending = set(case.pending_approvals)
    return [
        (
            str(a.approval_id),
            f"{approval_words(a.kind.value, a.rule, a.action, a.level, a.target_ref)}, "
            f"requested by {a.requested_by}, {when(a.requested_at)}",
        )
        for a in case.approvals
        if a.approval_id in pending
    ]


def _reportable(case: CaseRead, when: Describe) -> list[tuple[str, str]]:
    return [
        (str(s.assessment_id), f"To {plain(s.regulator)}, assessed {when(s.assessed_at)}")
        for s in case.serious_incidents
        if s.reportable and not s.superseded and s.reported_at is None
    ]


def _subject_ref(case: CaseRead) -> str:
    return case.subject.ref


ACTIONS: tuple[Action, ...] = (
    Action(
        "note",
        "Add a note",
        "Add the note",
        Permission.NOTE,
        c.AddNote,
        (
            FormField(
                "kind",
                "Kind of note",
                "select",
                choices(NoteKind),
                hint="Fact: what was seen or said. Assessment: your judgement.",
            ),
            FormField("text", "Note", "textarea"),
        ),
        "note added",
        "POST /cases/{id}/notes",
    ),
    Action(
        "moderate",
        "Take a moderation action",
        "Record the moderation action",
        Permission.MODERATE,
        c.TakeModerationAction,
        (
            FormField(
                "action",
                "Moderation action",
                "select",
                choices(ModerationAction),
                hint="A ban (four-eyes) waits for a second safeguarding lead's approval.",
            ),
            FormField("target_ref", "Target (member or content ref)", default=_subject_ref),
            _rationale(),
            *POLICY,
            FormField(
                "duration_hours",
                "Duration in hours (mute or suspension)",
                "number",
                required=False,
            ),
        ),
        "moderation action recorded",
        "POST /cases/{id}/moderation-actions",
        when=_open,
    ),
    Action(
        "ooh_decision",
        "Record an out-of-hours decision",
        "Record the decision",
        Permission.OOH_DECIDE,
        c.RecordOutOfHoursDecision,
        (
            FormField("decision", "Decision", "textarea"),
            FormField(
                "immediate_actions",
                "Immediate actions (one per line)",
                "lines",
                required=False,
            ),
            _rationale(),
            *POLICY,
        ),
        "out-of-hours decision recorded",
        "POST /cases/{id}/out-of-hours-decisions",
        when=_open,
    ),
    Action(
        "ooh_review",
        "Review an out-of-hours decision",
        "Record the review",
        Permission.OOH_REVIEW,
        ReviewBody,
        (
            FormField("outcome", "Outcome", "select", choices(ReviewOutcome)),
            _rationale(),
        ),
        "out-of-hours decision reviewed",
        "POST /cases/{id}/out-of-hours-decisions/{decision_id}/reviews",
        item="decision_id",
        command=c.ReviewOutOfHoursDecision,
        items=_decisions,
        item_label="Decision to review",
    ),
    Action(
        "approval",
        "Approve or reject a held decision",
        "Record the approval decision",
        Permission.APPROVE,
        ApprovalDecisionBody,
        (
            FormField("decision", "Approval decision", "select", choices(ApprovalDecision)),
            _rationale(),
        ),
        "approval decided",
        "POST /cases/{id}/approvals/{approval_id}/decisions",
        item="approval_id",
        command=c.DecideApproval,
        items=_approvals,
        item_label="Held decision",
    ),
    Action(
        "risk",
        "Assess the risk",
        "Record the risk",
        Permission.ASSESS_RISK,
        c.AssessRisk,
        (FormField("level", "Risk level", "select", choices(RiskLevel)), _rationale()),
        "risk assessed",
        "POST /cases/{id}/risk-assessments",
        when=_open,
    ),
    Action(
        "flag",
        "Attach a flag",
        "Attach the flag",
        Permission.FLAG,
        c.RaiseFlag,
        (
            FormField("reason", "Reason for the flag"),
            FormField("category", "Flag category", "select", choices(Category)),
            FormField("raised_by_ref", "Raised by (ref)", required=False),
            FormField("content_ref", "Content (ref or link)", required=False),
            FormField("note", "Flag note", "textarea", required=False),
        ),
        "flag attached",
        "POST /cases/{id}/flags",
        when=_open,
    ),
    Action(
        "escalate",
        "Escalate the case",
        "Escalate",
        Permission.ESCALATE,
        c.EscalateCase,
        (
            FormField("level", "Escalate to", "select", choices(EscalationLevel)),
            FormField("urgency", "Urgency", "select", choices(Urgency)),
            FormField("reason", "Reason for escalating", "textarea", hint=RATIONALE_HINT),
        ),
        "case escalated",
        "POST /cases/{id}/escalations",
        when=_open,
    ),
    Action(
        "escalation_ack",
        "Acknowledge an escalation",
        "Acknowledge",
        Permission.ACKNOWLEDGE_ESCALATION,
        AcknowledgementBody,
        (FormField("note", "Acknowledgement note", "textarea", required=False),),
        "escalation acknowledged",
        "POST /cases/{id}/escalations/{escalation_id}/acknowledgements",
        item="escalation_id",
        command=c.AcknowledgeEscalation,
        items=_unacknowledged,
        item_label="Escalation to acknowledge",
    ),
    Action(
        "escalation_resolve",
        "Resolve an escalation",
        "Resolve",
        Permission.RESOLVE_ESCALATION,
        ResolutionBody,
        (FormField("outcome", "Escalation outcome"), _rationale()),
        "escalation resolved",
        "POST /cases/{id}/escalations/{escalation_id}/resolutions",
        item="escalation_id",
        command=c.ResolveEscalation,
        items=_acknowledged,
        item_label="Escalation to resolve",
    ),
    Action(
        "refer",
        "Make a referral",
        "Record the referral",
        Permission.REFER,
        c.MakeReferral,
        (
            FormField("agency.name", "Agency name"),
            FormField("agency.kind", "Kind of agency", "select", choices(AgencyKind)),
            FormField("reason", "Reason for referring", "textarea", hint=RATIONALE_HINT),
            FormField("consent", "Consent", "select", choices(Consent)),
            FormField(
                "consent_rationale",
                "Why without consent",
                "textarea",
                required=False,
                hint="Needed when consent was refused or not sought.",
            ),
            FormField(
                "lawful_basis",
                "Lawful basis",
                required=False,
                hint="Needed without consent, e.g. DPA 2018 Sch 1 para 18.",
            ),
            FormField("reference", "Agency's reference", required=False),
        ),
        "referral recorded",
        "POST /cases/{id}/referrals",
        when=_open,
    ),
    Action(
        "referral_update",
        "Update a referral",
        "Record the update",
        Permission.UPDATE_REFERRAL,
        ReferralUpdateBody,
        (
            FormField("status", "Referral status", "select", choices(ReferralUpdateStatus)),
            FormField("reference", "Agency's reference", required=False),
            FormField("note", "Update note", "textarea", required=False),
        ),
        "referral updated",
        "POST /cases/{id}/referrals/{referral_id}/updates",
        item="referral_id",
        command=c.UpdateReferral,
        items=_referrals,
        item_label="Referral",
        when=_open,
    ),
    Action(
        "referral_review",
        "Review a referral made without consent",
        "Record the referral review",
        Permission.REVIEW_REFERRAL,
        ReviewBody,
        (FormField("outcome", "Outcome", "select", choices(ReviewOutcome)), _rationale()),
        "referral reviewed",
        "POST /cases/{id}/referrals/{referral_id}/reviews",
        item="referral_id",
        command=c.ReviewReferral,
        items=_referrals_to_review,
        item_label="Referral to review",
    ),
    Action(
        "assign",
        "Assign the case",
        "Assign",
        Permission.ASSIGN,
        c.AssignCase,
        (FormField("assignee", "Assignee (username)"),),
        "case assigned",
        "POST /cases/{id}/assignments",
        when=_open,
    ),
    Action(
        "correct",
        "Correct an earlier record",
        "Record the correction",
        Permission.CORRECT,
        c.CorrectRecord,
        (
            FormField("corrects_event_id", "Event to correct", "select"),
            FormField("correction", "Correction", "textarea"),
            FormField("reason", "Reason for the correction", "textarea", hint=RATIONALE_HINT),
        ),
        "correction recorded",
        "POST /cases/{id}/corrections",
        needs_events=True,
    ),
    Action(
        "si_assess",
        "Assess as a serious incident",
        "Record the assessment",
        Permission.SERIOUS_INCIDENT,
        c.AssessSeriousIncident,
        (
            FormField(
                "reportable",
                "Report it?",
                "select",
                (("true", "Yes: a serious incident to report"), ("false", "No: not reportable")),
            ),
            FormField("regulator", "Regulator", "select", choices(Regulator)),
            FormField("grounds", "Grounds", "checkboxes", choices(SeriousIncidentGround)),
            _rationale(),
        ),
        "serious-incident assessment recorded",
        "POST /cases/{id}/serious-incident-assessments",
    ),
    Action(
        "si_report",
        "Record a serious incident as reported",
        "Record as reported",
        Permission.SERIOUS_INCIDENT,
        SeriousIncidentReportBody,
        (FormField("reference", "Regulator's reference", required=False),),
        "serious incident recorded as reported",
        "POST /cases/{id}/serious-incident-assessments/{assessment_id}/report",
        item="assessment_id",
        command=c.ReportSeriousIncident,
        items=_reportable,
        item_label="Assessment",
    ),
    Action(
        "close",
        "Close the case",
        "Close the case",
        Permission.CLOSE,
        c.CloseCase,
        (FormField("outcome", "Outcome of the case"), _rationale()),
        "case closed",
        "POST /cases/{id}/closure",
        when=_open,
    ),
    Action(
        "reopen",
        "Reopen the case",
        "Reopen the case",
        Permission.REOPEN,
        c.ReopenCase,
        (FormField("reason", "Reason for reopening", "textarea", hint=RATIONALE_HINT),),
        "case reopened",
        "POST /cases/{id}/reopening",
        when=_closed,
    ),
)
BY_NAME: Mapping[str, Action] = {action.name: action for action in ACTIONS}

# Opening a case (POST /cases): its form is a page of its own, /ui/cases/new.
OPEN_FIELDS: tuple[FormField, ...] = (
    FormField("subject.kind", "Subject kind", "select", choices(SubjectKind)),
    FormField(
        "subject.ref",
        "Subject ref",
        hint="The member's or content's reference, e.g. forum-member-48213.",
    ),
    FormField("subject.display_name", "Subject's display name", required=False),
    FormField("source", "Source", "select", choices(CaseSource)),
    FormField("category", "Category", "select", choices(Category)),
    FormField("risk_level", "Initial risk", "select", choices(RiskLevel), required=False),
    FormField("summary", "Summary", "textarea", hint="What the concern is, in your own words."),
    FormField("service", "Service", "select"),
    FormField(
        "content_ref",
        "Content (ref or link)",
        required=False,
        hint="When it was raised from a flag on a post: the post's link.",
    ),
    FormField("channel", "Channel", required=False, hint="e.g. forum (lower case)."),
)


# --- reading a form ------------------------------------------------------------------------------


class FormErrors(Exception):
    """The form cannot become the API's request: field -> message ("" for the whole form)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def local_value(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as a datetime-local field shows it: the service's local time, to the second."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """A moment in plain text (for a choice in a list): "Mon 16 Nov 2026, 23:10"."""
    return f"{moment.astimezone(zone):%a %d %b %Y, %H:%M}"


def zone_label(moment: datetime, zone: ZoneInfo) -> str:
    """The service's time zone as a person reads it: "Europe/London, UTC+00:00"."""
    offset = moment.astimezone(zone).strftime("%z")
    return f"{zone.key}, UTC{offset[:3]}:{offset[3:]}"


def occurred_at(text: str, zone: ZoneInfo) -> str | None:
    """A datetime-local value (service time) as RFC 3339 with its offset; None when empty."""
    value = text.strip()
    if not value:
        return None
    if not _LOCAL.match(value):
        raise FormErrors({OCCURRED_AT: "give a date and a time, e.g. 2026-11-16T23:10"})
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        raise FormErrors({OCCURRED_AT: "give a date and a time that exist"}) from None
    return local.replace(tzinfo=zone).isoformat()


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def body_data(
    fields: tuple[FormField, ...], form: Mapping[str, str], zone: ZoneInfo
) -> dict[str, Any]:
    """The JSON body the form stands for: empty fields left out (the API's defaults apply)."""
    data: dict[str, Any] = {}
    for spec in fields:
        if spec.kind == "checkboxes":
            picked = [value for value, _ in spec.options if form.get(f"{spec.name}.{value}")]
            if picked:
                _set(data, spec.name, picked)
            continue
        raw = form.get(spec.name, "")
        if spec.kind == "lines":
            lines = [line.strip() for line in raw.splitlines() if line.strip()]
            if lines:
                _set(data, spec.name, lines)
            continue
        if raw.strip():
            _set(data, spec.name, raw)
    moment = occurred_at(form.get(OCCURRED_AT, ""), zone)
    if moment is not None:
        data[OCCURRED_AT] = moment
    return data


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "missing":
        return "fill this in"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message


def validated(schema: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """The API's request model of ``data``, or FormErrors naming each field at fault."""
    try:
        return schema.model_validate(data)
    except ValidationError as invalid:
        errors: dict[str, str] = {}
        for error in invalid.errors():
            name = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
            errors.setdefault(name, _message(error))
        raise FormErrors(errors) from None


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def event_name(kind: str) -> str:
    """An event's type in words: ``OutOfHoursDecisionRecorded`` -> "Out of hours decision
    recorded"."""
    return _CAMEL.sub(" ", kind).lower().capitalize()


def event_choices(events: list[EventReadBase], describe: Describe) -> list[tuple[str, str]]:
    """The case's events a correction may name, newest first."""
    return [
        (str(e.event_id), f"{event_name(e.type)} by {e.actor}, {describe(e.occurred_at)}")
        for e in reversed(events)
    ]


# --- the forms a case page offers ----------------------------------------------------------------


@dataclass(frozen=True)
class Failed:
    """A form that was refused: shown again open, with what was sent and what was wrong."""

    action: str
    values: Mapping[str, str]
    errors: Mapping[str, str]
    message: str
    status: int
    key: str


def _values(action: Action, case: CaseRead | None, now_value: str) -> dict[str, str]:
    values = {OCCURRED_AT: now_value}
    for spec in action.fields:
        if spec.default is not None and case is not None:
            values[spec.name] = spec.default(case)
    return values


def case_forms(
    actor: Any,
    case: Any,
    *,
    full: bool,
    events: list[EventReadBase],
    now_value: str,
    describe: Describe,
    new_key: Callable[[], str],
    failed: Failed | None,
    permits: Callable[[Any, Permission], bool],
) -> list[dict[str, Any]]:
    """Each action form the person may use on this case now, in the table's order."""
    forms = []
    for action in ACTIONS:
        if not permits(actor, action.permission):
            continue
        if not full and not action.frontline():
            continue
        if not action.when(case):
            continue
        items = action.items(case, describe) if (action.items and full) else []
        if action.item is not None and not items:
            continue
        options = {}
        if action.needs_events:
            options["corrects_event_id"] = event_choices(events, describe)
            if not options["corrects_event_id"]:
                continue
        mine = failed if failed is not None and failed.action == action.name else None
        values = dict(mine.values) if mine else _values(action, case if full else None, now_value)
        if mine is None and len(items) == 1:
            values[ITEM] = items[0][0]
        forms.append(
            {
                "action": action,
                "items": items,
                "options": options,
                "values": values,
                "errors": dict(mine.errors) if mine else {},
                "message": mine.message if mine else "",
                "open": mine is not None,
                "key": mine.key if mine else new_key(),
            }
        )
    return forms
