"""End-to-end fixtures: the real app served by uvicorn on a free local port, over the
``vigil`` container of each test (so every test runs on SQLite and on PostgreSQL), and
httpx clients that carry a real user's token."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import ASGIApp

from interfaces.composition import Vigil
from interfaces.http import create_app
from interfaces.http.security import forwarded_header_options
from tests.e2e.support import Api


class LiveServer:
    """uvicorn in a background thread, on a socket bound before it starts (no port races)."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: list[str] | None = None) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        host, port = self._socket.getsockname()
        self.base_url = f"http://{host}:{port}"
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            # As `vigil serve` runs it: forwarded headers believed from these proxies only.
            **forwarded_header_options(trusted_proxies or []),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@pytest.fixture
def server(vigil: Vigil) -> Iterator[LiveServer]:
    live = LiveServer(create_app(vigil), trusted_proxies=vigil.settings.trusted_proxy_list)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def api(server: LiveServer, vigil: Vigil) -> Iterator[Api]:
    with Api(server.base_url, vigil) as api:
        yield api
