"""Every relative link in the README and docs/ leads somewhere: the file exists, and a
``#fragment`` names a heading of it (as GitHub makes its anchors), so moving a section between
files cannot leave a link behind pointing at nothing."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
# [text](target) and ![alt](target), the target up to a space (an optional "title") or ")".
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"`[^`\n]*`")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, with inline code blanked out."""
    lines: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, INLINE_CODE.sub("``", line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\*|_(?=\W)|(?<=\W)_", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        base = slug(heading.group(1).replace("``", ""))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def broken_links(document: Path) -> list[str]:
    broken: list[str] = []
    text = document.read_text(encoding="utf-8")
    for number, line in prose_lines(text):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path_part, _, fragment = target.partition("#")
            where = f"{document.relative_to(ROOT)}:{number}: {target}"
            resolved = (document.parent / unquote(path_part)).resolve() if path_part else document
            if not resolved.exists():
                broken.append(f"{where} (no such file)")
            elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                broken.append(f"{where} (no such heading in {resolved.relative_to(ROOT)})")
    return broken


def test_the_slug_is_githubs() -> None:
    assert slug("Who may do what") == "who-may-do-what"
    assert slug("Retrying writes (Idempotency-Key)") == "retrying-writes-idempotency-key"
    assert (
        slug("Compliance: serious incidents, breach explanations, the register's sign-off")
        == "compliance-serious-incidents-breach-explanations-the-registers-sign-off"
    )
    assert slug("`vigil db init`") == "vigil-db-init"


def test_every_relative_link_in_the_readme_and_docs_resolves() -> None:
    assert (ROOT / "docs" / "guides").is_dir()
    broken = [link for document in documents() for link in broken_links(document)]
    assert broken == []


def test_the_readme_opens_with_the_two_screenshots() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme.split("\n## ", 1)[0]
    assert "](docs/img/case-page.png)" in head
    assert "](docs/img/queue-page.png)" in head
    for name in ("case-page.png", "queue-page.png"):
        assert 0 < (ROOT / "docs" / "img" / name).stat().st_size < 300_000


def test_the_readmes_first_commands_are_make_run_and_make_test() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in first_block.splitlines()]
    assert commands == ["make run", "make test"]
    # The test command is the one CI runs.
    assert "\nmake test\n" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
