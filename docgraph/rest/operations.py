"""Each REST operation declared once, with its handler: routes and OpenAPI come from it.

An :class:`Operation` holds what a caller needs to know — method and path,
query and path parameters, the body it reads (an
:class:`~docgraph.resolvers.fields.Input`), the responses it sends (each a
:class:`~docgraph.rest.views.View`), its errors — next to the function that
answers it. The app's routes (``rest.routes``) and the OpenAPI document
(``rest.openapi``) are both built from the same declarations, and the
parameters a handler receives are exactly those declared (any other query
parameter, or one given twice, is a 400 naming it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from docgraph.resolvers.fields import Input, Kind, Schema
from docgraph.rest.parsing import query
from docgraph.rest.views import View

Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]


@dataclasses.dataclass(frozen=True)
class Param:
    """A query (or path) parameter: its name, its JSON Schema, what it means."""

    name: str
    schema: Schema
    description: str
    where: str = "query"
    required: bool = False


def param(name: str, kind: Kind, description: str, *, where: str = "query",
          required: bool = False, **schema: Any) -> Param:
    """A parameter holding a ``kind``; ``schema`` narrows its JSON Schema (a default, say)."""
    return Param(name, {**kind.json_schema(output=False), **schema}, description, where,
                 required or where == "path")


@dataclasses.dataclass(frozen=True, eq=False)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    operation_id: str
    tag: str
    responses: dict[int, tuple[str, View | None]]
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    body: Input | None = None
    description: str | None = None
    public: bool = False

    async def __call__(self, request: Request) -> Response:
        params = query(request, [p.name for p in self.params if p.where == "query"])
        return await self.handler(request, params)


class Operations:
    """The operations of one module, in the order they are declared."""

    def __init__(self) -> None:
        self._declared: list[Operation] = []

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._declared)

    def add(self, method: str, path: str, handler: Handler, **declared: Any) -> Operation:
        operation = Operation(method, path, handler, **declared)
        self._declared.append(operation)
        return operation

    def __call__(self, method: str, path: str, **declared: Any) -> Callable[[Handler], Handler]:
        """Declare the decorated handler's operation."""
        def register(handler: Handler) -> Handler:
            self.add(method, path, handler, **declared)
            return handler

        return register
