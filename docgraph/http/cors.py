"""Cross-origin requests from browsers (single-page apps on other origins).

Allowed origins come from ``DOCGRAPH_CORS_ORIGINS``: none by default, a list,
or ``*``. A preflight from an allowed origin is answered here, before
authentication (browsers send preflights without credentials). A disallowed
origin gets no CORS headers at all, so the browser refuses the response.
``app.py`` installs this layer outermost, so that errors rendered by the
layers below (401, 413, 429, the queue's 503) carry the CORS headers.
The API authenticates with bearer keys, never cookies, so credentials are
not allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = ("authorization", "content-type", "idempotency-key", "x-request-id", "accept",
                   "if-none-match")
EXPOSED_HEADERS = ("X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                   "X-RateLimit-Reset", "Retry-After", "X-Statement-Count",
                   "Content-Disposition", "Content-Length")
PREFLIGHT_MAX_AGE = "600"


class CORSMiddleware:
    def __init__(self, app: ASGIApp, *, origins: Iterable[str]) -> None:
        self.app = app
        origins = tuple(origins)
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)
        self.allow_methods = ", ".join(ALLOWED_METHODS)
        self.expose_headers = ", ".join(EXPOSED_HEADERS)

    def allowed(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self.preflight(origin, headers, send)
            return
        if not self.allowed(origin):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers["Access-Control-Allow-Origin"] = (
                    "*" if self.any_origin else origin)
                response_headers["Access-Control-Expose-Headers"] = self.expose_headers
                if not self.any_origin:
                    response_headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def preflight(self, origin: str, headers: Headers, send: Send) -> None:
        method = headers["access-control-request-method"].upper()
        requested = [h.strip().lower() for h in
                     headers.get("access-control-request-headers", "").split(",") if h.strip()]
        ok = (self.allowed(origin) and method in ALLOWED_METHODS
              and all(h in ALLOWED_HEADERS for h in requested))
        response_headers: list[tuple[bytes, bytes]] = [(b"vary", b"Origin"),
                                                       (b"content-length", b"0")]
        if ok:
            response_headers += [
                (b"access-control-allow-origin", (origin if not self.any_origin else "*").encode()),
                (b"access-control-allow-methods", self.allow_methods.encode()),
                (b"access-control-allow-headers", ", ".join(requested or ALLOWED_HEADERS)
                 .encode()),
                (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            ]
        await send({"type": "http.response.start", "status": 204 if ok else 403,
                    "headers": response_headers})
        await send({"type": "http.response.body", "body": b""})
