"""Rate limits: per API key, or per client address for traffic without a valid key.

Algorithm: a fixed window that starts at a client's first request, shared by
every instance through PostgreSQL (``rate_limit_windows``, UNLOGGED), which
leases it out in blocks (``docgraph.resolvers.rate_limits``): each worker
process leases up to ``DOCGRAPH_RATE_LIMIT_LEASE`` of the window's requests
in one statement and counts its requests against that lease in memory, so
most requests send no SQL to be counted, and the database never leases more
than the limit: the limit holds across instances, never over-admitting.
Leases shrink as the window runs out, and a request that costs more than
the process holds leases what it lacks (refused, counting nothing, when the
window has not that much left). A lease is spent only while its window runs
(by the database's clock, read when leasing). ``DOCGRAPH_RATE_LIMIT_LEASE=1``
counts each request in PostgreSQL, exactly.

Every response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (placed in ``state["response_headers"]``, which the
request-id layer adds to whatever response is sent, errors included).
Remaining is the limit less what every instance had leased at this
process's last lease, plus what this process holds: never below 0, never
rising until the window resets. Over the limit: 429 ``rate_limited`` with
``Retry-After``. A request whose key fails authentication is counted against
its address, never against a key. ``/healthz`` and ``/readyz`` are not
limited.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Collection, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from docgraph.errors import AppError, OperationRefused, PayloadTooLarge, RateLimited
from docgraph.http.authentication import authenticate
from docgraph.http.bodies import buffer_body
from docgraph.http.context import services
from docgraph.resolvers.rate_limits import Hit, RateLimiter

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
                 pricing: Mapping[str, Pricing] | None = None) -> None:
        self.app = app
        self.is_public = is_public
        self.unlimited_paths = frozenset(unlimited_paths)
        self.key_limit = key_limit
        self.address_limit = address_limit
        self.pricing = dict(pricing or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.unlimited_paths:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        principal = None if self.is_public(scope) else await authenticate(scope)
        limiter = services(scope["app"]).rate_limits
        if principal is None:
            limit = self.address_limit
            hit = await limiter.count_for_address(client_address(scope), limit=limit)
            self._check(scope, hit, limiter, 1)
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
        hit = await limiter.count_for_key(principal, cost=cost, limit=limit)
        self._check(scope, hit, limiter, cost)
        if refusal is not None:
            raise refusal
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, hit: Hit, limiter: RateLimiter, cost: int) -> None:
        """Put the rate-limit headers on the response; 429 when the window is spent."""
        scope["state"].setdefault("response_headers", {}).update(rate_limit_headers(hit))
        if not hit.allowed:
            raise RateLimited(hit.reset_seconds, "Rate limit exceeded: retry after the window "
                              "resets.", details={"limit": hit.limit, "cost": cost,
                                                  "window_seconds": limiter.window_seconds})
