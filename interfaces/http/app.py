"""The FastAPI application: routers, error mapping, middleware and the OpenAPI document.

``create_app`` receives a built ``Vigil`` container (the composition root's product)
and keeps it in ``app.state``; it reads no environment itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from domain.access.permissions import Permission, roles_allowed
from interfaces.composition import Vigil
from interfaces.http import (
    actors,
    approvals,
    cases,
    escalations,
    health,
    intake,
    moderation,
    operations,
    out_of_hours,
    policies,
    quality,
    queues,
    records,
    referrals,
    register,
    reports,
    rota,
    serious_incidents,
    services,
    sla_breaches,
    subjects,
    swagger,
    users,
)
from interfaces.http.access import router as access_router
from interfaces.http.audit import TAG as AUDIT_TAG
from interfaces.http.audit import router as audit_router
from interfaces.http.audit import with_notary
from interfaces.http.changes import router as changes_router
from interfaces.http.contact_lead_reviews import router as contact_lead_reviews_router
from interfaces.http.contact_reads import router as contact_reads_router
from interfaces.http.contacts import TAG as CONTACTS_TAG
from interfaces.http.contacts import router as contacts_router
from interfaces.http.data_protection import router as data_protection_router
from interfaces.http.dependencies import refuse_unknown_query_parameters
from interfaces.http.members import TAG as COMMUNITY_TAG
from interfaces.http.members import router as members_router
from interfaces.http.middleware import install_middleware
from interfaces.http.problems import (
    ERROR_DESCRIPTIONS,
    PROBLEM_MEDIA_TYPE,
    PROJECTION_LAGGING_DESCRIPTION,
    install_problem_handlers,
)
from interfaces.http.security import install_security
from interfaces.http.shifts import TAG as SHIFTS_TAG
from interfaces.http.shifts import router as shift_writes_router
from interfaces.web import install_web

API_VERSION = "1.0.0"

_PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
# FastAPI's own 422 shape: never answered (every 422 is a Problem), dropped from the document.
_UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError")

DESCRIPTION = """\
Vigil is the system of record for safeguarding and escalation decisions. Every write appends
an immutable event; nothing is updated or deleted (mistakes are fixed by corrections).

* **Auth**: `Authorization: Bearer <token>` on everything but `/health`, `/ready`, `/metrics`
  and the docs (those carry no personal data; expose them only where Vigil listens).
  401 without a valid token; 403 when the role may not do it (each route lists the roles).
  A token is a Vigil API token (`vigil users token`, or `POST /api/v1/users/{username}/tokens`)
  or, where single sign-on is configured, the identity provider's JWT for a Vigil user. After
  repeated invalid tokens from one address: 429 with Retry-After.
* **Writes** answer 201 with `{"case": {...}, "events": [...]}` and `ETag: "<version>"`.
  `occurred_at` (RFC 3339 with offset, default now) may be back-dated to when the case opened,
  never into the future. `recorded_at` is always the server's clock.
* **If-Match** (`"3"`, `3` or `W/"3"`) on case writes: 412 if the case has moved on, nothing
  written; a malformed value is 422.
* **Idempotency-Key** on writes: a retry with the same key and body returns the first answer
  and appends nothing; the same key with another body is 422.
* **Read-your-writes**: a write's answer carries `position` (also the `Vigil-Position` header),
  its place in the event log. Lists, queues and histories are views that follow the log a
  moment behind; pass `?min_position=<position>` to wait (up to 5 s) until they include the
  write, else 503 `projection-lagging` with Retry-After.
* **Query parameters** an operation does not take are refused (422 naming them), as are
  control and bidirectional-override characters in the path or the query. Date-times are RFC
  3339 with an offset, never numbers.
* **Errors** are problem details (RFC 9457, `application/problem+json`) with `type`, `title`,
  `status`, `detail` and, for field problems, `errors` (field -> message). A refused command
  writes nothing. An unknown id named in the URL is 404; one named in the body (an assignee,
  the event a correction names) is 422.
"""

TAGS = [
    {"name": "cases", "description": "Open, read (now or as of T), timeline, assign, close."},
    {"name": "records", "description": "Flags, risk assessments, notes and corrections."},
    {"name": "moderation", "description": "Moderation actions under a policy clause."},
    {"name": "out-of-hours", "description": "Out-of-hours decisions and their review."},
    {"name": "referrals", "description": "Referrals to agencies and their progress."},
    {"name": "escalations", "description": "Escalations, acknowledgements, resolutions."},
    approvals.TAG,
    {
        "name": "users",
        "description": "Admins only: users, roles, tokens, deactivation. No case content; "
        "every change is an event.",
    },
    {
        "name": "access",
        "description": "Restricted cases: the access log (every read of case content: who, "
        "what, when, why), break-glass access with a reason, and its review by leads.",
    },
    AUDIT_TAG,
    {
        "name": "shifts",
        "description": "The rota and on-call: shifts, attendance on both clocks, handovers "
        "(never their notes), shift logs, off-rota actions, gaps and calendar feeds.",
    },
    services.TAG,
    quality.TAG,
    reports.TAG,
    policies.TAG,
    intake.TAG,
    {"name": "health", "description": "Liveness."},
    {
        "name": "operations",
        "description": "Readiness (views within their lag bound) and Prometheus metrics; no "
        "token needed and no personal data, like /health: expose them only where Vigil listens.",
    },
    {
        "name": "data protection",
        "description": "Erasure by crypto-shredding (personal fields are encrypted with a key "
        'per data subject; destroying it makes them read "[erased]" while the log and its '
        "hashes stay whole), legal holds, subject access exports.",
    },
    # Shifts (issue 13): the rota and attendance.
    SHIFTS_TAG,
    # Helpline contacts (issue 14).
    CONTACTS_TAG,
    # Community intake (issue 16).
    COMMUNITY_TAG,
]


def create_app(vigil: Vigil) -> FastAPI:
    """Build the HTTP API over a Vigil container."""
    app = FastAPI(
        title="Vigil",
        version=API_VERSION,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        # /docs and /openapi.json stay public: the contract is not a secret; the data is.
        # The docs page is Vigil's own (interfaces/http/swagger.py): every asset from here.
        docs_url=None,
        redoc_url=None,
        # Runs the projector while serving (`vigil serve`), when it belongs in this process.
        lifespan=with_notary(vigil, operations.projector_lifespan(vigil)),
        # On every route: a query parameter the route does not take is refused, not ignored.
        dependencies=[Depends(refuse_unknown_query_parameters)],
    )
    app.state.vigil = vigil
    install_problem_handlers(app)
    install_middleware(
        app,
        max_body_bytes=vigil.settings.max_body_bytes,
        intake_max_body_bytes=vigil.settings.intake_max_body_bytes,
    )
    # Around the request context: security headers on every answer, CORS before everything.
    install_security(app, vigil.settings)
    # Added last, so outermost: it times every answer, 413s and 500s included.
    operations.install_operations(app, vigil)
    routers = [
        health.router,
        swagger.router,
        operations.router,
        cases.router,
        changes_router,
        records.router,
        moderation.router,
        out_of_hours.router,
        referrals.router,
        escalations.router,
        approvals.router,
        queues.router,
        subjects.router,
        actors.router,
        access_router,
        users.router,
        audit_router,
        data_protection_router,
        # Shifts, the write side (issue 13).
        shift_writes_router,
        # Shifts, read side (issue 13).
        rota.router,
        services.router,  # issue 13: services and their calendars
        quality.router,  # issue 14: the quality scorecard
        policies.router,  # issue 15: the SLA policy in versions
        contacts_router,  # issue 14: helpline contacts, the write side and one contact's read
        # Helpline contacts, read side (issue 14): the list, my feedback, reviewers' agreement;
        # and a lead's look at a safeguarding fail (what the qa_safeguarding_fails queue waits
        # for).
        contact_reads_router,
        contact_lead_reviews_router,
        reports.router,  # issue 15: compliance reports
        # Compliance (issue 15): serious incidents on a case, SLA breach explanations, the
        # trustees' sign-off of the serious-incident register.
        serious_incidents.router,
        sla_breaches.router,
        register.router,
        intake.router,  # issue 16: a forum's signed webhook deliveries
        members_router,  # issue 16: community intake's members and their welcomes
    ]
    for router in routers:
        app.include_router(router)
    # The web UI (issue 17): pages for people under /ui/, outside the API's contract.
    install_web(app, vigil)
    app.openapi = _openapi_builder(app, routers)  # type: ignore[method-assign]
    return app


_CONVERTER = re.compile(r":\w+}")


def route_permissions(route: APIRoute) -> frozenset[Permission]:
    """Every permission a route's dependencies require (empty: a public route)."""
    return frozenset(_permissions_of(route.dependant))


def _permissions_of(dependant: Dependant) -> Iterator[Permission]:
    for sub in dependant.dependencies:
        permission = getattr(sub.call, "vigil_permission", None)
        if isinstance(permission, Permission):
            yield permission
        yield from _permissions_of(sub)


def _openapi_builder(app: FastAPI, routers: list[APIRouter]) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        # The routers' own routes carry their full paths (prefix included) and dependants.
        # Starlette's path converters ({ref:path}) are not part of the OpenAPI path.
        routes = {
            (_CONVERTER.sub("}", route.path), method.lower()): route
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods or ()
        }
        for path, path_item in schema.get("paths", {}).items():
            for method, operation in path_item.items():
                route = routes.get((path, method))
                if route is not None:
                    _document_permissions(operation, route)
                _document_errors(operation)
        _drop_unreferenced(schema, _UNUSED_SCHEMAS)
        app.openapi_schema = schema
        return schema

    return build


def _document_permissions(operation: dict[str, Any], route: APIRoute) -> None:
    permissions = sorted(route_permissions(route))
    if not permissions:
        return
    # A route needs every permission its dependencies require: the roles holding all of them.
    roles = sorted(role.value for role in roles_allowed(frozenset(permissions)))
    operation["x-permission"] = [p.value for p in permissions]
    operation["x-allowed-roles"] = roles
    operation["description"] = (
        operation.get("description", "").rstrip()
        + f"\n\nPermission: `{', '.join(p.value for p in permissions)}` "
        + f"(roles: {', '.join(roles)})."
    ).strip()


def _document_errors(operation: dict[str, Any]) -> None:
    """Document the errors an operation can meet by how it is called, whatever its route
    declares, and every error answer as a Problem in application/problem+json."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = {p.get("name") for p in operation.get("parameters", [])}
    needed: list[int] = []
    if operation.get("security"):
        needed += [401, 429]  # no valid token; too many invalid ones (security.py)
        needed.append(503)  # the token is checked against the store: store-unavailable
    if operation.get("x-permission"):
        needed.append(403)
    if "requestBody" in operation:
        needed += [413, 422]  # the size limit (middleware.py); a body that is not this JSON
    # Every operation refuses a query parameter it does not take, and control characters in
    # the path or query (dependencies.py, middleware.py).
    needed.append(422)
    for code in needed:
        responses.setdefault(str(code), {"description": ERROR_DESCRIPTIONS[code]})
    if "min_position" in parameters:
        lagging = responses.setdefault("503", {"description": PROJECTION_LAGGING_DESCRIPTION})
        if "projection-lagging" not in lagging.get("description", ""):
            lagging["description"] = (
                f"{lagging.get('description', '').rstrip()} Or {PROJECTION_LAGGING_DESCRIPTION}"
            ).strip()
    for status, response in responses.items():
        if status[:1] not in ("4", "5"):
            continue
        if status == "422" and response.get("description") == "Validation Error":
            response["description"] = ERROR_DESCRIPTIONS[422]  # FastAPI's own, for parameters
        # FastAPI documents every model under the route's own media type (and its own 422
        # shape); errors are Problems, in problem+json.
        content = response.setdefault("content", {})
        problem = content.pop("application/json", None) or content.get(PROBLEM_MEDIA_TYPE, {})
        response["content"] = {PROBLEM_MEDIA_TYPE: {**problem, "schema": dict(_PROBLEM_SCHEMA)}}
    operation["responses"] = dict(sorted(responses.items()))


def _drop_unreferenced(schema: dict[str, Any], names: tuple[str, ...]) -> None:
    # In order: a schema may be referred to only by one dropped before it.
    components = schema.get("components", {}).get("schemas", {})
    for name in names:
        if name not in components:
            continue
        kept = components.pop(name)
        if f'"#/components/schemas/{name}"' in json.dumps(schema):
            components[name] = kept
