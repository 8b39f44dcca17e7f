"""The README's screenshots: `make screenshots` (or `.venv/bin/python docs/screenshots.py [DIR]`).

What it does, as a new user would: `vigil demo` into a throwaway data directory (the demo loader
`make run` uses), `vigil serve` on a free local port, then Debian's Chromium (``chromium``, or
the path in VIGIL_CHROMIUM; never a browser Playwright downloads) signs in to the web UI with a
demo lead's token and saves, at a desktop width, the page of a demo case and the page of a work
queue that has items: ``case-page.png`` and ``queue-page.png`` (default directory: docs/img).
Nothing is written to the repository but the two images.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "docs" / "img"
WIDTH, HEIGHT = 1280, 900
# The lead reads every case, restricted ones included, and every queue a lead works.
SIGNED_IN_AS = "priya.lead"
# As tests/browser/conftest.py launches it: a closed network, no background services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def vigil_command() -> list[str]:
    script = shutil.which("vigil", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "interfaces.cli"]


def chromium_path() -> str:
    configured = os.environ.get("VIGIL_CHROMIUM") or shutil.which("chromium")
    if not configured:
        raise SystemExit(
            "Chromium not found: apt-get install chromium, or set VIGIL_CHROMIUM to its path"
        )
    return configured


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get_json(url: str, token: str) -> Any:
    # Only ever our own http://127.0.0.1 server.
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.load(answer)


def demo_tokens(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """`vigil demo` into the empty data directory; each demo user's token by username."""
    loaded = subprocess.run(  # noqa: S603 (our own CLI)
        [*vigil_command(), "demo"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if loaded.returncode != 0:
        raise SystemExit(f"vigil demo failed:\n{loaded.stderr}")
    tokens = {}
    for line in loaded.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            tokens[parts[0]] = parts[2]
    return tokens


@contextmanager
def serving(env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`vigil serve` on a free port until it answers /health; its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (cwd / "serve.log").open("w") as log:
        server = subprocess.Popen(  # noqa: S603 (our own CLI)
            [*vigil_command(), "serve", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"vigil serve exited: see {cwd / 'serve.log'}")
                try:
                    with urllib.request.urlopen(f"{base}/health", timeout=5):  # noqa: S310
                        break
                except (OSError, urllib.error.URLError):
                    if time.monotonic() > deadline:
                        raise SystemExit("vigil serve did not answer in 60 s") from None
                    time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def pick_case(base: str, token: str) -> str:
    """A demo case with a story to show: the open case with the longest timeline."""
    cases = get_json(f"{base}/api/v1/cases?limit=50", token)["items"]
    open_cases = [case for case in cases if case.get("status") != "closed"] or cases
    if not open_cases:
        raise SystemExit("the demo has no case to show")

    def events(case: dict[str, Any]) -> int:
        timeline = get_json(f"{base}/api/v1/cases/{case['id']}/timeline", token)
        return len(timeline.get("events", []))

    return str(max(open_cases, key=events)["id"])


def pick_queue(base: str, token: str) -> str | None:
    """A work queue with items (the most overdue first), or None."""
    answer = get_json(f"{base}/api/v1/queues", token)
    queues = [
        queue
        for key, value in answer.items()
        if (key == "items" or key.endswith("_queues")) and isinstance(value, list)
        for queue in value
    ]
    waiting = [q for q in queues if q.get("total")]
    if not waiting:
        return None
    best = max(waiting, key=lambda q: (q.get("overdue") or 0, q["total"]))
    return str(best["name"])


def capture(out_dir: Path = DEFAULT_OUT, browser: Browser | None = None) -> list[Path]:
    """Build the demo store, serve it, and save the two screenshots into ``out_dir``.

    ``browser``: a Chromium already launched through Playwright (a test's); by default the
    system's Chromium is launched here."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigil-screenshots-") as scratch:
        work = Path(scratch)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env = {**clean, "VIGIL_DATA_DIR": str(work / "data"), "VIGIL_LOG_LEVEL": "WARNING"}
        token = demo_tokens(env, work)[SIGNED_IN_AS]
        with serving(env, work) as base:
            case_id = pick_case(base, token)
            queue = pick_queue(base, token)
            if browser is not None:
                return shoot(browser, base, token, case_id, queue, out_dir)
            from playwright.sync_api import sync_playwright

            with sync_playwright() as driver:
                launched = driver.chromium.launch(
                    executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
                )
                try:
                    return shoot(launched, base, token, case_id, queue, out_dir)
                finally:
                    launched.close()


def shoot(
    browser: Browser, base: str, token: str, case_id: str, queue: str | None, out_dir: Path
) -> list[Path]:
    """Sign in at ``base`` with ``token``; save the case page and the queue page."""
    context = browser.new_context(
        base_url=base, locale="en-GB", viewport={"width": WIDTH, "height": HEIGHT}
    )
    try:
        page = context.new_page()
        page.goto("/ui/login")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/ui/")

        case_png = out_dir / "case-page.png"
        page.goto(f"/ui/cases/{case_id}")
        page.screenshot(path=str(case_png))

        queue_png = out_dir / "queue-page.png"
        answer = page.goto(f"/ui/queues/{queue}") if queue else None
        if answer is None or answer.status != 200:
            status = "no queue has items" if answer is None else f"HTTP {answer.status}"
            print(
                f"warning: the queue page was not shown ({status}): "
                "saving the Now page (/ui/) as queue-page.png instead",
                file=sys.stderr,
                flush=True,
            )
            page.goto("/ui/")
        page.screenshot(path=str(queue_png))
    finally:
        context.close()
    return [case_png, queue_png]


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    for path in capture(out_dir):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
