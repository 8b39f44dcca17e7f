"""Pure ASGI middleware: request context and logging (outermost), body size limit.

Pure ASGI rather than BaseHTTPMiddleware so nothing runs in an extra task: the
structlog context bound here is the one the routes and their threads inherit.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qsl
from uuid import uuid4

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.shared import forbidden_character, forbidden_character_message
from interfaces.http.problems import internal_error_response, problem_response, route_patterns

log = structlog.get_logger(__name__)

# A caller's request id is echoed and logged, so it must be short and inert.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LOG_CONTEXT_KEY = "vigil.log_context"

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    # Case records are special-category data: no shared or browser cache may keep them.
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
)


def note_for_log(request: Request, **fields: str) -> None:
    """Add fields (actor, case_id) to this request's access-log line and to its log context.

    The mutable dict reaches the access log even when set from a worker thread, whose
    contextvars are a copy; binding contextvars covers log lines emitted later in this task.
    """
    context = request.scope.get("state", {}).get(LOG_CONTEXT_KEY)
    if isinstance(context, dict):
        context.update(fields)
    structlog.contextvars.bind_contextvars(**fields)


class RequestContextMiddleware:
    """Request id, security headers, one access-log line per request, and the 500 answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        supplied = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid4().hex
        context: dict[str, str] = {}
        scope.setdefault("state", {})[LOG_CONTEXT_KEY] = context
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                raw.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": raw}
            await send(message)

        # Only the path: query strings and bodies may carry personal data; tokens never logged.
        with structlog.contextvars.bound_contextvars(
            request_id=request_id, method=scope["method"], path=scope["path"]
        ):
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception:
                log.exception("request_failed", **context)
                if response_started:
                    raise  # too late for a problem answer; the server closes the connection
                status = 500
                await internal_error_response(request_id, scope["path"])(
                    scope, receive, send_with_headers
                )
            finally:
                duration_ms = round((time.perf_counter() - started) * 1000, 2)
                log.info("request", status=status, duration_ms=duration_ms, **context)


class BodySizeLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413, by Content-Length and by counting the stream.

    The body is read here in full (it is small by construction) and replayed to the app, so a
    chunked body that turns out too large is refused before any route has seen a byte of it.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: tuple[tuple[str, int], ...] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Path prefixes whose bodies may be larger (a forum's webhook deliveries).
        self.larger = larger

    def _limit(self, scope: Scope) -> int:
        path = scope.get("path", "")
        for prefix, limit in self.larger:
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._drain(scope, receive, int(declared))
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before sending its body; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: wait for disconnect, as the server would

        await self.app(scope, replay, send)

    async def _drain(self, scope: Scope, receive: Receive, declared: int) -> None:
        """Read and discard a declared body, up to a bound, before refusing it.

        Closing a connection with unread data in it makes the kernel reset it, and the client
        may then never see the 413. Past the bound the connection is closed all the same.
        """
        remaining = min(declared, 16 * self._limit(scope))
        while remaining > 0:
            message = await receive()
            if message["type"] != "http.request":
                return
            remaining -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "body-too-large",
            "Request body too large",
            f"the request body exceeds the limit of {self._limit(scope)} bytes",
            instance=scope["path"],
            # The connection cannot be reused: the body may not have been read to its end.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class PathCharactersMiddleware:
    """422 for a path or query string holding control or bidirectional-override characters.

    Such a character in a path parameter (a subject ref, a username) would otherwise meet the
    router as it is: a line break stops a route's pattern from matching (an undocumented 404),
    a NUL reaches the database. Refused before routing, naming the parameter that holds it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors = self._path_errors(scope) or self._query_errors(scope)
        if not errors:
            await self.app(scope, receive, send)
            return
        listed = "; ".join(f"{field}: {message}" for field, message in errors.items())
        response = problem_response(
            422,
            "invalid-input",
            "Invalid input",
            f"the request is invalid ({listed})",
            instance=_printable(scope["path"]),
            errors=errors,
        )
        await response(scope, receive, send)

    @staticmethod
    def _path_errors(scope: Scope) -> dict[str, str]:
        path: str = scope["path"]
        found = forbidden_character(path)
        if found is None:
            return {}
        index, char = found
        message = forbidden_character_message(index, char)
        # Which parameter holds it: match the routes against the path with every forbidden
        # character replaced, and take the parameter whose value spans the first of them.
        clean = "".join("_" if forbidden_character(c) else c for c in path)
        for pattern, _ in route_patterns(scope.get("app")):
            matched = pattern.match(clean)
            if matched is None:
                continue
            for name in matched.groupdict():
                start, end = matched.span(name)
                if start <= index < end:
                    return {name: forbidden_character_message(index - start, char)}
        return {"path": message}

    @staticmethod
    def _query_errors(scope: Scope) -> dict[str, str]:
        query = scope.get("query_string", b"").decode("latin-1")
        errors: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            for text in (key, value):
                found = forbidden_character(text)
                if found is not None:
                    errors.setdefault(_printable(key), forbidden_character_message(*found))
        return errors


def _printable(text: str) -> str:
    # Echoed in an answer: forbidden characters are shown as their code points.
    return "".join(f"\\u{ord(c):04x}" if forbidden_character(c) else c for c in text)


INTAKE_PREFIX = "/api/v1/intake/"


def install_middleware(app: Any, *, max_body_bytes: int, intake_max_body_bytes: int) -> None:
    """Order matters: the last added runs first, so the request context wraps everything."""
    app.add_middleware(PathCharactersMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=max_body_bytes,
        larger=((INTAKE_PREFIX, intake_max_body_bytes),),
    )
    app.add_middleware(RequestContextMiddleware)
