"""JSON text read so that no number changes without a word.

JSON fields (``user_data``, ``attributes``) keep integers within ±(2^53 - 1)
and other numbers as 64-bit floats (see ``validation.json_object``). Readers
are not that careful on their own: orjson reads an integer beyond 64 bits as
a float, rounds ``1.0000000000000001`` to ``1.0`` and ``1e-400`` to ``0.0``,
and refuses ``1e400`` as if it were not JSON; graphql-core rounds GraphQL's
float literals alike. The readers here keep integers of up to 16 digits
exact (longer ones are out of range anyway: they become floats of their
size), and mark a number that a float does not hold as written (an
:class:`UnkeptNumber`), so validation refuses it and names the field instead
of storing another number.

REST bodies and GraphQL requests are read with :func:`loads`, GraphQL
literals with :func:`integer` and :func:`fraction`. Almost every body takes
orjson's fast path alone: only one with a number orjson read as a float (one
written with a fraction or an exponent, or an integer beyond 64 bits) or
cannot read at all is read again, by Python's json.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

import orjson

# 2^53 - 1 has 16 digits: a longer integer is beyond the range whatever it is.
_INTEGER_DIGITS = 16
_NUMBER_START = re.compile(r"-?[0-9]")


class UnkeptNumber(float):
    """A number whose nearest 64-bit float is another number (too many digits,
    or too small): ``validation.json_object`` refuses it."""


def integer(text: str) -> int | float:
    """An integer as written; beyond 16 digits, a float (only its size matters
    then: it is out of range, and ``int()`` refuses text of over 4300 digits)."""
    if len(text.lstrip("-")) > _INTEGER_DIGITS:
        return float(text)  # infinite for the longest
    return int(text)


def fraction(text: str) -> float:
    """A number written with a fraction or an exponent, as a 64-bit float; an
    :class:`UnkeptNumber` when that float's shortest spelling is another number
    (``0.1`` is kept; ``1.0000000000000001`` and ``1e-400`` are not)."""
    value = float(text)
    if math.isfinite(value) and Decimal(repr(value)) != Decimal(text):
        return UnkeptNumber(value)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _python_loads(text: str) -> Any:
    return json.loads(text, parse_int=integer, parse_float=fraction,
                      parse_constant=_no_constant)


def loads(data: bytes | str) -> Any:
    """JSON text as Python values, numbers as described above.

    Errors are ``json.JSONDecodeError`` (orjson's, when orjson has one).
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # A number orjson cannot take (1e400, a 400-digit integer) is still JSON.
        if not isinstance(exc.doc, str) or not _NUMBER_START.match(exc.doc, exc.pos):
            raise
        try:
            value = _python_loads(exc.doc)
        except (ValueError, RecursionError):
            raise exc from None
        _check_strings(value, exc)
        return value
    if not _has_float(value):
        return value
    text = data.decode() if isinstance(data, bytes) else data
    try:
        return _python_loads(text)
    except RecursionError:  # orjson reads 1024 levels, Python's json a few less
        raise json.JSONDecodeError("The JSON nests too deeply.", text, 0) from None


def _has_float(value: Any) -> bool:
    """Whether orjson read a number as a float: one written with a fraction or an
    exponent, or an integer beyond 64 bits. Only those are read again. (Walking
    the values is cheaper than searching the text: a regular expression took
    8 µs on a 376-byte GraphQL request, the walk under one.)"""
    if isinstance(value, float):
        return True
    if not isinstance(value, (dict, list)):
        return False
    pending = [value]
    while pending:
        item = pending.pop()
        for inner in (item.values() if isinstance(item, dict) else item):
            if isinstance(inner, float):
                return True
            if isinstance(inner, (dict, list)):
                pending.append(inner)
    return False


def _check_strings(value: Any, error: orjson.JSONDecodeError) -> None:
    """Refuse what orjson would have refused further on: lone surrogates."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                raise error from None
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
