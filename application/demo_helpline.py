"""A day of the helpline (issue 14): a dozen contacts, their quality reviews and follow-ups.

The hate-crime helpline (``HELPLINE``: Monday to Wednesday 08:00-14:00 Europe/London, its
coordinator ``rowan.coordinator``) on its latest day whose story is over (one of the
coordinator's days on the line; the others who take contacts are put on the line for it,
``RotaStory.plan_helpline_day``, so none of the day's contacts is an off-rota action): the
contacts of the day on every channel, anonymous and named callers, a safeguarding concern that
opens a case, a weekly support call that joins the demo's hate-incident case; the coordinator's
reviews that afternoon by the default scorecard (one failing its critical safeguarding item), a
lead's second review of one contact the next morning (a calibration pair), the handlers'
answers to their feedback (acknowledged, and one disputed, which a lead upholds); and the
follow-ups: a call-back reached at the second attempt, a referral made without the parent's
consent (its rationale and lawful basis), a multi-agency meeting two days later, an advocacy
letter, signposting. Some contacts are left unreviewed: the review queue has work in it.

**Recorded as it happened**, as the rota is (``application.demo_rota``): on the story clock,
moved to each moment before the write, with ``with_clock`` copies of the contact, case and
scorecard services (the write side refuses the future). The default scorecard is recorded
just before the first review needs it. A contact is logged a few minutes after it ended
(``occurred_at`` is when it began). The day is chosen so that its last follow-up (the meeting,
two days on) is over an hour before the present, whatever day the demo runs.

Every caller, name, agency and reference here is invented; display names say ``(demo)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from application.cases import CaseService
from application.contacts import ContactService, ContactWrite
from application.demo_rota import (
    HELPLINE,
    LONDON,
    OLA,
    PRIYA,
    ROWAN,
    SAM,
    SEED_ROTA,
    WEEKDAYS,
    DemoUser,
    StoryClock,
)
from application.quality import ScorecardService
from domain.calendar import CalendarHistory
from domain.case import commands as cc
from domain.case.vocabulary import (
    AgencyKind,
    Category,
    Consent,
    NoteKind,
    RiskLevel,
    SubjectKind,
)
from domain.contact import commands as c
from domain.contact.events import ContactReviewed, FollowUpScheduled
from domain.contact.vocabulary import (
    AttemptOutcome,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    DisputeOutcome,
    FollowUpKind,
    ParticipantRole,
)
from domain.quality.commands import DEFAULT_CRITERIA

INBOUND, OUTBOUND = ContactDirection.INBOUND, ContactDirection.OUTBOUND
ANONYMOUS = c.CallerInput(anonymous=True)
FRONT_DOOR = cc.AgencyInput(
    name="Northshire Children's Services front door (fictional)", kind=AgencyKind.MASH
)
LOOK_BACK_DAYS = 35
# Who takes the day's contacts (the coordinator's rota has them on the line on Mondays and
# Wednesdays; the others are put on it for the day: ``RotaStory.plan_helpline_day``).
HELPLINE_HANDLERS = (SAM, OLA, ROWAN)
# The weekdays the coordinator is on the line by the seed's rota: the day is one of them (on
# another, their own work would be off-rota, and a day's cover would take them over the cap).
COORDINATOR_DAYS = frozenset(
    WEEKDAYS.index(slot.weekday)
    for who, _, service, weekly in SEED_ROTA
    if who == ROWAN and service == HELPLINE
    for slot in weekly
)


def named(ref: str, display_name: str | None = None) -> c.CallerInput:
    return c.CallerInput(anonymous=False, ref=ref, display_name=display_name)


def _contact(
    channel: ContactChannel,
    caller: c.CallerInput,
    category: Category,
    outcome: ContactOutcome,
    summary: str,
    *,
    minutes: float | None = None,
    direction: ContactDirection = INBOUND,
    participants: tuple[c.ParticipantInput, ...] = (),
) -> c.LogContact:
    return c.LogContact(
        channel=channel,
        direction=direction,
        service=HELPLINE,
        duration_seconds=None if minutes is None else round(minutes * 60),
        caller=caller,
        participants=list(participants),
        category=category,
        summary=summary,
        outcome=outcome,
    )


# The day's contacts, in the order they came in (``occurred_at`` is given when they are logged).
PARENT_CALL = _contact(
    ContactChannel.CALL,
    named("caller-1088", "Marigold (demo)"),
    Category.HATE_INCIDENT,
    ContactOutcome.SAFEGUARDING_CONCERN,
    "Parent called: their 14-year-old has been followed home and pushed over twice by older "
    "pupils shouting homophobic abuse; last week one showed a knife. The parent does not want "
    "the school or social services told, fearing it will make things worse.",
    minutes=21,
)
STUDENT_CHAT = _contact(
    ContactChannel.CHAT,
    ANONYMOUS,
    Category.HARASSMENT,
    ContactOutcome.SIGNPOSTED,
    "Student sent slurs in a course group chat after saying they are bisexual. Talked through "
    "saving screenshots; signposted to the university's report-and-support service.",
    minutes=18,
)
TEXT_ASKING_FOR_A_CALL = _contact(
    ContactChannel.SMS,
    named("caller-1187", "Tansy (demo)"),
    Category.HATE_INCIDENT,
    ContactOutcome.CALL_BACK_ARRANGED,
    "Texted: neighbours' children shout racist names and kick the door most evenings. Asked "
    "for a call after 12:00, not before.",
)
BSL_RELAY_CALL = _contact(
    ContactChannel.BSL_VIDEO,
    named("caller-1203", "Heron (demo)"),
    Category.HATE_INCIDENT,
    ContactOutcome.INFORMATION_GIVEN,
    "Deaf caller, through a BSL video relay interpreter: mocked for signing and filmed on a "
    "bus by two passengers, the clip posted online. Explained how to report it to the police "
    "through the relay and to the platform.",
    minutes=38,
    participants=(
        c.ParticipantInput(
            role=ParticipantRole.INTERPRETER,
            name="Relay interpreter (demo)",
            agency="SignBridge Video Relay (fictional)",
        ),
    ),
)
TENANT_EMAIL = _contact(
    ContactChannel.EMAIL,
    named("caller-1219", "Sorrel (demo)"),
    Category.HATE_INCIDENT,
    ContactOutcome.OTHER,
    "Emailed: has reported racist abuse by a neighbour to their housing association three "
    "times since the spring with no reply; asks us to write in support.",
)
SILENT_CALL = _contact(
    ContactChannel.CALL,
    ANONYMOUS,
    Category.OTHER,
    ContactOutcome.SILENT,
    "Silent call: offered support twice and said we are here whenever they are ready; the "
    "line closed after 45 seconds.",
    minutes=0.75,
)
WEB_FORM_REPORT = _contact(
    ContactChannel.WEB_FORM,
    ANONYMOUS,
    Category.HATE_INCIDENT,
    ContactOutcome.OTHER,
    "Web form: antisemitic stickers on a bus shelter on the high street. No contact details "
    "left; recorded for the monthly incident report.",
)
COLLEAGUE_CALL = _contact(
    ContactChannel.CALL,
    named("caller-1042", "Wren (demo)"),
    Category.HARASSMENT,
    ContactOutcome.INFORMATION_GIVEN,
    "Months of racist remarks from a colleague; asked how to raise it with HR and with the "
    "police. Near the end said 'some days I don't see the point of any of it'. Gave the "
    "reporting routes and the employment advice line.",
    minutes=28,
)
LETTER_BY_POST = _contact(
    ContactChannel.LETTER,
    named("caller-1256", "Linnet (demo)"),
    Category.HATE_INCIDENT,
    ContactOutcome.INFORMATION_GIVEN,
    "Letter: shouted at in a post office queue about their accent and told to 'go home'; "
    "asks how to report it without the internet. Replied by letter with the reporting "
    "centre's phone number and postal address.",
)
DROP_IN_VISIT = _contact(
    ContactChannel.IN_PERSON,
    named("caller-1270", "Plover (demo)"),
    Category.HATE_INCIDENT,
    ContactOutcome.SIGNPOSTED,
    "At the community drop-in, with a friend: a taxi driver abused by passengers about his "
    "religion; wants support but not the police yet. Signposted to Northshire Victim Care "
    "(fictional) and the drivers' union's hate-crime scheme.",
    minutes=25,
    participants=(c.ParticipantInput(role=ParticipantRole.THIRD_PARTY),),
)
# The first of the weekly support calls agreed on the demo's hate-incident case: its caller is
# that case's subject (the same ref, so the same data subject), and the contact joins the case.
SUPPORT_CALL = _contact(
    ContactChannel.CALL,
    named("contact-7731"),
    Category.HATE_INCIDENT,
    ContactOutcome.INFORMATION_GIVEN,
    "Weekly support call: no abuse at the bus stop since the police spoke to the group; the "
    "caller now takes another route and feels safer. Next call in a week.",
    minutes=15,
    direction=OUTBOUND,
)
ABUSIVE_CHAT = _contact(
    ContactChannel.CHAT,
    ANONYMOUS,
    Category.OTHER,
    ContactOutcome.ABUSIVE,
    "Chat user sent slurs at the volunteer; warned once under the abusive-contact procedure, "
    "then the chat was ended.",
    minutes=5,
)
ADVOCACY_LETTER = (
    "To the Tenancy Services team, Northshire Homes (fictional)\n\n"
    "We write, with our caller's agreement, in support of one of your tenants, who has reported "
    "racist abuse by a neighbour to you three times since the spring without a reply. The abuse "
    "continues and is affecting their health and their use of their home.\n\n"
    "Please acknowledge the reports in writing, tell the tenant who is handling them, and "
    "explain what you will do under your anti-social behaviour and hate incident policy. We can "
    "attend a meeting with the tenant if that would help.\n\n"
    "Yours sincerely,\nThe helpline coordinator"
)


@dataclass(frozen=True)
class OnContact:
    """Something recorded on a contact (a review, a follow-up): the contact's id and its own."""

    contact_id: UUID
    id: UUID


@dataclass
class DemoHelpline:
    """What the helpline part of the demo recorded."""

    day: date
    contact_ids: list[UUID] = field(default_factory=list)  # in the order they came in
    opened_case_id: UUID | None = None  # the case the safeguarding concern opened
    joined_case_id: UUID | None = None  # the existing demo case a support call joined
    reviews: list[OnContact] = field(default_factory=list)
    failed_review: OnContact | None = None  # a critical safeguarding item at 0; disputed, upheld
    calibration: list[OnContact] = field(default_factory=list)  # two reviewers, one contact
    acknowledged: list[OnContact] = field(default_factory=list)  # by their handlers
    follow_ups: dict[FollowUpKind, OnContact] = field(default_factory=dict)


def local(day: date, clock_time: str, *, days: int = 0) -> datetime:
    """``clock_time`` (HH:MM, London) on ``day`` (plus ``days``), in UTC."""
    moment = datetime.combine(day + timedelta(days=days), time.fromisoformat(clock_time))
    return moment.replace(tzinfo=ZoneInfo(LONDON)).astimezone(UTC)


def helpline_day(helpline: CalendarHistory, now: datetime) -> date:
    """The latest day the helpline was open, its coordinator on the rota, whose story (the
    meeting two days on included) ended over an hour before ``now``."""
    today = now.astimezone(ZoneInfo(LONDON)).date()
    for days_back in range(LOOK_BACK_DAYS):
        day = today - timedelta(days=days_back)
        # The story's last moment: the meeting two days on, at 11:30.
        if local(day, "12:00", days=2) > now - timedelta(hours=1):
            continue
        if day.weekday() not in COORDINATOR_DAYS:
            continue
        if helpline.in_force(local(day, "00:00")).windows(day):
            return day
    raise LookupError(f"the helpline was not open in the {LOOK_BACK_DAYS} days before {today}")


def hate_case_opened(day: date) -> datetime:
    """When the demo's hate-incident case was opened from a helpline call: a week before the
    helpline's day, whose support call (the first of the weekly ones agreed) joins it."""
    return local(day, "08:10", days=-7)


class HelplineStory:
    """Records the helpline's day on the story clock."""

    def __init__(
        self,
        contacts: ContactService,
        cases: CaseService,
        scorecards: ScorecardService,
        clock: StoryClock,
        *,
        day: date,
    ) -> None:
        self.clock = clock
        self.contacts = contacts.with_clock(clock)
        self.cases = cases.with_clock(clock)
        self.scorecards = scorecards.with_clock(clock)
        self.day = day
        self.recorded = DemoHelpline(day=day)

    def at(self, clock_time: str, *, days: int = 0) -> datetime:
        return local(self.day, clock_time, days=days)

    # --- recording ------------------------------------------------------------------------------

    def log(self, who: DemoUser, began: str, logged: str, command: c.LogContact) -> UUID:
        """A contact that began at ``began``, logged by its handler at ``logged``."""
        self.clock.set(self.at(logged))
        command = command.model_copy(update={"occurred_at": self.at(began)})
        contact_id = self.contacts.log(command, who.actor).state.id
        self.recorded.contact_ids.append(contact_id)
        return contact_id

    def on(
        self, contact_id: UUID, who: DemoUser, when: str, command: c.ContactWrite, *, days: int = 0
    ) -> ContactWrite:
        """Record ``command`` on the contact at ``when`` (its ``occurred_at`` is that moment)."""
        self.clock.set(self.at(when, days=days))
        return self.contacts.execute(contact_id, command, who.actor)

    def review(
        self,
        contact_id: UUID,
        who: DemoUser,
        when: str,
        scores: tuple[int, int, int, int, int, int, int],
        feedback: str,
        rationale: str,
        *,
        days: int = 0,
    ) -> OnContact:
        """A review by the default scorecard, its criteria scored in the order it lists them:
        greeting, listening, risk asked, safeguarding escalation, information, signposting,
        record keeping."""
        keys = [criterion.key for criterion in DEFAULT_CRITERIA]
        command = c.ReviewContact(
            scores=dict(zip(keys, scores, strict=True)), feedback=feedback, rationale=rationale
        )
        [reviewed] = self.on(contact_id, who, when, command, days=days).events
        assert isinstance(reviewed, ContactReviewed)
        review = OnContact(contact_id, reviewed.review_id)
        self.recorded.reviews.append(review)
        return review

    def schedule(
        self, contact_id: UUID, who: DemoUser, when: str, command: c.ScheduleFollowUp
    ) -> OnContact:
        [scheduled] = self.on(contact_id, who, when, command).events
        assert isinstance(scheduled, FollowUpScheduled)
        follow_up = OnContact(contact_id, scheduled.follow_up_id)
        self.recorded.follow_ups[scheduled.kind] = follow_up
        return follow_up

    def on_case(self, case_id: UUID, who: DemoUser, when: str, command: cc.CaseCommand) -> None:
        self.clock.set(self.at(when))
        self.cases.execute(case_id, command, who.actor)

    # --- the day --------------------------------------------------------------------------------

    def run(self, hate_case_id: UUID) -> DemoHelpline:
        """The day as it went, in order: the contacts as they came in and the work they made;
        the coordinator's reviews once the line closed; the next two days."""
        concern = self.log(SAM, "08:04", "08:27", PARENT_CALL)
        case_id = self._open_case(concern)
        referral = self.schedule(concern, ROWAN, "08:50", self._referral())
        student = self.log(OLA, "08:31", "08:52", STUDENT_CHAT)
        texter = self.log(SAM, "08:47", "08:55", TEXT_ASKING_FOR_A_CALL)
        call_back = self.schedule(
            texter,
            ROWAN,
            "09:00",
            c.ScheduleFollowUp(
                kind=FollowUpKind.CALL_BACK,
                due_at=self.at("12:00"),
                assignee=SAM.username,
                detail="Call after 12:00 on the number the caller texted from. If there is no "
                "answer, leave no message naming the helpline (the caller asked).",
            ),
        )
        self.on(
            concern,
            ROWAN,
            "09:25",
            c.CompleteFollowUp(
                follow_up_id=referral.id,
                outcome="Referral made by phone and confirmed by secure email (MASH-DEMO-3307)",
                note="Told the parent we had made the referral and why; upset, but agreed to "
                "take a call from the duty social worker.",
            ),
        )
        self.on_case(
            case_id,
            ROWAN,
            "09:30",
            cc.AddNote(
                kind=NoteKind.NOTE,
                text="Referred to the children's services front door without the parent's "
                "consent (the contact's referral follow-up); they will call a strategy meeting.",
            ),
        )
        meeting = self.schedule(
            concern,
            ROWAN,
            "09:35",
            c.ScheduleFollowUp(
                kind=FollowUpKind.MULTI_AGENCY_MEETING,
                due_at=self.at("10:00", days=2),
                detail="Strategy meeting called by the front door for the day after tomorrow; "
                "the helpline attends with the record of the call.",
            ),
        )
        relay = self.log(OLA, "09:02", "09:45", BSL_RELAY_CALL)
        tenant = self.log(SAM, "09:50", "10:05", TENANT_EMAIL)
        letter = self.schedule(
            tenant,
            ROWAN,
            "10:10",
            c.ScheduleFollowUp(
                kind=FollowUpKind.ADVOCACY_LETTER,
                due_at=self.at("17:00", days=3),
                detail="Letter to Northshire Homes (fictional) in support of the tenant's three "
                "reports, with their agreement.",
            ),
        )
        self.log(OLA, "10:12", "10:14", SILENT_CALL)
        self.log(SAM, "10:26", "10:33", WEB_FORM_REPORT)
        missed_cue = self.log(SAM, "10:41", "11:12", COLLEAGUE_CALL)
        self.log(OLA, "11:15", "11:30", LETTER_BY_POST)
        self.on(
            texter,
            SAM,
            "12:04",
            c.RecordAttempt(
                follow_up_id=call_back.id,
                outcome=AttemptOutcome.NO_ANSWER,
                note="Rang out; no message left, as the caller asked.",
            ),
        )
        visitor = self.log(SAM, "11:35", "12:08", DROP_IN_VISIT)
        signposting = self.schedule(
            visitor,
            ROWAN,
            "12:15",
            c.ScheduleFollowUp(
                kind=FollowUpKind.SIGNPOSTING,
                due_at=self.at("16:00"),
                assignee=SAM.username,
                detail="Email the victim-care service's details and the union scheme's leaflet, "
                "as agreed at the drop-in.",
            ),
        )
        self.on(
            visitor,
            SAM,
            "12:40",
            c.CompleteFollowUp(
                follow_up_id=signposting.id,
                outcome="Details sent by email; the caller confirmed they arrived",
            ),
        )
        # The weekly support call agreed on the hate-incident case: the contact joins the case.
        support_call = self.log(
            ROWAN, "12:30", "12:48", SUPPORT_CALL.model_copy(update={"case_id": hate_case_id})
        )
        self.recorded.joined_case_id = hate_case_id
        self.on(
            texter,
            SAM,
            "13:05",
            c.RecordAttempt(
                follow_up_id=call_back.id,
                outcome=AttemptOutcome.REACHED,
                note="Talked for 20 minutes: the caller will keep a diary of incidents and "
                "report to their housing officer first.",
            ),
        )
        self.log(OLA, "13:20", "13:27", ABUSIVE_CHAT)
        self.on(
            texter,
            SAM,
            "13:35",
            c.CompleteFollowUp(
                follow_up_id=call_back.id,
                outcome="Caller supported; a diary sheet and the housing officer's reporting "
                "route sent by text",
            ),
        )
        self._reviews(concern, student, relay, tenant, missed_cue, support_call)
        self._next_days(letter, meeting)
        return self.recorded

    def _open_case(self, contact_id: UUID) -> UUID:
        """The handler opens a case from the contact; the coordinator assesses and takes it."""
        opened = self.on(
            contact_id,
            SAM,
            "08:29",
            c.LinkCase(
                open_case=c.CaseFromContact(
                    subject=cc.SubjectInput(
                        kind=SubjectKind.CONTACT, ref="caller-1088", display_name="Marigold (demo)"
                    ),
                    category=Category.HATE_INCIDENT,
                    summary="A 14-year-old followed, pushed over twice and shown a knife by older "
                    "pupils, with homophobic abuse, on the way home from school (reported by "
                    "their parent).",
                    risk_level=RiskLevel.MEDIUM,
                    channel="helpline_phone",
                    service=HELPLINE,
                )
            ),
        )
        case_id = opened.state.case_id
        assert case_id is not None
        self.recorded.opened_case_id = case_id
        self.on_case(
            case_id,
            ROWAN,
            "08:40",
            cc.AssessRisk(
                level=RiskLevel.HIGH,
                rationale="Repeated assaults on a child and a knife shown: a risk of significant "
                "harm on the way home from school.",
            ),
        )
        self.on_case(case_id, ROWAN, "08:41", cc.AssignCase(assignee=ROWAN.username))
        return case_id

    def _referral(self) -> c.ScheduleFollowUp:
        """The child's safety outweighs the parent's refusal: shared without consent, saying
        why and on what lawful basis (the case referral's rule)."""
        return c.ScheduleFollowUp(
            kind=FollowUpKind.REFERRAL,
            due_at=self.at("10:00"),
            detail="Refer the assaults and the knife to the children's services front door "
            "today; share the family's contact details and what the parent described, nothing "
            "more.",
            agency=FRONT_DOOR,
            consent=Consent.REFUSED,
            consent_rationale="The parent refused, fearing it would make things worse at "
            "school. A child has been assaulted twice and shown a knife: a risk of significant "
            "harm that outweighs the refusal. The parent was told we would share, what and why.",
            lawful_basis="UK GDPR Art 6(1)(f) and Art 9(2)(g); DPA 2018 Sch 1 para 18 "
            "(safeguarding of children and individuals at risk)",
        )

    def _reviews(
        self,
        concern: UUID,
        student: UUID,
        relay: UUID,
        tenant: UUID,
        missed_cue: UUID,
        support_call: UUID,
    ) -> None:
        """The coordinator's reviews once the line has closed (the default scorecard recorded
        just before the first); the next morning, the handlers' answers and a lead's reviews,
        one of them a second review of a contact already reviewed (a calibration)."""
        self.clock.set(self.at("14:25"))
        self.scorecards.record_default()
        first = self.review(
            concern,
            ROWAN,
            "14:30",
            (4, 4, 2, 2, 3, 3, 4),
            feedback="Calm and clear with a frightened parent: you asked about the knife and "
            "the child's safety straight away and raised it at once. Next time tell the "
            "parent more about what happens after a referral.",
            rationale="Risk asked about and escalated at once; the information on next steps "
            "could have been fuller.",
        )
        # A strong call but for one thing: the critical safeguarding item at 0 fails it.
        failed = self.review(
            missed_cue,
            ROWAN,
            "14:45",
            (4, 4, 0, 2, 4, 4, 4),
            feedback="A warm, patient call and the right reporting routes. When the caller said "
            "'some days I don't see the point of any of it' that was a cue to ask directly "
            "about suicide, and it was not asked. Please always ask after a cue like that.",
            rationale="Risk was not asked about after a possible cue of suicidal thoughts: a "
            "critical safeguarding item scored 0, so the review fails whatever the total.",
        )
        self.recorded.failed_review = failed
        calibrated = self.review(
            relay,
            ROWAN,
            "15:00",
            (4, 3, 2, 2, 3, 4, 3),
            feedback="Good use of the relay: you checked the interpreter had understood before "
            "giving the reporting routes. Offer the platform's reporting link in writing too.",
            rationale="Risk asked and information accurate; listening good, the record could "
            "say more about what was agreed.",
        )
        self.review(
            tenant,
            ROWAN,
            "15:15",
            (3, 3, 2, 2, 4, 3, 4),
            feedback="A prompt, clear reply. Ask whether the caller is safe at home now, not "
            "only about the housing association.",
            rationale="Accurate information and a clear record; rapport and safety questions "
            "in writing could go further.",
        )
        self.review(
            student,
            ROWAN,
            "15:25",
            (4, 4, 2, 2, 3, 4, 3),
            feedback="Warm and practical; the screenshot advice was spot on. Check the "
            "student knows the service's hours before the chat ends.",
            rationale="All safeguarding items met; minor gaps in information and the record.",
        )
        self.on(
            concern,
            SAM,
            "08:55",
            c.AcknowledgeFeedback(
                review_id=first.id, note="Thanks: I will explain the referral steps next time."
            ),
            days=1,
        )
        self.on(
            missed_cue,
            SAM,
            "09:05",
            c.DisputeFeedback(
                review_id=failed.id,
                reason="I heard it as frustration with the complaint process, not about "
                "themselves: they were calm and planning the HR meeting, so I did not take it "
                "as a cue.",
            ),
            days=1,
        )
        self.on(relay, OLA, "09:20", c.AcknowledgeFeedback(review_id=calibrated.id), days=1)
        second = self.review(
            relay,
            PRIYA,
            "09:30",
            (3, 3, 2, 2, 3, 3, 3),
            feedback="Good pace for a relay call and the right reporting routes. Summarise "
            "what the caller will do next before ending.",
            rationale="Calibration review: risk asked and information accurate; rapport, "
            "signposting and the record a little less complete than the first reviewer scored.",
            days=1,
        )
        self.recorded.calibration = [calibrated, second]
        support = self.review(
            support_call,
            PRIYA,
            "09:45",
            (4, 4, 2, 2, 4, 3, 4),
            feedback="A good support call: you checked the caller's safety and the police's "
            "progress. Agree the date of the next call before ending.",
            rationale="Every safeguarding item met; planning the next step could be more explicit.",
            days=1,
        )
        self.on(support_call, ROWAN, "10:10", c.AcknowledgeFeedback(review_id=support.id), days=1)
        self.recorded.acknowledged = [first, calibrated, support]

    def _next_days(self, letter: OnContact, meeting: OnContact) -> None:
        """The letter the next day; two days on, the dispute resolved and the meeting held."""
        self.on(
            letter.contact_id,
            ROWAN,
            "11:00",
            c.CompleteFollowUp(
                follow_up_id=letter.id,
                outcome="Letter sent by email and post to the housing association",
                letter_text=ADVOCACY_LETTER,
            ),
            days=1,
        )
        failed = self.recorded.failed_review
        assert failed is not None
        self.on(
            failed.contact_id,
            PRIYA,
            "10:00",
            c.ResolveDispute(
                review_id=failed.id,
                outcome=DisputeOutcome.UPHELD,
                rationale="The procedure asks directly about suicide after any cue of this kind, "
                "whatever the tone of the call: asking does no harm, and not asking can miss a "
                "risk. The review stands.",
            ),
            days=2,
        )
        self.on(
            meeting.contact_id,
            ROWAN,
            "11:30",
            c.CompleteFollowUp(
                follow_up_id=meeting.id,
                outcome="Safety plan agreed; the helpline's part is weekly support calls",
                attendees=[
                    c.AttendeeInput(name="Rowan, helpline coordinator", agency="The helpline"),
                    c.AttendeeInput(
                        name="Duty social worker (demo)",
                        agency="Northshire Children's Services (fictional)",
                    ),
                    c.AttendeeInput(
                        name="Neighbourhood officer (demo)", agency="Northshire Police (fictional)"
                    ),
                    c.AttendeeInput(
                        name="Head of year (demo)", agency="Northshire Academy (fictional)"
                    ),
                ],
                decisions=[
                    "The school supervises the young person's exit at the end of the day and "
                    "changes their route home from Monday.",
                    "The police speak to the older pupils and their parents about the knife.",
                    "The helpline offers the parent a weekly support call while the plan settles.",
                ],
                actions=[
                    c.ActionInput(
                        owner="Northshire Police (fictional)",
                        action="Visits to the older pupils' families",
                        due=self.day + timedelta(days=4),
                    ),
                    c.ActionInput(
                        owner="Northshire Academy (fictional)",
                        action="Supervised exit and new route home in place",
                        due=self.day + timedelta(days=5),
                    ),
                    c.ActionInput(
                        owner=ROWAN.username,
                        action="First weekly support call to the parent",
                        due=self.day + timedelta(days=7),
                    ),
                ],
            ),
            days=2,
        )
