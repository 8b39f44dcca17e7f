"""The User aggregate as stories: given its events, when a command, then an event or a refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.errors import InvalidCommand, ItemNotFound, NotPermitted, RuleViolation
from domain.identity import user as users
from domain.identity.events import (
    IdentityEvent,
    RoleGrantDecided,
    RoleGranted,
    RoleGrantRequested,
    RoleRevoked,
    TokenIssued,
    TokenRevoked,
    UserDeactivated,
    UserReactivated,
)
from domain.identity.user import User, hash_secret, project_user
from domain.shared import Actor, Role, primary_role

NOW = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
ADMIN = "alex.admin"


def registered(role: Role = Role.COORDINATOR, name: str = "kit") -> list[IdentityEvent]:
    return [
        users.register(
            None,
            name,
            role,
            by=ADMIN,
            reads_cases=False,
            grant_id=uuid4(),
            event_id=uuid4(),
            now=NOW,
        )
    ]


def given(events: list[IdentityEvent]) -> User:
    user = project_user(None, events)
    assert user is not None
    return user


def then(events: list[IdentityEvent], new: IdentityEvent) -> User:
    """The new event follows on, and folding it gives the user after the command."""
    before = given(events)
    assert new.originator_id == before.id
    assert new.originator_version == before.version + 1
    assert new.actor == ADMIN
    return given([*events, new])


def issued(events: list[IdentityEvent], secret: str, **kw: object) -> TokenIssued:
    return users.issue_token(
        given(events),
        by=ADMIN,
        token_id=uuid4(),
        secret=secret,
        event_id=uuid4(),
        now=NOW,
        **kw,  # type: ignore[arg-type]
    )


def test_a_granted_role_adds_to_the_roles_and_the_primary_role_is_the_most_senior() -> None:
    history = registered(Role.COORDINATOR)

    event = users.grant_role(
        given(history),
        Role.SAFEGUARDING_LEAD,
        by=ADMIN,
        reads_cases=False,
        grant_id=uuid4(),
        event_id=uuid4(),
        now=NOW,
    )

    assert isinstance(event, RoleGranted)
    user = then(history, event)
    assert user.roles == {Role.COORDINATOR, Role.SAFEGUARDING_LEAD}
    assert user.role is Role.SAFEGUARDING_LEAD


def test_a_role_held_already_is_not_granted_again() -> None:
    with pytest.raises(RuleViolation, match="already holds"):
        users.grant_role(
            given(registered(Role.AUDITOR)),
            Role.AUDITOR,
            by=ADMIN,
            reads_cases=False,
            grant_id=uuid4(),
            event_id=uuid4(),
            now=NOW,
        )


def test_a_revoked_role_is_gone_but_a_user_keeps_at_least_one() -> None:
    history = registered(Role.COORDINATOR)
    history.append(
        users.grant_role(
            given(history),
            Role.AUDITOR,
            by=ADMIN,
            reads_cases=False,
            grant_id=uuid4(),
            event_id=uuid4(),
            now=NOW,
        )
    )

    event = users.revoke_role(
        given(history), Role.COORDINATOR, other_active_admins=1, event_id=uuid4(), now=NOW,
        actor=ADMIN,
    )  # fmt: skip

    assert isinstance(event, RoleRevoked)
    history.append(event)
    assert then(history[:-1], event).roles == {Role.AUDITOR}
    with pytest.raises(RuleViolation, match="at least one role"):
        users.revoke_role(
            given(history), Role.AUDITOR, other_active_admins=1, event_id=uuid4(), now=NOW,
            actor=ADMIN,
        )  # fmt: skip
    with pytest.raises(RuleViolation, match="does not hold"):
        users.revoke_role(
            given(history), Role.ADMIN, other_active_admins=1, event_id=uuid4(), now=NOW,
            actor=ADMIN,
        )  # fmt: skip


def test_the_last_active_admin_keeps_the_role_and_stays_active() -> None:
    history = registered(Role.ADMIN, "alex")
    history.append(
        users.grant_role(
            given(history),
            Role.AUDITOR,
            by=ADMIN,
            reads_cases=False,
            grant_id=uuid4(),
            event_id=uuid4(),
            now=NOW,
        )
    )
    alex = given(history)

    with pytest.raises(RuleViolation, match="last active admin"):
        users.revoke_role(
            alex, Role.ADMIN, other_active_admins=0, event_id=uuid4(), now=NOW, actor=ADMIN
        )
    with pytest.raises(RuleViolation, match="last active admin"):
        users.deactivate(alex, other_active_admins=0, event_id=uuid4(), now=NOW, actor=ADMIN)

    # With another admin active, both are allowed.
    revoked = users.revoke_role(
        alex, Role.ADMIN, other_active_admins=1, event_id=uuid4(), now=NOW, actor=ADMIN
    )
    assert then(history, revoked).roles == {Role.AUDITOR}
    deactivated = users.deactivate(
        alex, other_active_admins=1, event_id=uuid4(), now=NOW, actor=ADMIN
    )
    assert then(history, deactivated).active is False


def test_only_taking_an_active_admin_away_is_recorded_on_the_administrators_stream() -> None:
    history = registered(Role.ADMIN, "alex")
    history.append(
        users.grant_role(
            given(history),
            Role.AUDITOR,
            by=ADMIN,
            reads_cases=False,
            grant_id=uuid4(),
            event_id=uuid4(),
            now=NOW,
        )
    )
    alex = given(history)
    revoke_admin = users.revoke_role(
        alex, Role.ADMIN, other_active_admins=1, event_id=uuid4(), now=NOW, actor=ADMIN
    )
    revoke_auditor = users.revoke_role(
        alex, Role.AUDITOR, other_active_admins=1, event_id=uuid4(), now=NOW, actor=ADMIN
    )
    deactivate = users.deactivate(
        alex, other_active_admins=1, event_id=uuid4(), now=NOW, actor=ADMIN
    )
    kit = given(registered(Role.COORDINATOR, "kit"))
    kit_out = users.deactivate(kit, other_active_admins=1, event_id=uuid4(), now=NOW, actor=ADMIN)

    assert users.removes_an_admin(alex, revoke_admin)
    assert users.removes_an_admin(alex, deactivate)
    assert not users.removes_an_admin(alex, revoke_auditor)
    assert not users.removes_an_admin(kit, kit_out)
    # An inactive admin losing the role takes no active admin away.
    gone = given([*history, deactivate])
    assert not users.removes_an_admin(gone, revoke_admin)

    removed = users.admin_removed(alex, deactivate, administrators_version=3, event_id=uuid4())
    assert (removed.originator_id, removed.originator_version) == (users.ADMINISTRATORS_ID, 4)
    assert (removed.username, removed.actor, removed.recorded_at) == ("alex", ADMIN, NOW)
    assert users.ADMINISTRATORS_ID not in {users.user_id_for(n) for n in ("alex", "kit")}


def test_a_token_is_live_until_it_expires_and_only_its_hash_is_kept() -> None:
    history = registered()
    event = issued(history, "s3cret", expires_at=NOW + timedelta(days=1))

    user = then(history, event)

    assert event.token_hash == hash_secret("s3cret")
    assert "s3cret" not in event.model_dump_json()
    assert user.token_matches("s3cret", NOW)
    assert user.token_matches("s3cret", NOW + timedelta(hours=23, minutes=59))
    assert not user.token_matches("s3cret", NOW + timedelta(days=1))
    assert not user.token_matches("other", NOW)


def test_a_token_cannot_expire_in_the_past() -> None:
    with pytest.raises(InvalidCommand, match="future"):
        issued(registered(), "s3cret", expires_at=NOW)


def test_a_revoked_token_stops_matching_and_cannot_be_revoked_twice() -> None:
    history = registered()
    first = issued(history, "one")
    history.append(first)
    history.append(issued(history, "two"))

    event = users.revoke_token(
        given(history), first.token_id, event_id=uuid4(), now=NOW, actor=ADMIN
    )

    assert event == TokenRevoked(
        originator_id=given(history).id,
        originator_version=4,
        event_id=event.event_id,
        recorded_at=NOW,
        actor=ADMIN,
        token_id=first.token_id,
    )
    user = then(history, event)
    assert not user.token_matches("one", NOW)
    assert user.token_matches("two", NOW)
    with pytest.raises(RuleViolation, match="already revoked"):
        users.revoke_token(user, first.token_id, event_id=uuid4(), now=NOW, actor=ADMIN)
    with pytest.raises(ItemNotFound):
        users.revoke_token(user, UUID(int=7), event_id=uuid4(), now=NOW, actor=ADMIN)


def test_deactivation_ends_every_token_for_good_even_after_reactivation() -> None:
    history = registered()
    history.append(issued(history, "before"))
    deactivated = users.deactivate(
        given(history), other_active_admins=0, event_id=uuid4(), now=NOW, actor=ADMIN
    )
    assert isinstance(deactivated, UserDeactivated)
    history.append(deactivated)
    user = given(history)
    assert not user.active
    assert not user.token_matches("before", NOW)
    with pytest.raises(RuleViolation, match="deactivated"):
        issued(history, "during")
    with pytest.raises(RuleViolation, match="deactivated"):
        users.grant_role(
            user,
            Role.AUDITOR,
            by=ADMIN,
            reads_cases=False,
            grant_id=uuid4(),
            event_id=uuid4(),
            now=NOW,
        )
    with pytest.raises(RuleViolation, match="already deactivated"):
        users.deactivate(user, other_active_admins=1, event_id=uuid4(), now=NOW, actor=ADMIN)

    reactivated = users.reactivate(user, event_id=uuid4(), now=NOW, actor=ADMIN)
    assert isinstance(reactivated, UserReactivated)
    history.append(reactivated)
    history.append(issued(history, "after"))
    user = given(history)

    assert user.active
    assert not user.token_matches("before", NOW)
    assert user.token_matches("after", NOW)
    with pytest.raises(RuleViolation, match="is active"):
        users.reactivate(user, event_id=uuid4(), now=NOW, actor=ADMIN)


def test_an_actor_always_holds_its_primary_role() -> None:
    assert Actor(username="kit", role=Role.COORDINATOR).roles == {Role.COORDINATOR}
    both = Actor(username="kit", role=Role.COORDINATOR, roles=frozenset({Role.ADMIN}))
    assert both.roles == {Role.COORDINATOR, Role.ADMIN}
    assert primary_role([Role.ADMIN, Role.AUDITOR]) is Role.AUDITOR
    assert primary_role([Role.ADMIN, Role.VOLUNTEER, Role.SAFEGUARDING_LEAD]) is (
        Role.SAFEGUARDING_LEAD
    )


# --- issue 11: no single person gains case access or acts as another ---------------------------

ALEX = Actor(username=ADMIN, role=Role.ADMIN)
SAM = Actor(username="sam.admin", role=Role.ADMIN)
PRIYA = Actor(username="priya.lead", role=Role.SAFEGUARDING_LEAD)


def enrolled_by(person: Actor, role: Role, name: str = "kit") -> list[IdentityEvent]:
    return [
        users.register(
            None,
            name,
            role,
            by=person,
            reads_cases=role is not Role.ADMIN,
            grant_id=uuid4(),
            event_id=uuid4(),
            now=NOW,
        )
    ]


def asked(history: list[IdentityEvent], role: Role, by: Actor | str) -> IdentityEvent:
    return users.grant_role(
        given(history),
        role,
        by=by,
        reads_cases=role is not Role.ADMIN,
        grant_id=uuid4(),
        event_id=uuid4(),
        now=NOW,
    )


def decided(history: list[IdentityEvent], by: Actor) -> list[IdentityEvent]:
    [grant] = given(history).pending_grants.values()
    return users.decide_role_grant(
        given(history), grant.grant_id, "approved", by=by, event_ids=(uuid4(), uuid4()), now=NOW
    )


def test_a_person_granting_a_role_that_reads_cases_only_asks_for_it() -> None:
    history = registered(Role.VOLUNTEER)

    event = asked(history, Role.COORDINATOR, by=ALEX)

    assert isinstance(event, RoleGrantRequested)
    user = given([*history, event])
    assert user.roles == {Role.VOLUNTEER}
    [pending] = user.pending_grants.values()
    assert (pending.role, pending.requested_by) == (Role.COORDINATOR, ADMIN)


def test_any_role_for_oneself_is_only_asked_for_but_admin_for_another_is_granted() -> None:
    alex = registered(Role.ADMIN, name=ADMIN)
    kit = registered(Role.VOLUNTEER)

    assert isinstance(asked(alex, Role.AUDITOR, by=ALEX), RoleGrantRequested)
    assert isinstance(asked(kit, Role.ADMIN, by=ALEX), RoleGranted)


def test_a_second_person_approves_and_the_role_is_in_force_in_the_same_write() -> None:
    history = registered(Role.VOLUNTEER)
    history.append(asked(history, Role.COORDINATOR, by=ALEX))

    approval, granted = decided(history, by=PRIYA)

    assert isinstance(approval, RoleGrantDecided)
    assert isinstance(granted, RoleGranted)
    assert (approval.originator_version, approval.actor) == (3, "priya.lead")
    assert (granted.actor, granted.requested_by, granted.originator_version) == (
        "priya.lead",
        ADMIN,
        4,
    )
    user = given([*history, approval, granted])
    assert user.roles == {Role.VOLUNTEER, Role.COORDINATOR}
    assert user.pending_grants == {}
    assert Role.COORDINATOR not in user.granted_alone_by


@pytest.mark.parametrize(
    "approver",
    [
        ALEX,  # the requester
        Actor(username="kit", role=Role.ADMIN),  # the grantee
        SAM.model_copy(
            update={"credential_issued_by": ADMIN, "behind": frozenset({ADMIN})}
        ),  # signed in with Alex's token
        SAM.model_copy(
            update={"roles_granted_alone_by": ((Role.ADMIN, ADMIN),), "behind": frozenset({ADMIN})}
        ),  # Alex's admin
    ],
    ids=["requester", "grantee", "credential-from-requester", "role-from-requester-alone"],
)
def test_only_a_person_apart_from_the_requester_and_the_grantee_may_decide(
    approver: Actor,
) -> None:
    history = registered(Role.VOLUNTEER)
    history.append(asked(history, Role.SAFEGUARDING_LEAD, by=ALEX))

    with pytest.raises(RuleViolation, match="second person"):
        decided(history, by=approver)


def test_enrolled_by_a_person_with_a_case_role_the_user_can_act_only_once_approved() -> None:
    history = enrolled_by(ALEX, Role.SAFEGUARDING_LEAD)

    waiting = given(history)
    assert (waiting.roles, waiting.role) == (frozenset(), Role.SAFEGUARDING_LEAD)
    assert waiting.actor() is None

    approved = given([*history, *decided(history, by=SAM)])
    acting = approved.actor()
    assert acting is not None
    assert acting.roles == {Role.SAFEGUARDING_LEAD}


def issue(history: list[IdentityEvent], by: Actor | str) -> TokenIssued:
    return users.issue_token(
        given(history), by=by, token_id=uuid4(), secret="s3cret", event_id=uuid4(), now=NOW
    )


def test_an_admin_issues_the_first_credential_and_no_other() -> None:
    history = enrolled_by(ALEX, Role.ADMIN)
    first = issue(history, ALEX)
    assert (first.issued_by, first.actor) == (ADMIN, ADMIN)

    with pytest.raises(NotPermitted, match="users/me/tokens"):
        issue([*history, first], ALEX)
    # The host operator may, as a recovery path.
    assert issue([*history, first], "cli").issued_by == "cli"


def test_a_token_a_user_issues_themselves_is_traced_to_whoever_issued_the_one_they_used() -> None:
    history = enrolled_by(ALEX, Role.ADMIN)
    history.append(issue(history, ALEX))
    first = given(history).tokens[0]
    kit = given(history).actor(first)
    assert kit is not None
    assert kit.credential_issued_by == ADMIN

    own = issue(history, kit)

    assert (own.issued_by, own.issued_with) == ("kit", first.token_id)
    [_, minted] = given([*history, own]).tokens
    assert minted.origin == ADMIN


def test_a_request_for_a_role_the_host_operator_granted_meanwhile_is_rejected_not_approved() -> (
    None
):
    history = registered(Role.VOLUNTEER)
    history.append(asked(history, Role.COORDINATOR, by=ALEX))
    history.append(asked(history, Role.COORDINATOR, by="cli"))  # the host grants at once

    assert given(history).roles == {Role.VOLUNTEER, Role.COORDINATOR}
    with pytest.raises(RuleViolation, match="reject the request"):
        decided(history, by=PRIYA)
