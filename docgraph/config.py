"""Configuration, read once from the environment (``DOCGRAPH_*``).

Every variable is declared in ``VARIABLES`` with its parser, default and
meaning; the README's configuration table is checked against it. A missing
or malformed value raises :class:`ConfigError` naming the variable.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A configuration variable is missing or malformed."""


def _int(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}, got {value}")
        return value

    return parse


def _float(minimum: float = 0.0) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _postgres_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in {"postgres", "postgresql"} or not parts.hostname:
        raise ValueError("expected a URL of the form postgresql://user:password@host:port/dbname")
    return raw.strip()


def _http_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"expected an http(s) URL, got {raw!r}")
    return value


def _text(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _secret(raw: str) -> str:
    value = raw.strip()
    if len(value) < 32:
        raise ValueError("must be at least 32 characters")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in {"http", "https"} or not parts.netloc
                              or parts.path):
            raise ValueError(
                f"expected '*' or origins like https://app.example.com separated by commas, "
                f"got {origin!r}")
    return origins


def _path(raw: str) -> Path:
    return Path(_text(raw)).expanduser()


def _host_port(raw: str) -> str:
    value = _text(raw)
    if "://" in value or "/" in value:
        raise ValueError(f"expected host[:port] without a scheme or path, got {raw!r} "
                         "(use DOCGRAPH_S3_SECURE=false for plain http)")
    return value


def _bucket(raw: str) -> str:
    value = _text(raw)
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value) or ".." in value:
        raise ValueError(f"not a valid bucket name: {raw!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Variable:
    env: str
    field: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    required_for_serve: bool = False


_MISSING = object()

VARIABLES: tuple[Variable, ...] = (
    Variable("DOCGRAPH_DATABASE_URL", "database_url", _postgres_url, None,
             "PostgreSQL URL. Required by `docgraph serve`; when unset, `make run` and the "
             "CLI start the embedded cluster under the data directory.",
             required_for_serve=True),
    Variable("DOCGRAPH_DATA_DIR", "data_dir", _path, Path(".docgraph"),
             "Where `make run` keeps the embedded PostgreSQL cluster, local objects and the "
             "development key."),
    Variable("DOCGRAPH_HOST", "host", _text, "127.0.0.1", "Interface to listen on."),
    Variable("DOCGRAPH_PORT", "port", _int(1, 65535), 8000, "Port to listen on."),
    Variable("DOCGRAPH_WORKERS", "workers", _int(1, 64), 1,
             "Worker processes for `docgraph serve`."),
    Variable("DOCGRAPH_MAX_ACTIVE_REQUESTS", "max_active_requests", _int(0, 10000), 16,
             "Requests each worker works on at once; later ones wait their turn in arrival "
             "order (0: no limit). With PostgreSQL on the same few cores, 2 or 3 gave the "
             "lowest tail latency; health checks and storage transfers never wait."),
    Variable("DOCGRAPH_QUEUE_TIMEOUT_SECONDS", "queue_timeout_seconds", _float(0.01), 10.0,
             "Seconds a request may wait for its turn before answering 503 `unavailable`."),
    Variable("DOCGRAPH_PUBLIC_URL", "public_url", _http_url, None,
             "Base URL clients reach this service at; signed local-storage URLs start with it. "
             "Defaults to http://HOST:PORT."),
    Variable("DOCGRAPH_LOG_LEVEL", "log_level", _choice("debug", "info", "warning", "error"),
             "info", "Log level of the JSON logs."),
    Variable("DOCGRAPH_ACCESS_LOG", "access_log", _bool, True,
             "Write one JSON line per request."),
    Variable("DOCGRAPH_DB_POOL_MIN", "db_pool_min", _int(0, 1000), 2,
             "Connections the pool keeps open."),
    Variable("DOCGRAPH_DB_POOL_MAX", "db_pool_max", _int(1, 1000), 10,
             "Most connections the pool opens."),
    Variable("DOCGRAPH_DB_ACQUIRE_TIMEOUT", "db_acquire_timeout", _float(0.01), 2.0,
             "Seconds to wait for a pooled connection before answering 503."),
    Variable("DOCGRAPH_DB_STATEMENT_TIMEOUT_MS", "db_statement_timeout_ms", _int(0), 2000,
             "PostgreSQL statement_timeout for API connections, in milliseconds (0: none)."),
    Variable("DOCGRAPH_EXPOSE_STATEMENT_COUNT", "expose_statement_count", _bool, False,
             "Add an X-Statement-Count header (SQL statements the request sent) to every "
             "response. For tests and benchmarks; leave off in production."),
    Variable("DOCGRAPH_CORS_ORIGINS", "cors_origins", _origins, (),
             "Origins whose pages may call the API from a browser, comma-separated "
             "(e.g. https://app.example.com), or `*` for development. None by default."),
    Variable("DOCGRAPH_KEY_CACHE_SECONDS", "key_cache_seconds", _float(0.0), 2.0,
             "How long a verified API key is cached in memory; a revoked key stops working "
             "on every instance within this time."),
    Variable("DOCGRAPH_RATE_LIMIT", "rate_limit", _int(1), 1200,
             "Requests (GraphQL: root fields) an API key may make per window, unless the key "
             "has its own limit (`docgraph key create --rate-limit`)."),
    Variable("DOCGRAPH_RATE_LIMIT_WINDOW_SECONDS", "rate_limit_window_seconds", _int(1, 86400),
             60, "Length of a rate-limit window; it starts at a client's first request."),
    Variable("DOCGRAPH_ADDRESS_RATE_LIMIT", "address_rate_limit", _int(1), 600,
             "Requests per window from one client address that carry no valid key (failed "
             "authentication, signed storage URLs)."),
    Variable("DOCGRAPH_FORWARDED_ALLOW_IPS", "forwarded_allow_ips", _text, None,
             "Comma-separated addresses of the load balancers whose X-Forwarded-For names "
             "the client (used by per-address rate limits). None by default."),
    Variable("DOCGRAPH_MAX_BODY_BYTES", "max_body_bytes", _int(1), 1048576,
             "Largest request body accepted (413 payload_too_large above it), except at "
             "/graphql (DOCGRAPH_GRAPHQL_MAX_BODY_BYTES). Uploads to signed storage URLs "
             "have their own, signed, size."),
    Variable("DOCGRAPH_GRAPHQL_MAX_ROOT_FIELDS", "graphql_max_root_fields", _int(1, 1000), 20,
             "Most root fields (aliases included) one GraphQL operation may select; each "
             "counts as one request against the rate limit."),
    Variable("DOCGRAPH_IDEMPOTENCY_RETENTION_SECONDS", "idempotency_retention_seconds",
             _int(1), 86400, "How long a response is kept for replay under its Idempotency-Key."),
    Variable("DOCGRAPH_IDEMPOTENCY_LEASE_SECONDS", "idempotency_lease_seconds", _float(0.1),
             60.0, "How long an Idempotency-Key stays locked by a request that never finished "
             "(its instance crashed) before a retry may run it again."),
    Variable("DOCGRAPH_PURGE_INTERVAL_SECONDS", "purge_interval_seconds", _float(1.0), 300.0,
             "How often each instance deletes expired idempotency records and rate-limit "
             "windows."),
    Variable("DOCGRAPH_STORAGE_BACKEND", "storage_backend", _choice("local", "s3"), "local",
             "Object storage: `local` (files under DOCGRAPH_STORAGE_ROOT, signed URLs served "
             "by docgraph itself) or `s3` (MinIO or any S3 service)."),
    Variable("DOCGRAPH_STORAGE_ROOT", "storage_root", _path, None,
             "Directory of the local backend's objects. Defaults to DATA_DIR/objects."),
    Variable("DOCGRAPH_STORAGE_SIGNING_SECRET", "storage_signing_secret", _secret, None,
             "HMAC key (at least 32 characters) of the local backend's signed URLs; every "
             "instance needs the same one. Required by `docgraph serve` with the local "
             "backend; `make run` generates one under the data directory."),
    Variable("DOCGRAPH_S3_ENDPOINT", "s3_endpoint", _host_port, None,
             "host[:port] docgraph reaches the S3 service at. Required with the s3 backend."),
    Variable("DOCGRAPH_S3_PUBLIC_URL", "s3_public_url", _http_url, None,
             "Base URL clients reach the S3 service at, if not the endpoint (signed URLs "
             "start with it). Defaults to http(s)://ENDPOINT."),
    Variable("DOCGRAPH_S3_BUCKET", "s3_bucket", _bucket, "docgraph",
             "Bucket holding every workspace's objects; created when missing."),
    Variable("DOCGRAPH_S3_ACCESS_KEY", "s3_access_key", _text, None,
             "S3 access key. Required with the s3 backend."),
    Variable("DOCGRAPH_S3_SECRET_KEY", "s3_secret_key", _text, None,
             "S3 secret key. Required with the s3 backend."),
    Variable("DOCGRAPH_S3_REGION", "s3_region", _text, "us-east-1",
             "Region of the bucket (MinIO's default is us-east-1). Always passed to the "
             "client, so signing URLs never needs a network call."),
    Variable("DOCGRAPH_S3_SECURE", "s3_secure", _bool, True,
             "Reach the endpoint over https."),
    Variable("DOCGRAPH_STORAGE_TIMEOUT", "storage_timeout", _float(0.1), 5.0,
             "Seconds an object-storage call may take before it answers 503."),
    Variable("DOCGRAPH_MAX_OBJECT_BYTES", "max_object_bytes", _int(1, 5 * 1024**3), 1024**3,
             "Largest upload accepted, in bytes (at most 5 GiB, S3's single-PUT limit)."),
    Variable("DOCGRAPH_UPLOAD_URL_SECONDS", "upload_url_seconds", _int(1, 604800), 900,
             "Lifetime of a signed upload URL."),
    Variable("DOCGRAPH_DOWNLOAD_URL_SECONDS", "download_url_seconds", _int(1, 604800), 3600,
             "Lifetime of a signed download URL when the caller does not choose one."),
    Variable("DOCGRAPH_DOWNLOAD_URL_MAX_SECONDS", "download_url_max_seconds",
             _int(1, 604800), 86400,
             "Longest download-URL lifetime a caller may ask for (at most 7 days)."),
    Variable("DOCGRAPH_ORPHAN_UPLOAD_SECONDS", "orphan_upload_seconds", _int(1), 86400,
             "An upload not recorded as a document within this time is deleted. Must be "
             "longer than DOCGRAPH_UPLOAD_URL_SECONDS."),
    Variable("DOCGRAPH_DELETE_GRACE_SECONDS", "delete_grace_seconds", _int(0), 604800,
             "How long a deleted document's bytes and preview are kept before they are "
             "removed for good."),
    Variable("DOCGRAPH_SWEEP_INTERVAL_SECONDS", "sweep_interval_seconds", _int(0), 300,
             "How often each instance tries to sweep orphaned uploads and deleted documents' "
             "bytes (one instance at a time does the work; 0 turns the background sweep off; "
             "`docgraph sweep` runs it once)."),
    Variable("DOCGRAPH_GRAPHQL_MAX_DEPTH", "graphql_max_depth", _int(1, 100), 10,
             "Deepest field nesting a GraphQL operation may have (introspection fields "
             "excluded)."),
    Variable("DOCGRAPH_GRAPHQL_MAX_ALIASES", "graphql_max_aliases", _int(0, 1000), 30,
             "Most field aliases one GraphQL document may use."),
    Variable("DOCGRAPH_GRAPHQL_MAX_TOKENS", "graphql_max_tokens", _int(100, 1_000_000), 5000,
             "Most lexical tokens one GraphQL document may have; longer documents are "
             "refused before parsing finishes."),
    Variable("DOCGRAPH_GRAPHQL_MAX_BODY_BYTES", "graphql_max_body_bytes",
             _int(1024, 1 << 30), 1 << 20,
             "Largest POST /graphql body, in bytes (413 payload_too_large beyond)."),
    Variable("DOCGRAPH_GRAPHQL_COMPILED", "graphql_compiled", _bool, True,
             "Run queries through the compiled execution path (same responses, a fraction "
             "of the CPU); off runs every operation through graphql-core's executor."),
    Variable("DOCGRAPH_GRAPHQL_INTROSPECTION", "graphql_introspection", _bool, True,
             "Answer introspection queries (and suggest field names in errors). Turn off in "
             "production."),
    Variable("DOCGRAPH_GRAPHQL_GRAPHIQL", "graphql_graphiql", _bool, True,
             "Serve GraphiQL at GET /graphql (its assets come from docgraph itself). Turn off "
             "in production."),
)


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path(".docgraph")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_active_requests: int = 16
    queue_timeout_seconds: float = 10.0
    public_url: str | None = None
    log_level: str = "info"
    access_log: bool = True
    db_pool_min: int = 2
    db_pool_max: int = 10
    db_acquire_timeout: float = 2.0
    db_statement_timeout_ms: int = 2000
    expose_statement_count: bool = False
    cors_origins: tuple[str, ...] = ()
    key_cache_seconds: float = 2.0
    rate_limit: int = 1200
    rate_limit_window_seconds: int = 60
    address_rate_limit: int = 600
    forwarded_allow_ips: str | None = None
    max_body_bytes: int = 1048576
    graphql_max_root_fields: int = 20
    idempotency_retention_seconds: int = 86400
    idempotency_lease_seconds: float = 60.0
    purge_interval_seconds: float = 300.0
    storage_backend: str = "local"
    storage_root: Path | None = None
    storage_signing_secret: str | None = dataclasses.field(default=None, repr=False)
    s3_endpoint: str | None = None
    s3_public_url: str | None = None
    s3_bucket: str = "docgraph"
    s3_access_key: str | None = dataclasses.field(default=None, repr=False)
    s3_secret_key: str | None = dataclasses.field(default=None, repr=False)
    s3_region: str = "us-east-1"
    s3_secure: bool = True
    storage_timeout: float = 5.0
    max_object_bytes: int = 1024**3
    upload_url_seconds: int = 900
    download_url_seconds: int = 3600
    download_url_max_seconds: int = 86400
    orphan_upload_seconds: int = 86400
    delete_grace_seconds: int = 604800
    sweep_interval_seconds: int = 300
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 5000
    graphql_max_body_bytes: int = 1 << 20
    graphql_compiled: bool = True
    graphql_introspection: bool = True
    graphql_graphiql: bool = True

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def objects_dir(self) -> Path:
        """Where the local backend keeps its objects."""
        return self.storage_root or self.data_dir / "objects"

    @property
    def s3_base_url(self) -> str:
        """The URL signed S3 URLs start with."""
        scheme = "https" if self.s3_secure else "http"
        return self.s3_public_url or f"{scheme}://{self.s3_endpoint}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 require_database: bool = False, **overrides: Any) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``).

        ``require_database`` makes ``DOCGRAPH_DATABASE_URL`` mandatory, as for
        ``docgraph serve``. Keyword ``overrides`` win over the environment.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = env.get(var.env)
            if raw is None or raw.strip() == "":
                if var.required_for_serve and require_database and var.field not in overrides:
                    raise ConfigError(f"{var.env} is not set: {var.help}")
                continue
            try:
                values[var.field] = var.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{var.env} is malformed: {exc}") from None
        values.update(overrides)
        settings = cls(**values)
        if settings.db_pool_min > settings.db_pool_max:
            raise ConfigError(
                f"DOCGRAPH_DB_POOL_MIN ({settings.db_pool_min}) is larger than "
                f"DOCGRAPH_DB_POOL_MAX ({settings.db_pool_max})"
            )
        settings.check_storage(serving=require_database)
        return settings

    def check_storage(self, *, serving: bool = False) -> None:
        """Refuse storage settings the chosen backend cannot start with."""
        if self.storage_backend == "s3":
            for env, value in (("DOCGRAPH_S3_ENDPOINT", self.s3_endpoint),
                               ("DOCGRAPH_S3_ACCESS_KEY", self.s3_access_key),
                               ("DOCGRAPH_S3_SECRET_KEY", self.s3_secret_key)):
                if not value:
                    raise ConfigError(f"{env} is not set: the s3 storage backend needs it")
        elif serving and not self.storage_signing_secret:
            raise ConfigError(
                "DOCGRAPH_STORAGE_SIGNING_SECRET is not set: `docgraph serve` with the local "
                "storage backend needs it (at least 32 characters, the same on every instance)"
            )
        if self.download_url_seconds > self.download_url_max_seconds:
            raise ConfigError(
                f"DOCGRAPH_DOWNLOAD_URL_SECONDS ({self.download_url_seconds}) is longer than "
                f"DOCGRAPH_DOWNLOAD_URL_MAX_SECONDS ({self.download_url_max_seconds})"
            )
        if self.orphan_upload_seconds <= self.upload_url_seconds:
            raise ConfigError(
                f"DOCGRAPH_ORPHAN_UPLOAD_SECONDS ({self.orphan_upload_seconds}) must be longer "
                f"than DOCGRAPH_UPLOAD_URL_SECONDS ({self.upload_url_seconds}), or uploads "
                "still in flight would be swept"
            )


def _check_declarations() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    declared = {v.field: v.default for v in VARIABLES}
    if defaults != declared:  # pragma: no cover - a programming error, caught at import
        diff = sorted(k for k in defaults.keys() | declared.keys()
                      if defaults.get(k, _MISSING) != declared.get(k, _MISSING))
        raise RuntimeError(f"Settings and VARIABLES disagree on: {diff}")


_check_declarations()
