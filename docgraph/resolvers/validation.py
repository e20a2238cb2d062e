"""Input rules shared by GraphQL and REST (seed 002's, and the data model's).

Validators take what a caller sent (any JSON value) and return it cleaned,
or raise :class:`Invalid`. :func:`parse_fields` applies a set of them to a
mapping and raises one ``ValidationError`` whose ``details["fields"]`` names
every bad field, so a caller can fix all of them at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from docgraph.errors import ValidationError
from docgraph.resolvers.json_text import UnkeptNumber
from docgraph.resolvers.records import (
    EVENT_TYPES,
    POSITION_MAX,
    SYSTEM_ACTOR,
    DocumentStatus,
    DocumentType,
    EntityType,
    EventPosition,
    LinkedDocumentOrder,
    ScanStatus,
)

NAME_MAX = 255
DESCRIPTION_MAX = 10_000
ROLE_MAX = 64
REASON_MAX = 1_000
TAGS_MAX = 50
TAG_MAX = 64
PATH_MAX = 1_024
MIME_TYPE_MAX = 255
SEARCH_MAX = 255
QUERY_MAX = 500
JSON_MAX_BYTES = 64 * 1024
JSON_MAX_DEPTH = 32
SAFE_INTEGER_MAX = 2**53 - 1
# A list of event types names each at most once; a little slack for repeats.
EVENT_TYPES_MAX = 2 * len(EVENT_TYPES)
_BEYOND_RANGE = (f"must not contain numbers beyond ±{SAFE_INTEGER_MAX} (2^53 - 1): "
                 "they would not be kept exactly")
_TOO_PRECISE = ("must not contain numbers with more digits than a 64-bit float keeps: "
                "they would not be kept exactly")

# RFC 6838 restricted names; top-level types from the IANA media type registry.
_MIME_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MIME_TYPE = re.compile(rf"^({_MIME_NAME})/({_MIME_NAME})$")
MIME_TOP_LEVEL_TYPES = frozenset({
    "application", "audio", "example", "font", "haptics", "image", "message", "model",
    "multipart", "text", "video",
})
# Control characters never belong in names, paths or tags (NUL cannot even be stored).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Invalid(Exception):
    """One field's value breaks a rule; the message says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def fail(fields: Mapping[str, str]) -> ValidationError:
    names = ", ".join(fields)
    return ValidationError(f"Invalid input: {names}.", details={"fields": dict(fields)})


Validator = Callable[[Any], Any]


def parse_fields(data: Any, validators: Mapping[str, Validator], *,
                 required: Iterable[str] = ()) -> dict[str, Any]:
    """Validate ``data`` (a mapping) field by field; unknown fields are refused."""
    if not isinstance(data, Mapping):
        raise ValidationError("Expected an object of fields.")
    problems: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name in required:
        if name not in data:
            problems[name] = "is required"
    for name, value in data.items():
        validator = validators.get(name)
        if validator is None:
            problems[str(name)] = "is not a field that can be set here"
            continue
        if value is None and not getattr(validator, "accepts_null", False):
            problems[name] = "must not be null"
            continue
        try:
            cleaned[name] = validator(value)
        except Invalid as exc:
            problems[name] = exc.message
    if problems:
        raise fail(problems)
    return cleaned


def check(field: str, validator: Validator, value: Any) -> Any:
    """Apply one validator; a failure is a ``ValidationError`` naming ``field``."""
    try:
        return validator(value)
    except Invalid as exc:
        raise fail({field: exc.message}) from None


def nullable(validator: Validator) -> Validator:
    """``validator``, letting ``None`` through (to clear a field, or not filter)."""

    def validate(value: Any) -> Any:
        return None if value is None else validator(value)

    validate.accepts_null = True  # type: ignore[attr-defined]
    return validate


# -- scalars -------------------------------------------------------------------


def _string(value: Any, *, low: int, high: int, multiline: bool = False,
            blank_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    if not low <= len(value) <= high:
        raise Invalid(f"must be {low}-{high} characters long" if low
                      else f"must be at most {high} characters long")
    if (_CONTROL_BUT_WHITESPACE if multiline else _CONTROL).search(value):
        raise Invalid("must not contain control characters")
    if value and not blank_ok and not value.strip():
        raise Invalid("must not be blank")
    return value


def identifier(value: Any) -> uuid.UUID:
    """A UUID, in any of its usual spellings (also ``urn:uuid:...``)."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) > 64:
        raise Invalid("must be a UUID")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid("must be a UUID") from None


def document_name(value: Any) -> str:
    return _string(value, low=1, high=NAME_MAX)


def entity_name(value: Any) -> str:
    return _string(value, low=1, high=NAME_MAX)


def description(value: Any) -> str:
    return _string(value, low=0, high=DESCRIPTION_MAX, multiline=True, blank_ok=True)


def role(value: Any) -> str:
    return _string(value, low=1, high=ROLE_MAX)


def rejection_reason(value: Any) -> str:
    return _string(value, low=1, high=REASON_MAX, multiline=True)


def search_text(value: Any) -> str:
    return _string(value, low=1, high=SEARCH_MAX, blank_ok=True)


def query_text(value: Any) -> str:
    """What a full-text search looks for: 1-500 characters, not blank."""
    return _string(value, low=1, high=QUERY_MAX)


def timestamp(value: Any) -> dt.datetime:
    """A time: ISO 8601 (``2026-04-17T09:00:00Z``, or a date), UTC unless it says
    otherwise; GraphQL hands over a datetime already."""
    if isinstance(value, str) and len(value) <= 64:
        with contextlib.suppress(ValueError):
            value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise Invalid("must be an ISO 8601 time, e.g. 2026-04-17T09:00:00Z")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise Invalid("must be a time between the years 1 and 9999") from None
    return value


def mime_type(value: Any) -> str:
    """``type/subtype`` as IANA registers them, normalised to lower case."""
    if not isinstance(value, str):
        raise Invalid("must be a string")
    normalised = value.lower()
    match = _MIME_TYPE.match(normalised) if len(value) <= MIME_TYPE_MAX else None
    if match is None or match.group(1) not in MIME_TOP_LEVEL_TYPES:
        raise Invalid("must be a MIME type of the form type/subtype, e.g. application/pdf")
    return normalised


def mime_type_pattern(value: Any) -> str:
    """A MIME type, or ``type/*`` for every subtype of one top-level type."""
    if isinstance(value, str) and value.endswith("/*"):
        top = mime_type(value[:-1] + "x").split("/")[0]
        return top + "/*"
    return mime_type(value)


def storage_path(value: Any) -> str:
    """An object key: relative, ``/``-separated, no empty, ``.`` or ``..`` segments."""
    path = _string(value, low=1, high=PATH_MAX)
    if path.startswith("/") or any(s in ("", ".", "..") for s in path.split("/")):
        raise Invalid("must be a relative object key without empty, '.' or '..' segments")
    return path


def folder(value: Any) -> str:
    """An absolute folder path such as ``/clients/acme/ndas``; a trailing ``/`` is dropped."""
    path = _string(value, low=1, high=PATH_MAX)
    if not path.startswith("/"):
        raise Invalid("must be an absolute path starting with '/'")
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    if path != "/" and any(s in ("", ".", "..") for s in path[1:].split("/")):
        raise Invalid("must not contain empty, '.' or '..' segments")
    return path


def tag(value: Any) -> str:
    return _string(value, low=1, high=TAG_MAX)


def distinct(value: Any, item: Callable[[Any], str], *, most: int, what: str,
             many: str = "items", empty: bool = True) -> list[str]:
    """A list of ``item``-checked values, in the order given (repeats dropped); at most
    ``most``, and none only if ``empty``. ``what`` and ``many`` word the refusals."""
    if not isinstance(value, list) or (not empty and not value):
        raise Invalid(f"must be a {'' if empty else 'non-empty '}list of {what}")
    if len(value) > most:
        raise Invalid(f"must have at most {most} {many}")
    cleaned: list[str] = []
    for i, entry in enumerate(value):
        try:
            checked = item(entry)
        except Invalid as exc:
            raise Invalid(f"item {i} {exc.message}") from None
        if checked not in cleaned:
            cleaned.append(checked)
    return cleaned


def tags(value: Any) -> list[str]:
    """A list of distinct tag strings, in the order given (repeats dropped)."""
    return distinct(value, tag, most=TAGS_MAX, what="strings", many="tags")


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def sha256(value: Any) -> str:
    """A SHA-256 digest in hex (64 characters, either case), returned in lower case."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise Invalid("must be 64 hexadecimal characters")
    return value.lower()


def size_bytes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("must be an integer")
    if not 0 <= value <= SAFE_INTEGER_MAX:
        raise Invalid(f"must be between 0 and {SAFE_INTEGER_MAX}")
    return value


E = TypeVar("E", bound=StrEnum)


def _choice(enum: type[E]) -> Callable[[Any], E]:
    def validate(value: Any) -> E:
        if isinstance(value, enum):
            return value
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(m.value for m in enum)
            raise Invalid(f"must be one of {allowed}") from None

    return validate


def choice(enum: type[E]) -> Callable[[Any], E]:
    """A validator of ``enum``'s values."""
    return _choice(enum)


entity_type = _choice(EntityType)
document_type = _choice(DocumentType)
document_status = _choice(DocumentStatus)
scan_status = _choice(ScanStatus)
linked_document_order = _choice(LinkedDocumentOrder)


def event_type(value: Any) -> str:
    """One of the event types (``records.EVENT_TYPES``)."""
    if not isinstance(value, str) or value not in EVENT_TYPES:
        raise Invalid(f"must be one of {', '.join(EVENT_TYPES)}")
    return value


def event_types(value: Any) -> list[str]:
    """A non-empty list of event types, in the order given (repeats dropped)."""
    return distinct(value, event_type, most=EVENT_TYPES_MAX, what="event types", empty=False)


def actor(value: Any) -> str:
    """Who made a change: an API key's id (a UUID, written canonically) or ``system``."""
    if value == SYSTEM_ACTOR:
        return SYSTEM_ACTOR
    try:
        return str(identifier(value))
    except Invalid:
        raise Invalid(f"must be an API key's id (a UUID) or {SYSTEM_ACTOR}") from None


_INSTANT_MAX = 64
# Times a query may name, in UTC; a wider margin than asyncpg's (years 1-9999) so that
# converting between offsets never overflows.
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def instant(value: Any) -> datetime:
    """A time with its UTC offset: ISO 8601 text (``2026-04-17T09:00:00Z``, or with
    ``+02:00``) or a datetime (GraphQL's DateTime), between the years 1 and 9999."""
    if isinstance(value, str) and len(value) <= _INSTANT_MAX:
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value)
    if not isinstance(value, datetime) or value.tzinfo is None \
            or value.tzinfo.utcoffset(value) is None:
        raise Invalid("must be an ISO 8601 time with a UTC offset, e.g. 2026-04-17T09:00:00Z")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not _EARLIEST <= utc <= _LATEST:
        raise Invalid("must be a time between the years 1 and 9999")
    return utc


_EVENT_ID = re.compile(r"^evt_([0-9a-f]{16})([0-9a-f]{16})$")


def event_position(value: Any) -> EventPosition:
    """An event's id (``evt_`` and 32 hex digits), as a position in the outbox."""
    match = _EVENT_ID.match(value) if isinstance(value, str) else None
    if match is None:
        raise Invalid("must be an event id (evt_ and 32 hexadecimal digits)")
    txid, seq = int(match[1], 16), int(match[2], 16)
    if txid > POSITION_MAX or seq > POSITION_MAX:
        raise Invalid("must be an event id of this API")
    return EventPosition(txid, seq)


def json_object(value: Any) -> dict[str, Any]:
    """A JSON object PostgreSQL can store as jsonb, at most 64 KiB encoded.

    Its numbers are the ones docgraph keeps exactly (and JavaScript reads
    exactly): integers within ±(2^53 - 1), I-JSON's range (RFC 7493), and
    floats of no greater magnitude that are what the caller wrote (the readers
    of ``json_text`` mark the others). Anything else would come back changed.
    """
    if not isinstance(value, dict):
        raise Invalid("must be a JSON object")
    size = _json_size(value, 0)
    if size > JSON_MAX_BYTES:
        raise Invalid(f"must be at most {JSON_MAX_BYTES} bytes as JSON")
    return value


def _json_size(value: Any, depth: int) -> int:
    """Roughly the encoded size; refuses what jsonb cannot hold (NUL) and numbers
    that would not be kept exactly."""
    if depth > JSON_MAX_DEPTH:
        raise Invalid(f"must not nest deeper than {JSON_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid("must not contain NUL characters")
        return len(value) + 2
    if isinstance(value, int):
        if not -SAFE_INTEGER_MAX <= value <= SAFE_INTEGER_MAX:
            raise Invalid(_BEYOND_RANGE)
        return 20
    if isinstance(value, float):
        if value != value:
            raise Invalid("must not contain NaN")
        if not -SAFE_INTEGER_MAX <= value <= SAFE_INTEGER_MAX:  # infinities included
            raise Invalid(_BEYOND_RANGE)
        if isinstance(value, UnkeptNumber):
            raise Invalid(_TOO_PRECISE)
        return 24
    if isinstance(value, list):
        return 2 + sum(_json_size(v, depth + 1) + 1 for v in value)
    if isinstance(value, dict):
        total = 2
        for k, v in value.items():
            if not isinstance(k, str):
                raise Invalid("must have string keys")
            total += _json_size(k, depth + 1) + _json_size(v, depth + 1) + 2
        return total
    raise Invalid("must contain only JSON values")
