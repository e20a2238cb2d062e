"""Rate limits: per API key, or per client address for traffic without a valid key.

Algorithm: a fixed window that starts at a client's first request, counted
in PostgreSQL (``rate_limit_windows``, UNLOGGED) with one upsert per request
(:data:`docgraph.db.rate_limits.HIT`), so every instance shares the count
and the limit holds exactly across them. Within a window the count only
grows, so ``X-RateLimit-Remaining`` never rises until ``X-RateLimit-Reset``
seconds have passed.

Every response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (placed in ``state["response_headers"]``, which the
request-id layer adds to whatever response is sent, errors included). Over
the limit: 429 ``rate_limited`` with ``Retry-After``. A request whose key
fails authentication is counted against its address, never against a key.
``/healthz`` and ``/readyz`` are not limited.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from docgraph import graphql_cost
from docgraph.bodies import buffer_body
from docgraph.db import rate_limits
from docgraph.db.database import Database
from docgraph.errors import AppError, PayloadTooLarge, RateLimited, ValidationError
from docgraph.middleware import authenticate

LIMIT_HEADER = "X-RateLimit-Limit"
REMAINING_HEADER = "X-RateLimit-Remaining"
RESET_HEADER = "X-RateLimit-Reset"


def client_address(scope: Scope) -> str:
    """The client's address (X-Forwarded-For only from DOCGRAPH_FORWARDED_ALLOW_IPS)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


def rate_limit_headers(hit: rate_limits.Hit) -> dict[str, str]:
    return {LIMIT_HEADER: str(hit.limit), REMAINING_HEADER: str(hit.remaining),
            RESET_HEADER: str(hit.reset_seconds)}


class RateLimitMiddleware:
    """Counts each request against its key's (or address's) window; 429 once spent.

    For the GraphQL endpoint the request's cost is its root fields (see
    :mod:`docgraph.graphql_cost`): the body is read here, within
    ``graphql_max_body_bytes``, and replayed to the layers below. An operation with
    more than ``graphql_max_root_fields`` root fields, or more than the key's
    whole limit, is refused (400) and costs 1.
    """

    def __init__(self, app: ASGIApp, *, is_public: Callable[[str, str], bool],
                 unlimited_paths: Collection[str], key_limit: int, address_limit: int,
                 window_seconds: int, graphql_path: str, graphql_max_body_bytes: int,
                 graphql_max_root_fields: int, graphql_max_tokens: int | None = None) -> None:
        self.app = app
        self.is_public = is_public
        self.unlimited_paths = frozenset(unlimited_paths)
        self.key_limit = key_limit
        self.address_limit = address_limit
        self.window_seconds = window_seconds
        self.graphql_path = graphql_path
        self.graphql_max_body_bytes = graphql_max_body_bytes
        self.graphql_max_root_fields = graphql_max_root_fields
        self.graphql_max_tokens = graphql_max_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.unlimited_paths:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        principal = None if self.is_public(method, path) else await authenticate(scope)
        if principal is not None:
            bucket = f"k:{principal.key_id}"
            limit = principal.rate_limit or self.key_limit
        else:
            bucket = f"a:{client_address(scope)}"
            limit = self.address_limit

        cost = 1
        refusal: AppError | None = None
        if principal is not None and path == self.graphql_path and method in ("GET", "POST"):
            try:
                body = b""
                if method == "POST":
                    body, receive = await buffer_body(scope, receive,
                                                      self.graphql_max_body_bytes)
                cost = graphql_cost.request_cost(method, scope.get("query_string", b""), body,
                                                 max_tokens=self.graphql_max_tokens)
            except PayloadTooLarge as error:
                refusal = error
            if cost > min(self.graphql_max_root_fields, limit):
                refusal = ValidationError(
                    f"The operation selects {cost} root fields; at most "
                    f"{min(self.graphql_max_root_fields, limit)} are allowed in one request.",
                    details={"root_fields": cost,
                             "max_root_fields": min(self.graphql_max_root_fields, limit)})
            if refusal is not None:
                cost = 1

        db: Database = scope["app"].state.db
        hit = await rate_limits.hit(db, bucket, cost=cost, limit=limit,
                                    window_seconds=self.window_seconds)
        scope["state"].setdefault("response_headers", {}).update(rate_limit_headers(hit))
        if not hit.allowed:
            raise RateLimited(hit.reset_seconds, "Rate limit exceeded: retry after the window "
                              "resets.", details={"limit": limit, "cost": cost,
                                                  "window_seconds": self.window_seconds})
        if refusal is not None:
            raise refusal
        await self.app(scope, receive, send)
