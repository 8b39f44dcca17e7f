"""Every exception handler of the HTTP API is installed in one place
(``interfaces/http/problems.py``), so one table says how each error is answered."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOME = ROOT / "interfaces" / "http" / "problems.py"


def installs_handlers(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in {
            "add_exception_handler",
            "exception_handler",
        }:
            lines.append(node.lineno)
    return lines


def test_only_problems_installs_exception_handlers() -> None:
    elsewhere = {
        f"{path.relative_to(ROOT)}:{line}"
        for folder in ("interfaces", "application", "projections", "infrastructure")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != HOME
        for line in installs_handlers(path)
    }
    assert not elsewhere, f"exception handlers installed outside problems.py: {elsewhere}"
    assert installs_handlers(HOME)
