"""The fast execution path for GraphQL queries: a plug-in the schema knows nothing of.

Two parts, one object (``FastPath``):

* ``execution_context_class``: the executor strawberry is given for every
  operation (``executor``). It compiles each plain query once into a plan
  and fills the response from it; anything else, and any error, goes to
  graphql-core's own executor, with the same response.
* ``prepare``: a plain query whose document is valid skips strawberry's
  ``Schema.execute`` (``prepared``); every other request takes strawberry's path.

Only this package knows of itself: the schema's types declare what the fast
path may use (relation fields: ``schema.relations.loads``), and the one place
that decides whether it runs is ``schema.view.graphql_app``
(``DOCGRAPH_GRAPHQL_COMPILED``). ``tests/test_graphql_compiled.py`` checks that
both paths answer byte for byte alike.

Caches, all bounded:

* plans: ``FastPath.plans``, the LRU of ``PLAN_CACHE_SIZE`` operations (per
  schema and parsed document) with, on each plan, the functions generated
  for it (per object type: its fill, its build, its leaves' converters);
* parsed query texts and validated documents: ``schema.documents`` (LRUs of
  ``DOCUMENT_CACHE_SIZE``), shared with strawberry's path, which uses the
  same ones through the ``OperationDocuments`` extension.
"""

from __future__ import annotations

from docgraph.http.graphql import GraphQLRequest
from docgraph.schema import DocgraphSchema
from docgraph.schema.fast.executor import CompiledExecutor, compiled_executor
from docgraph.schema.fast.planner import PLAN_CACHE_SIZE, PlanCache
from docgraph.schema.fast.prepared import PreparedQuery, prepare

__all__ = ["PLAN_CACHE_SIZE", "FastPath", "PreparedQuery"]


class FastPath:
    """The compiled executor and the prepared-query shortcut, with their plan cache."""

    def __init__(self, plan_cache_size: int = PLAN_CACHE_SIZE) -> None:
        self.plans = PlanCache(plan_cache_size)
        # How this path's executor ran operations: compiled, compiled but handed back
        # to graphql-core (an error), or graphql-core's from the start; and how many
        # values it took ready-made (pages the database wrote). Observability for
        # tests; the service never reads it.
        self.executions = {"compiled": 0, "fell_back": 0, "graphql_core": 0, "rendered": 0}
        # For the schema builder: strawberry executes every operation with it.
        self.execution_context_class: type[CompiledExecutor] = compiled_executor(
            self.plans, self.executions)

    def prepare(self, schema: DocgraphSchema, request: GraphQLRequest) -> PreparedQuery | None:
        """``request``'s query, ready to execute, if this path can run it; else None."""
        return prepare(schema, request)
