"""GraphQL over HTTP: what every layer in front of ``/graphql`` needs of the protocol.

The GraphQL-over-HTTP specification (the stage 2 draft that graphql-http's
audit suite checks; ``tests/test_graphql_over_http.py`` runs it):

* **Media types.** :func:`negotiate` picks the response's from ``Accept``:
  ``application/graphql-response+json`` when the client names it (and prefers it
  at least as much as ``application/json``); ``application/json`` for ``*/*``, a
  missing header, or a client that names only it; None when the header names
  neither (406 ``not_acceptable``).
* **The request.** :func:`read_request` reads a request's parameters once —
  from the URL's query for GET, from a JSON object body for POST (``Content-Type:
  application/json``, UTF-8; no other type runs anything, so no cross-site
  "simple request" can) — and keeps them in ``scope["state"]``: the rate
  limiter prices exactly the request the GraphQL view runs. A request that is
  not a well-formed GraphQL-over-HTTP request is a 400 ``validation_error``.
* **Persisted documents.** A request may name its document by the SHA-256 of
  its text instead of sending it: Apollo's ``extensions.persistedQuery``
  (``{"version": 1, "sha256Hash": "<64 hex>"}``) or the draft's ``documentId``
  (``sha256:<64 hex>``). :func:`resolve_request` finds that document (in
  ``resolvers.persisted_operations``, once per request, before the rate limiter
  prices it) or refuses the request as the protocol says; with the text too,
  the hash must be the text's, and the GraphQL view registers the document.
* **Status codes.** A response with ``data`` is 200. A GraphQL request error
  (no ``data``: syntax, validation, variables, no single operation, too many
  root fields) is 400 with ``application/graphql-response+json`` and 200 with
  ``application/json``. Refusals of the HTTP layer (401, 405, 406, 409, 413,
  422, 429, 503, a malformed request's 400) keep their status with both.
* **Errors.** Every refusal at ``/graphql``, whichever layer makes it, is a
  GraphQL response: ``{"errors": [{"message", "extensions": {"code", ...}}]}``
  (:func:`error_response`), with the error's headers (``Retry-After``,
  ``WWW-Authenticate``, ``Allow``); the request-id layer adds ``X-Request-ID``
  and the rate-limit headers as to every response.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.responses import Response
from starlette.types import Scope

from docgraph.errors import (
    AppError,
    MethodNotAllowed,
    OperationRefused,
    PersistedQueryNotFound,
    PersistedQueryNotSupported,
    PersistedQueryRequired,
    ValidationError,
)
from docgraph.http.context import services
from docgraph.resolvers import json_text
from docgraph.resolvers.persisted_operations import PersistedOperations, sha256_hex

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
CONTENT_TYPES = {GRAPHQL_RESPONSE_JSON: f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8", JSON: JSON}
# The request's parameters, once read: a GraphQLRequest, or the AppError refusing it.
STATE_KEY = "graphql_request"
# The same with its document found (resolve_request), or the AppError refusing it.
RESOLVED_KEY = "graphql_resolved_request"
PARAMETERS = ("query", "operationName", "variables", "extensions", "documentId")
# The one version of Apollo's persisted-query protocol there is.
PERSISTED_QUERY_VERSION = 1

_SNAKE = re.compile(r"_([a-z0-9])")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclasses.dataclass(frozen=True, slots=True)
class GraphQLRequest:
    """A well-formed GraphQL-over-HTTP request's parameters.

    ``query`` is None while the request names its document only by hash
    (``sha256``, lower-case hex), until :func:`resolve_request` finds it.
    ``extensions`` leaves ``persistedQuery`` out (read into ``sha256``).
    ``register``: the request sent a text with its hash, checked to match; the
    GraphQL view keeps the document if it is a valid one.
    """

    query: str | None
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None
    sha256: str | None = None
    register: bool = False

    @property
    def source(self) -> str:
        """The document's text (of a request :func:`resolve_request` answered)."""
        if self.query is None:
            raise PersistedQueryNotFound()
        return self.query


# -- media types ---------------------------------------------------------------------

def header(scope: Scope, name: bytes) -> str:
    """A request header's values, joined (``""`` when absent)."""
    return ", ".join(value.decode("latin-1") for key, value in scope["headers"] if key == name)


def _specificity(media_range: str, media_type: str) -> int | None:
    """How precisely ``media_range`` names ``media_type`` (2 exactly, 0 ``*/*``); None: not."""
    if media_range == media_type:
        return 2
    if media_range == "application/*":
        return 1
    if media_range == "*/*":
        return 0
    return None


@functools.lru_cache(maxsize=256)
def negotiate(accept: str) -> str | None:
    """The response's media type for an ``Accept`` header (RFC 9110 ranges and q-values).

    Each type takes the q of the most specific range that matches it. Of the
    acceptable ones the higher q wins; at equal q one named exactly beats one
    matched by a wildcard, ``application/graphql-response+json`` wins when both are
    named, and ``application/json`` when only wildcards match (``*/*``: legacy clients).
    """
    if not accept.strip():
        return JSON
    matched: dict[str, tuple[int, float]] = {}
    for part in accept.split(","):
        media_range, *parameters = (field.strip() for field in part.split(";"))
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for media_type in (GRAPHQL_RESPONSE_JSON, JSON):
            specificity = _specificity(media_range.lower(), media_type)
            if specificity is not None and specificity >= matched.get(media_type, (-1, 0.0))[0]:
                matched[media_type] = (specificity, q)
    ranked = [(q, specificity, (media_type == GRAPHQL_RESPONSE_JSON) == (specificity == 2),
               media_type) for media_type, (specificity, q) in matched.items() if q > 0]
    return max(ranked)[3] if ranked else None


def media_type_of(scope: Scope) -> str | None:
    """The media type a response to this request is sent in (None: none acceptable)."""
    return negotiate(header(scope, b"accept"))


# -- the request ---------------------------------------------------------------------

def query_parameters(query_string: bytes) -> list[tuple[str, str]]:
    """A URL's query (``application/x-www-form-urlencoded``), as every layer reads it."""
    return parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)


# The parameters of a GET that asks to run an operation (its text, or its hash).
_OPERATION_PARAMETERS = frozenset({"query", "documentId", "extensions"})


def asks_to_run(scope: Scope) -> bool:
    """Whether the URL asks to run an operation: a ``query`` parameter, or one that may
    name a persisted document (``documentId``, ``extensions``)."""
    query_string = scope.get("query_string", b"")
    return bool(query_string) and any(name in _OPERATION_PARAMETERS
                                      for name, _ in query_parameters(query_string))


def needs_body(scope: Scope) -> bool:
    """Whether :func:`read_request` still needs the body (a POST not read yet)."""
    return scope["method"] == "POST" and STATE_KEY not in scope.get("state", {})


def read_request(scope: Scope, body: bytes = b"") -> GraphQLRequest:
    """The request's parameters, read once per request (``body``: a POST's whole body).

    Raises the ``AppError`` that refuses a request that is not a well-formed
    GraphQL-over-HTTP request (the same one each time it is asked).
    """
    state = scope.setdefault("state", {})
    known = state.get(STATE_KEY)
    if known is None:
        try:
            known = _read(scope, body)
        except AppError as error:
            known = error
        state[STATE_KEY] = known
    if isinstance(known, AppError):
        raise known
    return known


def _invalid(name: str, problem: str) -> ValidationError:
    return ValidationError(f"The GraphQL request's `{name}` {problem}.",
                           details={"fields": {name: problem}})


def _read(scope: Scope, body: bytes) -> GraphQLRequest:
    method = scope["method"]
    if method == "GET":
        params = _url_parameters(scope.get("query_string", b""))
    elif method == "POST":
        params = _body_parameters(header(scope, b"content-type"), body)
    else:
        raise MethodNotAllowed(headers={"Allow": "GET, POST"})
    query = params.get("query")
    if query is not None and not isinstance(query, str):
        raise _invalid("query", "must be a string")
    operation_name = params.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _invalid("operationName", "must be a string or null")
    variables, extensions = params.get("variables"), params.get("extensions")
    if variables is not None and not isinstance(variables, dict):
        raise _invalid("variables", "must be an object or null")
    if extensions is not None and not isinstance(extensions, dict):
        raise _invalid("extensions", "must be an object or null")
    extensions, sha256 = _persisted(extensions, params.get("documentId"))
    if not query:
        if sha256 is not None:
            return GraphQLRequest(None, operation_name, variables, extensions, sha256)
        raise ValidationError("No GraphQL query found in the request: send its document as "
                              "`query`.", details={"fields": {"query": "is required"}})
    if sha256 is not None and sha256_hex(query) != sha256:
        # Apollo's words: a client never sends this unless it hashes another text.
        raise ValidationError("provided sha does not match query", details={"fields": {
            "extensions": "persistedQuery.sha256Hash (or documentId) is not the SHA-256 of "
                          "query"}})
    return GraphQLRequest(query, operation_name, variables, extensions, sha256,
                          register=sha256 is not None)


def _persisted(extensions: dict[str, Any] | None,
               document_id: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The extensions without ``persistedQuery``, and the hash the request names."""
    sha256 = None
    if extensions is not None and "persistedQuery" in extensions:
        persisted = extensions["persistedQuery"]
        extensions = {k: v for k, v in extensions.items() if k != "persistedQuery"} or None
        if persisted is not None:  # null: none, as for every parameter
            sha256 = _persisted_query_hash(persisted)
    if document_id is not None:
        named = _document_id_hash(document_id)
        if sha256 is not None and named != sha256:
            raise _invalid("documentId", "names another document than "
                                         "extensions.persistedQuery")
        sha256 = named
    return extensions, sha256


def _persisted_query_hash(persisted: Any) -> str:
    """``extensions.persistedQuery``'s hash (Apollo's protocol, version 1)."""
    name = "extensions.persistedQuery"
    if not isinstance(persisted, dict):
        raise _invalid(name, 'must be an object: {"version": 1, "sha256Hash": "<64 hex '
                             'digits>"}')
    version = persisted.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _invalid(f"{name}.version", f"must be the integer {PERSISTED_QUERY_VERSION}")
    if version != PERSISTED_QUERY_VERSION:
        # Not a malformed request: a protocol this service does not speak. Clients
        # stop sending hashes on this answer and send their queries.
        raise PersistedQueryNotSupported(details={
            "supported_versions": [PERSISTED_QUERY_VERSION]})
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or len(sha256) != 64 or not _SHA256_HEX.fullmatch(sha256):
        raise _invalid(f"{name}.sha256Hash",
                       "must be the query's SHA-256 as 64 hexadecimal digits")
    return sha256.lower()


def _document_id_hash(document_id: Any) -> str:
    """``documentId``'s hash: ``sha256:<64 hex>`` (the draft's) or the 64 digits alone."""
    problem = "must be sha256: and the document's SHA-256 as 64 hexadecimal digits"
    if not isinstance(document_id, str) or len(document_id) > 71:
        raise _invalid("documentId", problem)
    digits = document_id.removeprefix("sha256:")
    if len(digits) != 64 or not _SHA256_HEX.fullmatch(digits):
        raise _invalid("documentId", problem)
    return digits.lower()


async def resolve_request(scope: Scope, body: bytes,
                          operations: PersistedOperations | None) -> GraphQLRequest:
    """The request with its document: :func:`read_request`'s, found once per request.

    A hash alone finds its document in ``operations`` (the manifest, or the
    registered ones); with trusted documents only, a text must be one of them.
    Raises the refusal (the same one each time it is asked):
    ``PersistedQueryNotFound`` for a hash nobody registered (clients then send
    the text), ``PersistedQueryNotSupported`` when hashes are not taken at all,
    ``PersistedQueryRequired`` for another text in trusted mode.
    """
    state = scope.setdefault("state", {})
    known = state.get(RESOLVED_KEY)
    if known is None:
        try:
            known = await _resolve(scope, read_request(scope, body), operations)
        except AppError as error:
            known = error
        state[RESOLVED_KEY] = known
    if isinstance(known, AppError):
        raise known
    return known


async def _resolve(scope: Scope, request: GraphQLRequest,
                   operations: PersistedOperations | None) -> GraphQLRequest:
    if operations is None or not operations.enabled:
        if request.sha256 is not None:
            raise PersistedQueryNotSupported()
        return request
    if operations.trusted:
        sha256 = request.sha256 or sha256_hex(request.source)
        source = operations.trusted_source(sha256)
        if source is None:
            if request.query is None:
                raise PersistedQueryNotFound()
            raise PersistedQueryRequired()
        # The manifest's own text: the parse and validation caches know that object.
        return dataclasses.replace(request, query=source, sha256=sha256, register=False)
    if request.query is not None:
        return request
    assert request.sha256 is not None
    source = await operations.find(services(scope["app"]).db, request.sha256)
    if source is None:
        raise PersistedQueryNotFound()
    return dataclasses.replace(request, query=source)


def _url_parameters(query_string: bytes) -> dict[str, Any]:
    """A GET's parameters: each at most once; the empty string is no value."""
    params: dict[str, Any] = {}
    for name, value in query_parameters(query_string):
        if name not in PARAMETERS:
            continue
        if name in params:
            raise ValidationError(f"The GraphQL request's `{name}` is given more than once.",
                                  details={"fields": {name: "is repeated"}})
        params[name] = value or None
    for name in ("variables", "extensions"):
        if params.get(name) is not None:
            try:
                params[name] = json_text.loads(params[name])
            except ValueError:
                raise _invalid(name, "must be a JSON object (URL-encoded)") from None
    return params


def _body_parameters(content_type: str, body: bytes) -> dict[str, Any]:
    """A POST's parameters: a JSON object, sent as ``application/json`` in UTF-8."""
    mime, *parameters = (field.strip().lower() for field in content_type.split(";"))
    charset = next((p.partition("=")[2].strip('" ') for p in parameters
                    if p.startswith("charset=")), "utf-8")
    if mime != JSON:
        raise ValidationError("Unsupported content type: send a POST's body as "
                              "application/json (or a query's parameters in a GET's URL).")
    if charset not in ("utf-8", "utf8"):
        raise ValidationError("Unsupported charset: send the body in UTF-8.")
    try:
        payload = json_text.loads(body)  # orjson, but no number in a JSON field changes
    except ValueError:
        raise ValidationError("Unable to parse request body as JSON.") from None
    if isinstance(payload, list):
        raise ValidationError("Batching is not enabled: send one operation per request.")
    if not isinstance(payload, dict):
        raise ValidationError("The request body must be a JSON object: "
                              '{"query": ..., "variables": ..., "operationName": ...}.')
    return payload


# -- errors ----------------------------------------------------------------------------

def camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def _details(error: AppError) -> Any:
    """The details with GraphQL's spelling of names: its keys and ``fields``' keys."""
    details = error.details
    if not isinstance(details, dict):
        return details
    fields = details.get("fields")
    if isinstance(fields, dict):
        details = {**details, "fields": {camel(k): v for k, v in fields.items()}}
    return {camel(k): v for k, v in details.items()}


def error_extensions(error: AppError) -> dict[str, Any]:
    """An ``AppError``'s ``extensions``: ``code``, ``details`` (camelCase), ``retryAfter``."""
    extensions: dict[str, Any] = {"code": error.code}
    if error.details is not None:
        extensions["details"] = _details(error)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        extensions["retryAfter"] = max(1, int(retry_after))
    return extensions


def _statuses() -> dict[str, int]:
    statuses: dict[str, int] = {}
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        statuses.setdefault(cls.code, cls.status)
        pending.extend(cls.__subclasses__())
    return statuses


STATUS_OF_CODE = _statuses()


def request_error_status(media_type: str, errors: list[Any]) -> int:
    """The status of a GraphQL response without ``data`` (a request error).

    ``application/json``: 200, as for every well-formed request. With
    ``application/graphql-response+json``: 400, or the status of the gravest
    ``extensions.code`` among the errors (a masked fault: 500).
    """
    if media_type == JSON:
        return 200
    codes = [error.get("extensions", {}).get("code") for error in errors
             if isinstance(error, dict)]
    return max((STATUS_OF_CODE.get(code, 400) for code in codes if isinstance(code, str)),
               default=400)


def error_response(error: AppError, scope: Scope) -> Response:
    """A refusal at ``/graphql`` as a GraphQL response (see the module's docstring)."""
    media_type = media_type_of(scope) or JSON
    status = error.status
    if media_type == JSON and isinstance(error, OperationRefused):
        status = 200  # a GraphQL request error, as a failed validation is
    body = {"errors": [{"message": error.message, "extensions": error_extensions(error)}]}
    return Response(orjson.dumps(body), status_code=status, headers=error.headers,
                    media_type=CONTENT_TYPES[media_type])
