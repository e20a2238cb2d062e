"""Reading REST requests: query parameters and JSON bodies, strictly.

Anything a caller may have got wrong — an unknown or repeated query
parameter, malformed JSON, a body that is not an object — is a 400
``validation_error``. Values are checked by the use cases, which name every
bad field at once; this module only turns HTTP text into JSON-like values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from docgraph.errors import ValidationError
from docgraph.resolvers import json_text, validation

_INTEGER = re.compile(r"^-?[0-9]{1,19}$")


def query(request: Request, allowed: Iterable[str]) -> dict[str, str]:
    """The query parameters, each at most once, all of them among ``allowed``."""
    known = set(allowed)
    params: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in known:
            problems[name] = ("is not a query parameter of this endpoint"
                              + (f" (allowed: {', '.join(sorted(known))})" if known else ""))
        elif name in params:
            problems[name] = "must be given at most once"
        else:
            params[name] = value
    if problems:
        raise validation.fail(problems)
    return params


def integer(value: str | None) -> int | str | None:
    """A query parameter as an integer when it spells one; otherwise as it came.

    The use case then refuses the text with "must be an integer", next to
    whatever else is wrong with the request.
    """
    if value is not None and _INTEGER.match(value):
        return int(value)
    return value


async def json_object(request: Request) -> dict[str, Any]:
    """The request body: one JSON object (whatever the Content-Type says).

    Read by ``json_text``, so no number in it has changed on the way.
    """
    raw = await request.body()
    if not raw.strip():
        raise ValidationError("The request body must be a JSON object; it is empty.")
    try:
        data = json_text.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError("The request body is not valid JSON.",
                              details={"reason": str(exc)}) from None
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.",
                              details={"received": _json_type(data)})
    return data


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array"
