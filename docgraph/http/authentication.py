"""Authentication: ``Authorization: Bearer wbk_...`` becomes the request's principal."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from docgraph.errors import AppError, InvalidKey
from docgraph.http.context import services
from docgraph.http.headers import header
from docgraph.http.responses import error_response
from docgraph.resolvers.auth import Principal, bearer_token


async def authenticate(scope: Scope) -> Principal | None:
    """Identify the caller once per request: ``state["principal"]`` or ``state["auth_error"]``.

    A missing, malformed, unknown or revoked key is not an error here: it is
    kept as ``auth_error`` for :class:`AuthMiddleware` to answer, so the
    layers in between (the rate limiter) still run for the request.
    """
    state = scope["state"]
    if "principal" in state or "auth_error" in state:
        return state.get("principal")
    try:
        key = bearer_token(header(scope, b"authorization"))
        state["principal"] = await services(scope["app"]).keys.verify(key)
    except InvalidKey as error:
        state["auth_error"] = error
        return None
    return state["principal"]


class AuthMiddleware:
    """Turns ``Authorization: Bearer wbk_...`` into ``scope["state"]["principal"]``.

    Keys are checked by the services' key verifier (see
    :func:`authenticate`; an outer layer may already have done it). Paths for
    which ``is_public(scope)`` is true pass without a key; every other
    request needs a valid one (401 ``invalid_key`` otherwise). Scopes are
    checked where the operation is known (routes, resolvers).
    """

    def __init__(self, app: ASGIApp, *, is_public: Callable[[Scope], bool]) -> None:
        self.app = app
        self.is_public = is_public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_public(scope):
            await self.app(scope, receive, send)
            return
        if await authenticate(scope) is None:
            error: AppError = scope["state"]["auth_error"]
            await error_response(error, scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)
