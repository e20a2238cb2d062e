"""A compiled execution path for GraphQL queries.

graphql-core executes every field of every object through the same general
machinery (resolve info, resolver wrapper, awaitable checks, completion), about
5 µs per field; a page of 25 documents with their links is some 500 fields.
This executor compiles each query operation once into a plan — per object
type, which fields to read straight off the record, which to resolve, and the
serializer of every leaf — and then fills the response with plain attribute
reads, leaving graphql-core's machinery to the few fields that have resolvers.

Resolvers run exactly as graphql-core would run them (same resolve info, same
arguments, strawberry's wrapper), level by level, so dataloaders still batch
a whole level into one statement. The response is the same, key for key.

Anything the plan does not cover — mutations, subscriptions, introspection,
directives, @defer/@stream, field middleware — and any error at all (a resolver
raising, a null where the schema forbids one) hands the operation to
graphql-core's own executor, which produces the response and errors as usual.
Queries have no side effects, so running one again after a failed attempt
is safe; it only costs the time of the attempt.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg.pgproto.pgproto
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import collect_fields, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.language import DirectiveNode, Visitor, visit
from graphql.pyutils import Path, is_iterable
from graphql.type.scalars import serialize_id
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.types.base_scalars import isoformat as strawberry_isoformat

from docgraph.resolvers.loaders import MISSING
from docgraph.schema.relations import relation_of

log = logging.getLogger("docgraph.graphql")

STRAWBERRY_DEFINITION = "strawberry-definition"
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
PLAN_CACHE_SIZE = 512


class _Bail(Exception):
    """The compiled path cannot produce this response: let graphql-core do it."""


class _Leaf:
    __slots__ = ("convert", "nullable", "serialize", "type")

    def __init__(self, leaf: GraphQLLeafType, nullable: bool) -> None:
        self.type = leaf
        self.serialize = leaf.serialize
        self.nullable = nullable
        self.convert: Callable[[Any], Any] | None = None


class _List:
    __slots__ = ("convert", "item", "nullable")

    def __init__(self, item: Completer, nullable: bool) -> None:
        self.item = item
        self.nullable = nullable
        self.convert: Callable[[Any], Any] | None = None


class _Object:
    __slots__ = ("convert", "nodes", "nullable", "plan")

    def __init__(self, plan: TypePlan, details: list[Any], nullable: bool) -> None:
        self.plan = plan
        self.nodes: list[FieldNode] = [d.node for d in details]
        self.nullable = nullable
        self.convert: Callable[[Any], Any] | None = None


class _Abstract:
    __slots__ = ("abstract", "convert", "details", "nullable", "operation", "plans")

    def __init__(self, operation: OperationPlan, abstract: GraphQLAbstractType,
                 details: list[Any], nullable: bool) -> None:
        self.operation = operation
        self.abstract = abstract
        self.details = details
        self.nullable = nullable
        self.plans: dict[str, TypePlan] = {}
        self.convert = None


Completer = _Leaf | _List | _Object | _Abstract


class FieldPlan:
    __slots__ = ("attr", "completer", "details", "field_def", "has_args", "key", "nodes",
                 "relation", "resolve", "typename")

    def __init__(self, key: str, field_def: GraphQLField | None, details: list[Any]) -> None:
        self.key = key
        self.details = details
        self.nodes: list[FieldNode] = [d.node for d in details]
        self.field_def = field_def
        self.attr: str | None = None
        self.resolve: Callable[..., Any] | None = None
        self.typename: str | None = None
        self.has_args = False
        self.relation: tuple[str, str] | None = None
        self.completer: Completer | None = None


class TypePlan:
    """The fields to produce for one concrete object type, in response order."""

    __slots__ = ("build", "fields", "fill", "is_type_of", "type")

    def __init__(self, object_type: GraphQLObjectType) -> None:
        self.type = object_type
        self.is_type_of = object_type.is_type_of
        self.fields: list[FieldPlan] = []
        self.fill: Callable[[_Run, Any, dict[str, Any], ResponsePath], None] | None = None
        # For a plan of plain fields only, all the way down (no resolver, relation
        # or abstract type): a function building the object's response at once.
        self.build: Callable[[Any], dict[str, Any]] | None = None


class OperationPlan:
    def __init__(self, executor: CompiledExecutor) -> None:
        self.schema = executor.schema
        self.fragments = executor.fragments
        self.operation = executor.operation
        self.hide_suggestions = executor.hide_suggestions
        root_type = self.schema.get_root_type(OperationType.QUERY)
        if root_type is None:
            raise _Bail
        collected = collect_fields(self.schema, self.fragments, executor.variable_values,
                                   root_type, self.operation, self.hide_suggestions)
        self.root = self.type_plan(root_type, collected.grouped_field_set,
                                   collected.new_defer_usages, executor)

    def type_plan(self, object_type: GraphQLObjectType, grouped: dict[str, list[Any]],
                  defer_usages: list[Any], executor: CompiledExecutor) -> TypePlan:
        if defer_usages:
            raise _Bail
        plan = TypePlan(object_type)
        for key, details in grouped.items():
            if any(d.defer_usage is not None or d.fragment_variable_values is not None
                   for d in details):
                raise _Bail
            name = details[0].node.name.value
            if name == "__typename":
                field = FieldPlan(key, None, details)
                field.typename = object_type.name
                plan.fields.append(field)
                continue
            if name.startswith("__"):
                raise _Bail  # introspection: graphql-core's job
            field_def = object_type.fields.get(name)
            if field_def is None:
                raise _Bail
            field = FieldPlan(key, field_def, details)
            definition = field_def.extensions.get(STRAWBERRY_DEFINITION)
            plain = (definition is not None and definition.base_resolver is None
                     and not definition.extensions and not definition.permission_classes
                     and not field_def.args and not details[0].node.arguments)
            relation = None
            if definition is not None and definition.base_resolver is not None \
                    and not definition.extensions and not definition.permission_classes:
                # Declared with ``schema.relations.loads``: the plan calls the loader.
                relation = relation_of(definition.base_resolver.wrapped_func)
            if plain:
                field.attr = definition.python_name
            elif relation is not None and not field_def.args:
                field.relation = relation
            else:
                if field_def.resolve is None:
                    raise _Bail
                field.resolve = field_def.resolve
                field.has_args = bool(field_def.args or details[0].node.arguments)
            field.completer = self.completer(field_def.type, details, executor)
            plan.fields.append(field)
        if plan.is_type_of is None and all(
                f.typename is not None or (f.attr is not None and f.completer is not None
                                           and f.completer.convert is not None)
                for f in plan.fields):
            plan.build = _compile_build(plan)
        return plan

    def completer(self, output_type: GraphQLOutputType, details: list[Any],
                  executor: CompiledExecutor) -> Completer:
        nullable = True
        if is_non_null_type(output_type):
            assert isinstance(output_type, GraphQLNonNull)
            output_type = output_type.of_type
            nullable = False
        completer: Completer
        if is_list_type(output_type):
            assert isinstance(output_type, GraphQLList)
            completer = _List(self.completer(output_type.of_type, details, executor), nullable)
            if completer.item.convert is not None:
                completer.convert = _compile_convert(completer)
            return completer
        if is_leaf_type(output_type):
            completer = _Leaf(output_type, nullable)  # type: ignore[arg-type]
            completer.convert = _compile_convert(completer)
            return completer
        if is_object_type(output_type):
            assert isinstance(output_type, GraphQLObjectType)
            completer = _Object(self.subplan(output_type, details, executor), details, nullable)
            if completer.plan.build is not None:
                completer.convert = _compile_convert(completer)
            return completer
        if is_abstract_type(output_type):
            return _Abstract(self, output_type, details, nullable)  # type: ignore[arg-type]
        raise _Bail

    def subplan(self, object_type: GraphQLObjectType, details: list[Any],
                executor: CompiledExecutor) -> TypePlan:
        collected = collect_subfields(self.schema, self.fragments, executor.variable_values,
                                      self.operation, object_type, details,
                                      self.hide_suggestions)
        return self.type_plan(object_type, collected.grouped_field_set,
                              collected.new_defer_usages, executor)


def _has_directives(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> bool:
    found = False

    class Finder(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
            nonlocal found
            found = True
            return Visitor.BREAK

    visit(operation, Finder())
    for fragment in fragments.values():
        if not found:
            visit(fragment.definition, Finder())
    return found


# Plans by (schema, operation): a plan holds the schema's own fields and resolvers,
# and a parsed document may be shared by schemas (several apps in one process).
_plans: dict[tuple[int, int], tuple[GraphQLSchema, OperationDefinitionNode,
                                    OperationPlan | None]] = {}

# How operations were executed in this process: compiled, compiled but handed
# back to graphql-core (an error), or graphql-core's from the start.
executions = {"compiled": 0, "fell_back": 0, "graphql_core": 0}


def _plan_for(executor: CompiledExecutor) -> OperationPlan | None:
    operation = executor.operation
    key = (id(executor.schema), id(operation))
    cached = _plans.get(key)
    if cached is not None and cached[0] is executor.schema and cached[1] is operation:
        return cached[2]
    plan: OperationPlan | None = None
    if operation.operation == OperationType.QUERY and not _has_directives(
            operation, executor.fragments):
        try:
            plan = OperationPlan(executor)
        except _Bail:
            plan = None
    if len(_plans) >= PLAN_CACHE_SIZE:
        _plans.clear()
    # The schema and operation stay referenced by the cache, so their ids are not reused.
    _plans[key] = (executor.schema, operation, plan)
    return plan


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with the compiled path for plain queries."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core's helpers hold the executor's bound methods, and the executor
        # holds them: a cycle that left the request's context, its loaders and every
        # row they cached to the cyclic garbage collector. Weak references break it.
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=_weak_method(self.gather_async_work),
            track=_weak_method(self.track_async_work))

    def execute_operation(self, serially: bool | None = None) -> Any:
        manager = self.middleware_manager
        if manager is not None and getattr(manager, "_middleware_resolvers", None):
            executions["graphql_core"] += 1
            return super().execute_operation(serially)
        plan = _plan_for(self)
        if plan is None:
            executions["graphql_core"] += 1
            return super().execute_operation(serially)
        return self._execute_compiled(plan, serially)

    async def _execute_compiled(self, plan: OperationPlan, serially: bool | None) -> Any:
        try:
            data = await _Run(self).run(plan.root, self.root_value)
        except _Bail:
            pass
        except Exception:  # any error: graphql-core reports it, with its path
            log.debug("compiled execution failed; executing again", exc_info=True)
        else:
            executions["compiled"] += 1
            return ExecutionResult(data=data, errors=None)
        executions["fell_back"] += 1
        result = super().execute_operation(serially)
        return await result if self.is_awaitable(result) else result


def _weak_method(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, without keeping its object alive (it is, while it executes)."""
    reference = weakref.WeakMethod(method)

    def call(*args: Any) -> Any:
        bound = reference()
        if bound is None:
            raise RuntimeError("the execution these helpers belong to is over")
        return bound(*args)

    return call


# A response path as the run builds it: plain ``(previous, key, typename)`` tuples,
# the layout of graphql-core's Path (a NamedTuple, slower to create). Only resolve
# info needs a real Path: ``_graphql_path`` converts one when a resolver runs.
ResponsePath = tuple[Any, str | int, str | None] | None


def _graphql_path(path: ResponsePath) -> Path | None:
    if path is None:
        return None
    return Path(_graphql_path(path[0]), path[1], path[2])


class _Run:
    """One execution of a plan: level by level, resolvers of a level batched."""

    __slots__ = ("context", "executor", "next_level", "pending")

    def __init__(self, executor: CompiledExecutor) -> None:
        self.executor = executor
        self.context = executor.context_value
        self.next_level: list[tuple[TypePlan, Any, dict[str, Any], ResponsePath]] = []
        self.pending: list[tuple[Any, Completer, Any, Any, ResponsePath]] = []

    async def run(self, root: TypePlan, root_value: Any) -> dict[str, Any]:
        data: dict[str, Any] = {}
        self.next_level = [(root, root_value, data, None)]
        while self.next_level:
            level, self.next_level = self.next_level, []
            for plan, source, target, path in level:
                self.fill(plan, source, target, path)
            while self.pending:
                pending, self.pending = self.pending, []
                await self.settle(pending)
        return data

    async def settle(self, pending: list[tuple[Any, Completer, Any, Any, ResponsePath]]) -> None:
        awaitables = [p[0] for p in pending]
        if len(awaitables) > 1 and any(asyncio.iscoroutine(a) for a in awaitables):
            values = await asyncio.gather(*awaitables)
        else:
            values = [await a for a in awaitables]
        for (_, completer, target, key, path), value in zip(pending, values, strict=True):
            target[key] = self.complete(completer, value, path)

    def fill(self, plan: TypePlan, source: Any, target: dict[str, Any],
             path: ResponsePath) -> None:
        fill = plan.fill
        if fill is None:
            fill = plan.fill = _compile_fill(plan)
        fill(self, source, target, path)

    def resolve(self, plan: TypePlan, field: FieldPlan, source: Any, target: dict[str, Any],
                path: ResponsePath) -> None:
        """A field with a resolver: call it as graphql-core would."""
        executor = self.executor
        field_path = (path, field.key, plan.type.name)
        info = executor.build_resolve_info(field.field_def, field.nodes,  # type: ignore[arg-type]
                                           plan.type, _graphql_path(field_path))  # type: ignore[arg-type]
        args = get_argument_values(
            field.field_def, field.nodes[0], executor.variable_values,  # type: ignore[arg-type]
            None, executor.hide_suggestions) if field.has_args else {}
        value = field.resolve(source, info, **args)  # type: ignore[misc]
        if executor.is_awaitable(value):
            target[field.key] = None
            self.pending.append((value, field.completer, target, field.key, field_path))  # type: ignore[arg-type]
        else:
            target[field.key] = self.complete(field.completer, value, field_path)  # type: ignore[arg-type]

    def relation(self, field: FieldPlan, value: Any, target: dict[str, Any],
                 path: ResponsePath) -> None:
        """A dataloader's future for a relation field: settled with the level."""
        target[field.key] = None
        self.pending.append((value, field.completer, target, field.key,  # type: ignore[arg-type]
                             (path, field.key, None)))

    def complete(self, completer: Completer, value: Any, path: ResponsePath,
                 key: str | None = None) -> Any:
        convert = completer.convert
        if convert is not None:  # plain all the way down: built at once
            return convert(value)
        if value is None or value is Undefined:
            if completer.nullable:
                return None
            raise _Bail
        if key is not None:  # a plain field: its path is only needed below it
            path = (path, key, None)
        if isinstance(completer, _List):
            item = completer.item
            if isinstance(item, _Object) and item.plan.is_type_of is None:
                # The common case, a list of objects of one type: no per-item dispatch.
                plan, enqueue = item.plan, self.next_level.append
                objects: list[dict[str, Any] | None] = []
                for i, v in enumerate(_items(value)):
                    if v is None:
                        if not item.nullable:
                            raise _Bail
                        objects.append(None)
                        continue
                    result: dict[str, Any] = {}
                    objects.append(result)
                    enqueue((plan, v, result, (path, i, None)))
                return objects
            return [self.complete(item, v, (path, i, None))
                    for i, v in enumerate(_items(value))]
        if isinstance(completer, _Object):
            plan = completer.plan
            nodes = completer.nodes
        elif isinstance(completer, _Abstract):
            plan = self.runtime_plan(completer, value, path)
            nodes = [d.node for d in completer.details]
        else:  # a leaf always has its converter
            raise _Bail
        if plan.is_type_of is not None:
            info = self.executor.build_resolve_info(GraphQLField(plan.type), nodes, plan.type,
                                                    _graphql_path(path))  # type: ignore[arg-type]
            if not plan.is_type_of(value, info):
                raise _Bail
        fields: dict[str, Any] = {}
        self.next_level.append((plan, value, fields, path))
        return fields

    def runtime_plan(self, completer: _Abstract, value: Any, path: ResponsePath) -> TypePlan:
        abstract = completer.abstract
        if abstract.resolve_type is None:
            raise _Bail
        info = self.executor.build_resolve_info(
            GraphQLField(abstract), [d.node for d in completer.details], abstract,  # type: ignore[arg-type]
            _graphql_path(path))  # type: ignore[arg-type]
        runtime = abstract.resolve_type(value, info, abstract)
        if isinstance(runtime, Awaitable):
            raise _Bail
        name = runtime if isinstance(runtime, str) else getattr(runtime, "name", None)
        if not isinstance(name, str):
            raise _Bail
        plan = completer.plans.get(name)
        if plan is None:
            object_type = self.executor.schema.get_type(name)
            if not isinstance(object_type, GraphQLObjectType) or not \
                    self.executor.schema.is_sub_type(abstract, object_type):
                raise _Bail
            plan = completer.operation.subplan(object_type, completer.details, self.executor)
            completer.plans[name] = plan
        return plan


# Helpers of the generated code. Whatever they cannot complete exactly as
# graphql-core would (a null where the schema forbids one, a serializer's
# refusal, a list that is not one) hands the operation to graphql-core.

def _leaf(serialize: Callable[[Any], Any], value: Any) -> Any:
    """A leaf in a non-null position (or not of a shortcut's class): serialized, or bail."""
    if value is None or value is Undefined:
        raise _Bail
    serialized = serialize(value)
    if serialized is None or serialized is Undefined:
        raise _Bail
    return serialized


def _some(value: Any) -> Any:
    """An object in a non-null position."""
    if value is None or value is Undefined:
        raise _Bail
    return value


def _items(value: Any) -> Any:
    """The items of a list value; graphql-core refuses strings and non-iterables."""
    cls = value.__class__
    if cls is list or cls is tuple:
        return value
    if value is None or value is Undefined or not is_iterable(value):
        raise _Bail
    return list(value)


_UUID_CLASSES = frozenset({uuid.UUID, asyncpg.pgproto.pgproto.UUID})


def _leaf_expression(leaf_type: GraphQLLeafType, serializer: str, var: str,
                     namespace: dict[str, Any]) -> str:
    """Python source serializing ``var`` as graphql-core would, natives short-cut.

    Only in non-null position: a None falls through to ``_leaf``, which bails.
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
    if isinstance(completer, _Leaf):
        serializer = source.name("s", completer.serialize)
        expression = _leaf_expression(completer.type, serializer, var, source.namespace)
    elif isinstance(completer, _List):
        item = source.name("w", None)  # a fresh variable name for the comprehension
        expression = (f"[{_convert_expression(completer.item, item, source)} "
                      f"for {item} in _items({var})]")
    elif isinstance(completer, _Object) and completer.plan.build is not None:
        build = source.name("b", completer.plan.build)
        expression = f"{build}({var})" if completer.nullable else f"{build}(_some({var}))"
    else:  # pragma: no cover - only called for completers with converters
        raise AssertionError(completer)
    if completer.nullable:
        return f"(None if {var} is None else {expression})"
    return expression


def _namespace() -> dict[str, Any]:
    return {"_Bail": _Bail, "_leaf": _leaf, "_some": _some, "_items": _items,
            "_UUID_CLASSES": _UUID_CLASSES, "datetime": datetime, "MISSING": MISSING}


def _exec(lines: list[str], filename: str, namespace: dict[str, Any], name: str) -> Any:
    code = compile("\n".join(lines), filename, "exec")
    exec(code, namespace)  # noqa: S102 - source built from the schema's own names
    return namespace[name]


def _compile_convert(completer: Completer) -> Callable[[Any], Any]:
    """``convert(value)``: the completed value of a completer with no resolver below."""
    namespace = _namespace()
    expression = _convert_expression(completer, "value", _Source(namespace))
    return _exec(["def convert(value):", f"    return {expression}"], "<compiled convert>",  # type: ignore[no-any-return]
                 namespace, "convert")


def _compile_build(plan: TypePlan) -> Callable[[Any], dict[str, Any]]:
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
    return _exec(lines, f"<compiled build of {plan.type.name}>", namespace,  # type: ignore[no-any-return]
                 "build")


def _compile_fill(plan: TypePlan) -> Callable[[_Run, Any, dict[str, Any], ResponsePath], None]:
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
    return _exec(lines, f"<compiled fill of {plan.type.name}>", namespace, "fill")  # type: ignore[no-any-return]
