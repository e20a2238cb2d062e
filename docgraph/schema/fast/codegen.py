"""The generated code of a plan: Python source built from the schema's own names.

``compile_fill`` makes the function filling one object of a type plan;
``compile_build`` and ``compile_convert`` make those completing values with
no resolver below them (objects of plain fields, lists, leaves) in one go.
Each is generated once per plan and kept on it (``plans``), so the code
lives and goes with the plan cache's entries.

Whatever the generated code cannot complete exactly as graphql-core would
(a null where the schema forbids one, a serializer's refusal, a list that is
not one) raises ``Bail``: the operation goes to graphql-core.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg.pgproto.pgproto
from graphql import GraphQLEnumType, GraphQLLeafType, Undefined
from graphql.pyutils import is_iterable
from graphql.type.scalars import serialize_id
from strawberry.schema.types.base_scalars import isoformat as strawberry_isoformat

from docgraph.resolvers.loaders import MISSING
from docgraph.schema.fast.plans import (
    Bail,
    Completer,
    LeafCompleter,
    ListCompleter,
    ObjectCompleter,
    ResponsePath,
    TypePlan,
)

if TYPE_CHECKING:
    from docgraph.schema.fast.run import Run

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def leaf(serialize: Callable[[Any], Any], value: Any) -> Any:
    """A leaf in a non-null position (or not of a shortcut's class): serialized, or bail."""
    if value is None or value is Undefined:
        raise Bail
    serialized = serialize(value)
    if serialized is None or serialized is Undefined:
        raise Bail
    return serialized


def some(value: Any) -> Any:
    """An object in a non-null position."""
    if value is None or value is Undefined:
        raise Bail
    return value


def items(value: Any) -> Any:
    """The items of a list value; graphql-core refuses strings and non-iterables."""
    cls = value.__class__
    if cls is list or cls is tuple:
        return value
    if value is None or value is Undefined or not is_iterable(value):
        raise Bail
    return list(value)


_UUID_CLASSES = frozenset({uuid.UUID, asyncpg.pgproto.pgproto.UUID})


def _leaf_expression(leaf_type: GraphQLLeafType, serializer: str, var: str,
                     namespace: dict[str, Any]) -> str:
    """Python source serializing ``var`` as graphql-core would, natives short-cut.

    Only in non-null position: a None falls through to ``leaf``, which bails.
    """
    name = leaf_type.name
    serialize = leaf_type.serialize
    slow = f"_leaf({serializer}, {var})"
    wrapped = getattr(leaf_type, "wrapped_cls", None)  # strawberry's enums
    if isinstance(leaf_type, GraphQLEnumType) and wrapped is not None:
        # Each member's name, computed by the serializer itself, looked up by identity
        # of class (a StrEnum's plain-string twin must still go through serialize).
        names = {member: leaf_type.serialize(member) for member in wrapped}
        namespace[f"{serializer}_class"] = wrapped
        namespace[f"{serializer}_names"] = names
        return (f"({serializer}_names[{var}] if {var}.__class__ is {serializer}_class "
                f"else {slow})")
    if name in ("String", "ID"):
        fast = f"{var} if {var}.__class__ is str"
        if serialize is serialize_id:  # custom classes (uuid.UUID) become str()
            fast += f" else str({var}) if {var}.__class__ in _UUID_CLASSES"
        return f"({fast} else {slow})"
    if name == "Boolean":
        return f"({var} if {var}.__class__ is bool else {slow})"
    if name == "Int":
        return (f"({var} if {var}.__class__ is int and {_INT_MIN} <= {var} <= {_INT_MAX} "
                f"else {slow})")
    if name == "SafeInt":
        return f"({var} if {var}.__class__ is int else {slow})"
    if serialize is strawberry_isoformat:
        return f"({var}.isoformat() if {var}.__class__ is datetime else {slow})"
    return slow


class _Source:
    """Names for the generated code's constants, unique within one namespace."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace

    def name(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name


def _convert_expression(completer: Completer, var: str, source: _Source) -> str:
    """Python source completing ``var`` with a completer that has no resolver below."""
    if isinstance(completer, LeafCompleter):
        serializer = source.name("s", completer.serialize)
        expression = _leaf_expression(completer.type, serializer, var, source.namespace)
    elif isinstance(completer, ListCompleter):
        item = source.name("w", None)  # a fresh variable name for the comprehension
        expression = (f"[{_convert_expression(completer.item, item, source)} "
                      f"for {item} in _items({var})]")
    elif isinstance(completer, ObjectCompleter) and completer.plan.build is not None:
        build = source.name("b", completer.plan.build)
        expression = f"{build}({var})" if completer.nullable else f"{build}(_some({var}))"
    else:  # pragma: no cover - only called for completers with converters
        raise AssertionError(completer)
    if completer.nullable:
        return f"(None if {var} is None else {expression})"
    return expression


def _namespace() -> dict[str, Any]:
    return {"_Bail": Bail, "_leaf": leaf, "_some": some, "_items": items,
            "_UUID_CLASSES": _UUID_CLASSES, "datetime": datetime, "MISSING": MISSING}


def _exec(lines: list[str], filename: str, namespace: dict[str, Any], name: str) -> Any:
    code = compile("\n".join(lines), filename, "exec")
    exec(code, namespace)  # noqa: S102 - source built from the schema's own names
    return namespace[name]


def compile_convert(completer: Completer) -> Callable[[Any], Any]:
    """``convert(value)``: the completed value of a completer with no resolver below."""
    namespace = _namespace()
    expression = _convert_expression(completer, "value", _Source(namespace))
    convert: Callable[[Any], Any] = _exec(
        ["def convert(value):", f"    return {expression}"], "<compiled convert>", namespace,
        "convert")
    return convert


def compile_build(plan: TypePlan) -> Callable[[Any], dict[str, Any]]:
    """``build(source)``: the response object of a plan of plain fields only."""
    namespace = _namespace()
    source = _Source(namespace)
    lines = ["def build(source):"]
    entries = []
    for i, field in enumerate(plan.fields):
        if field.typename is not None:
            entries.append(f"{field.key!r}: {field.typename!r}")
            continue
        assert field.attr is not None and field.completer is not None
        lines.append(f"    v = source.{field.attr}")
        lines.append(f"    a{i} = {_convert_expression(field.completer, 'v', source)}")
        entries.append(f"{field.key!r}: a{i}")
    lines.append(f"    return {{{', '.join(entries)}}}")
    build: Callable[[Any], dict[str, Any]] = _exec(
        lines, f"<compiled build of {plan.type.name}>", namespace, "build")
    return build


def compile_fill(plan: TypePlan) -> Callable[[Run, Any, dict[str, Any], ResponsePath], None]:
    """Generate the function that fills one object of ``plan``'s type.

    Plain fields become attribute reads and inline completion; fields with
    resolvers call back into the run. Generated once per type per operation.
    """
    namespace = _namespace() | {"plan": plan}
    source = _Source(namespace)
    lines = ["def fill(run, source, target, path):"]
    for i, field in enumerate(plan.fields):
        key = repr(field.key)
        namespace[f"f{i}"] = field
        if field.typename is not None:
            lines.append(f"    target[{key}] = {field.typename!r}")
            continue
        if field.relation is not None:
            # A value the loader has already (primed with a page) completes now;
            # any other waits for the loader's batch, settled with the level.
            loader, attribute = field.relation
            lines.append(f"    loader = run.context.{loader}")
            lines.append(f"    key = source.{attribute}")
            lines.append("    v = loader.known(key) if key is not None else MISSING")
            lines.append("    if v is MISSING:")
            lines.append(f"        run.relation(f{i}, loader.load(key), target, path)")
            lines.append("    else:")
            lines.append(f"        target[{key}] = run.complete(f{i}.completer, v, path, {key})")
            continue
        if field.attr is None:
            lines.append(f"    run.resolve(plan, f{i}, source, target, path)")
            continue
        completer = field.completer
        assert completer is not None
        lines.append(f"    v = source.{field.attr}")
        if completer.convert is not None:
            lines.append(f"    target[{key}] = {_convert_expression(completer, 'v', source)}")
        else:
            namespace[f"c{i}"] = completer
            lines.append(f"    target[{key}] = run.complete(c{i}, v, path, {key})")
    if len(lines) == 1:
        lines.append("    pass")
    fill: Callable[[Run, Any, dict[str, Any], ResponsePath], None] = _exec(
        lines, f"<compiled fill of {plan.type.name}>", namespace, "fill")
    return fill
