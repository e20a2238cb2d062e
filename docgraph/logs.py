"""Logs carrying the request id: JSON lines for machines, readable lines for people.

``DOCGRAPH_LOG_FORMAT`` chooses: ``json`` (one object per line, what production
and log collectors read), ``text`` (one short line per event, what a person
reads at a terminal), or ``auto`` (the default: ``text`` when stderr is a
terminal, ``json`` otherwise). Both carry the same facts; uvicorn's
``color_message`` (its message again, with terminal escape codes) is never one
of them.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import time
from typing import IO, Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}
# Attributes libraries attach to records that are presentation, not facts: uvicorn
# repeats its message with ANSI colour codes in ``color_message``.
_PRESENTATION = frozenset({"color_message"})

FORMATS = ("auto", "json", "text")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The facts a call passed with ``extra=...``."""
    return {key: value for key, value in record.__dict__.items()
            if key not in _RESERVED and key not in _PRESENTATION and not key.startswith("_")}


def _request_id(record: logging.LogRecord) -> str | None:
    return getattr(record, "request_id", None) or request_id_var.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_LEVEL_COLOURS = {"DEBUG": _DIM, "INFO": "\x1b[32m", "WARNING": "\x1b[33m",
                  "ERROR": "\x1b[31m", "CRITICAL": "\x1b[1;31m"}
_STATUS_COLOURS = {2: "\x1b[32m", 3: "\x1b[36m", 4: "\x1b[33m", 5: "\x1b[31m"}
# The access line names these itself; other records show their extras as key=value.
_ACCESS_FIELDS = frozenset({"method", "path", "status", "duration_ms", "request_id",
                            "workspace_id"})


class TextFormatter(logging.Formatter):
    """One readable line per record, for a person at a terminal.

    A request: ``09:41:07.120  GET /v1/workspace → 200  3.1 ms  req_…``; anything
    else: time, level, logger, message and its extra facts as ``key=value``
    (the request id among them), then a traceback if there is one.
    """

    def __init__(self, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def _paint(self, text: str, colour: str | None) -> str:
        return f"{colour}{text}{_RESET}" if self.colour and colour else text

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        stamp = self._paint(f"{clock}.{int(record.msecs):03d}", _DIM)
        extras = _extras(record)
        if record.name == "docgraph.access" and "method" in extras:
            line = self._access(stamp, extras)
            rest = {k: v for k, v in extras.items() if k not in _ACCESS_FIELDS}
        else:
            level = self._paint(f"{record.levelname:<7}", _LEVEL_COLOURS.get(record.levelname))
            line = f"{stamp}  {level} {record.name}: {record.getMessage()}"
            rest = extras
            request_id = _request_id(record)
            if request_id and "request_id" not in rest:
                rest = {**rest, "request_id": request_id}
        shown = [f"{k}={v}" for k, v in rest.items() if v is not None]
        if shown:
            line += "  " + self._paint(" ".join(shown), _DIM)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line

    def _access(self, stamp: str, fields: dict[str, Any]) -> str:
        status = fields.get("status")
        colour = _STATUS_COLOURS.get(status // 100) if isinstance(status, int) else None
        duration = fields.get("duration_ms")
        took = f"{duration:.1f} ms" if isinstance(duration, int | float) else "-"
        request_id = fields.get("request_id") or ""
        return (f"{stamp}  {fields.get('method')} {fields.get('path')} → "
                f"{self._paint(str(status), colour)}  {took}  "
                f"{self._paint(request_id, _DIM)}").rstrip()


def wants_text(fmt: str, stream: IO[str]) -> bool:
    """Whether ``fmt`` (``auto``, ``json``, ``text``) means readable lines on ``stream``."""
    if fmt == "auto":
        return _isatty(stream)
    return fmt == "text"


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False


def formatter_for(fmt: str, stream: IO[str]) -> logging.Formatter:
    if not wants_text(fmt, stream):
        return JsonFormatter()
    # Colours only for a terminal, and never when NO_COLOR is set (no-color.org).
    return TextFormatter(colour=_isatty(stream) and not os.environ.get("NO_COLOR"))


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes, not to the object it
    was when logging was set up (which whoever replaced it may have closed since)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def configure_logging(level: str = "info", fmt: str = "auto",
                      stream: IO[str] | None = None) -> None:
    """Every record to stderr (or ``stream``), in ``fmt`` (see the module's docstring)."""
    handler = StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(formatter_for(fmt, sys.stderr if stream is None else stream))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx (docgraph upload's client) logs each request with its whole URL at INFO:
    # noise, and a signed URL is a credential.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn's own access log would duplicate ours.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
