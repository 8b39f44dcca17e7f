"""Community intake (issue 16): a Discourse forum's signed deliveries, its members' welcomes.

A delivery (``receive``) is checked before anything is read from it: the service's intake must
be configured, and its signature must be the HMAC-SHA256 of the raw body under the service's
secret (``infrastructure.discourse``). Then:

* an event type Vigil does not use (``ping`` among them) is answered ``ignored``: nothing written;
* a delivery whose event id was taken before is answered ``duplicate`` with the same content, and
  refused (``DeliveryReplayed``, 409) with other content; a delivery whose content was taken
  under another event id (Discourse's automatic retries get new ids) is answered ``duplicate``:
  either way nothing is written, so a retry never doubles a flag;
* otherwise what it says happened is decided and appended in one transaction with the delivery's
  own record (``DiscourseDeliveryAccepted``) and its content's (``DiscourseDeliveryContentSeen``):

  - a new account starts the member's welcome clock (``ForumMemberJoined``);
  - a topic or a topic's first post by a member awaiting their welcome is their first topic;
  - a post by a mapped account (the intake's table of forum accounts that are Vigil users') in
    a new member's first topic, or a private message from one to them (the delivery that names a
    message's recipient is its notification), welcomes them;
  - a flagged post raises a flag on the open case intake opened about its author, or opens one
    (source ``flag``, channel ``forum``, the post's link as ``content_ref``, a short excerpt of the
    post sealed in the case's words and nowhere else), recorded on the author's member stream;
  - topics and posts outside private messages are counted for engagement (on the delivery's
    record: category and day, never who or what).

Streams that two deliveries may both write (a member, a case) are versioned: the loser of a race
decides again (and a second flag on the same author joins the case the first opened).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from uuid import UUID, uuid5

from application.cases import CaseService
from application.idempotency import KeyedRequest, WriteKeys
from application.write_path import WritePath, Written
from domain.case.commands import OpenCase, RaiseFlag, SubjectInput
from domain.case.state import CaseState
from domain.case.vocabulary import CaseSource, CaseStatus, SubjectKind
from domain.community import decide as d
from domain.community.errors import (
    DeliveryNotAuthenticated,
    DeliveryReplayed,
    InvalidDelivery,
    MemberNotFound,
)
from domain.community.events import (
    ActivityKind,
    CommunityEvent,
    DeliveryEffect,
    ForumActivity,
    WelcomeWay,
)
from domain.community.forum import (
    FlaggedPost,
    ForumMessage,
    ForumPost,
    ForumTopic,
    Happening,
    NewForumUser,
    flag_concern,
    flag_label,
    post_link,
)
from domain.community.ids import (
    delivery_content_id,
    delivery_id,
    intake_id,
    member_ref,
    member_stream_id,
    named_member_ref,
    service_of_member_ref,
    topic_stream_id,
)
from domain.community.state import (
    ContentSeenState,
    DeliveryState,
    IntakeState,
    MemberState,
    TopicState,
    fold_content,
    fold_delivery,
    fold_intake,
    fold_member,
    fold_topic,
)
from domain.errors import InvalidCommand
from domain.idempotency import IdempotencyKeyUsed
from domain.identity.user import User
from domain.personal import ERASED
from domain.service.errors import ServiceNotFound
from domain.shared import Actor, DecisionContext, Role
from infrastructure.discourse import Delivery, PayloadError, parse, signature_matches
from infrastructure.event_log import EventLog

FORUM_CHANNEL = "forum"
MIN_SECRET = 16  # the shortest secret an intake is configured with (domain.community.decide)
# The roles whose forum accounts welcome new members: hosts (volunteers), moderators and
# coordinators, and leads; never a trustee's, an auditor's or an admin's alone.
WELCOMING_ROLES = frozenset(
    {Role.VOLUNTEER, Role.MODERATOR, Role.COORDINATOR, Role.SAFEGUARDING_LEAD}
)


class ServiceDirectory(Protocol):
    def exists(self, name: str) -> bool: ...


class UserDirectory(Protocol):
    def get(self, username: str) -> User | None: ...


class SlaPolicyRecording(Protocol):
    def default_recording(self) -> list[Any]: ...


@dataclass(frozen=True)
class DeliveryAnswer:
    """What became of a delivery: ``accepted`` (and its effects), ``duplicate`` (taken before:
    nothing written) or ``ignored`` (nothing Vigil uses: nothing written)."""

    status: Literal["accepted", "duplicate", "ignored"]
    delivery_id: UUID | None = None
    effects: tuple[DeliveryEffect, ...] = ()
    case_id: UUID | None = None
    position: int = 0


@dataclass(frozen=True)
class MemberWrite:
    member: MemberState
    events: Sequence[CommunityEvent]
    position: int = 0
    replayed: bool = False


@dataclass(frozen=True)
class IntakeWrite:
    intake: IntakeState
    events: Sequence[CommunityEvent]
    position: int = 0


@dataclass
class _Decided:
    """What deciding a delivery found (filled in by its decision, read by its answer)."""

    duplicate_of: UUID | None = None
    effects: tuple[DeliveryEffect, ...] = ()
    case_id: UUID | None = None


def _folder(
    fold: Callable[[Any, Iterable[Any]], Any],
) -> Callable[[Any, Iterable[Any]], Any]:
    def only_community(state: Any, events: Iterable[Any]) -> Any:
        return fold(state, (e for e in events if isinstance(e, CommunityEvent)))

    return only_community


def _version(state: Any) -> int:
    return int(state.version)


class CommunityService:
    """Intakes' settings, deliveries, and members' welcomes."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        clock: Callable[[], datetime],
        cases: CaseService,
        services: ServiceDirectory,
        users: UserDirectory,
        name_key: bytes,
        cases_of_subject: Callable[[str, str], Iterable[UUID]] | None = None,
        sla_policies: SlaPolicyRecording | None = None,
        max_clock_skew_seconds: int = 300,
        write_retries: int = 25,
        cache_size: int = 1024,
    ) -> None:
        self._event_log = event_log
        self._clock = clock
        self._cases = cases
        self._services = services
        self._users = users
        self._name_key = name_key
        # The cases bound to a data subject (the key table's bindings: a case opened by hand
        # about a forum member is found as one intake opened is).
        self._cases_of_subject = cases_of_subject
        self._policies = sla_policies
        self._max_skew = timedelta(seconds=max_clock_skew_seconds)
        self._keys = WriteKeys(event_log)

        def path(name: str, fold: Callable[[Any, Iterable[Any]], Any], size: int) -> Any:
            return WritePath[Any](
                event_log,
                name=name,
                fold=_folder(fold),
                version=_version,
                retries=write_retries,
                cache_size=size,
            )

        self._intakes = path("intake", fold_intake, 64)
        self._deliveries = path("delivery", fold_delivery, 0)
        self._contents = path("delivery content", fold_content, 0)
        self._members = path("member", fold_member, cache_size)
        self._topics = path("topic", fold_topic, cache_size)

    # --- an intake's settings -------------------------------------------------------------------

    def intake(self, service: str) -> IntakeState | None:
        """The service's intake (its secret unsealed), or None."""
        state: IntakeState | None = self._intakes.load(intake_id(service))
        return state

    def configure_discourse(
        self, service: str, command: d.ConfigureDiscourseIntake, actor: Actor
    ) -> IntakeWrite:
        """Set (or replace) the service's Discourse webhook secret."""
        self._check_service(service)
        return self._intake_write(
            service, lambda s, i, ctx: d.configure(s, i, service, command, ctx), actor
        )

    def link_account(self, service: str, command: d.LinkForumAccount, actor: Actor) -> IntakeWrite:
        """Map a forum account to a Vigil user (its posts then welcome new members)."""
        self._check_service(service)
        user = self._users.get(command.username)
        if user is None:
            raise InvalidCommand(
                f"no Vigil user {command.username!r}", errors={"username": "no such user"}
            )
        if not set(user.roles) & WELCOMING_ROLES:
            raise InvalidCommand(
                f"{command.username!r} is not a host, moderator, coordinator or safeguarding "
                "lead: only their forum accounts welcome new members",
                errors={"username": "holds no role that welcomes members"},
            )
        return self._intake_write(
            service, lambda s, i, ctx: d.link_account(s, i, service, command, ctx), actor
        )

    def unlink_account(
        self, service: str, command: d.UnlinkForumAccount, actor: Actor
    ) -> IntakeWrite:
        self._check_service(service)
        return self._intake_write(
            service, lambda s, i, ctx: d.unlink_account(s, i, service, command, ctx), actor
        )

    def _intake_write(
        self,
        service: str,
        decide: Callable[[IntakeState | None, UUID, DecisionContext], list[Any]],
        actor: Actor,
    ) -> IntakeWrite:
        stream = intake_id(service)

        def decide_now(state: IntakeState | None) -> list[Any]:
            return decide(state, stream, self._context(actor))

        def answer(written: Written[Any]) -> IntakeWrite:
            after = written.after or _empty_intake(stream, service)
            return IntakeWrite(after, written.events, written.position)

        result: IntakeWrite = self._intakes.write(stream, decide_now, answer)
        return result

    # --- a delivery -----------------------------------------------------------------------------

    def receive(self, service: str, delivery: Delivery, signature: str | None) -> DeliveryAnswer:
        """Take a delivery: checked, then decided and appended once (see the module's note)."""
        intake = self.intake(service)
        secret = None if intake is None else intake.secret
        # Fail closed: no intake, or a secret that cannot be read back as set (its key gone:
        # it would read "[erased]", which anyone could sign with), authenticates nothing.
        if intake is None or secret is None or len(secret) < MIN_SECRET or secret == ERASED:
            raise DeliveryNotAuthenticated("no Discourse intake is configured for this service")
        if not signature_matches(secret, delivery.body, signature):
            raise DeliveryNotAuthenticated(
                "the X-Discourse-Event-Signature is missing or is not the HMAC-SHA256 of the "
                "body under this service's secret"
            )
        try:
            happening = parse(delivery)
        except PayloadError as error:
            raise InvalidDelivery(error.detail, errors=error.errors) from None
        if happening is None:
            return DeliveryAnswer("ignored")
        if not delivery.event_id or len(delivery.event_id) > 64:
            raise InvalidDelivery(
                "X-Discourse-Event-Id is missing or too long",
                errors={"X-Discourse-Event-Id": "required, at most 64 characters"},
            )
        stream = delivery_id(service, delivery.event_id)
        content = delivery_content_id(service, delivery.digest)
        found = _Decided()

        def decide_now(state: DeliveryState | None) -> list[Any]:
            found.duplicate_of, found.effects, found.case_id = None, (), None
            if state is not None:
                return []  # the answer says which: the same delivery again, or another
            seen: ContentSeenState | None = self._contents.load(content)
            if seen is not None:
                found.duplicate_of = content
                return []
            ctx = self._context(d.intake_actor(service))
            others, effects, activity, case_id = self._effects(intake, happening, stream, ctx)
            if not others and activity is None:
                return []
            found.effects, found.case_id = tuple(effects), case_id
            at = happening.created_at
            return [
                *others,
                d.content_seen(
                    content,
                    service,
                    delivery=stream,
                    discourse_event_id=delivery.event_id,
                    at=at,
                    ctx=ctx,
                ),
                d.delivery_accepted(
                    stream,
                    service,
                    discourse_event_id=delivery.event_id,
                    event_type=delivery.event_type,
                    event_name=delivery.event_name,
                    body_sha256=delivery.body_sha256,
                    at=at,
                    effects=effects,
                    activity=activity,
                    case_id=case_id,
                    ctx=ctx,
                ),
            ]

        def answer(written: Written[Any]) -> DeliveryAnswer:
            before: DeliveryState | None = written.before
            if before is not None:
                if before.body_sha256 != delivery.body_sha256:
                    raise DeliveryReplayed(
                        f"the event id {delivery.event_id} was taken before with other content",
                        errors={"X-Discourse-Event-Id": "already used"},
                    )
                return DeliveryAnswer(
                    "duplicate",
                    before.id,
                    tuple(DeliveryEffect(e) for e in before.effects),
                    before.case_id,
                )
            if found.duplicate_of is not None:
                return DeliveryAnswer("duplicate")
            if not written.events:
                return DeliveryAnswer("ignored")
            return DeliveryAnswer(
                "accepted", stream, found.effects, found.case_id, written.position
            )

        result: DeliveryAnswer = self._deliveries.write(stream, decide_now, answer)
        return result

    def _effects(
        self,
        intake: IntakeState,
        happening: Happening,
        delivery: UUID,
        ctx: DecisionContext,
    ) -> tuple[list[Any], list[DeliveryEffect], ForumActivity | None, UUID | None]:
        """The events a delivery's happening makes of members, topics and cases (decided on
        their current states), its effects, what it counts for engagement, and its case."""
        service = intake.service
        events: list[Any] = []
        effects: list[DeliveryEffect] = []
        activity: ForumActivity | None = None
        case_id: UUID | None = None
        if isinstance(happening, NewForumUser):
            member = self._member(member_ref(service, happening.forum_user_id))
            stream = member_stream_id(member_ref(service, happening.forum_user_id))
            joined = d.join(member, stream, service, happening, delivery, ctx)
            if joined:
                # The welcome clock is judged by the SLA policy: its first version is recorded
                # with the first clock started, as with a case's or a contact's.
                events += self._policies.default_recording() if self._policies else []
                events += joined
                effects.append(DeliveryEffect.MEMBER_JOINED)
        elif isinstance(happening, ForumTopic):
            if not happening.private:
                activity = d.activity_of(
                    ActivityKind.TOPIC,
                    topic_id=happening.topic_id,
                    post_id=None,
                    category_id=happening.category_id,
                    category=happening.category,
                )
                effects.append(DeliveryEffect.ACTIVITY_COUNTED)
                events += self._first_topic(
                    service,
                    happening.forum_user_id,
                    happening.topic_id,
                    happening.created_at,
                    delivery,
                    ctx,
                    effects,
                )
        elif isinstance(happening, ForumPost):
            if not happening.private:
                activity = d.activity_of(
                    ActivityKind.POST,
                    topic_id=happening.topic_id,
                    post_id=happening.post_id,
                    category_id=happening.category_id,
                    category=happening.category,
                )
                effects.append(DeliveryEffect.ACTIVITY_COUNTED)
                if happening.post_number == 1:
                    events += self._first_topic(
                        service,
                        happening.forum_user_id,
                        happening.topic_id,
                        happening.created_at,
                        delivery,
                        ctx,
                        effects,
                    )
                else:
                    events += self._reply_welcome(intake, happening, delivery, ctx, effects)
        elif isinstance(happening, ForumMessage):
            welcomer = intake.accounts.get(happening.sender_username.lower())
            if welcomer is not None:
                member = self._member(member_ref(service, happening.recipient_user_id))
                link = (
                    f"{(intake.forum_url or '').rstrip('/')}/t/{happening.topic_id}/"
                    f"{happening.post_number or 1}"
                    if happening.topic_id is not None
                    else None
                )
                welcomed = d.welcome_on_forum(
                    member,
                    how=WelcomeWay.MESSAGE,
                    welcomed_by=welcomer,
                    post_ref=link,
                    at=happening.created_at,
                    delivery=delivery,
                    ctx=ctx,
                )
                if welcomed:
                    events += welcomed
                    effects.append(DeliveryEffect.MEMBER_WELCOMED)
        elif isinstance(happening, FlaggedPost):
            flagged, effect, case_id = self._flag(intake, happening, delivery, ctx)
            events += flagged
            effects.append(effect)
        return events, effects, activity, case_id

    def _member(self, ref: str) -> MemberState | None:
        state: MemberState | None = self._members.load(member_stream_id(ref))
        return state

    def _first_topic(
        self,
        service: str,
        forum_user_id: int,
        topic: int,
        at: datetime,
        delivery: UUID,
        ctx: DecisionContext,
        effects: list[DeliveryEffect],
    ) -> list[Any]:
        member = self._member(member_ref(service, forum_user_id))
        started = d.start_topic(member, topic, at, delivery, ctx)
        if started:
            effects.append(DeliveryEffect.FIRST_TOPIC)
        return list(started)

    def _reply_welcome(
        self,
        intake: IntakeState,
        post: ForumPost,
        delivery: UUID,
        ctx: DecisionContext,
        effects: list[DeliveryEffect],
    ) -> list[Any]:
        welcomer = intake.accounts.get(post.username.lower())
        if welcomer is None:
            return []
        topic: TopicState | None = self._topics.load(topic_stream_id(intake.service, post.topic_id))
        if topic is None:
            return []
        member: MemberState | None = self._members.load(topic.member_id)
        if member is None or member.forum_user_id == post.forum_user_id:
            return []
        welcomed = d.welcome_on_forum(
            member,
            how=WelcomeWay.REPLY,
            welcomed_by=welcomer,
            post_ref=post_link(intake.forum_url, post.post_id),
            at=post.created_at,
            delivery=delivery,
            ctx=ctx,
        )
        if welcomed:
            effects.append(DeliveryEffect.MEMBER_WELCOMED)
        return list(welcomed)

    def _author_ref(self, service: str, flag: FlaggedPost) -> tuple[str, int | None]:
        if flag.author_user_id is not None:
            return member_ref(service, flag.author_user_id), flag.author_user_id
        name = (flag.author_username or "").lower()
        digest = hmac.new(self._name_key, f"{service}\n{name}".encode(), hashlib.sha256)
        return named_member_ref(service, digest.hexdigest()[:32]), None

    def _flag(
        self, intake: IntakeState, flag: FlaggedPost, delivery: UUID, ctx: DecisionContext
    ) -> tuple[list[Any], DeliveryEffect, UUID]:
        """A flag on the open case intake opened about the post's author, or a case opened."""
        service = intake.service
        ref, forum_user_id = self._author_ref(service, flag)
        stream = member_stream_id(ref)
        member: MemberState | None = self._members.load(stream)
        category, risk = flag_concern(flag.flag_type)
        label = flag_label(flag.flag_type)
        link = post_link(intake.forum_url, flag.post_id)
        flagger = (
            member_ref(service, flag.flagged_by_user_id)
            if flag.flagged_by_user_id is not None
            else None
        )
        actor = ctx.actor
        at = d.forum_moment(flag.created_at, ctx)
        open_case = self._open_case(service, ref, member)
        if open_case is not None:
            raise_flag = RaiseFlag(
                occurred_at=_outside_closures(open_case, at),
                reason=f"A post was flagged on the forum: {label}",
                category=category,
                raised_by_ref=flagger,
                content_ref=link,
                note=flag.excerpt,
            )
            flagged = self._cases.decided(open_case.id, raise_flag, actor)
            return flagged, DeliveryEffect.FLAG_RAISED, open_case.id
        case_id = uuid5(delivery, "case")
        summary = f"A post was flagged on the forum: {label}."
        if flag.excerpt:
            summary += f' The post began: "{flag.excerpt}"'
        opening = OpenCase(
            occurred_at=at,
            subject=SubjectInput(
                kind=SubjectKind.MEMBER, ref=ref, display_name=flag.author_username or None
            ),
            source=CaseSource.FLAG,
            category=category,
            summary=summary,
            risk_level=risk,
            channel=FORUM_CHANNEL,
            service=service,
            content_ref=link,
        )
        opened = self._cases.decided(case_id, opening, actor)
        remembered = d.case_opened_about(
            member, stream, service, ref, forum_user_id, case_id, flag.created_at, delivery, ctx
        )
        return [*opened, *remembered], DeliveryEffect.CASE_OPENED, case_id

    def _open_case(self, service: str, ref: str, member: MemberState | None) -> CaseState | None:
        """The open case about the member in this service most recently opened: one intake
        opened (their stream remembers it) or one opened by hand about the same subject."""
        candidates = set(member.case_ids if member else ())
        if self._cases_of_subject is not None:
            candidates |= set(self._cases_of_subject(SubjectKind.MEMBER.value, ref))
        found = []
        for case_id in candidates:
            case: CaseState | None = self._cases.load(case_id)
            if (
                case is not None
                and case.status != CaseStatus.CLOSED
                and case.service == service
                and (case.subject.kind, case.subject.ref) == (SubjectKind.MEMBER, ref)
            ):
                found.append(case)
        return max(found, key=lambda c: (c.opened_at, str(c.id)), default=None)

    # --- a member's welcome recorded by hand ----------------------------------------------------

    def member(self, ref: str) -> MemberState | None:
        return self._member(ref)

    def member_events(self, ref: str) -> list[Any]:
        """A member's own records, decrypted where not erased (a subject access export)."""
        return [
            e
            for e in self._event_log.events_of(member_stream_id(ref))
            if isinstance(e, CommunityEvent)
        ]

    def record_welcome(
        self,
        ref: str,
        service: str,
        command: d.RecordWelcome,
        actor: Actor,
        *,
        request: KeyedRequest | None = None,
    ) -> MemberWrite:
        """Record a welcome made outside the forum (404 for a member not of this service)."""
        if service_of_member_ref(ref) != service:
            raise MemberNotFound(f"no member {ref!r} in the service {service!r}")
        stream = member_stream_id(ref)

        def decide_now(state: MemberState | None) -> list[Any]:
            return list(d.record_welcome(state, command, self._context(actor)))

        def answer(written: Written[Any]) -> MemberWrite:
            assert written.after is not None
            return MemberWrite(written.after, written.events, written.position)

        result: MemberWrite = self._members.write(
            stream,
            decide_now,
            answer,
            recall=self._keys.recall(actor.username, request, self._replay),
        )
        return result

    def _replay(self, earlier: IdempotencyKeyUsed) -> MemberWrite:
        events = [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, CommunityEvent)
        ]
        state = fold_member(None, events)
        assert state is not None
        position = (
            self._event_log.notification_id_of(earlier.target_id, earlier.target_version) or 0
        )
        return MemberWrite(state, events[-1:], position, replayed=True)

    # --- shared ---------------------------------------------------------------------------------

    def _check_service(self, service: str) -> None:
        if not self._services.exists(service):
            raise ServiceNotFound(f"no service {service!r}")

    def _context(self, actor: Actor) -> DecisionContext:
        return DecisionContext(actor=actor, now=self._clock(), max_clock_skew=self._max_skew)


def _outside_closures(case: CaseState, at: datetime) -> datetime:
    """A flag's moment as the case can take it: not before the case opened, and not while it
    was closed (a flag delivered late, made while the case was closed, is dated at the
    reopening: the case was not open to take it before)."""
    moment = max(at, case.opened_at)
    for period in case.closed_periods:
        if period.contains(moment):
            moment = period.reopened_at
    return moment


def _empty_intake(stream: UUID, service: str) -> IntakeState:
    return IntakeState(id=stream, version=0, service=service)
