"""Where the HTTP layers find the process's services and build a request's context."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from docgraph.resolvers.context import RequestContext, Services


def services(app: Any) -> Services:
    """The app's services (``scope["app"]`` or ``request.app``), set up by its lifespan."""
    return app.state.services


def request_context(request: HTTPConnection) -> RequestContext:
    """The context of an authenticated request (authentication set its principal)."""
    return RequestContext(request.app.state.services, request.state.principal,
                          request.state.request_id)
