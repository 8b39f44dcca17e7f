"""Helpers for browser tests: accessibility (axe-core), sideways scrolling on a phone, origins.

axe-core is the ``axe.min.js`` shipped inside the ``axe-playwright-python`` package (a pinned dev
dependency; the file states its version and MPL-2.0 licence), read from there and evaluated in
the page through Playwright, which the page's Content-Security-Policy does not govern.

A page test (fixtures from tests/browser/conftest.py; ``api`` sets up and checks through the API)::

    def test_the_case_page(page: Page, api: Api, requests_made: list[str]) -> None:
        page.goto("/cases/...")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert_accessible(page)
        assert_no_sideways_scroll(page)
        assert_same_origin(requests_made, api.base_url)
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page

# Failing impacts: axe's "serious" and "critical" (WCAG 2.2 AA: issue 17).
FAILING_IMPACTS = frozenset({"serious", "critical"})
PHONE_WIDTH = 390
PHONE_HEIGHT = 844


@cache
def axe_source() -> str:
    return (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(
    page: Page, *, include: list[str] | None = None, exclude: list[str] | None = None
) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it stands (every rule axe runs by default).

    ``include`` and ``exclude`` are CSS selectors that scope the check (axe's context).
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    context: dict[str, Any] = {}
    if include:
        context["include"] = [[selector] for selector in include]
    if exclude:
        context["exclude"] = [[selector] for selector in exclude]
    results: dict[str, Any] = page.evaluate(
        """async (context) => await window.axe.run(
            Object.keys(context).length ? context : document,
            {resultTypes: ["violations"]},
        )""",
        context,
    )
    violations: list[dict[str, Any]] = results["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and one per element it was found on, with axe's own advice."""
    lines: list[str] = []
    for violation in violations:
        nodes = violation["nodes"]
        lines.append(
            f"[{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({len(nodes)} element(s); {violation['helpUrl']})"
        )
        for node in nodes[:10]:
            target = " ".join(str(part) for part in node["target"])
            summary = " ".join(str(node.get("failureSummary") or "").split())
            lines.append(f"    {target}: {summary}")
        if len(nodes) > 10:
            lines.append(f"    ... and {len(nodes) - 10} more")
    return "\n".join(lines)


def assert_accessible(
    page: Page, *, include: list[str] | None = None, exclude: list[str] | None = None
) -> None:
    """No axe-core violation of impact serious or critical on the page (or the scoped part)."""
    failing = [
        violation
        for violation in axe_violations(page, include=include, exclude=exclude)
        if violation["impact"] in FAILING_IMPACTS
    ]
    assert not failing, f"{page.url} has accessibility violations:\n{describe(failing)}"


def assert_no_sideways_scroll(page: Page, *, width: int = PHONE_WIDTH) -> None:
    """At a phone's width the page is no wider than the viewport (it never scrolls sideways).

    Resizes the page's viewport to ``width`` (and leaves it so) and measures once it has laid
    itself out again.
    """
    page.set_viewport_size({"width": width, "height": PHONE_HEIGHT})
    scroll_width, client_width = page.evaluate(
        """() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
            const root = document.documentElement;
            resolve([root.scrollWidth, root.clientWidth]);
        })))"""
    )
    assert scroll_width <= client_width, (
        f"{page.url} scrolls sideways at {width} px: content {scroll_width} px wide "
        f"in {client_width} px"
    )


def assert_same_origin(urls: list[str], base_url: str) -> None:
    """Every URL is on ``base_url``'s origin (data: and blob: URLs stay in the page)."""
    origin = urlsplit(base_url)
    elsewhere = [
        url
        for url in urls
        if urlsplit(url).scheme not in {"data", "blob"}
        and (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)
    ]
    assert urls, "no request was recorded"
    assert not elsewhere, f"requests left {base_url}: {elsewhere}"
