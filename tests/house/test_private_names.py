"""Third-party private names: each library's registry lists every one the
code uses, each still exists in the installed release, and nothing else in
the project spells them."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from adapters.redis import redis_private
from adapters.sql import peewee_private
from entrypoints.server import gunicorn_private
from entrypoints.server.worker import BufferingWorker
from tests.support.paths import ROOT

REGISTRIES: dict[str, ModuleType] = {
    "peewee": peewee_private,
    "redis-py": redis_private,
    "gunicorn": gunicorn_private,
}
Loader = Callable[[str], ModuleType]


def missing(
    names: tuple[str, ...], load: Loader = importlib.import_module
) -> list[str]:
    """The names ("module:Owner.attribute") the installed libraries lack."""
    gone = []
    for name in names:
        module_name, _, path = name.partition(":")
        try:
            owner: object = load(module_name)
        except ImportError:
            gone.append(name)
            continue
        *parents, attribute = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
        if owner is None or not _has(owner, attribute):
            gone.append(name)
    return gone


def _has(owner: object, attribute: str) -> bool:
    """An attribute of the object, or one its class's code assigns to self."""
    if hasattr(owner, attribute):
        return True
    if not isinstance(owner, type):
        return False
    assigned = re.compile(rf"\bself\.{re.escape(attribute)}\s*(:[^=\n]*)?=(?!=)")
    for cls in owner.__mro__:
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        if assigned.search(source):
            return True
    return False


@pytest.mark.parametrize("library", REGISTRIES)
def test_every_private_name_a_registry_lists_exists_in_the_installed_library(
    library: str,
) -> None:
    registry = REGISTRIES[library]
    gone = missing(registry.PRIVATE_NAMES)
    assert not gone, (
        f"the installed {library} no longer has {', '.join(gone)}; "
        f"{registry.__name__} uses them: mend it for this release"
    )


# A scratch copy of one library module with one name renamed, loaded beside
# the real one (same package, so its relative imports still work).
RENAMED = [
    ("playhouse.pool", "_pool_lock", "playhouse.pool:PooledDatabase._pool_lock"),
    ("peewee", "_set_server_version", "peewee:Database._set_server_version"),
    ("redis.connection", "self._sock", "redis.connection:AbstractConnection._sock"),
    (
        "gunicorn.workers.gthread",
        "def enqueue_req",
        "gunicorn.workers.gthread:ThreadWorker.enqueue_req",
    ),
]


@pytest.mark.parametrize(("module_name", "spelling", "expected"), RENAMED)
def test_a_name_renamed_by_an_upgrade_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    module_name: str,
    spelling: str,
    expected: str,
) -> None:
    real = importlib.import_module(module_name)
    source = Path(str(real.__file__)).read_text()
    assert spelling in source
    scratch = tmp_path / "scratch.py"
    scratch.write_text(source.replace(spelling, f"{spelling}_renamed"))
    name = f"{module_name}_scratch"  # its package's, for relative imports
    spec = importlib.util.spec_from_file_location(name, scratch)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, copy)  # where inspect finds its source
    spec.loader.exec_module(copy)

    def load(name: str) -> ModuleType:
        return copy if name == module_name else importlib.import_module(name)

    (library,) = [k for k, v in REGISTRIES.items() if expected in v.PRIVATE_NAMES]
    assert missing(REGISTRIES[library].PRIVATE_NAMES, load) == [expected]


SOURCES = ("domain", "adapters", "entrypoints", "settings", "bench", "tests")


def _private_attributes() -> dict[str, str]:
    """Each listed private attribute (underscored), and its registry's file."""
    found = {}
    for registry in REGISTRIES.values():
        for name in registry.PRIVATE_NAMES:
            attribute = name.rpartition(".")[2].rpartition(":")[2]
            if attribute.startswith("_"):
                found[attribute] = _relative(registry.__file__)
    return found


def test_only_the_registries_spell_a_private_name() -> None:
    private = _private_attributes()
    registries = {_relative(r.__file__) for r in REGISTRIES.values()}
    this_file = _relative(__file__)
    offenders = []
    for directory in SOURCES:
        for path in sorted((ROOT / directory).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative in registries or relative == this_file:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in private:
                    offenders.append(f"{relative}:{node.lineno} .{node.attr}")
                if isinstance(node, ast.ImportFrom) and _reaches_internals(node):
                    offenders.append(f"{relative}:{node.lineno} from {node.module}")
    assert not offenders, offenders


def test_the_worker_overrides_only_the_hooks_its_registry_lists() -> None:
    documented = {"init_process"}  # gunicorn's documented Worker API
    base = gunicorn_private.ThreadWorker
    ours = [c for c in BufferingWorker.__mro__ if c.__module__.startswith("entry")]
    overridden = {
        name
        for cls in ours
        for name in vars(cls)
        if not name.startswith("__") and hasattr(base, name)
    }
    assert overridden <= set(gunicorn_private.HOOKS) | documented, overridden


def _relative(path: str | None) -> str:
    return str(Path(str(path)).relative_to(ROOT))


def _reaches_internals(node: ast.ImportFrom) -> bool:
    """An import of a module, or a name, that only a registry may use."""
    module = node.module or ""
    names = {alias.name for alias in node.names}
    return (
        module.startswith(("redis._", "gunicorn.workers.gthread"))
        or module == "gunicorn.http.unreader"
        or (module == "gunicorn.http" and "get_parser" in names)
    )
