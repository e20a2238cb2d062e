"""One execution of a plan: level by level, the resolvers of a level batched."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

from graphql import GraphQLField, GraphQLObjectType, Undefined
from graphql.execution import Executor
from graphql.execution.values import get_argument_values

from docgraph.resolvers.rendered_pages import RenderedPage
from docgraph.schema.fast.codegen import compile_fill, items
from docgraph.schema.fast.plans import (
    AbstractCompleter,
    Bail,
    Completer,
    FieldPlan,
    ListCompleter,
    ObjectCompleter,
    ResponsePath,
    TypePlan,
    graphql_path,
)


class Run:
    """Fills a response from a plan; raises ``Bail`` (or a resolver's error) to give up."""

    __slots__ = ("context", "executor", "next_level", "pending", "rendered")

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.rendered = 0  # values taken ready-made (RenderedPage)
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
            fill = plan.fill = compile_fill(plan)
        fill(self, source, target, path)

    def resolve(self, plan: TypePlan, field: FieldPlan, source: Any, target: dict[str, Any],
                path: ResponsePath) -> None:
        """A field with a resolver: call it as graphql-core would."""
        # (The planner sets all three on every field it gives a resolver.)
        field_def = cast(GraphQLField, field.field_def)
        resolve = cast("Callable[..., Any]", field.resolve)
        completer = cast(Completer, field.completer)
        executor = self.executor
        field_path = (path, field.key, plan.type.name)
        info = executor.build_resolve_info(field_def, field.nodes, plan.type,
                                           graphql_path(field_path))
        args = field.arguments
        if args is None:
            args = get_argument_values(
                field_def, field.nodes[0], executor.variable_values,
                None, executor.hide_suggestions) if field.has_args else {}
            if field.constant_arguments:  # the same for every run of the plan
                field.arguments = args
        value = resolve(source, info, **args)
        if executor.is_awaitable(value):
            target[field.key] = None
            self.pending.append((value, completer, target, field.key, field_path))
        else:
            target[field.key] = self.complete(completer, value, field_path)

    def relation(self, field: FieldPlan, value: Any, target: dict[str, Any],
                 path: ResponsePath) -> None:
        """A dataloader's future for a relation field: settled with the level."""
        completer = cast(Completer, field.completer)  # (every relation field has one)
        target[field.key] = None
        self.pending.append((value, completer, target, field.key, (path, field.key, None)))

    def complete(self, completer: Completer, value: Any, path: ResponsePath,
                 key: str | None = None) -> Any:
        if value.__class__ is RenderedPage:  # written by the database, as the plan would
            self.rendered += 1
            return value.value
        convert = completer.convert
        if convert is not None:  # plain all the way down: built at once
            return convert(value)
        if value is None or value is Undefined:
            if completer.nullable:
                return None
            raise Bail
        if key is not None:  # a plain field: its path is only needed below it
            path = (path, key, None)
        if isinstance(completer, ListCompleter):
            item = completer.item
            if isinstance(item, ObjectCompleter) and item.plan.is_type_of is None:
                # The common case, a list of objects of one type: no per-item dispatch.
                plan, enqueue = item.plan, self.next_level.append
                objects: list[dict[str, Any] | None] = []
                for i, v in enumerate(items(value)):
                    if v is None:
                        if not item.nullable:
                            raise Bail
                        objects.append(None)
                        continue
                    result: dict[str, Any] = {}
                    objects.append(result)
                    enqueue((plan, v, result, (path, i, None)))
                return objects
            return [self.complete(item, v, (path, i, None))
                    for i, v in enumerate(items(value))]
        if isinstance(completer, ObjectCompleter):
            plan = completer.plan
            nodes = completer.nodes
        elif isinstance(completer, AbstractCompleter):
            plan = self.runtime_plan(completer, value, path)
            nodes = [d.node for d in completer.details]
        else:  # a leaf always has its converter
            raise Bail
        if plan.is_type_of is not None:
            if path is None:  # a value completed below a field always has a path
                raise Bail
            info = self.executor.build_resolve_info(GraphQLField(plan.type), nodes, plan.type,
                                                    graphql_path(path))
            if not plan.is_type_of(value, info):
                raise Bail
        fields: dict[str, Any] = {}
        self.next_level.append((plan, value, fields, path))
        return fields

    def runtime_plan(self, completer: AbstractCompleter, value: Any,
                     path: ResponsePath) -> TypePlan:
        abstract = completer.abstract
        if abstract.resolve_type is None or path is None:
            raise Bail
        info = self.executor.build_resolve_info(
            GraphQLField(abstract), [d.node for d in completer.details],
            abstract,  # type: ignore[arg-type]  # an abstract parent: only resolve_type sees it
            graphql_path(path))
        runtime = abstract.resolve_type(value, info, abstract)
        if isinstance(runtime, Awaitable):
            raise Bail
        name = runtime if isinstance(runtime, str) else getattr(runtime, "name", None)
        if not isinstance(name, str):
            raise Bail
        plan = completer.plans.get(name)
        if plan is None:
            object_type = self.executor.schema.get_type(name)
            if not isinstance(object_type, GraphQLObjectType) or not \
                    self.executor.schema.is_sub_type(abstract, object_type):
                raise Bail
            plan = completer.operation.subplan(object_type, completer.details, self.executor)
            completer.plans[name] = plan
        return plan
