"""`make screenshots` (docs/screenshots.py): the README's two images are made as a new user would
see them, from the demo store `make run` loads, in Chromium at a desktop width."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from playwright.sync_api import Browser

REPO = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def screenshots_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshots", REPO / "docs" / "screenshots.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_screenshot_script_saves_the_case_and_queue_pages(
    browser: Browser, tmp_path: Path
) -> None:
    # The session's browser (skipped without Chromium, failing under VIGIL_REQUIRE_BROWSER=1).
    out = tmp_path / "img"

    saved = screenshots_module().capture(out, browser=browser)

    assert [path.name for path in saved] == ["case-page.png", "queue-page.png"]
    for path in saved:
        assert path.parent == out
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert 10_000 < len(data) < 300_000
