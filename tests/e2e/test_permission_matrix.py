"""The permission matrix, checked against the running API: every route, as every role and without
a token, over real HTTP.

The routes are read from the app itself, so a route added later is covered without touching
this test, and a route that declares no permission fails it unless it is listed as public here.
For each route: no token -> 401; a role the matrix refuses -> 403; a role it allows -> neither
(the probe's made-up ids and empty bodies then meet 404 or 422, or the read succeeds).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from enum import Enum
from typing import Any, get_args
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from domain.access.permissions import Permission, is_allowed
from domain.shared import Role
from interfaces.composition import Vigil
from interfaces.http import create_app
from interfaces.http.app import route_permissions
from tests.e2e.support import PROBLEM_BASE, Api

# Public by design (no personal data): liveness, readiness, metrics, and the API's own contract
# (its docs page and the Swagger UI files that page loads).
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/docs/static/{name}"),
}
# No bearer token opens these: a forum's delivery is authenticated by its signature under the
# service's webhook secret, whoever sends it (tests/e2e/test_intake_discourse.py).
SIGNED = {("POST", "/api/v1/intake/discourse/{service}")}
# The web UI (interfaces/web) is no part of the API matrix: its pages authenticate by a session
# cookie begun at /ui/login, never by a bearer token, and each page checks the same permissions
# through the same services (tests/e2e/test_ui_*.py). Left out here by path: everything under
# /ui/ (pages, sign-in, its static files) and / (a redirect to /ui/).
UI_PREFIX = "/ui/"
UI_ROOT = "/"


def _is_ui(path: str) -> bool:
    return path == UI_ROOT or path.startswith(UI_PREFIX)


PROBE_NAME = "matrix-probe"


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _sample(annotation: Any) -> str:
    """A well-formed value for a path parameter that names nothing that exists."""
    candidates = [annotation, *get_args(annotation)]
    for candidate in candidates:
        if candidate is UUID:
            return str(uuid4())
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return str(next(iter(candidate)).value)
        if candidate is int:
            return "1"
    return PROBE_NAME


def _probe(route: APIRoute) -> tuple[str, dict[str, Any]]:
    """The URL to call and the request options: path filled in, an empty JSON body if any."""
    path = route.path
    has_body = False
    for dependant in _walk(route.dependant):
        for param in dependant.path_params:
            path = path.replace(f"{{{param.name}}}", _sample(param.field_info.annotation))
        has_body = has_body or bool(dependant.body_params)
    return path, ({"json": {}} if has_body else {})


def _flatten(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        # FastAPI keeps an included router as one entry; its routes carry their full paths
        # (create_app includes each router without a further prefix).
        included = getattr(route, "original_router", None)
        if isinstance(included, APIRouter):
            yield from _flatten(included.routes)
        else:
            yield route


def _api_routes(vigil: Vigil) -> list[tuple[str, APIRoute]]:
    app = create_app(vigil)
    routes: list[tuple[str, APIRoute]] = []
    ui_paths: set[str] = set()
    for route in _flatten(app.routes):
        if _is_ui(getattr(route, "path", "")):
            ui_paths.add(getattr(route, "path", ""))
            continue
        if isinstance(route, APIRoute):
            routes.extend((method, route) for method in sorted(route.methods or ()))
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    assert (method, route.path) in PUBLIC, f"unexpected route {route.path}"
        else:
            raise AssertionError(f"a route this test cannot read: {route!r}")
    # The UI's routes are there, and only the UI's are left out.
    assert {UI_ROOT, "/ui/", "/ui/login", "/ui/static"} <= ui_paths
    return routes


def test_every_route_declares_a_permission_or_is_public(vigil: Vigil) -> None:
    routes = _api_routes(vigil)
    undeclared = [
        f"{method} {route.path}"
        for method, route in routes
        if (method, route.path) not in PUBLIC | SIGNED and not route_permissions(route)
    ]
    assert undeclared == [], "routes without a permission: " + ", ".join(undeclared)
    # The enumeration is real: it sees the case API and the admin API.
    paths = {(method, route.path) for method, route in routes}
    assert ("POST", "/api/v1/cases") in paths
    assert ("DELETE", "/api/v1/users/{username}/tokens/{token_id}") in paths
    # ...and the shifts' writes: planning for coordinators and leads, attendance for whoever
    # can be on a shift (the probe's made-up shift then meets 404).
    assert {
        ("POST", "/api/v1/shifts"),
        ("POST", "/api/v1/rota"),
        ("POST", "/api/v1/shifts/{shift_id}/reassignment"),
        ("POST", "/api/v1/shifts/{shift_id}/cancellation"),
        ("POST", "/api/v1/shifts/{shift_id}/check-in"),
        ("POST", "/api/v1/shifts/{shift_id}/handovers"),
        ("POST", "/api/v1/shifts/{shift_id}/check-out"),
        ("POST", "/api/v1/shifts/{shift_id}/handovers/{handover_id}/acknowledgement"),
    } <= paths
    assert len(paths - PUBLIC) >= 30


def _expect_problem(answer: httpx.Response, status: int, slug: str, where: str) -> None:
    assert answer.status_code == status, f"{where}: {answer.status_code} {answer.text[:300]}"
    assert answer.headers["content-type"].startswith("application/problem+json"), where
    assert answer.json()["type"] == PROBLEM_BASE + slug, where


@pytest.mark.parametrize("caller", ["anonymous", *(role.value for role in Role)])
def test_every_route_answers_every_role_as_the_matrix_says(api: Api, caller: str) -> None:
    client = api.client() if caller == "anonymous" else api.user(f"probe.{caller}", caller)
    role = None if caller == "anonymous" else Role(caller)
    checked = 0
    outcomes: dict[int, int] = {}
    for method, route in _api_routes(api.vigil):
        if (method, route.path) in PUBLIC:
            answer = client.request(method, route.path)
            assert answer.status_code not in (401, 403), f"{method} {route.path} is public"
            continue
        if (method, route.path) in SIGNED:
            # Unsigned, with or without a bearer token: refused, and the token opens nothing
            answer = client.request(method, route.path.replace("{service}", "default"))
            _expect_problem(answer, 401, "delivery-not-authenticated", f"{caller} {route.path}")
            assert not route_permissions(route)
            continue
        path, options = _probe(route)
        needed: frozenset[Permission] = route_permissions(route)
        where = f"{caller} {method} {route.path} (needs {sorted(needed)})"
        answer = client.request(method, path, **options)
        checked += 1
        if role is None:
            _expect_problem(answer, 401, "not-authenticated", where)
            assert answer.headers["www-authenticate"].startswith("Bearer"), where
        elif not all(is_allowed(role, permission) for permission in needed):
            _expect_problem(answer, 403, "not-permitted", where)
        else:
            assert answer.status_code not in (401, 403), f"{where}: {answer.text[:300]}"
            assert answer.status_code < 500, f"{where}: {answer.text[:300]}"
            # The probe reached the route itself, not Starlette's "no such route/method".
            if answer.status_code in (404, 405):
                slug = answer.json()["type"].removeprefix(PROBLEM_BASE)
                assert slug not in ("not-found", "method-not-allowed"), where
            outcomes[answer.status_code] = outcomes.get(answer.status_code, 0) + 1
    assert checked >= 30
    # Admins read no cases; trustees read only reports and the register's sign-offs.
    if role is not None and role not in (Role.ADMIN, Role.TRUSTEE):
        assert outcomes.get(200, 0) >= 3, outcomes  # reads of lists and queues succeed


def test_the_openapi_document_lists_exactly_the_roles_the_matrix_allows(api: Api) -> None:
    # Issue 11, finding 7: /cases/{id}/export listed three roles the code refuses.
    schema = api.client().get("/openapi.json").json()
    # Starlette's path converters ({ref:path}) are not part of the documented path.
    routes = {
        (method, re.sub(r":\w+}", "}", route.path)): route
        for method, route in _api_routes(api.vigil)
    }
    compared = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            route = routes[(method.upper(), path)]
            needed = route_permissions(route)
            if not needed:
                assert "x-allowed-roles" not in operation, (method, path)
                continue
            # A route needs every permission it declares: the roles holding all of them.
            allowed = sorted(r.value for r in Role if all(is_allowed(r, p) for p in needed))
            assert operation["x-allowed-roles"] == allowed, (method, path)
            assert operation["x-permission"] == sorted(p.value for p in needed), (method, path)
            compared += 1
    assert compared >= 30
    export = schema["paths"]["/api/v1/cases/{case_id}/export"]["get"]
    assert export["x-allowed-roles"] == ["auditor", "safeguarding_lead"]
    # Shifts: the assignee checks in and out, whatever role can be on a shift; leads plan.
    check_in = schema["paths"]["/api/v1/shifts/{shift_id}/check-in"]["post"]
    assert check_in["x-allowed-roles"] == [
        "coordinator",
        "moderator",
        "safeguarding_lead",
        "volunteer",
    ]
    plan = schema["paths"]["/api/v1/rota"]["post"]
    assert plan["x-allowed-roles"] == ["coordinator", "safeguarding_lead"]
