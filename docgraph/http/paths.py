"""The paths the HTTP layers treat apart: which need no key, which are never limited."""

from __future__ import annotations

GRAPHQL_PATH = "/graphql"
GRAPHIQL_ASSETS_PATH = "/graphql/assets"
OPENAPI_PATH = "/v1/openapi.json"
# The local backend's signed transfers: the URL's signature is the credential.
STORAGE_PREFIX = "/storage/"
# Probes of load balancers and orchestrators: no key, never rate limited, never queued.
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})


def is_public(method: str, path: str) -> bool:
    """Paths that need no API key: health checks, signed storage URLs (the signature is
    the credential), GraphiQL's page and assets and the REST API's OpenAPI document
    (they hold no data).

    Operations are only run by POST /graphql, which always needs a key.
    """
    if path in HEALTH_PATHS or path.startswith(STORAGE_PREFIX):
        return True
    return method in ("GET", "HEAD") and (
        path in (GRAPHQL_PATH, OPENAPI_PATH) or path.startswith(GRAPHIQL_ASSETS_PATH + "/"))
