"""Headers read from the ASGI scope and added to a response, without Starlette's
``Headers`` objects: every request passes these layers, and building a ``Headers``
to read one value (or a ``MutableHeaders`` to set four) cost more than the scan."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Message, Scope


def header(scope: Scope, name: bytes) -> str | None:
    """The request's first ``name`` header (lower case, as ASGI servers give names)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def set_headers(message: Message, headers: Mapping[str, str]) -> None:
    """Put ``headers`` on an ``http.response.start`` message, replacing any of theirs
    it carries (names compared case-insensitively)."""
    added = [(name.lower().encode("latin-1"), value.encode("latin-1"))
             for name, value in headers.items()]
    names = {name for name, _ in added}
    message["headers"] = [pair for pair in message.get("headers", ())
                          if pair[0].lower() not in names] + added
