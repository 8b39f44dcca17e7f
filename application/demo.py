"""The demo: a few days in the life of a fictional peer-support forum and hate-crime helpline.

Everything is recorded through the real services, so the demo obeys every rule a
user's write does and is a fair picture of what Vigil holds. ``occurred_at`` is
back-dated relative to the moment the demo runs (never in the future, never before
a case opened); ``recorded_at`` is the server clock for most of the cases, so they
read as work logged after the fact. The out-of-hours decision falls in the latest
out-of-hours period of the configured service calendar, whatever day it is run.

The services, a week of the seed's rota and the night the on-call lead handled the
out-of-hours case are recorded as they happened, on a story clock
(``application.demo_rota``): a rota is planned before its shifts start, and the
night's shift log lists the lead's decision, their handover and its acknowledgement.
So is a day of the helpline (``application.demo_helpline``): its contacts, their reviews
and follow-ups, and the hate-incident case a week before it that one of its calls joins.

Every person, member, post, agency and reference here is invented.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from application.cases import CaseService
from application.contacts import ContactService
from application.demo_helpline import (
    HELPLINE_HANDLERS,
    DemoHelpline,
    HelplineStory,
    hate_case_opened,
    helpline_day,
)
from application.demo_rota import DEMO_USERS as DEMO_USERS  # the demo's people, re-exported
from application.demo_rota import (
    HELPLINE,
    JUDE,
    KIT,
    OLA,
    PRIYA,
    ROWAN,
    SAM,
    DemoRota,
    DemoUser,
    RotaStory,
    StoryClock,
)
from application.identity import IdentityService
from application.quality import ScorecardService
from application.services import ServiceService
from application.shifts import ShiftService
from domain.calendar import ServiceCalendar
from domain.case import commands as c
from domain.case.vocabulary import (
    AgencyKind,
    ApprovalDecision,
    CaseSource,
    Category,
    Consent,
    EscalationLevel,
    ModerationAction,
    NoteKind,
    ReferralUpdateStatus,
    ReviewOutcome,
    RiskLevel,
    SubjectKind,
    Urgency,
)
from domain.errors import DomainError
from domain.shared import Actor, PolicyRef
from infrastructure.event_log import EventLog

GUIDELINES = "community-guidelines"
GUIDELINES_VERSION = "2025-01"
SAFEGUARDING = PolicyRef(policy="safeguarding-procedure", version="3.1", clause="5.2")
POLICE = c.AgencyInput(name="Northshire Police (fictional)", kind=AgencyKind.POLICE)


def guideline(clause: str) -> PolicyRef:
    return PolicyRef(policy=GUIDELINES, version=GUIDELINES_VERSION, clause=clause)


class StoreNotEmpty(DomainError):
    """The demo only fills an empty store, so it can never mix invented cases with real ones."""

    title = "The store is not empty"


class DemoTarget(Protocol):
    """What the demo fills: the composition root's container (``interfaces.composition.Vigil``)
    has all of it."""

    @property
    def event_log(self) -> EventLog: ...
    @property
    def identity(self) -> IdentityService: ...
    @property
    def cases(self) -> CaseService: ...
    @property
    def calendar(self) -> ServiceCalendar: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def services(self) -> ServiceService: ...
    @property
    def shifts(self) -> ShiftService: ...
    @property
    def scorecards(self) -> ScorecardService: ...
    @property
    def contacts(self) -> ContactService: ...


@dataclass(frozen=True)
class DemoLoaded:
    tokens: list[tuple[DemoUser, str]]  # one fresh token per demo user, in DEMO_USERS order
    case_ids: list[UUID]
    out_of_hours: bool  # False when the calendar has no out-of-hours period to set it in
    rota: DemoRota  # the services, the week's shifts and the night on call
    helpline: DemoHelpline  # a day of the helpline: contacts, reviews, follow-ups


def store_is_empty(vigil: DemoTarget) -> bool:
    """True when nothing at all has been recorded: no users, no cases."""
    return not vigil.event_log.recorder.max_notification_id()


def load_demo(vigil: DemoTarget, *, actor: str) -> DemoLoaded:
    """Register the demo users with a token each and record the demo cases; refuse if not empty."""
    if not store_is_empty(vigil):
        raise StoreNotEmpty(
            "the store already holds users or cases; the demo only fills an empty store"
        )
    tokens: list[tuple[DemoUser, str]] = []
    for user in DEMO_USERS:
        vigil.identity.register(user.username, user.role, actor=actor)
        tokens.append((user, vigil.identity.issue_token(user.username, actor=actor)))
    story = _Story(vigil.cases, now=vigil.clock())
    night = last_out_of_hours_period(vigil.calendar, story.now)
    # The services and the week's rota, then the night's case, recorded as they happened.
    clock = StoryClock(story.now)
    decided = night[0] if night is not None else story.now - timedelta(hours=20)
    rota = RotaStory(
        vigil.services,
        vigil.shifts,
        clock,
        decided=decided,
        reopened=None if night is None else night[1],
    )
    recorded = rota.plan()
    # The helpline's latest day that is over: its contact handlers are put on the line for it
    # before it (so their contacts are on a shift, not off-rota), and attend it like the rest.
    day = helpline_day(vigil.services.history(HELPLINE), story.now)
    rota.plan_helpline_day(day, HELPLINE_HANDLERS)
    rota.attend()
    rota.check_in_night()
    as_it_happened = _Story(vigil.cases.with_clock(clock), now=story.now, clock=clock)
    night_case = _self_harm_out_of_hours(as_it_happened, night, rota)
    # A week before the helpline's day, the call that opened the hate-incident case the day's
    # support call joins; both as they happened.
    hate_case = _hate_incident(as_it_happened, hate_case_opened(day))
    helpline = HelplineStory(vigil.contacts, vigil.cases, vigil.scorecards, clock, day=day).run(
        hate_case
    )
    case_ids = [
        night_case,
        _harassment(story),
        hate_case,
        _medical_misinformation(story),
        _spam(story),
        _account_issue(story),
    ]
    if helpline.opened_case_id is not None:
        case_ids.append(helpline.opened_case_id)
    return DemoLoaded(
        tokens=tokens,
        case_ids=case_ids,
        out_of_hours=night is not None,
        rota=recorded,
        helpline=helpline,
    )


def last_out_of_hours_period(
    calendar: ServiceCalendar, now: datetime
) -> tuple[datetime, datetime] | None:
    """A moment in the latest out-of-hours period after which the service reopened at least an
    hour before ``now``, and the moment it reopened.

    None when the calendar has no such period in the last four weeks: a 24/7 service, or one
    that is never open (then there is no working day to review a decision by).
    """
    step = timedelta(minutes=15)
    today = now.astimezone(calendar.timezone).date()
    for days_back in range(28):
        # Each range of a day opens again after a closed time (the gaps between a day's ranges
        # are out of hours too), latest first.
        for opens, _ in reversed(calendar.windows(today - timedelta(days=days_back))):
            reopened = opens.astimezone(UTC)
            if reopened + timedelta(hours=1) > now or calendar.is_open(reopened - step):
                continue  # too recent to have been reviewed, or no closed time before it (24/7)
            closed = reopened - step
            while closed - reopened < timedelta(days=14) and calendar.is_out_of_hours(
                closed - step
            ):
                closed -= step
            # The middle of the closed period: deep in the night on an ordinary weekday.
            return closed + (reopened - closed) / 2, reopened
    return None


class _Story:
    """Records commands as the demo users, clamping back-dated times to the present; with a
    story clock, each at the moment it happened (recorded then, not logged afterwards)."""

    def __init__(
        self, cases: CaseService, *, now: datetime, clock: StoryClock | None = None
    ) -> None:
        self.cases = cases
        self.now = now
        self.clock = clock

    def at(self, moment: datetime) -> datetime:
        moment = min(moment, self.now)
        return moment if self.clock is None else self.clock.set(moment)

    def open(self, who: DemoUser, when: datetime, **fields: object) -> UUID:
        command = c.OpenCase.model_validate({**fields, "occurred_at": self.at(when)})
        return self.cases.execute(None, command, _actor(who)).state.id

    def record(self, case_id: UUID, who: DemoUser, when: datetime, command: c.CaseCommand) -> UUID:
        """Record one command at ``when``; returns the new event's id."""
        command = command.model_copy(update={"occurred_at": self.at(when)})
        return self.cases.execute(case_id, command, _actor(who)).events[0].event_id


def _actor(user: DemoUser) -> Actor:
    return user.actor


def _self_harm_out_of_hours(
    s: _Story, night: tuple[datetime, datetime] | None, rota: RotaStory
) -> UUID:
    """A risk to life flagged out of hours: the on-call lead's decision, a referral without
    consent, the handover at the end of the night, and the next morning's reviews of both by
    the lead who took the handover."""
    decided = night[0] if night is not None else s.now - timedelta(hours=20)
    t = decided - timedelta(minutes=40)
    case = s.open(
        SAM,
        t,
        subject=c.SubjectInput(
            kind=SubjectKind.MEMBER, ref="member-20417", display_name="QuietLantern"
        ),
        source=CaseSource.FLAG,
        category=Category.SELF_HARM_RISK,
        summary="Post on the 'Living with type 1' board says they have been saving up insulin "
        "and 'won't need the next appointment'. Another member flagged it.",
        risk_level=RiskLevel.HIGH,
        channel="forum",
    )
    s.record(
        case,
        SAM,
        t,
        c.RaiseFlag(
            reason="Worried this member is planning to harm themselves",
            category=Category.SELF_HARM_RISK,
            raised_by_ref="member-31002",
            content_ref="post-88213",
        ),
    )
    s.record(
        case,
        SAM,
        t + timedelta(minutes=5),
        c.AddNote(
            kind=NoteKind.FACT,
            text="The post reads: 'I've been saving my insulin. I won't need the appointment "
            "next week.' Two members replied asking if they are OK; no answer since.",
        ),
    )
    s.record(
        case,
        JUDE,
        t + timedelta(minutes=20),
        c.AssessRisk(
            level=RiskLevel.CRITICAL,
            rationale="A stated plan, the means (stockpiled insulin) and a time frame: "
            "a risk to life tonight.",
        ),
    )
    s.record(
        case,
        JUDE,
        t + timedelta(minutes=25),
        c.TakeModerationAction(
            action=ModerationAction.HIDE_CONTENT,
            target_ref="post-88213",
            rationale="Hidden so other members are not exposed to the method while we act; "
            "the member can still see their own post.",
            policy_ref=guideline("7.3"),
        ),
    )
    if night is None:
        # A 24/7 (or never open) calendar has no out-of-hours period to put the decision in.
        s.record(
            case,
            JUDE,
            t + timedelta(minutes=30),
            c.AddNote(kind=NoteKind.NOTE, text="Police welfare check requested by phone."),
        )
        rota.hand_over(case, acknowledge_by=t + timedelta(hours=6))
        return case
    decision = s.record(
        case,
        JUDE,
        decided,
        c.RecordOutOfHoursDecision(
            decision="Ask the police for an urgent welfare check and message the member with "
            "crisis-line details.",
            rationale="Risk to life assessed as critical and the member has stopped replying; "
            "waiting for the morning could cost a life.",
            policy_ref=SAFEGUARDING,
            immediate_actions=[
                "Hid post-88213",
                "Sent a private message with crisis-line numbers",
                "Phoned the police for a welfare check",
            ],
        ),
    )
    referral = s.record(
        case,
        JUDE,
        decided + timedelta(minutes=5),
        c.MakeReferral(
            agency=POLICE,
            reason="Welfare check: the member has stated a plan to overdose on stockpiled insulin.",
            consent=Consent.NOT_SOUGHT,
            consent_rationale="The member had stopped responding; asking for consent would "
            "have delayed help to someone at immediate risk of serious harm.",
            lawful_basis="UK GDPR Art 6(1)(d) vital interests and Art 9(2)(c); DPA 2018 "
            "Sch 1 para 18 (safeguarding of individuals at risk)",
        ),
    )
    s.record(
        case,
        JUDE,
        decided + timedelta(minutes=50),
        c.UpdateReferral(
            referral_id=referral,
            status=ReferralUpdateStatus.ACKNOWLEDGED,
            reference="NP-DEMO-4471",
            note="Officers attended; the member is safe and with a relative.",
        ),
    )
    s.record(
        case,
        JUDE,
        decided + timedelta(minutes=55),
        c.AddNote(
            kind=NoteKind.FACT,
            text="The member replied to our message: 'I'm ok now, my sister is here. Sorry for "
            "worrying everyone.'",
        ),
    )
    morning = night[1] + timedelta(minutes=40)  # the next opening: the review
    rota.hand_over(case, acknowledge_by=morning - timedelta(minutes=10))
    s.record(
        case,
        PRIYA,
        morning,
        c.ReviewOutOfHoursDecision(
            decision_id=decision,
            outcome=ReviewOutcome.RATIFIED,
            rationale="Proportionate: a plan, the means and a time frame justified sharing "
            "without consent, and a welfare check was the least intrusive way to be sure.",
        ),
    )
    s.record(
        case,
        PRIYA,
        morning + timedelta(minutes=2),
        c.ReviewReferral(
            referral_id=referral,
            outcome=ReviewOutcome.RATIFIED,
            rationale="Sharing without consent was necessary: the member was unreachable and "
            "at immediate risk; the police needed only the address and the stated plan.",
        ),
    )
    s.record(
        case,
        PRIYA,
        morning + timedelta(minutes=5),
        c.AddNote(
            kind=NoteKind.ASSESSMENT,
            text="The immediate danger has passed but the intent was real. Offer a weekly "
            "check-in from the support team for the next month; the post stays hidden.",
        ),
    )
    # Lowering a critical risk takes effect only once a second safeguarding lead approves it.
    lowered = s.record(
        case,
        PRIYA,
        morning + timedelta(minutes=6),
        c.AssessRisk(
            level=RiskLevel.HIGH,
            rationale="No longer immediate (family present, police visited) but the stated "
            "intent calls for close support.",
        ),
    )
    s.record(
        case,
        JUDE,
        morning + timedelta(minutes=8),
        c.DecideApproval(
            approval_id=lowered,
            decision=ApprovalDecision.APPROVED,
            rationale="Agreed: the member is safe with family tonight and replying to us, so "
            "the risk is high rather than critical.",
        ),
    )
    s.record(case, PRIYA, morning + timedelta(minutes=10), c.AssignCase(assignee=KIT.username))
    return case


def _harassment(s: _Story) -> UUID:
    """Unwanted messages: two flags, a warning, a third flag, then a timed mute."""
    t = s.now - timedelta(days=3)
    case = s.open(
        OLA,
        t,
        subject=c.SubjectInput(
            kind=SubjectKind.MEMBER, ref="member-31175", display_name="KettleDrum42"
        ),
        source=CaseSource.FLAG,
        category=Category.HARASSMENT,
        summary="Members report repeated hostile private messages from this member after a "
        "disagreement on the 'Food and carbs' board.",
        risk_level=RiskLevel.MEDIUM,
        channel="forum",
    )
    for when, reporter, message, reason in (
        (
            t,
            "member-40022",
            "dm-55120",
            "Keeps messaging me to call me stupid after I asked them to stop",
        ),
        (
            t + timedelta(hours=2),
            "member-40871",
            "dm-55162",
            "Abusive messages after I replied to their post",
        ),
    ):
        s.record(
            case,
            OLA,
            when,
            c.RaiseFlag(
                reason=reason,
                category=Category.HARASSMENT,
                raised_by_ref=reporter,
                content_ref=message,
            ),
        )
    s.record(
        case,
        OLA,
        t + timedelta(hours=3),
        c.TakeModerationAction(
            action=ModerationAction.WARN_MEMBER,
            target_ref="member-31175",
            rationale="A first reported pattern of unwanted messages: a warning first, as the "
            "guidelines set out.",
            policy_ref=guideline("4.1"),
        ),
    )
    s.record(
        case,
        OLA,
        t + timedelta(hours=26),
        c.RaiseFlag(
            reason="Messaged me again today",
            category=Category.HARASSMENT,
            raised_by_ref="member-40022",
            content_ref="dm-55301",
        ),
    )
    s.record(
        case,
        KIT,
        t + timedelta(hours=27),
        c.AddNote(
            kind=NoteKind.FACT,
            text="Message dm-55301, sent after the warning, reads: 'you lot know nothing about "
            "real diets, stop replying to me'.",
        ),
    )
    s.record(
        case,
        KIT,
        t + timedelta(hours=27, minutes=5),
        c.TakeModerationAction(
            action=ModerationAction.MUTE_MEMBER,
            target_ref="member-31175",
            rationale="The messages continued after a warning; a 72-hour mute stops them "
            "while we review the account.",
            policy_ref=guideline("4.4"),
            duration_hours=72,
        ),
    )
    s.record(case, KIT, t + timedelta(hours=27, minutes=6), c.AssignCase(assignee=KIT.username))
    return case


def _hate_incident(s: _Story, t: datetime) -> UUID:
    """A helpline call at ``t``: escalated to a safeguarding lead, acknowledged, referred with
    consent, resolved, with weekly support calls agreed (the first is among the helpline day's
    contacts, ``application.demo_helpline``, and joins the case)."""
    case = s.open(
        ROWAN,
        t,
        subject=c.SubjectInput(
            kind=SubjectKind.CONTACT, ref="contact-7731", display_name="Anonymous caller"
        ),
        source=CaseSource.HELPLINE_CONTACT,
        category=Category.HATE_INCIDENT,
        summary="Caller describes racist abuse shouted at them at the same bus stop on two "
        "evenings this week by a group of young men.",
        risk_level=RiskLevel.HIGH,
        channel="helpline_phone",
    )
    s.record(
        case,
        ROWAN,
        t + timedelta(minutes=5),
        c.AddNote(
            kind=NoteKind.FACT,
            text="Caller said: 'They shouted at me to go back where I came from, and one of them "
            "spat at my feet.'",
        ),
    )
    s.record(
        case,
        ROWAN,
        t + timedelta(minutes=10),
        c.AssessRisk(
            level=RiskLevel.HIGH,
            rationale="Repeated targeting at a predictable place and time, escalating from "
            "words to spitting.",
        ),
    )
    escalation = s.record(
        case,
        ROWAN,
        t + timedelta(minutes=15),
        c.EscalateCase(
            level=EscalationLevel.SAFEGUARDING_LEAD,
            reason="Repeat hate incident with escalating behaviour; the caller is afraid to use "
            "the bus stop and wants to report it to the police.",
            urgency=Urgency.URGENT,
        ),
    )
    s.record(
        case,
        JUDE,
        t + timedelta(hours=1),
        c.AcknowledgeEscalation(
            escalation_id=escalation, note="Picked up; calling the caller back this afternoon."
        ),
    )
    referral = s.record(
        case,
        JUDE,
        t + timedelta(hours=3),
        c.MakeReferral(
            agency=POLICE,
            reason="Third-party hate crime report, made at the caller's request.",
            consent=Consent.GIVEN,
        ),
    )
    s.record(
        case,
        JUDE,
        t + timedelta(hours=5),
        c.UpdateReferral(
            referral_id=referral, status=ReferralUpdateStatus.ACKNOWLEDGED, reference="NP-DEMO-5120"
        ),
    )
    s.record(
        case,
        JUDE,
        t + timedelta(hours=5, minutes=10),
        c.ResolveEscalation(
            escalation_id=escalation,
            outcome="Reported to the police with consent; weekly call-backs agreed",
            rationale="The caller wanted police involvement and now has a crime reference; "
            "weekly call-backs support them while the police investigate.",
        ),
    )
    s.record(
        case,
        ROWAN,
        t + timedelta(hours=5, minutes=20),
        c.AddNote(
            kind=NoteKind.NOTE,
            text="Weekly support calls booked from the helpline; the caller prefers lunchtime.",
        ),
    )
    s.record(case, ROWAN, t + timedelta(hours=5, minutes=21), c.AssignCase(assignee=ROWAN.username))
    return case


def _medical_misinformation(s: _Story) -> UUID:
    """Unsafe health advice found by a filter: hidden, reviewed, removed; a note corrected."""
    t = s.now - timedelta(hours=30)
    case = s.open(
        OLA,
        t,
        subject=c.SubjectInput(kind=SubjectKind.CONTENT, ref="post-90114"),
        source=CaseSource.AUTOMATED,
        category=Category.MEDICAL_MISINFORMATION,
        summary="Post recommends stopping insulin and taking cinnamon capsules instead; the "
        "health-claims filter matched it.",
        risk_level=RiskLevel.HIGH,
        channel="forum",
    )
    s.record(
        case,
        OLA,
        t,
        c.RaiseFlag(
            reason="Health-claims filter: 'stop insulin' near 'cure'",
            category=Category.MEDICAL_MISINFORMATION,
            raised_by_ref="detector:health-claims",
            content_ref="post-90114",
        ),
    )
    s.record(
        case,
        OLA,
        t + timedelta(minutes=20),
        c.TakeModerationAction(
            action=ModerationAction.HIDE_CONTENT,
            target_ref="post-90114",
            rationale="Advice to stop insulin could seriously harm members with type 1 "
            "diabetes; hidden until the clinical lead has read it.",
            policy_ref=guideline("6.2"),
        ),
    )
    wrong = s.record(
        case,
        KIT,
        t + timedelta(hours=2),
        c.AddNote(
            kind=NoteKind.FACT, text="The poster (member-27590) has three previous warnings."
        ),
    )
    s.record(
        case,
        KIT,
        t + timedelta(hours=2, minutes=5),
        c.AddNote(
            kind=NoteKind.ASSESSMENT,
            text="The poster seems to believe the claim rather than be selling anything: "
            "explain and signpost to the nurse helpline rather than sanction.",
        ),
    )
    s.record(
        case,
        KIT,
        t + timedelta(hours=3),
        c.TakeModerationAction(
            action=ModerationAction.REMOVE_CONTENT,
            target_ref="post-90114",
            rationale="The clinical lead confirmed the claim is unsafe and contradicts NHS "
            "guidance; removed rather than edited.",
            policy_ref=guideline("6.2"),
        ),
    )
    s.record(
        case,
        KIT,
        t + timedelta(hours=3, minutes=5),
        c.TakeModerationAction(
            action=ModerationAction.WARN_MEMBER,
            target_ref="member-27590",
            rationale="Explained why the post was removed and pointed to the nurse helpline; "
            "a warning only, as this looks like a genuine belief.",
            policy_ref=guideline("6.2"),
        ),
    )
    s.record(
        case,
        KIT,
        t + timedelta(hours=4),
        c.CorrectRecord(
            corrects_event_id=wrong,
            correction="The poster has one previous warning (for off-topic posts); the other two "
            "belong to a different account with a similar name.",
            reason="Checked the moderation history again: I had read the wrong member's record.",
        ),
    )
    return case


def _spam(s: _Story) -> UUID:
    """Clear-cut spam: a ban proposed by a moderator, approved by a lead, and closed."""
    t = s.now - timedelta(hours=20)
    case = s.open(
        OLA,
        t,
        subject=c.SubjectInput(
            kind=SubjectKind.MEMBER, ref="member-90002", display_name="cheap-meds-4u"
        ),
        source=CaseSource.AUTOMATED,
        category=Category.SPAM,
        summary="New account posted the same link to an online pharmacy in 14 threads within "
        "ten minutes.",
        risk_level=RiskLevel.LOW,
        channel="forum",
    )
    s.record(
        case,
        OLA,
        t,
        c.RaiseFlag(
            reason="Spam filter: the same link in 14 posts",
            category=Category.SPAM,
            raised_by_ref="detector:spam",
        ),
    )
    # A ban takes effect only once a second safeguarding lead approves it (four-eyes).
    ban = s.record(
        case,
        OLA,
        t + timedelta(minutes=5),
        c.TakeModerationAction(
            action=ModerationAction.BAN_MEMBER,
            target_ref="member-90002",
            rationale="The account exists only to advertise unregulated medicines; it has no "
            "other posts.",
            policy_ref=guideline("2.3"),
        ),
    )
    s.record(
        case,
        PRIYA,
        t + timedelta(minutes=20),
        c.DecideApproval(
            approval_id=ban,
            decision=ApprovalDecision.APPROVED,
            rationale="Checked the 14 posts: a commercial spam account with no other activity, "
            "so a ban under clause 2.3 is proportionate.",
        ),
    )
    s.record(
        case,
        KIT,
        t + timedelta(hours=1),
        c.CloseCase(
            outcome="Account banned and its posts removed",
            rationale="Commercial spam with no safeguarding concern; nothing further to do.",
        ),
    )
    return case


def _account_issue(s: _Story) -> UUID:
    """A routine support request, open and assigned."""
    t = s.now - timedelta(hours=6)
    case = s.open(
        SAM,
        t,
        subject=c.SubjectInput(
            kind=SubjectKind.MEMBER, ref="member-12840", display_name="SunnyBoots"
        ),
        source=CaseSource.STAFF_CONCERN,
        category=Category.ACCOUNT_ISSUE,
        summary="Member emailed support: locked out after changing their email address, and "
        "asks us to merge their old and new accounts.",
        risk_level=RiskLevel.LOW,
        channel="email",
    )
    s.record(
        case,
        SAM,
        t + timedelta(minutes=10),
        c.AddNote(
            kind=NoteKind.NOTE,
            text="Asked the member to confirm from the old address before anything is merged.",
        ),
    )
    s.record(case, KIT, t + timedelta(minutes=40), c.AssignCase(assignee=OLA.username))
    return case
