"""The layers hold: each package imports only what its layer may (read from the source with
``ast``, so nothing is imported to check it).

- ``domain`` imports ``domain``, the standard library but for its I/O, clock, randomness and
  environment modules (``DOMAIN_FORBIDDEN_STDLIB``) and the libraries in
  ``DOMAIN_THIRD_PARTY`` (pydantic and what its types are written with): no storage, web,
  crypto or logging library, nothing that does I/O.
- ``application`` never imports ``interfaces`` (it may import ``domain``, ``infrastructure``
  and the read models' query interfaces in ``projections``).
- ``projections`` never import ``application`` or ``interfaces``.
- ``infrastructure`` never imports ``application``, ``projections`` or ``interfaces``.
- ``interfaces`` is the outermost layer and may import any of them.

Every import counts, at any depth, ``if TYPE_CHECKING:`` included: a type-only import is still
a dependency on the other layer. ``KNOWN_VIOLATIONS`` lists those the code still has, each with
its reason; it may only shrink: a new violation fails, and so does an entry that no longer
happens (delete it). It is empty: keep it so.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "application", "infrastructure", "projections", "interfaces")

FORBIDDEN: dict[str, frozenset[str]] = {
    "domain": frozenset({"application", "infrastructure", "projections", "interfaces"}),
    "application": frozenset({"interfaces"}),
    "projections": frozenset({"application", "interfaces"}),
    "infrastructure": frozenset({"application", "projections", "interfaces"}),
    "interfaces": frozenset(),
}

# Third-party libraries the domain may use: pydantic and the packages its types are built from.
DOMAIN_THIRD_PARTY = frozenset(
    {"pydantic", "pydantic_core", "annotated_types", "typing_extensions"}
)

# Standard-library modules that do I/O, read the clock or the environment, or draw random
# numbers: the domain is handed ids, times and settings instead.
DOMAIN_FORBIDDEN_STDLIB = frozenset(
    {
        "asyncio",
        "concurrent",
        "http",
        "io",
        "logging",
        "multiprocessing",
        "os",
        "pathlib",
        "random",
        "secrets",
        "shutil",
        "socket",
        "sqlite3",
        "ssl",
        "subprocess",
        "sys",
        "tempfile",
        "threading",
        "time",
        "urllib",
    }
)

# (file, imported module) -> why it is still there. Only ever delete entries; none is left.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True, order=True)
class Violation:
    file: str  # relative to the root, with '/'
    line: int
    module: str  # the module the file is
    imported: str  # the module it imports
    layer: str
    other: str  # the layer (or library) it may not import

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.module} ({self.layer}) imports {self.imported}, "
            f"which {self.layer} may not import ({self.other})"
        )


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.Module, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module ``module`` imports, absolute, with the line it does so on."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if node.module is None:  # `from . import x`: each name is a module
                found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, name))
    return found


def layer_violations(root: Path, layers: tuple[str, ...] = LAYERS) -> list[Violation]:
    """Every import in the layers' packages under ``root`` that its layer's rules forbid."""
    found: set[Violation] = set()
    stdlib = sys.stdlib_module_names
    for layer in layers:
        for path in sorted((root / layer).rglob("*.py")):
            module = module_name(root, path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            file = path.relative_to(root).as_posix()
            for line, imported in imported_modules(tree, module, path.name == "__init__.py"):
                top = imported.split(".")[0]
                if top in FORBIDDEN[layer]:
                    other = top
                elif layer != "domain" or top == "domain" or top == "__future__":
                    continue
                elif top in stdlib:
                    if top not in DOMAIN_FORBIDDEN_STDLIB:
                        continue
                    other = f"standard library {top}: I/O, clock or environment"
                elif top in DOMAIN_THIRD_PARTY:
                    continue
                else:
                    other = f"{top}: not in DOMAIN_THIRD_PARTY"
                found.add(Violation(file, line, module, imported, layer, other))
    return sorted(found)


def test_no_layer_imports_what_it_may_not() -> None:
    violations = layer_violations(ROOT)
    new = [v for v in violations if (v.file, v.imported) not in KNOWN_VIOLATIONS]
    assert not new, "imports across the layers' rules:\n" + "\n".join(map(str, new))


def test_the_known_violations_only_shrink() -> None:
    still = {(v.file, v.imported) for v in layer_violations(ROOT)}
    gone = sorted(set(KNOWN_VIOLATIONS) - still)
    assert not gone, "these imports are gone: delete them from KNOWN_VIOLATIONS:\n" + "\n".join(
        f"{file} -> {imported}" for file, imported in gone
    )


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small tree of the five layers that keeps every rule."""
    for layer in LAYERS:
        write(tmp_path, f"{layer}/__init__.py", "")
    write(tmp_path, "domain/rules.py", "import uuid\nfrom pydantic import BaseModel\n")
    write(tmp_path, "infrastructure/store.py", "import sqlite3\nfrom domain import rules\n")
    write(tmp_path, "projections/view.py", "from infrastructure.store import x\n")
    write(tmp_path, "application/service.py", "from projections.view import Query\n")
    write(tmp_path, "interfaces/api.py", "from application.service import Service\n")
    return tmp_path


def test_the_checker_passes_a_tree_that_keeps_the_rules(tree: Path) -> None:
    assert layer_violations(tree) == []


def test_the_checker_reports_a_forbidden_import_with_its_file_line_and_module(
    tree: Path,
) -> None:
    write(
        tree,
        "projections/sub/view.py",
        '"""A view."""\n\nfrom typing import TYPE_CHECKING\n\n'
        "if TYPE_CHECKING:\n    from application.service import Service\n",
    )
    write(tree, "infrastructure/store.py", "from interfaces.api import app\n")

    found = layer_violations(tree)

    assert [(v.file, v.line, v.module, v.imported) for v in found] == [
        ("infrastructure/store.py", 1, "infrastructure.store", "interfaces.api"),
        ("projections/sub/view.py", 6, "projections.sub.view", "application.service"),
    ]
    assert str(found[1]) == (
        "projections/sub/view.py:6: projections.sub.view (projections) imports "
        "application.service, which projections may not import (application)"
    )


def test_the_checker_holds_the_domain_to_the_standard_library_and_pydantic(tree: Path) -> None:
    write(
        tree,
        "domain/rules.py",
        "import os\nimport uuid\nfrom datetime import datetime\nimport eventsourcing.domain\n"
        "from pydantic import BaseModel\nfrom . import other\n",
    )

    found = layer_violations(tree)

    assert [(v.line, v.imported, v.other) for v in found] == [
        (1, "os", "standard library os: I/O, clock or environment"),
        (4, "eventsourcing.domain", "eventsourcing: not in DOMAIN_THIRD_PARTY"),
    ]
