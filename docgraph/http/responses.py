"""JSON responses encoded with orjson, and the REST error body."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from docgraph.errors import AppError


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)


def error_response(error: AppError, request_id: str | None) -> JSONResponse:
    return JSONResponse(error.body(request_id), status_code=error.status, headers=error.headers)
