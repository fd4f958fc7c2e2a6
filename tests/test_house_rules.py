"""The house rules that a reader relies on, held by a test rather than by hope."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ("domain", "adapters", "entrypoints", "settings")


def python_files(*directories: str) -> list[Path]:
    return [p for d in directories for p in sorted((ROOT / d).rglob("*.py"))]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    for path in python_files("domain"):
        foreign = imported_modules(path) - set(sys.stdlib_module_names) - {"domain"}
        assert not foreign, (path.relative_to(ROOT), foreign)


def test_adapters_never_import_entrypoints_or_bootstrap() -> None:
    for path in python_files("adapters"):
        assert not imported_modules(path) & {"entrypoints", "bootstrap"}, path


def test_rooms_stay_small() -> None:
    assert len((ROOT / "bootstrap.py").read_text().splitlines()) <= 150
    for path in python_files(*SOURCE):
        assert len(path.read_text().splitlines()) <= 250, path.relative_to(ROOT)


def test_the_http_resources_are_typed() -> None:
    for path in python_files("entrypoints/http/resources"):
        text = path.read_text()
        assert not re.search(r"\bAny\b|type: ignore", text), path.relative_to(ROOT)
