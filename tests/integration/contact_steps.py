"""Helpline contact events for the read side's property tests: contacts logged (anonymous and
named, sometimes late), linked to the histories' cases, reviewed (passed, failed on a
safeguarding criterion, calibrated), their feedback acknowledged, disputed and resolved, their
safeguarding fails looked at by a lead, and their follow-ups scheduled, attempted and completed,
while the case histories are written (``test_projection_properties.py``).

A step is (intention, n, minutes): what to do, to which contact (n picks one) and how far the
clock moves on first. A step the domain refuses writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from hypothesis import strategies as st

from domain.errors import DomainError
from domain.shared import Actor, Role
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.contact_writer import (
    ALEX,
    CASEY,
    GOOD,
    KIT,
    LEE,
    MISSED_RISK,
    ROBIN,
    ContactWriter,
)

HANDLERS = (KIT, ALEX, CASEY)
REVIEWERS = (CASEY, ROBIN, LEE)
CHANNELS = ("call", "chat", "sms", "email", "web_form", "bsl_video", "letter", "in_person")
OUTCOMES = ("information_given", "safeguarding_concern", "referral_made", "signposted")
KINDS = ("call_back", "advocacy_letter", "referral", "signposting", "multi_agency_meeting")
INTENTIONS = (
    "log",
    "log",
    "log_named",
    "log_late",
    "link",
    "review",
    "review",
    "review_fail",
    "acknowledge",
    "dispute",
    "resolve",
    "look",
    "follow_up",
    "follow_up",
    "attempt",
    "complete",
)

ContactStep = tuple[str, int, int]
contact_steps = st.lists(
    st.tuples(st.sampled_from(INTENTIONS), st.integers(0, 7), st.integers(0, 90)),
    min_size=4,
    max_size=16,
)


@dataclass
class ContactSteps:
    """Writes contact steps on a Vigil container's log as its clock moves on."""

    vigil: Vigil
    clock: Clock
    case_ids: list[UUID] = field(default_factory=list)
    contacts: list[UUID] = field(default_factory=list)
    reviews: list[tuple[UUID, UUID]] = field(default_factory=list)
    follow_ups: list[tuple[UUID, UUID]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.writer = ContactWriter(self.vigil)

    def write(self, step: ContactStep) -> None:
        name, n, minutes = step
        now = self.clock.advance(minutes=minutes)
        handler = HANDLERS[n % len(HANDLERS)]
        try:
            if name.startswith("log") or not self.contacts:
                self.contacts.append(
                    self.writer.log(
                        handler,
                        channel=CHANNELS[n % len(CHANNELS)],
                        outcome=OUTCOMES[(n + minutes) % len(OUTCOMES)],
                        caller=(
                            {"anonymous": False, "ref": f"caller-{n % 3}"}
                            if name == "log_named"
                            else None
                        ),
                        occurred_at=now - timedelta(hours=n) if name == "log_late" else None,
                    )
                )
                return
            contact_id = self.contacts[n % len(self.contacts)]
            if name == "link" and self.case_ids:
                self.writer.link(contact_id, self.case_ids[n % len(self.case_ids)], CASEY)
            elif name in ("review", "review_fail"):
                scores = MISSED_RISK if name == "review_fail" else GOOD
                reviewer = REVIEWERS[(n + minutes) % len(REVIEWERS)]
                self.reviews.append((contact_id, self.writer.review(contact_id, reviewer, scores)))
            elif name in ("acknowledge", "dispute", "resolve", "look") and self.reviews:
                of, review_id = self.reviews[n % len(self.reviews)]
                state = self.writer.path.load(of)
                assert state is not None
                by = _handler(state.handled_by)
                if name == "acknowledge":
                    self.writer.acknowledge(of, review_id, by)
                elif name == "dispute":
                    self.writer.dispute(of, review_id, by)
                elif name == "resolve":
                    self.writer.resolve(of, review_id, "upheld" if n % 2 else "revised", LEE)
                else:
                    self.writer.look(of, review_id)
            elif name == "follow_up":
                due = now + timedelta(hours=n * 5)
                kind = KINDS[n % len(KINDS)]
                if kind == "multi_agency_meeting":
                    kind = "call_back"  # its completion needs a meeting's record
                follow_up = self.writer.follow_up(contact_id, due, kind=kind, assignee="casey")
                self.follow_ups.append((contact_id, follow_up))
            elif name in ("attempt", "complete") and self.follow_ups:
                of, follow_up_id = self.follow_ups[n % len(self.follow_ups)]
                if name == "attempt":
                    self.writer.attempt(of, follow_up_id, "no_answer" if n % 2 else "reached")
                else:
                    self.writer.complete(of, follow_up_id)
        except DomainError:
            return  # refused: nothing written


def _handler(username: str) -> Actor:
    return next(
        (h for h in HANDLERS if h.username == username),
        Actor(username=username, role=Role.VOLUNTEER),
    )
