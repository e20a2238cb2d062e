"""The execution context strawberry is given: graphql-core's, with compiled plain queries.

graphql-core executes every field of every object through the same general
machinery (resolve info, resolver wrapper, awaitable checks, completion), about
5 µs per field; a page of 25 documents with their links is some 500 fields.
This executor compiles each query operation once into a plan (``planner``) —
per object type, which fields to read straight off the record, which to
resolve, and the serializer of every leaf — and then fills the response with
plain attribute reads (``run``, ``codegen``), leaving graphql-core's machinery
to the few fields that have resolvers.

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

import logging
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from graphql import ExecutionResult, GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from docgraph.schema.fast.planner import OperationPlan, PlanCache
from docgraph.schema.fast.plans import Bail
from docgraph.schema.fast.run import Run

log = logging.getLogger("docgraph.graphql")


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with the compiled path for plain queries.

    graphql-core makes one per operation from the class alone, so what outlives
    an operation is set on the class: ``compiled_executor`` makes a subclass with
    its own plan cache and counters (each ``FastPath`` has one).
    """

    plans: ClassVar[PlanCache]
    # How operations were executed (``FastPath.executions``).
    executions: ClassVar[dict[str, int]]

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
            self.executions["graphql_core"] += 1
            return super().execute_operation(serially)
        plan = self.plans.plan_for(self)
        if plan is None:
            self.executions["graphql_core"] += 1
            return super().execute_operation(serially)
        return self._execute_compiled(plan, serially)

    async def _execute_compiled(self, plan: OperationPlan, serially: bool | None) -> Any:
        # This path puts ready-made values (RenderedPage) in the answer; graphql-core's
        # does not, and a context that says otherwise is told so again before it runs.
        context = self.context_value
        accepts = hasattr(context, "accepts_rendered")
        if accepts:
            context.accepts_rendered = True
        run = Run(self)
        try:
            data = await run.run(plan.root, self.root_value)
        except Bail:
            pass
        except Exception:  # any error: graphql-core reports it, with its path
            log.debug("compiled execution failed; executing again", exc_info=True)
        else:
            self.executions["compiled"] += 1
            self.executions["rendered"] += run.rendered
            return ExecutionResult(data=data, errors=None)
        finally:
            if accepts:
                context.accepts_rendered = False
        self.executions["fell_back"] += 1
        result = super().execute_operation(serially)
        return await result if self.is_awaitable(result) else result


def compiled_executor(plans: PlanCache, executions: dict[str, int]) -> type[CompiledExecutor]:
    """A CompiledExecutor class caching its plans in ``plans``, counting in ``executions``."""

    class BoundCompiledExecutor(CompiledExecutor):
        pass

    BoundCompiledExecutor.plans = plans
    BoundCompiledExecutor.executions = executions
    return BoundCompiledExecutor


def _weak_method(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, without keeping its object alive (it is, while it executes)."""
    reference = weakref.WeakMethod(method)

    def call(*args: Any) -> Any:
        bound = reference()
        if bound is None:
            raise RuntimeError("the execution these helpers belong to is over")
        return bound(*args)

    return call
