"""The app's exception handlers: every error leaves as its error body (``error_response``)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from docgraph.errors import AppError, MethodNotAllowed, NotFound
from docgraph.http.responses import error_response


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(exc, request.scope)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no route, wrong method) in the same shape."""
    assert isinstance(exc, HTTPException)
    error: AppError
    if exc.status_code == 405:
        error = MethodNotAllowed(headers=dict(exc.headers or {}))
    elif exc.status_code == 404:
        error = NotFound("No such path.")
    else:
        error = AppError(exc.detail)
        error.status = exc.status_code
    return error_response(error, request.scope)


EXCEPTION_HANDLERS = {AppError: app_error, HTTPException: http_error}
