"""The paths the HTTP layers treat apart: which need no key, which are never limited."""

from __future__ import annotations

from starlette.types import Scope

from docgraph.http.graphql import asks_to_run

GRAPHQL_PATH = "/graphql"
GRAPHIQL_ASSETS_PATH = "/graphql/assets"
OPENAPI_PATH = "/v1/openapi.json"
# The local backend's signed transfers: the URL's signature is the credential.
STORAGE_PREFIX = "/storage/"
# Probes of load balancers and orchestrators: no key, never rate limited, never queued.
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
# Prometheus's scrapes (only with DOCGRAPH_METRICS_TOKEN; the token is their credential).
METRICS_PATH = "/metrics"
# What answers however busy the worker is: never queued, never rate limited.
PROBE_PATHS = HEALTH_PATHS | {METRICS_PATH}


def is_public(scope: Scope) -> bool:
    """Requests that need no API key: health checks, metrics scrapes (their own token is
    their credential), signed storage URLs (the signature is the credential), GraphiQL's
    page and assets and the REST API's OpenAPI document (they hold no data).

    A GET of /graphql is GraphiQL's page only without a ``query`` parameter (read as
    the GraphQL view reads it) or one naming a persisted document (``documentId``,
    ``extensions``); with one it runs an operation, and needs a key like every POST.
    """
    path = scope["path"]
    if path in PROBE_PATHS or path.startswith(STORAGE_PREFIX):
        return True
    if scope["method"] not in ("GET", "HEAD"):
        return False
    if path == GRAPHQL_PATH:
        return not asks_to_run(scope)
    return path == OPENAPI_PATH or path.startswith(GRAPHIQL_ASSETS_PATH + "/")
