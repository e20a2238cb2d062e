"""``X-Statement-Count``: how many SQL statements a request sent (tests, benchmarks)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docgraph.resolvers.context import counting_statements


class StatementCountMiddleware:
    """Adds ``X-Statement-Count``: the SQL statements this request sent.

    Installed only when ``DOCGRAPH_EXPOSE_STATEMENT_COUNT`` is on (tests and
    the benchmark), to prove that a query's cost depends on its depth, not on
    the length of its lists.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with counting_statements() as tally:

            async def send_with_count(message: Message) -> None:
                if message["type"] == "http.response.start":
                    MutableHeaders(scope=message)["X-Statement-Count"] = str(tally.count)
                await send(message)

            await self.app(scope, receive, send_with_count)
