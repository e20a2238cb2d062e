"""JSON responses encoded with orjson, and the one place that decides an error's body."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Scope

from docgraph.errors import AppError
from docgraph.http import graphql
from docgraph.http.paths import GRAPHQL_PATH


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)


def error_response(error: AppError, scope: Scope) -> Response:
    """The response to a request the app refuses, whichever layer refuses it.

    At the GraphQL endpoint, a GraphQL response (``http.graphql.error_response``);
    everywhere else the REST error body, ``{"error": {code, message, details,
    request_id}}``, with the error's status and headers.
    """
    if scope.get("path") == GRAPHQL_PATH:
        return graphql.error_response(error, scope)
    request_id = scope.get("state", {}).get("request_id")
    return JSONResponse(error.body(request_id), status_code=error.status, headers=error.headers)
