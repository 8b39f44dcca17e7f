"""Problem details (RFC 9457) for every error the API answers, mapped in this one module.

Each kind of failure has a stable ``type`` URI that clients can branch on; ``errors``
names the fields at fault (body fields by their dotted path, headers by their name,
query and path parameters by their name). A refused command has written nothing: the
domain refuses before the append, and the append is atomic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from application.cases import Contention
from domain.case.errors import CaseNotFound
from domain.community.errors import (
    AlreadyWelcomed,
    DeliveryNotAuthenticated,
    DeliveryReplayed,
    InvalidDelivery,
    MemberNotFound,
)
from domain.contact.errors import ContactNotFound
from domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    InvalidCommand,
    ItemNotFound,
    NotPermitted,
    RuleViolation,
    VersionConflict,
)
from domain.identity.errors import TokenAlreadyIssued
from domain.policy.errors import SlaPolicyVersionClash, SlaPolicyVersionInPast
from domain.quality.errors import (
    NoScorecardInForce,
    ScorecardInvalid,
    ScorecardVersionInPast,
    ScorecardVersionOutOfOrder,
    ScoresInvalid,
)
from domain.service.errors import (
    CalendarVersionClash,
    CalendarVersionInPast,
    ServiceAlreadyExists,
    ServiceNotFound,
    UnknownBankHolidays,
)
from domain.subject.errors import SubjectNotFound
from domain.subject.subject import LegalHoldInForce
from infrastructure.availability import StoreUnavailable
from projections.work_queues import ReplayBusy

PROBLEM_BASE = "https://vigil.invalid/problems/"
# Seconds a client is asked to wait before trying a store that did not answer again.
STORE_RETRY_AFTER_SECONDS = 5
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = structlog.get_logger(__name__)


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "https://vigil.invalid/problems/rule-violation",
                    "title": "Not allowed in the case's current state",
                    "status": 409,
                    "detail": "the case is closed: it accepts only notes, corrections and "
                    "reopening",
                    "instance": "/api/v1/cases/0f8e3c1a-4d0b-4c55-9a39-0c6f3a9d2b11/flags",
                }
            ]
        }
    )

    type: str = Field(description="URI naming the kind of problem; stable, branch on it.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for people.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: dict[str, str] | None = Field(
        default=None, description="Field (dotted body path, header or parameter name) -> message."
    )


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


class TooManyFailedAttempts(Exception):
    """Too many failed authentications from this address (or for this user): 429."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many failed authentication attempts")
        self.retry_after = retry_after


class ProjectionLagging(Exception):
    """The views (or the log) did not reach a reader's min_position within the bound: 503."""

    def __init__(self, wanted: int, reached: int, waited: float) -> None:
        super().__init__(f"position {reached} reached, {wanted} wanted")
        self.wanted = wanted
        self.reached = reached
        self.waited = waited


class PageAnswer(Exception):
    """The web UI's answer to a request it cannot serve as asked (no session: a redirect to
    sign in; a post without its CSRF token: a 403 page), raised from a dependency. Pages are for
    people, not problem details: the answer is the page it carries."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"answered with {response.status_code}")
        self.response = response


class NotAuthenticated(Exception):
    """No bearer token, or one that does not belong to a live user."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def problem_type(slug: str) -> str:
    return PROBLEM_BASE + slug


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    body = Problem(
        type=problem_type(slug) if slug != "about:blank" else slug,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        errors=dict(errors) if errors else None,
    )
    return ProblemResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers
    )


# Most specific class first: the first match along the exception's MRO wins.
_DOMAIN: dict[type[DomainError], tuple[int, str]] = {
    Contention: (503, "contention"),
    ReplayBusy: (503, "replay-busy"),
    LegalHoldInForce: (409, "legal-hold"),
    SubjectNotFound: (404, "subject-not-found"),
    IdempotencyKeyReused: (422, "idempotency-key-reused"),
    TokenAlreadyIssued: (409, "token-already-issued"),
    VersionConflict: (412, "version-conflict"),
    CaseNotFound: (404, "case-not-found"),
    ContactNotFound: (404, "contact-not-found"),
    # Services and calendars (issue 13, services).
    ServiceNotFound: (404, "service-not-found"),
    ServiceAlreadyExists: (409, "service-exists"),
    CalendarVersionInPast: (409, "calendar-version-in-past"),
    CalendarVersionClash: (409, "calendar-version-clash"),
    UnknownBankHolidays: (422, "unknown-bank-holidays"),
    # The SLA policy (issue 15).
    SlaPolicyVersionInPast: (422, "sla-policy-version-in-past"),
    SlaPolicyVersionClash: (409, "sla-policy-version-clash"),
    # The quality scorecard and a review's scores (issue 14).
    ScorecardInvalid: (422, "scorecard-invalid"),
    ScorecardVersionInPast: (409, "scorecard-version-in-past"),
    ScorecardVersionOutOfOrder: (409, "scorecard-version-out-of-order"),
    NoScorecardInForce: (409, "no-scorecard-in-force"),
    ScoresInvalid: (422, "scores-invalid"),
    # Community intake (issue 16).
    DeliveryNotAuthenticated: (401, "delivery-not-authenticated"),
    DeliveryReplayed: (409, "delivery-replayed"),
    InvalidDelivery: (422, "invalid-delivery"),
    MemberNotFound: (404, "member-not-found"),
    AlreadyWelcomed: (409, "already-welcomed"),
    ItemNotFound: (404, "item-not-found"),
    NotPermitted: (403, "not-permitted"),
    RuleViolation: (409, "rule-violation"),
    InvalidCommand: (422, "invalid-input"),
    DomainError: (422, "invalid-input"),
}

_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_MESSAGE_PREFIXES = ("Value error, ", "Assertion failed, ")


def field_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Pydantic/FastAPI error list -> {field path: message}, several messages joined."""
    result: dict[str, str] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in _LOCATIONS:
            loc = loc[1:]
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            # The loc holds a character offset, not a field: the whole body is at fault.
            loc = []
            reason = (error.get("ctx") or {}).get("error", "")
            message = f"not valid JSON ({reason})" if reason else "not valid JSON"
        for prefix in _MESSAGE_PREFIXES:
            message = message.removeprefix(prefix)
        key = ".".join(loc) or "body"
        result[key] = f"{result[key]}; {message}" if key in result else message
    return result


def _validation_problem(request: Request, errors: dict[str, str]) -> ProblemResponse:
    listed = "; ".join(f"{field}: {message}" for field, message in errors.items())
    return problem_response(
        422,
        "invalid-input",
        "Invalid input",
        f"the request is invalid ({listed})" if listed else "the request is invalid",
        instance=request.url.path,
        errors=errors,
    )


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _validation_problem(request, field_errors(exc.errors()))


async def _pydantic_validation(request: Request, exc: Exception) -> Response:
    # A command assembled in a route from a validated body and a path id.
    assert isinstance(exc, ValidationError)
    return _validation_problem(request, field_errors(exc.errors()))


def domain_status(exc: DomainError, request: Request) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in _DOMAIN:
            status, slug = _DOMAIN[cls]
            break
    else:  # pragma: no cover - DomainError itself is mapped
        status, slug = 422, "invalid-input"
    named_in_url = bool(exc.errors.keys() & request.path_params.keys())
    if isinstance(exc, ItemNotFound) and exc.errors and not named_in_url:
        # The missing thing was named in the body (e.g. corrects_event_id), not in the URL: the
        # resource addressed exists and the input is at fault, as with an unknown assignee.
        status, slug = 422, "unknown-reference"
    return status, slug


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status, slug = domain_status(exc, request)
    headers = {"Retry-After": str(getattr(exc, "retry_after", 1))} if status == 503 else None
    errors = exc.errors
    if isinstance(exc, IdempotencyKeyReused) and not errors:
        errors = {"Idempotency-Key": "already used for a different request"}
    return problem_response(
        status,
        slug,
        exc.title,
        exc.detail,
        instance=request.url.path,
        errors=errors,
        headers=headers,
    )


async def _page_answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageAnswer)
    return exc.response


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    # The reason (host, port, file) is for the operator's log, not for every client.
    assert isinstance(exc, StoreUnavailable)
    # A read-only or unopenable file does not pass by itself: an error for the operator.
    (log.warning if exc.transient else log.error)("store_unavailable", reason=exc.reason)
    return problem_response(
        503,
        "store-unavailable",
        "Service unavailable",
        "the event store does not answer; retry after Retry-After seconds (a write retried "
        "with the same Idempotency-Key is never recorded twice)",
        instance=request.url.path,
        headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)},
    )


async def _not_authenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAuthenticated)
    return problem_response(
        401,
        "not-authenticated",
        "Authentication required",
        exc.detail,
        instance=request.url.path,
        headers={"WWW-Authenticate": 'Bearer realm="vigil"'},
    )


_HTTP_SLUGS = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("body-too-large", "Request body too large"),
    503: ("store-unavailable", "Service unavailable"),
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def _unreadable_body(exc: StarletteHTTPException) -> str | None:
    """Why a body could not be read as JSON text, when FastAPI's body reader answered 400.

    FastAPI maps a JSONDecodeError to a validation error (422) but any other failure of
    ``json.loads`` (bytes that are not UTF-8, nesting deeper than the parser allows) to a bare
    400, raised from the failure: the same fault, so the same answer.
    """
    if exc.status_code != 400:
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return "not valid JSON (not UTF-8 text)"
    if isinstance(cause, RecursionError):
        return "not valid JSON (nested too deeply)"
    if isinstance(cause, ValueError):
        return "not valid JSON"
    return None


async def _http_exception(request: Request, exc: Exception) -> Response:
    # Starlette's own answers (unknown route, wrong method) and any HTTPException raised by a
    # library, reshaped into problem details; their headers (e.g. Allow on 405) are kept.
    assert isinstance(exc, StarletteHTTPException)
    if (unreadable := _unreadable_body(exc)) is not None:
        return _validation_problem(request, {"body": unreadable})
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("about:blank", _phrase(exc.status_code)))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = exc.headers
    if exc.status_code == 404:
        detail = f"no resource at {request.url.path}"
    if exc.status_code == 405:
        # The router names the methods of the first route it matched; a path served by several
        # routes (GET and POST /cases) takes the methods of all of them.
        allowed = allowed_methods(request)
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
    return problem_response(
        exc.status_code,
        slug,
        title,
        detail,
        instance=request.url.path,
        headers=headers,
    )


def route_patterns(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Each route of the app (included routers' routes too) as its path pattern and methods."""
    patterns = []
    for context in iter_route_contexts(getattr(app, "routes", ())):
        if context.path is not None:
            regex, _, _ = compile_path(context.path)
            patterns.append((regex, frozenset(context.methods or ())))
    return patterns


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at this request's path."""
    methods: set[str] = set()
    for pattern, route_methods in route_patterns(request.app):
        if pattern.match(request.scope["path"]):
            methods |= route_methods
    return sorted(methods)


def internal_error_response(request_id: str | None, instance: str | None) -> ProblemResponse:
    """The answer to an unexpected failure: no internals, only how to find it in the logs."""
    reference = f" (request id {request_id})" if request_id else ""
    return problem_response(
        500,
        "internal-error",
        "Internal server error",
        f"the server failed to answer this request; it has been logged{reference}. "
        "Nothing can be assumed written: read the case to check.",
        instance=instance,
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Normally the request-context middleware answers first (with the request id); this is the
    # net for an app mounted without it.
    log.error("unhandled_exception", exc_info=exc)
    return internal_error_response(None, request.url.path)


async def _too_many(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyFailedAttempts)
    seconds = max(1, math.ceil(exc.retry_after))
    return problem_response(
        429,
        "too-many-failed-attempts",
        "Too many failed authentication attempts",
        f"too many requests with invalid credentials; try again in {seconds} s",
        instance=request.url.path,
        headers={"Retry-After": str(seconds)},
    )


async def _projection_lagging(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProjectionLagging)
    return problem_response(
        503,
        "projection-lagging",
        "Not caught up yet",
        f"waited {exc.waited:g} s for position {exc.wanted}; reached {exc.reached} so far. "
        "Retry shortly.",
        instance=request.url.path,
        errors={"min_position": f"not reached yet (at {exc.reached})"},
        headers={"Retry-After": "1"},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register every error mapping of the API."""
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValidationError, _pydantic_validation)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.add_exception_handler(PageAnswer, _page_answer)
    app.add_exception_handler(TooManyFailedAttempts, _too_many)
    app.add_exception_handler(ProjectionLagging, _projection_lagging)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)


# What each error status means wherever it is documented (routes, and app.openapi for the
# answers every authenticated operation, body or min_position can meet).
ERROR_DESCRIPTIONS: dict[int, str] = {
    401: "`not-authenticated`: no valid bearer token (WWW-Authenticate: Bearer).",
    403: "`not-permitted`: the caller's role may not do this.",
    404: "No such case (or no such decision, referral or escalation named in the URL).",
    409: "Refused by a domain rule in the current state of what is addressed (e.g. the case "
    "is closed, the user is deactivated).",
    412: "If-Match names a version the case has moved on from; nothing was written.",
    413: "`body-too-large`: the body is larger than the configured limit; nothing was written.",
    422: "Invalid input: a field, the JSON itself (or a body that is not UTF-8 JSON text), a "
    "header (If-Match, Idempotency-Key), a query or path parameter, an unknown reference in the "
    "body, or an Idempotency-Key reused with another body. Also a query parameter the operation "
    "does not take, and a control or bidirectional-override character in the path or query, "
    "each named in `errors`.",
    429: "`too-many-failed-attempts`: too many requests with invalid tokens from this address "
    "(or naming this user); retry after Retry-After seconds. A valid token is not refused for "
    "its user's failures, only for its address's.",
    503: "`store-unavailable`: the store did not answer within VIGIL_STORE_TIMEOUT_SECONDS; "
    "or, for a write, `contention`: it kept losing races with other writers; or, for a queue "
    "at a past as_of, `replay-busy`: another replay of the past is running. Retry after "
    "Retry-After.",
}

PROJECTION_LAGGING_DESCRIPTION = (
    "`projection-lagging`: what this read shows did not reach `min_position` within the wait "
    "(VIGIL_READ_WAIT_SECONDS); retry (Retry-After)."
)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error answers (media type fixed up in app.openapi)."""
    return {
        status: {"model": Problem, "description": ERROR_DESCRIPTIONS[status]} for status in statuses
    }
