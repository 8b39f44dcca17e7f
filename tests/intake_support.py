"""Discourse deliveries for tests, the demo's checks and benchmarks: the payloads of
``tests/fixtures/discourse/`` (shapes read from Discourse's serializers: ``NOTES.md`` there),
with the ids and moments a story needs, signed as Discourse signs them."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from domain.community.decide import ConfigureDiscourseIntake, LinkForumAccount
from domain.service.commands import RegisterService
from domain.shared import Actor, Role
from infrastructure.discourse import sign

FIXTURES = Path(__file__).parent / "fixtures" / "discourse"
SECRET = "correct-horse-battery-staple-42"
FORUM = "forum"
ADMIN = Actor(username="intake.setup", role=Role.ADMIN)
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def payload(name: str, **fields: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """A fixture's headers and body, the wrapped object's fields replaced by ``fields``."""
    loaded = fixture(name)
    body = copy.deepcopy(loaded["body"])
    [key] = body
    body[key].update(fields)
    return dict(loaded["headers"]), body


def when(moment: datetime) -> str:
    """A moment as Discourse writes it (UTC, milliseconds, Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def encoded(body: dict[str, Any]) -> bytes:
    """As Discourse encodes a body (compact JSON)."""
    return json.dumps(body, separators=(",", ":")).encode()


def signed_headers(
    headers: dict[str, str], raw: bytes, *, event_id: str, secret: str = SECRET
) -> dict[str, str]:
    return {
        **headers,
        "X-Discourse-Event-Id": event_id,
        "X-Discourse-Event-Signature": sign(secret, raw),
        "Content-Type": "application/json",
    }


def deliver(
    client: httpx.Client,
    name: str,
    *,
    event_id: str,
    service: str = FORUM,
    secret: str = SECRET,
    **fields: Any,
) -> httpx.Response:
    """POST a fixture's delivery, as Discourse would, with ``fields`` replaced."""
    headers, body = payload(name, **fields)
    raw = encoded(body)
    return client.post(
        f"/api/v1/intake/discourse/{service}",
        content=raw,
        headers=signed_headers(headers, raw, event_id=event_id, secret=secret),
    )


def set_up_forum(vigil: Any, *, accounts: dict[str, str] | None = None) -> None:
    """The ``forum`` service (open every day 08:00 to midnight, London), its Discourse intake
    with ``SECRET``, and forum accounts mapped to Vigil users (who must exist)."""
    if not vigil.services.exists(FORUM):
        vigil.services.register(
            RegisterService(
                name=FORUM,
                timezone="Europe/London",
                operating_hours={day: ["08:00-24:00"] for day in EVERY_DAY},
                bank_holidays="none",
            ),
            ADMIN,
        )
    vigil.community.configure_discourse(
        FORUM,
        ConfigureDiscourseIntake(secret=SECRET, forum_url="https://forum.example.org"),
        ADMIN,
    )
    for forum_username, username in (accounts or {}).items():
        vigil.community.link_account(
            FORUM, LinkForumAccount(forum_username=forum_username, username=username), ADMIN
        )
