"""Posting to the HTTP API in-process: a request driven through the ASGI app (its routing,
middleware, problem handlers and, for the intake, its signature check) with no socket and no
HTTP client library. The demo sends its forum's deliveries this way (``vigil demo``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI

from application.demo_forum import Send
from interfaces.composition import Vigil
from interfaces.http.app import create_app


class InProcessClient:
    """POSTs to ``app`` as a client at 127.0.0.1 would; answers (status, JSON body)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        # On a thread of its own: the caller's thread may already run an event loop (a sync
        # Playwright session in the same test process does), where asyncio.run may not.
        with ThreadPoolExecutor(max_workers=1) as runner:
            return runner.submit(asyncio.run, self._post(path, headers, body)).result()

    async def _post(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw_headers += [(b"host", b"localhost"), (b"content-length", str(len(body)).encode())]
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": raw_headers,
            "client": ("127.0.0.1", 50000),
            "server": ("localhost", 80),
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # never: the request is complete
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        raw = b"".join(chunks)
        try:
            answer: dict[str, Any] = json.loads(raw) if raw else {}
        except ValueError:  # not JSON (a proxy's page, a crash): the status says what matters
            answer = {"detail": raw[:200].decode("utf-8", "replace")}
        return status, answer


def discourse_sender(vigil: Vigil) -> Send:
    """A ``application.demo_forum.Send``: each delivery posted to the service's intake
    endpoint of an app over ``vigil`` (its lifespan not started: no projector of its own)."""
    client = InProcessClient(create_app(vigil))

    def send(service: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        return client.post(f"/api/v1/intake/discourse/{service}", headers, body)

    return send
