"""Rate limits: per API key, or per client address for traffic without a valid key.

Algorithm: a fixed window that starts at a client's first request, counted
in PostgreSQL (``rate_limit_windows``, UNLOGGED) with one upsert per request
(``docgraph.resolvers.rate_limits``), so every instance shares the count
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

import dataclasses
from collections.abc import Awaitable, Callable, Collection, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from docgraph.errors import AppError, OperationRefused, PayloadTooLarge, RateLimited
from docgraph.http.authentication import authenticate
from docgraph.http.bodies import buffer_body
from docgraph.http.context import services
from docgraph.resolvers import rate_limits
from docgraph.resolvers.rate_limits import Hit

LIMIT_HEADER = "X-RateLimit-Limit"
REMAINING_HEADER = "X-RateLimit-Remaining"
RESET_HEADER = "X-RateLimit-Reset"


@dataclasses.dataclass(frozen=True)
class Pricing:
    """How many requests one request to a path counts for (GraphQL: its root fields).

    ``await price(scope, body)`` reads the request (a POST's body is buffered within
    ``max_body_bytes``; a GET's is empty) and may keep what it read in
    ``scope["state"]`` for the layers below; a request priced above ``max_cost``
    (or the key's whole limit) is refused (``OperationRefused``, 400) and counts 1.
    ``unit`` names what is counted in the refusal's details.
    """

    price: Callable[[Scope, bytes], Awaitable[int]]
    max_body_bytes: int
    max_cost: int
    unit: str


def client_address(scope: Scope) -> str:
    """The client's address (X-Forwarded-For only from DOCGRAPH_FORWARDED_ALLOW_IPS)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


def rate_limit_headers(hit: Hit) -> dict[str, str]:
    return {LIMIT_HEADER: str(hit.limit), REMAINING_HEADER: str(hit.remaining),
            RESET_HEADER: str(hit.reset_seconds)}


class RateLimitMiddleware:
    """Counts each request against its key's (or address's) window; 429 once spent.

    Requests to a path of ``pricing`` count as many requests as their price
    (see :class:`Pricing`); every other request counts one.
    """

    def __init__(self, app: ASGIApp, *, is_public: Callable[[Scope], bool],
                 unlimited_paths: Collection[str], key_limit: int, address_limit: int,
                 window_seconds: int, pricing: Mapping[str, Pricing] | None = None) -> None:
        self.app = app
        self.is_public = is_public
        self.unlimited_paths = frozenset(unlimited_paths)
        self.key_limit = key_limit
        self.address_limit = address_limit
        self.window_seconds = window_seconds
        self.pricing = dict(pricing or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.unlimited_paths:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        principal = None if self.is_public(scope) else await authenticate(scope)
        db = services(scope["app"]).db
        if principal is None:
            limit = self.address_limit
            hit = await rate_limits.count_for_address(db, client_address(scope), limit=limit,
                                                      window_seconds=self.window_seconds)
            self._check(scope, hit, limit, 1)
            await self.app(scope, receive, send)
            return

        limit = principal.rate_limit or self.key_limit
        cost = 1
        refusal: AppError | None = None
        pricing = self.pricing.get(path)
        if pricing is not None and method in ("GET", "POST"):
            cap = min(pricing.max_cost, limit)
            try:
                body = b""
                if method == "POST":
                    body, receive = await buffer_body(scope, receive, pricing.max_body_bytes)
                cost = await pricing.price(scope, body)
            except PayloadTooLarge as error:
                refusal = error
            if cost > cap:
                refusal = OperationRefused(
                    f"The operation selects {cost} {pricing.unit.replace('_', ' ')}; at most "
                    f"{cap} are allowed in one request.",
                    details={pricing.unit: cost, f"max_{pricing.unit}": cap})
            if refusal is not None:
                cost = 1
        hit = await rate_limits.count_for_key(db, principal, cost=cost, limit=limit,
                                              window_seconds=self.window_seconds)
        self._check(scope, hit, limit, cost)
        if refusal is not None:
            raise refusal
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, hit: Hit, limit: int, cost: int) -> None:
        """Put the rate-limit headers on the response; 429 when the window is spent."""
        scope["state"].setdefault("response_headers", {}).update(rate_limit_headers(hit))
        if not hit.allowed:
            raise RateLimited(hit.reset_seconds, "Rate limit exceeded: retry after the window "
                              "resets.", details={"limit": limit, "cost": cost,
                                                  "window_seconds": self.window_seconds})
