"""Helpers for the web UI's stories over real HTTP: a browser-like client (cookies, no automatic
redirects), signing in through the form, and reading a page's CSRF token."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from domain.shared import Role
from tests.e2e.support import Api

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def browser(api: Api) -> httpx.Client:
    """A client as a browser is: it keeps cookies; redirects are looked at, not followed."""
    client = httpx.Client(base_url=api.base_url, timeout=30, follow_redirects=False)
    api._clients.append(client)  # closed with the others
    return client


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    """Fill in and send the sign-in form, as a person does."""
    form = client.get("/ui/login")
    assert form.status_code == 200, form.text
    return client.post("/ui/login", data={"csrf_token": csrf_of(form), "token": token})


def person(api: Api, username: str, role: str) -> tuple[httpx.Client, str]:
    """A registered user with a token, and a browser signed in with it."""
    api.vigil.identity.register(username, Role(role), actor="e2e-setup")
    token = api.vigil.identity.issue_token(username, actor="e2e-setup")
    client = browser(api)
    answer = sign_in(client, token)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ui/"
    return client, token


def now_page(client: httpx.Client) -> httpx.Response:
    page = client.get("/ui/")
    assert page.status_code == 200, page.text
    return page


def plan_shift(
    coordinator: httpx.Client, assignee: str, starts_at: datetime, hours: float = 4, **more: Any
) -> str:
    answer = coordinator.post(
        "/api/v1/shifts",
        json={
            "role": "on_call",
            "assignee": assignee,
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=hours)).isoformat(),
            **more,
        },
    )
    assert answer.status_code == 201, answer.text
    shift_id: str = answer.json()["shift"]["id"]
    return shift_id
