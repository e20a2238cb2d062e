"""What a compiled operation is made of: per object type, the fields to produce.

Plain data, built by ``planner`` and read by ``run`` and the generated code
(``codegen``). A plan holds the schema's own fields and resolvers, and the
functions generated for it (``TypePlan.fill``/``build``, each completer's
``convert``): they live as long as the plan does in ``planner.PlanCache``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
)
from graphql.pyutils import Path

if TYPE_CHECKING:
    from docgraph.schema.fast.planner import OperationPlan
    from docgraph.schema.fast.run import Run


class Bail(Exception):
    """The compiled path cannot produce this response: let graphql-core do it."""


class LeafCompleter:
    __slots__ = ("convert", "nullable", "serialize", "type")

    def __init__(self, leaf: GraphQLLeafType, nullable: bool) -> None:
        self.type = leaf
        self.serialize = leaf.serialize
        self.nullable = nullable
        self.convert: Callable[[Any], Any] | None = None


class ListCompleter:
    __slots__ = ("convert", "item", "nullable")

    def __init__(self, item: Completer, nullable: bool) -> None:
        self.item = item
        self.nullable = nullable
        self.convert: Callable[[Any], Any] | None = None


class ObjectCompleter:
    __slots__ = ("convert", "nodes", "nullable", "plan")

    def __init__(self, plan: TypePlan, details: list[Any], nullable: bool) -> None:
        self.plan = plan
        self.nodes: list[FieldNode] = [d.node for d in details]
        self.nullable = nullable
        self.convert: Callable[[Any], Any] | None = None


class AbstractCompleter:
    __slots__ = ("abstract", "convert", "details", "nullable", "operation", "plans")

    def __init__(self, operation: OperationPlan, abstract: GraphQLAbstractType,
                 details: list[Any], nullable: bool) -> None:
        self.operation = operation
        self.abstract = abstract
        self.details = details
        self.nullable = nullable
        # The plan of each concrete type met at run time (at most the abstract type's
        # possible types: bounded by the schema).
        self.plans: dict[str, TypePlan] = {}
        self.convert = None


Completer = LeafCompleter | ListCompleter | ObjectCompleter | AbstractCompleter


class FieldPlan:
    __slots__ = ("arguments", "attr", "completer", "constant_arguments", "details", "field_def",
                 "has_args", "key", "nodes",
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
        # Arguments written as literals only (no variable): coerced once, then kept.
        self.constant_arguments = False
        self.arguments: dict[str, Any] | None = None
        self.relation: tuple[str, str] | None = None
        self.completer: Completer | None = None


class TypePlan:
    """The fields to produce for one concrete object type, in response order."""

    __slots__ = ("build", "fields", "fill", "is_type_of", "type")

    def __init__(self, object_type: GraphQLObjectType) -> None:
        self.type = object_type
        self.is_type_of = object_type.is_type_of
        self.fields: list[FieldPlan] = []
        # Generated on first use (``codegen.compile_fill``), then kept with the plan.
        self.fill: Callable[[Run, Any, dict[str, Any], ResponsePath], None] | None = None
        # For a plan of plain fields only, all the way down (no resolver, relation
        # or abstract type): a function building the object's response at once.
        self.build: Callable[[Any], dict[str, Any]] | None = None


# A response path as the run builds it: plain ``(previous, key, typename)`` tuples,
# the layout of graphql-core's Path (a NamedTuple, slower to create). Only resolve
# info needs a real Path: ``graphql_path`` converts one when a resolver runs.
PathEntry = tuple[Any, str | int, str | None]
ResponsePath = PathEntry | None


def graphql_path(path: PathEntry) -> Path:
    previous = path[0]
    return Path(None if previous is None else graphql_path(previous), path[1], path[2])
