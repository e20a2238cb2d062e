"""The package's layers, read from its imports: faces -> resolvers -> db and storage.

Every ``import`` in every module under ``docgraph/`` counts, wherever it is
written (inside functions and ``if TYPE_CHECKING:`` blocks too): a forbidden
edge is a forbidden edge even when it only names a type.
"""

from __future__ import annotations

import ast
from pathlib import Path

import docgraph

PACKAGE = Path(docgraph.__file__).parent

LEAVES = frozenset({"errors", "config", "logs"})
# What each part may import besides itself and the leaves. A part not listed
# here is an error: a new folder must say where it sits.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "config": frozenset(),
    "logs": frozenset(),
    # Adapters: they never import upward.
    "db": frozenset(),
    "storage": frozenset(),
    "scanning": frozenset(),
    # Use cases, loaders and the request context: the only way down to db, storage and
    # the virus scanner.
    "resolvers": frozenset({"db", "storage", "scanning"}),
    # The HTTP pipeline both faces sit behind.
    "http": frozenset({"resolvers"}),
    # The two faces: through resolvers only, never each other.
    "schema": frozenset({"resolvers", "http"}),
    "rest": frozenset({"resolvers", "http"}),
    # Background work: use cases, run later.
    "jobs": frozenset({"resolvers"}),
    # Metrics and traces: instrumentation the composition roots install, when it is on,
    # onto the layers it measures (the pool, storage calls, the statement tally, the
    # request as the HTTP layers read it, the schema's root resolvers), from outside.
    # No layer imports it: off, nothing of it is on any request's path. (Its hooks in
    # http's admission and the jobs runner are protocols those layers declare.)
    "observability": frozenset({"db", "storage", "resolvers", "http", "schema"}),
    # Composition roots: they build and start everything.
    "app": frozenset({"db", "storage", "scanning", "resolvers", "http", "schema", "rest",
                      "jobs", "observability"}),
    "ops": frozenset({"db", "storage", "scanning", "resolvers", "http", "schema", "rest",
                      "jobs", "app", "observability"}),
    "__init__": frozenset(),
    "__main__": frozenset({"ops"}),
}


def part_of(module: str) -> str | None:
    """``docgraph.resolvers.documents`` -> ``resolvers``; None outside the package."""
    names = module.split(".")
    if names[0] != "docgraph":
        return None
    return names[1] if len(names) > 1 else "__init__"


def imported_modules(tree: ast.AST, module: str, is_package: bool = False,
                     names: bool = False) -> list[tuple[int, str]]:
    """Every module ``tree`` imports, absolute, with its line.

    ``is_package``: ``module`` is a package's ``__init__`` (relative imports
    start from the package itself). ``names``: each name of ``from x import
    name`` counts as ``x.name`` too (it may be a submodule).
    """
    found: list[tuple[int, str]] = []
    package = module if is_package else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            # ``from docgraph import rest`` imports the part ``rest``.
            if base == "docgraph" or names:
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def forbidden_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """The edges of ``module`` (its text: ``source``) that the layers forbid."""
    own = part_of(module)
    assert own is not None
    if own not in MAY_IMPORT:
        return [f"{module}: the part {own!r} has no place in MAY_IMPORT"]
    allowed = MAY_IMPORT[own] | LEAVES | {own}
    problems = []
    for line, target in imported_modules(ast.parse(source), module, is_package):
        other = part_of(target)
        if other is None or target == "docgraph":
            continue
        if other not in allowed:
            problems.append(f"{module}:{line} imports {target} ({own} -> {other})")
    return problems


# The fast execution path (``schema/fast/``) is a plug-in the schema knows nothing
# of: nothing in the package imports it but the one place that decides whether it
# runs. (It imports the schema, never the other way round.)
FAST_PATH = "docgraph.schema.fast"
FAST_PATH_CHOOSER = "docgraph.schema.view"


def in_fast_path(module: str) -> bool:
    return module == FAST_PATH or module.startswith(FAST_PATH + ".")


def fast_path_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """The imports of the fast path in ``module`` (its text: ``source``) that are not allowed."""
    if in_fast_path(module) or module == FAST_PATH_CHOOSER:
        return []
    targets = [(line, target) for line, target
               in imported_modules(ast.parse(source), module, is_package, names=True)
               if in_fast_path(target)]
    # ``from docgraph.schema.fast.plans import Bail``: the module, not also ``plans.Bail``.
    return [f"{module}:{line} imports {target} (only {FAST_PATH_CHOOSER} may)"
            for line, target in targets
            if not any(other == line and target.startswith(f"{base}.")
                       for other, base in targets)]


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__" and len(parts) > 2:
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def test_every_import_follows_the_layers():
    problems = [problem for module, path in modules()
                for problem in forbidden_imports(path.read_text(encoding="utf-8"), module,
                                                 path.name == "__init__.py")]
    assert problems == []


def test_only_one_place_imports_the_fast_path():
    problems = [problem for module, path in modules()
                for problem in fast_path_imports(path.read_text(encoding="utf-8"), module,
                                                 path.name == "__init__.py")]
    assert problems == []


def test_the_schema_importing_the_fast_path_is_caught():
    assert fast_path_imports("from docgraph.schema.fast.plans import Bail\n",
                             "docgraph.schema.relations") == [
        "docgraph.schema.relations:1 imports docgraph.schema.fast.plans "
        "(only docgraph.schema.view may)"]
    assert fast_path_imports("def f():\n    from docgraph.schema import fast, types\n",
                             "docgraph.schema.types") == [
        "docgraph.schema.types:2 imports docgraph.schema.fast (only docgraph.schema.view may)"]
    assert fast_path_imports("from . import fast\n", "docgraph.schema", is_package=True) == [
        "docgraph.schema:1 imports docgraph.schema.fast (only docgraph.schema.view may)"]
    assert fast_path_imports("import docgraph.schema.fast\n", "docgraph.app") == [
        "docgraph.app:1 imports docgraph.schema.fast (only docgraph.schema.view may)"]
    # The one place that decides, and the fast path itself, may.
    assert fast_path_imports("from docgraph.schema.fast import FastPath\n",
                             "docgraph.schema.view") == []
    assert fast_path_imports("from docgraph.schema.fast.plans import Bail\n",
                             "docgraph.schema.fast.run") == []


def test_the_package_root_holds_the_app_and_its_config_only():
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "app.py", "config.py", "errors.py", "logs.py"]


def test_a_face_reaching_the_database_is_caught():
    source = "from docgraph.db import documents\n"
    assert forbidden_imports(source, "docgraph.rest.documents") == [
        "docgraph.rest.documents:1 imports docgraph.db (rest -> db)"]


def test_a_type_only_import_counts_too():
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n"
              "    from docgraph.storage.base import ObjectStore\n")
    assert forbidden_imports(source, "docgraph.schema.types") == [
        "docgraph.schema.types:3 imports docgraph.storage.base (schema -> storage)"]


def test_one_face_importing_the_other_is_caught():
    source = "def f():\n    from docgraph.rest import shapes\n"
    assert forbidden_imports(source, "docgraph.schema.query") == [
        "docgraph.schema.query:2 imports docgraph.rest (schema -> rest)"]


def test_an_adapter_importing_upward_is_caught():
    assert forbidden_imports("from ..resolvers import records\n", "docgraph.db.links") == [
        "docgraph.db.links:1 imports docgraph.resolvers (db -> resolvers)"]
    assert forbidden_imports("import docgraph.http.paths\n", "docgraph.storage.local") == [
        "docgraph.storage.local:1 imports docgraph.http.paths (storage -> http)"]


def test_a_new_part_must_say_where_it_sits():
    assert forbidden_imports("", "docgraph.plugins.thing") == [
        "docgraph.plugins.thing: the part 'plugins' has no place in MAY_IMPORT"]
