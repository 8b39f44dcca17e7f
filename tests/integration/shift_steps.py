"""Shift events for the read side's property tests: a few people's shifts planned, covered,
cancelled, attended and handed over while the case histories are written, so the generated
logs hold shift events among the case events (``test_projection_properties.py``).

A step is (intention, n, minutes): what to do, to which shift or with which person (n picks
one), and how far the clock moves on first. A step the domain refuses writes nothing.
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
from tests.shift_writer import ShiftWriter

PEOPLE = (
    Actor(username="casey", role=Role.COORDINATOR),
    Actor(username="lee", role=Role.SAFEGUARDING_LEAD),
    Actor(username="kit", role=Role.VOLUNTEER),
)
LEAD = PEOPLE[1]
ROLES = ("on_call", "moderator", "host", "coordinator", "helpline")
INTENTIONS = (
    "plan",
    "plan",
    "cover",
    "swap",
    "cancel",
    "check_in",
    "check_in",
    "check_in",
    "late_check_in",
    "check_out",
    "forgotten_check_out",
    "hand_over",
    "hand_over",
    "hand_over",
    "hand_over",
    "acknowledge",
    "acknowledge",
    "acknowledge",
)

ShiftStep = tuple[str, int, int]
shift_steps = st.lists(
    st.tuples(st.sampled_from(INTENTIONS), st.integers(0, 7), st.integers(0, 90)),
    min_size=4,
    max_size=16,
)


@dataclass
class ShiftSteps:
    """Writes shift steps on a Vigil container's log as its clock moves on."""

    vigil: Vigil
    clock: Clock
    case_ids: list[UUID] = field(default_factory=list)
    shifts: list[UUID] = field(default_factory=list)
    handovers: list[tuple[UUID, UUID, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.writer = ShiftWriter(self.vigil)

    def write(self, step: ShiftStep) -> None:
        name, n, minutes = step
        now = self.clock.advance(minutes=minutes)
        person = PEOPLE[n % len(PEOPLE)]
        try:
            if name == "plan" or not self.shifts:
                start = now + timedelta(minutes=5 * n)
                self.shifts.append(
                    self.writer.plan(
                        person.username,
                        start,
                        start + timedelta(minutes=60 + 3 * minutes),
                        role=ROLES[n % len(ROLES)],
                        by=LEAD,
                    )
                )
                return
            shift_id = self.shifts[n % len(self.shifts)]
            if name in ("check_out", "forgotten_check_out", "hand_over"):
                attended = [s for s in self.shifts if self._open(s)]
                shift_id = attended[n % len(attended)] if attended else shift_id
            state = self.writer.path.load(shift_id)
            assert state is not None
            if name == "cover":
                middle = state.starts_at + (state.ends_at - state.starts_at) / 2
                self.writer.reassign(shift_id, person.username, from_at=middle, by=LEAD)
            elif name == "swap":
                self.writer.reassign(shift_id, person.username, by=LEAD)
            elif name == "cancel":
                self.writer.cancel(shift_id, by=LEAD)
            elif name in ("check_in", "late_check_in"):
                # Within the shift (logged late when the shift is over: still allowed).
                back = timedelta(minutes=minutes // 3) if name == "late_check_in" else timedelta()
                last = state.ends_at - timedelta(minutes=1)
                occurred = min(max(now - back, state.starts_at), last, now)
                who = state.assignee_at(occurred) or state.assignee
                self.writer.check_in(shift_id, _actor(who), occurred_at=occurred)
            elif name in ("check_out", "forgotten_check_out"):
                open_ = state.open_check_ins()
                if not open_:
                    return
                if name == "check_out":
                    self.writer.check_out(shift_id, _actor(open_[0].person))
                else:
                    self.writer.check_out(shift_id, LEAD, on_behalf_of=open_[0].person)
            elif name == "hand_over":
                open_ = state.open_check_ins()
                if not open_:
                    return
                giver = open_[0].person
                to = None if n % 3 == 0 else next(p.username for p in PEOPLE if p.username != giver)
                cases = self.case_ids[: n % 3]
                handover = self.writer.hand_over(shift_id, _actor(giver), case_ids=cases, to=to)
                self.handovers.append((shift_id, handover, to))
            elif name == "acknowledge" and self.handovers:
                shift_of, handover, to = self.handovers[n % len(self.handovers)]
                self.writer.acknowledge(shift_of, handover, _actor(to or person.username))
        except DomainError:
            return  # refused: nothing written

    def _open(self, shift_id: UUID) -> bool:
        state = self.writer.path.load(shift_id)
        return state is not None and bool(state.open_check_ins())


def _actor(username: str) -> Actor:
    return next(
        (p for p in PEOPLE if p.username == username), Actor(username=username, role=Role.VOLUNTEER)
    )
