"""Helpers for the HTTP stories: users with tokens, requests, and what a refusal looks like."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from domain.shared import Role
from interfaces.composition import Vigil

PROBLEM_BASE = "https://vigil.invalid/problems/"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

COMMUNITY_GUIDELINES = {"policy": "community-guidelines", "version": "2024-03", "clause": "4.2"}
OUT_OF_HOURS_POLICY = {"policy": "out-of-hours-safeguarding", "version": "2025-01", "clause": "3.1"}

# A ban (four-eyes by default) and a second lead's approval of it.
BAN = {
    "action": "ban_member",
    "target_ref": "forum-member-48213",
    "rationale": "Sent threats to three members after two warnings and a suspension.",
    "policy_ref": COMMUNITY_GUIDELINES,
}
APPROVE = {
    "decision": "approved",
    "rationale": "Threats after a suspension: a ban is proportionate under clause 4.2.",
}

SELF_HARM_POST = {
    "subject": {"kind": "member", "ref": "forum-member-48213", "display_name": "Sam"},
    "source": "flag",
    "category": "self_harm_risk",
    "summary": "Post in 'Living with type 1' says they have stopped taking insulin and "
    "'won't be around much longer'.",
    "risk_level": "high",
    "channel": "forum",
}


class Api:
    """The running API, its store, and a client per user."""

    def __init__(self, base_url: str, vigil: Vigil) -> None:
        self.base_url = base_url
        self.vigil = vigil
        self._clients: list[httpx.Client] = []

    def __enter__(self) -> Api:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for client in self._clients:
            client.close()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def user(self, username: str, role: str) -> httpx.Client:
        """Register a user with a role and return a client carrying their token."""
        self.vigil.identity.register(username, Role(role), actor="e2e-setup")
        return self.client(self.vigil.identity.issue_token(username, actor="e2e-setup"))

    def log_position(self) -> int:
        """How far the event log has grown: a refused command must leave it where it was."""
        return self.vigil.event_log.recorder.max_notification_id() or 0

    @contextmanager
    def writes_nothing(self) -> Iterator[None]:
        before = self.log_position()
        yield
        assert self.log_position() == before, "a refused request appended to the log"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def created(response: httpx.Response) -> dict[str, Any]:
    """The answer of a write that must have succeeded."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["etag"] == f'"{body["case"]["version"]}"'
    return body


def open_case(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    body = created(client.post("/api/v1/cases", json={**SELF_HARM_POST, **overrides}))
    case: dict[str, Any] = body["case"]
    return case


def assert_problem(
    response: httpx.Response, status: int, slug: str, *, errors: Sequence[str] = ()
) -> dict[str, Any]:
    """An RFC 9457 refusal with the given status and type, naming the given fields."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"] == PROBLEM_BASE + slug
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    for field in errors:
        assert field in problem.get("errors", {}), problem
    return problem
