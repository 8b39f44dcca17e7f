"""The permission table published in docs/access.md is the one in the code."""

from __future__ import annotations

from pathlib import Path

from domain.access.permissions import ALLOWED_ROLES, Permission, permission_table_markdown
from domain.shared import Role

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "access.md"
START, END = "<!-- permissions:start -->", "<!-- permissions:end -->"


def test_the_table_has_a_row_per_permission_and_a_column_per_role() -> None:
    lines = permission_table_markdown().splitlines()

    assert len(lines) == 2 + len(Permission)
    assert all(f"`{role.value}`" in lines[0] for role in Role)
    for line, permission in zip(lines[2:], Permission, strict=True):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[0] == f"`{permission.value}`"
        marked = [role for role, cell in zip(Role, cells[1:], strict=True) if cell == "yes"]
        assert tuple(marked) == ALLOWED_ROLES[permission]


def test_the_docs_publish_the_table_of_the_code() -> None:
    text = PUBLISHED.read_text(encoding="utf-8")
    assert START in text, f"docs/access.md has lost its {START} ... {END} markers"
    assert END in text, f"docs/access.md has lost its {START} ... {END} markers"
    published = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert published == permission_table_markdown().strip(), (
        "docs/access.md's permission table differs from the code: paste "
        "`vigil permissions --markdown` between its markers"
    )
