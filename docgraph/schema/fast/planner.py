"""Compiling an operation into a plan, and the bounded cache of plans.

A plan is built once per (schema, operation) from graphql-core's own field
collection, and covers plain queries only: anything else (mutations,
subscriptions, introspection, directives, @defer/@stream, an argument on a
field without a resolver) makes ``OperationPlan`` raise ``Bail``, and the
cache remembers that the operation has no plan.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from graphql import (
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import collect_fields, collect_subfields
from graphql.language import DirectiveNode, Node, VariableNode

from docgraph.schema.fast.codegen import compile_build, compile_convert
from docgraph.schema.fast.direct import STRAWBERRY_DEFINITION, direct_resolver
from docgraph.schema.fast.plans import (
    AbstractCompleter,
    Bail,
    Completer,
    FieldPlan,
    LeafCompleter,
    ListCompleter,
    ObjectCompleter,
    TypePlan,
)
from docgraph.schema.relations import relation_of

# Operations whose plans (or the fact that they have none) a PlanCache keeps.
PLAN_CACHE_SIZE = 512


class OperationPlan:
    def __init__(self, executor: Executor) -> None:
        self.schema = executor.schema
        self.fragments = executor.fragments
        self.operation = executor.operation
        self.hide_suggestions = executor.hide_suggestions
        root_type = self.schema.get_root_type(OperationType.QUERY)
        if root_type is None:
            raise Bail
        collected = collect_fields(self.schema, self.fragments, executor.variable_values,
                                   root_type, self.operation, self.hide_suggestions)
        self.root = self.type_plan(root_type, collected.grouped_field_set,
                                   collected.new_defer_usages, executor)

    def type_plan(self, object_type: GraphQLObjectType, grouped: dict[str, list[Any]],
                  defer_usages: list[Any], executor: Executor) -> TypePlan:
        if defer_usages:
            raise Bail
        plan = TypePlan(object_type)
        for key, details in grouped.items():
            if any(d.defer_usage is not None or d.fragment_variable_values is not None
                   for d in details):
                raise Bail
            name = details[0].node.name.value
            if name == "__typename":
                field = FieldPlan(key, None, details)
                field.typename = object_type.name
                plan.fields.append(field)
                continue
            if name.startswith("__"):
                raise Bail  # introspection: graphql-core's job
            field_def = object_type.fields.get(name)
            if field_def is None:
                raise Bail
            field = FieldPlan(key, field_def, details)
            definition = field_def.extensions.get(STRAWBERRY_DEFINITION)
            plain = (definition is not None and definition.base_resolver is None
                     and not definition.extensions and not definition.permission_classes
                     and not field_def.args and not details[0].node.arguments)
            relation = None
            if definition is not None and definition.base_resolver is not None \
                    and not definition.extensions and not definition.permission_classes:
                relation = relation_of(definition.base_resolver.wrapped_func)
            if plain:
                field.attr = definition.python_name
            elif relation is not None and not field_def.args:
                field.relation = relation
            else:
                if field_def.resolve is None:
                    raise Bail
                field.resolve = direct_resolver(field_def, self.schema) or field_def.resolve
                field.has_args = bool(field_def.args or details[0].node.arguments)
                field.constant_arguments = not _contains(details[0].node.arguments or (),
                                                          VariableNode)
            field.completer = self.completer(field_def.type, details, executor)
            plan.fields.append(field)
        if plan.is_type_of is None and all(
                f.typename is not None or (f.attr is not None and f.completer is not None
                                           and f.completer.convert is not None)
                for f in plan.fields):
            plan.build = compile_build(plan)
        return plan

    def completer(self, output_type: GraphQLOutputType, details: list[Any],
                  executor: Executor) -> Completer:
        nullable = True
        if is_non_null_type(output_type):
            output_type = output_type.of_type
            nullable = False
        completer: Completer
        if is_list_type(output_type):
            completer = ListCompleter(self.completer(output_type.of_type, details, executor),
                                      nullable)
            if completer.item.convert is not None:
                completer.convert = compile_convert(completer)
            return completer
        if is_leaf_type(output_type):
            completer = LeafCompleter(output_type, nullable)
            completer.convert = compile_convert(completer)
            return completer
        if is_object_type(output_type):
            completer = ObjectCompleter(self.subplan(output_type, details, executor), details,
                                        nullable)
            if completer.plan.build is not None:
                completer.convert = compile_convert(completer)
            return completer
        if is_abstract_type(output_type):
            return AbstractCompleter(self, output_type, details, nullable)
        raise Bail

    def subplan(self, object_type: GraphQLObjectType, details: list[Any],
                executor: Executor) -> TypePlan:
        collected = collect_subfields(self.schema, self.fragments, executor.variable_values,
                                      self.operation, object_type, details,
                                      self.hide_suggestions)
        return self.type_plan(object_type, collected.grouped_field_set,
                              collected.new_defer_usages, executor)


def _contains(nodes: Iterable[Any], kind: type[Node]) -> bool:
    """Whether any of these AST nodes (or tuples of them) holds a node of ``kind``
    anywhere. (A walk, not a graphql-core Visitor: a visitor keeps its own bound
    methods, so each one made is cyclic garbage.)"""
    for node in nodes:
        if isinstance(node, kind):
            return True
        if isinstance(node, tuple | list):
            if _contains(node, kind):
                return True
        elif isinstance(node, Node) and _contains(
                [getattr(node, key, None) for key in node.keys], kind):
            return True
    return False


def _has_directives(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> bool:
    return _contains([operation, *(f.definition for f in fragments.values())], DirectiveNode)


class PlanCache:
    """Plans by (schema, operation), the least recently used dropped beyond ``maxsize``.

    Keyed by identity: a plan holds the schema's own fields and resolvers, and
    a parsed document may be shared by schemas (several apps in one process).
    Each entry keeps its schema and operation referenced, so their ids are not
    reused while it lives. The functions generated for a plan go with it.
    """

    def __init__(self, maxsize: int = PLAN_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._plans: OrderedDict[tuple[int, int], tuple[
            GraphQLSchema, OperationDefinitionNode, OperationPlan | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._plans)

    def plan_for(self, executor: Executor) -> OperationPlan | None:
        """The executor's operation's plan (None: graphql-core executes it)."""
        schema, operation = executor.schema, executor.operation
        key = (id(schema), id(operation))
        cached = self._plans.get(key)
        if cached is not None and cached[0] is schema and cached[1] is operation:
            self._plans.move_to_end(key)
            return cached[2]
        plan: OperationPlan | None = None
        if operation.operation == OperationType.QUERY and not _has_directives(
                operation, executor.fragments):
            try:
                plan = OperationPlan(executor)
            except Bail:
                plan = None
        self._plans[key] = (schema, operation, plan)
        if len(self._plans) > self.maxsize:
            self._plans.popitem(last=False)
        return plan
