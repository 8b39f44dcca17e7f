"""The permission table published in the README is the one in the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.access.permissions import ALLOWED_ROLES, Permission, permission_table_markdown
from domain.shared import Role

README = Path(__file__).resolve().parents[2] / "README.md"
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


def test_the_readme_publishes_the_table_of_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        pytest.skip(f"README.md has no {START} ... {END} markers yet to hold the table")
    published = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert published == permission_table_markdown().strip(), (
        "README's permission table differs from the code: paste `vigil permissions --markdown`"
    )
