"""The docs name the tests that show each claim (docs/security.md's table above all): a test file
they name must exist, so a renamed or deleted test cannot leave a claim shown by nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_PATH = re.compile(r"\btests/[a-z0-9_/]+\.py\b")


def test_every_test_file_the_docs_name_exists() -> None:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = {
        (document.name, path)
        for document in documents
        for path in TEST_PATH.findall(document.read_text(encoding="utf-8"))
    }
    assert any(document == "security.md" for document, _ in named)
    missing = sorted((document, path) for document, path in named if not (ROOT / path).is_file())
    assert missing == []
