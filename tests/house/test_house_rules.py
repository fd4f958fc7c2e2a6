"""The house rules that a reader relies on, held by a test rather than by hope."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from tests.support.paths import ROOT

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


def test_nothing_below_bootstrap_imports_it() -> None:
    """The command line included: bootstrap.main hands it its wiring."""
    for path in python_files(*SOURCE):
        assert "bootstrap" not in imported_modules(path), path.relative_to(ROOT)


def test_the_rooms_are_separate_jobs() -> None:
    """The HTTP edge knows nothing of gunicorn or the command line; the
    server knows nothing of the command line."""
    for room, foreign in [
        ("entrypoints/http", ("entrypoints.server", "entrypoints.cli")),
        ("entrypoints/server", ("entrypoints.cli",)),
    ]:
        for path in python_files(room):
            text = path.read_text()
            assert not any(f"import {f}" in text or f"from {f}" in text
                           for f in foreign), path.relative_to(ROOT)  # fmt: skip


def lines_under(directory: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in directory.rglob("*.py"))


def test_no_room_holds_over_40_percent_of_the_code() -> None:
    """A room is a package with everything under it, below the layers that
    the design fixes (domain, adapters, entrypoints, settings), plus each
    layer's own modules. The code is every Python file outside tests/."""
    code = len((ROOT / "bootstrap.py").read_text().splitlines()) + sum(
        lines_under(ROOT / d) for d in (*SOURCE, "migrations", "bench")
    )
    layers = [ROOT / d for d in SOURCE]
    rooms = {
        str(init.parent.relative_to(ROOT)): lines_under(init.parent)
        for layer in layers
        for init in layer.rglob("__init__.py")
        if init.parent not in layers
    }
    rooms |= {
        f"{layer.relative_to(ROOT)}/*.py": sum(
            len(p.read_text().splitlines()) for p in layer.glob("*.py")
        )
        for layer in layers
    }
    too_big = {room: round(lines / code, 2) for room, lines in rooms.items()
               if lines > 0.40 * code}  # fmt: skip
    assert not too_big, too_big


def test_package_inits_only_re_export() -> None:
    """A docstring, imports and __all__: no code hides in an __init__.py."""
    for path in python_files(*SOURCE, "tests"):
        for node in (
            ast.parse(path.read_text()).body if path.name == "__init__.py" else []
        ):
            is_docstring = isinstance(node, ast.Expr) and isinstance(
                node.value, ast.Constant
            )
            is_all = isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            )
            allowed = (ast.Import, ast.ImportFrom)
            assert is_docstring or is_all or isinstance(node, allowed), (
                path.relative_to(ROOT),
                node.lineno,
            )


def test_settings_import_only_the_standard_library_and_the_domain() -> None:
    for path in python_files("settings"):
        foreign = imported_modules(path) - set(sys.stdlib_module_names)
        assert foreign <= {"settings", "domain"}, (path.relative_to(ROOT), foreign)
