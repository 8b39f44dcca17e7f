"""Who counts as a second person, as stories (issue 11, finding 2, after its audit).

Each side of a rule that needs two people is a person and everyone behind them: whoever issued
their credential, whoever gave one of their roles alone, and so on back along each chain. The
two sides must not meet: not two leads whose credentials one admin issued, not a lead at the
end of a chain of admins one admin started, not a reviewer who issued the decider's token.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.access.permissions import reads_case_content
from domain.case import events as e
from domain.case.vocabulary import Consent, ModerationAction, ReviewOutcome, RiskLevel
from domain.errors import NotPermitted, RuleViolation
from domain.identity import user as users
from domain.identity.events import IdentityEvent, RoleGrantRequested
from domain.identity.user import User, persons_behind, project_user, roles_given_alone
from domain.shared import Actor, Role, Username, stand_apart
from tests.story import (
    COORDINATOR,
    LEAD,
    MONDAY_NIGHT,
    OTHER_LEAD,
    TUESDAY_MORNING,
    Story,
    assess_risk,
    decide_approval,
    moderate,
    ooh_decision,
    refer,
    review,
    review_referral,
)
from tests.unit.test_identity_decisions import NOW

HOST = "cli"  # the host operator: not a person
HOUR = timedelta(hours=1)
THIRD_LEAD = Actor(username="lin", role=Role.SAFEGUARDING_LEAD)


class Directory:
    """Users' records as the identity events build them, found by name (as sign-in does)."""

    def __init__(self) -> None:
        self.histories: dict[str, list[IdentityEvent]] = {}

    def user(self, name: str) -> User:
        found = self.load(name)
        assert found is not None
        return found

    def load(self, name: str) -> User | None:
        return project_user(None, self.histories.get(name, []))

    def record(self, name: str, *events: IdentityEvent) -> None:
        self.histories.setdefault(name, []).extend(events)

    def enrol(self, name: str, role: Role, *, by: Actor | str) -> None:
        event = users.register(
            None,
            name,
            role,
            by=by,
            reads_cases=reads_case_content(role),
            grant_id=uuid4(),
            event_id=uuid4(),
            now=NOW,
        )
        self.record(name, event)

    def approve_enrolment(self, name: str, *, by: Actor) -> None:
        [grant] = self.user(name).pending_grants.values()
        self.record(name, *self.decide(name, grant.grant_id, by=by))

    def decide(self, name: str, grant_id: UUID, *, by: Actor) -> list[IdentityEvent]:
        user = self.user(name)
        requester = self.user(user.pending_grants[str(grant_id)].requested_by)
        return users.decide_role_grant(
            user,
            grant_id,
            "approved",
            by=by,
            event_ids=(uuid4(), uuid4()),
            now=NOW,
            requester_behind=persons_behind(requester, requester.tokens, self.load),
            grantee_behind=persons_behind(user, user.tokens, self.load),
        )

    def issue(self, name: str, *, by: Actor | str) -> users.IssuedToken:
        token_id = uuid4()
        event = users.issue_token(
            self.user(name), by=by, token_id=token_id, secret="s3cret", event_id=uuid4(), now=NOW
        )
        self.record(name, event)
        token = self.user(name).token(token_id)
        assert token is not None
        return token

    def sign_in(self, name: str, token: users.IssuedToken | None) -> Actor:
        """As sign-in does: the user with that credential and everyone behind it."""
        user = self.user(name)
        actor = user.actor(
            token, behind=persons_behind(user, [] if token is None else [token], self.load)
        )
        assert actor is not None
        return actor


def staff() -> tuple[Directory, Actor]:
    """An admin and a lead the host operator enrolled, each with a token of the host's."""
    people = Directory()
    for name, role in (("ada.admin", Role.ADMIN), ("priya.lead", Role.SAFEGUARDING_LEAD)):
        people.enrol(name, role, by=HOST)
    priya = people.sign_in("priya.lead", people.issue("priya.lead", by=HOST))
    return people, priya


# --- the persons behind a sign-in -------------------------------------------------------------


def test_the_host_operator_is_no_one_behind_a_user() -> None:
    _, priya = staff()

    assert priya.behind == frozenset()
    assert stand_apart("ada.admin", (), priya.username, priya.behind)


def test_a_chain_of_admin_accounts_leads_back_to_the_admin_who_started_it() -> None:
    # Given Ada enrols admin Xavier and his first token, then, signed in as Xavier, enrols
    # admin Yuri and his first token,
    people, _ = staff()
    ada = people.sign_in("ada.admin", people.issue("ada.admin", by=HOST))
    people.enrol("xavier.admin", Role.ADMIN, by=ada)
    as_xavier = people.sign_in("xavier.admin", people.issue("xavier.admin", by=ada))
    people.enrol("yuri.admin", Role.ADMIN, by=as_xavier)
    as_yuri = people.sign_in("yuri.admin", people.issue("yuri.admin", by=as_xavier))

    # then Ada is behind Yuri, two steps back, and Yuri is no second person beside her.
    assert as_yuri.behind == {"xavier.admin", "ada.admin"}
    assert not as_yuri.stands_apart_from("ada.admin")


def test_a_chain_of_admins_cannot_approve_the_lead_role_its_first_admin_asks_for_herself() -> None:
    people, priya = staff()
    ada = people.sign_in("ada.admin", people.issue("ada.admin", by=HOST))
    people.enrol("xavier.admin", Role.ADMIN, by=ada)
    as_xavier = people.sign_in("xavier.admin", people.issue("xavier.admin", by=ada))
    people.enrol("yuri.admin", Role.ADMIN, by=as_xavier)
    as_yuri = people.sign_in("yuri.admin", people.issue("yuri.admin", by=as_xavier))
    asked = users.grant_role(
        people.user("ada.admin"),
        Role.SAFEGUARDING_LEAD,
        by=ada,
        reads_cases=True,
        grant_id=uuid4(),
        event_id=uuid4(),
        now=NOW,
    )
    people.record("ada.admin", asked)
    assert isinstance(asked, RoleGrantRequested)
    grant_id = asked.grant_id

    with pytest.raises(RuleViolation, match="second person"):
        people.decide("ada.admin", grant_id, by=as_yuri)
    # A lead with a credential of their own is a second person.
    [_, granted] = people.decide("ada.admin", grant_id, by=priya)
    assert granted.actor == "priya.lead"


def test_who_gave_a_role_alone_is_behind_its_holder_and_so_is_whoever_is_behind_them() -> None:
    people, _ = staff()
    ada = people.sign_in("ada.admin", people.issue("ada.admin", by=HOST))
    people.enrol("xavier.admin", Role.ADMIN, by=ada)  # an admin role takes effect at once
    people.enrol("yuri.admin", Role.ADMIN, by=people.sign_in("xavier.admin", None))

    # Yuri signs in through single sign-on: no credential anyone issued, but roles given alone.
    assert people.sign_in("yuri.admin", None).behind == {"xavier.admin", "ada.admin"}


# --- finding 1: four-eyes by one admin ---------------------------------------------------------


def test_two_leads_whose_first_credentials_one_admin_issued_are_not_two_people() -> None:
    # Given Ada enrolled two leads (Priya approved each role) and issued both first credentials,
    people, priya = staff()
    ada = people.sign_in("ada.admin", people.issue("ada.admin", by=HOST))
    leads = {}
    for name in ("lee.lead", "lou.lead"):
        people.enrol(name, Role.SAFEGUARDING_LEAD, by=ada)
        people.approve_enrolment(name, by=priya)
        leads[name] = people.sign_in(name, people.issue(name, by=ada))
    story = Story.opened()
    request = story.given(
        moderate(ModerationAction.BAN_MEMBER, "member-4411"), by=leads["lee.lead"]
    )

    # when the ban asked for as Lee is approved as Lou, then it is refused.
    story.refuses(
        decide_approval(request.event_id), RuleViolation, by=leads["lou.lead"], match="second"
    )
    assert isinstance(request, e.ApprovalRequested)
    assert request.actor_behind == ["ada.admin"]
    [decided, _] = story.when(decide_approval(request.event_id), by=priya)
    assert isinstance(decided, e.ApprovalDecided)


# --- finding 3: a first credential only at enrolment, only by whoever enrolled the user --------


def test_an_admin_cannot_issue_a_first_credential_to_a_lead_who_signs_in_through_sso() -> None:
    # Given a lead the host operator enrolled, who has only ever signed in through SSO,
    people, _ = staff()
    people.enrol("sol.lead", Role.SAFEGUARDING_LEAD, by=HOST)
    ada = people.sign_in("ada.admin", people.issue("ada.admin", by=HOST))

    # when Ada issues them a token, then it is refused: she did not enrol them.
    with pytest.raises(NotPermitted, match="enrolled"):
        people.issue("sol.lead", by=ada)


def test_the_enroller_issues_the_first_credential_only_while_the_user_is_fresh() -> None:
    people, priya = staff()
    ada = people.sign_in("ada.admin", people.issue("ada.admin", by=HOST))
    people.enrol("bo.admin", Role.ADMIN, by=HOST)
    bo = people.sign_in("bo.admin", people.issue("bo.admin", by=HOST))
    people.enrol("kit", Role.COORDINATOR, by=ada)
    people.approve_enrolment("kit", by=priya)  # the enrolment's own grant: still fresh

    # Another admin may not; the one who enrolled Kit may, once.
    with pytest.raises(NotPermitted, match="enrolled"):
        people.issue("kit", by=bo)
    people.issue("kit", by=ada)
    with pytest.raises(NotPermitted, match="users/me/tokens"):
        people.issue("kit", by=ada)


def test_anything_recorded_on_a_user_after_enrolment_ends_the_first_credential_window() -> None:
    people, _ = staff()
    ada = people.sign_in("ada.admin", people.issue("ada.admin", by=HOST))
    people.enrol("aud", Role.AUDITOR, by=ada)
    people.record(
        "aud",
        users.grant_role(
            people.user("aud"),
            Role.ADMIN,
            by=HOST,
            reads_cases=False,
            grant_id=uuid4(),
            event_id=uuid4(),
            now=NOW,
        ),
    )

    with pytest.raises(NotPermitted):
        people.issue("aud", by=ada)
    # The host operator's recovery path stays open.
    assert people.issue("aud", by=HOST).issued_by == HOST


# --- finding 4: reviews compare both ways ------------------------------------------------------

ISSUED_BY_LEE = OTHER_LEAD.model_copy(update={"behind": frozenset({LEAD.username})})


def test_a_lead_cannot_review_an_out_of_hours_decision_taken_with_a_token_they_issued() -> None:
    # Given Lou took a decision at night signed in with a token Lee issued,
    story = Story.opened(start=MONDAY_NIGHT - HOUR)
    decision = story.given(ooh_decision(), by=ISSUED_BY_LEE, now=MONDAY_NIGHT)
    assert isinstance(decision, e.OutOfHoursDecisionRecorded)
    assert decision.actor_behind == [LEAD.username]

    # when Lee reviews it, then it is refused: Lee may have taken it.
    story.now = TUESDAY_MORNING
    story.refuses(review(decision.event_id), RuleViolation, by=LEAD, match="second person")
    reviewed = story.when(review(decision.event_id, ReviewOutcome.RATIFIED), by=THIRD_LEAD)
    assert isinstance(reviewed[0], e.OutOfHoursDecisionReviewed)


def test_a_lead_cannot_review_a_referral_made_with_a_token_they_issued() -> None:
    story = Story.opened(start=MONDAY_NIGHT - HOUR)
    referral = story.given(refer(Consent.REFUSED), by=ISSUED_BY_LEE, now=MONDAY_NIGHT)
    assert isinstance(referral, e.ReferralMade)
    assert referral.actor_behind == [LEAD.username]

    story.now = TUESDAY_MORNING
    story.refuses(review_referral(referral.event_id), RuleViolation, by=LEAD, match="second person")
    # Nor may a lead behind the same person as the referrer.
    cousin = THIRD_LEAD.model_copy(update={"behind": frozenset({LEAD.username})})
    story.refuses(review_referral(referral.event_id), RuleViolation, by=cousin)
    assert story.when(review_referral(referral.event_id), by=THIRD_LEAD)


# --- finding 6: a stale lowering is not approved -----------------------------------------------


def critical() -> Story:
    story = Story.opened()
    story.given(assess_risk(RiskLevel.CRITICAL), by=LEAD)
    return story


def test_a_lowering_is_not_approved_over_a_newer_assessment() -> None:
    # Given a coordinator asked to lower a critical risk, and a lead then assessed it afresh,
    story = critical()
    request = story.given(assess_risk(RiskLevel.LOW), by=COORDINATOR)
    story.given(assess_risk(RiskLevel.CRITICAL), by=LEAD)

    # when another lead approves the lowering, then it is refused and the risk stays critical.
    story.refuses(decide_approval(request.event_id), RuleViolation, by=OTHER_LEAD, match="again")
    assert story.case.risk_level is RiskLevel.CRITICAL


def test_a_lowering_is_approved_while_the_risk_it_lowers_stands() -> None:
    story = critical()
    request = story.given(assess_risk(RiskLevel.LOW), by=COORDINATOR)
    story.given(moderate(), by=LEAD)  # other work on the case does not make it stale

    story.given(decide_approval(request.event_id), by=OTHER_LEAD)

    assert story.case.risk_level is RiskLevel.LOW


# --- finding 7: `me` is not a username ---------------------------------------------------------


def test_the_username_me_is_reserved() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        TypeAdapter(Username).validate_python("Me")


# --- finding 5: roles one person gave alone are listed ---------------------------------------


def test_case_roles_given_alone_by_a_person_or_to_oneself_are_listed_not_the_host_operators() -> (
    None
):
    people, _ = staff()
    ada = people.sign_in("ada.admin", people.issue("ada.admin", by=HOST))
    # Before the second-person rule, a grant took effect at once: stored history says so.
    old_grant = users.grant_role(
        people.user("ada.admin"),
        Role.SAFEGUARDING_LEAD,
        by=HOST,
        reads_cases=False,
        grant_id=uuid4(),
        event_id=uuid4(),
        now=NOW,
    )
    people.record("ada.admin", old_grant.model_copy(update={"actor": "ada.admin"}))
    people.enrol("aud", Role.AUDITOR, by=ada)  # no case content: one person suffices
    persons = set(people.histories)

    def flagged(name: str) -> list[tuple[Role, str]]:
        return roles_given_alone(people.user(name), persons.__contains__, reads_case_content)

    assert flagged("ada.admin") == [(Role.SAFEGUARDING_LEAD, "ada.admin")]
    assert flagged("aud") == []
    assert flagged("priya.lead") == []  # the host operator enrolled her
