"""Configuration, read once from the environment (``DOCGRAPH_*``).

Each variable is declared once, as a field of :class:`Settings` made with
:func:`setting`: its default, parser and meaning; its name is ``DOCGRAPH_``
and the field's name upper-cased. ``VARIABLES`` and the README's
configuration table (:func:`markdown_table`, written by ``make
readme-config``) derive from those fields. A missing or malformed value
raises :class:`ConfigError` naming the variable.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from docgraph.logs import FORMATS

T = TypeVar("T")


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


def _languages(raw: str) -> tuple[str, ...]:
    languages = tuple(part.strip() for part in re.split(r"[,+]", raw) if part.strip())
    if not languages:
        raise ValueError("must name at least one language, e.g. eng")
    for language in languages:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{1,31}", language):
            raise ValueError(f"expected Tesseract language names like eng or deu separated by "
                             f"commas, got {language!r}")
    return languages


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


def _clamd_address(raw: str) -> str:
    value = _text(raw)
    if value.startswith("/"):
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected an absolute Unix socket path or host:port, got {raw!r}")
    return value


def setting(default: T, *, parse: Callable[[str], T], help: str, shown: str | None = None,
            required_for_serve: bool = False, secret: bool = False) -> T:
    """Declare a field of :class:`Settings` and the variable it is read from.

    ``parse`` turns the variable's text into the value (``ValueError`` when it
    cannot); ``help`` is its meaning in the README. ``shown`` replaces the
    default in the README when the default is worked out from other settings.
    ``required_for_serve`` makes ``docgraph serve`` refuse to start without it;
    a ``secret`` stays out of ``repr`` and ``docgraph config``.
    """
    return dataclasses.field(
        default=default, repr=not secret,
        metadata={"parse": parse, "help": help, "shown": shown,
                  "required_for_serve": required_for_serve})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting; each field declares its variable (see :func:`setting`)."""

    database_url: str | None = setting(
        None, parse=_postgres_url, required_for_serve=True,
        help="PostgreSQL URL. Required by `docgraph serve`; when unset, `make run` and the CLI "
             "start the embedded cluster under the data directory.")
    data_dir: Path = setting(
        Path(".docgraph"), parse=_path,
        help="Where `make run` keeps the embedded PostgreSQL cluster, local objects and the "
             "development key.")
    host: str = setting("127.0.0.1", parse=_text, help="Interface to listen on.")
    port: int = setting(8000, parse=_int(1, 65535), help="Port to listen on.")
    workers: int = setting(
        1, parse=_int(1, 64),
        help="Worker processes for `docgraph serve`. With more than one, new connections are "
             "shared out evenly between them.")
    max_active_requests: int = setting(
        16, parse=_int(0, 10000),
        help="Requests each worker works on at once; later ones wait their turn in arrival order "
             "(`0`: no limit). With PostgreSQL on the same few cores, 2 or 3 gave the lowest tail "
             "latency. Health checks and storage transfers never wait.")
    queue_timeout_seconds: float = setting(
        10.0, parse=_float(0.01),
        help="Seconds a request may wait for its turn before it is answered 503 `unavailable` "
             "(with `Retry-After`).")
    public_url: str | None = setting(
        None, parse=_http_url, shown="http://HOST:PORT",
        help="Base URL clients reach this service at; signed local-storage URLs start with it.")
    log_level: str = setting(
        "info", parse=_choice("debug", "info", "warning", "error"),
        help="Log level (`debug`, `info`, `warning`, `error`).")
    log_format: str = setting(
        "auto", parse=_choice(*FORMATS),
        help="`json`: one JSON object per line (production, log collectors); `text`: one "
             "readable line per event; `auto`: `text` when stderr is a terminal (`make run`), "
             "`json` otherwise.")
    access_log: bool = setting(True, parse=_bool, help="Log one line per request.")
    metrics_token: str | None = setting(
        None, parse=_secret, secret=True, shown="(none)",
        help="Serve Prometheus metrics at `/metrics` on the API's port to requests with "
             "`Authorization: Bearer` and this token (at least 32 characters). Unset (and "
             "without `DOCGRAPH_METRICS_PORT`): no metrics are collected and `/metrics` is 404. "
             "See *Observability*.")
    metrics_port: int | None = setting(
        None, parse=_int(1, 65535), shown="(none)",
        help="Serve Prometheus metrics on this port of `DOCGRAPH_METRICS_HOST` too, without a "
             "token (a port only the scraper can reach). `docgraph serve` answers it from its "
             "supervising process, counting every worker.")
    metrics_host: str = setting(
        "127.0.0.1", parse=_text,
        help="Interface of `DOCGRAPH_METRICS_PORT`.")
    metrics_max_operations: int = setting(
        100, parse=_int(0, 10000),
        help="GraphQL operation names each worker gives a label of their own in the metrics "
             "(the first it sees); the others are counted under `(other)`, so the number of "
             "series stays bounded whatever names clients send.")
    db_pool_min: int = setting(2, parse=_int(0, 1000), help="Connections the pool keeps open.")
    db_pool_max: int = setting(
        10, parse=_int(1, 1000),
        help="Most connections in use at once. Searches have connections of their own "
             "(set to plan generically), opened when needed and closed after five idle "
             "minutes: up to twice this many may be open.")
    db_acquire_timeout: float = setting(
        2.0, parse=_float(0.01),
        help="Seconds to wait for a pooled connection before answering 503.")
    db_statement_timeout_ms: int = setting(
        2000, parse=_int(0),
        help="PostgreSQL `statement_timeout` for API connections, in milliseconds (0: none); a "
             "statement that takes longer answers 503.")
    expose_statement_count: bool = setting(
        False, parse=_bool,
        help="Add an `X-Statement-Count` header (SQL statements the request sent) to every "
             "response. For tests and benchmarks; leave off in production.")
    cors_origins: tuple[str, ...] = setting(
        (), parse=_origins,
        help="Origins whose pages may call the API from a browser, comma-separated (e.g. "
             "`https://app.example.com`), or `*` for development.")
    key_cache_seconds: float = setting(
        2.0, parse=_float(0.0),
        help="How long a verified API key is cached in memory; a revoked key stops working on "
             "every instance within this time.")
    rate_limit: int = setting(
        1200, parse=_int(1),
        help="Requests (GraphQL: root fields) an API key may make per window, unless the key has "
             "its own limit (`docgraph key create --rate-limit`).")
    rate_limit_window_seconds: int = setting(
        60, parse=_int(1, 86400),
        help="Length of a rate-limit window; it starts at a client's first request.")
    rate_limit_lease: int = setting(
        20, parse=_int(1, 10000),
        help="Most requests of a window each worker process leases from PostgreSQL at once and "
             "then counts in memory (fewer as the window runs out); `1` counts every request "
             "in PostgreSQL. See *Rate limits*.")
    address_rate_limit: int = setting(
        600, parse=_int(1),
        help="Requests per window from one client address that carry no valid key (failed "
             "authentication, signed storage URLs).")
    forwarded_allow_ips: str | None = setting(
        None, parse=_text, shown="(none)",
        help="Comma-separated addresses of the load balancers whose `X-Forwarded-For` names the "
             "client (used by per-address rate limits).")
    max_body_bytes: int = setting(
        1048576, parse=_int(1),
        help="Largest request body accepted (413 `payload_too_large` above it), except at "
             "`/graphql` (`DOCGRAPH_GRAPHQL_MAX_BODY_BYTES`). Uploads to signed storage URLs have "
             "their own, signed, size.")
    graphql_max_root_fields: int = setting(
        20, parse=_int(1, 1000),
        help="Most root fields (aliases included) one GraphQL operation may select; each counts as "
             "one request against the rate limit.")
    idempotency_retention_seconds: int = setting(
        86400, parse=_int(1),
        help="How long a response is kept for replay under its `Idempotency-Key` (24 hours).")
    idempotency_lease_seconds: float = setting(
        60.0, parse=_float(0.1),
        help="How long an `Idempotency-Key` stays locked by a request that never finished (its "
             "instance crashed) before a retry may run it again.")
    purge_interval_seconds: float = setting(
        300.0, parse=_float(1.0),
        help="How often each instance deletes expired idempotency records, ended rate-limit "
             "windows and events older than `DOCGRAPH_EVENT_RETENTION_DAYS`.")
    event_retention_days: int = setting(
        90, parse=_int(1, 36500),
        help="How long events (the audit trail, and what webhooks and subscriptions can "
             "resume from) are kept, in days; older ones are purged in batches.")
    webhook_concurrency: int = setting(
        8, parse=_int(0, 1000),
        help="Webhook deliveries each worker process makes at once (whichever instance is free "
             "takes the next one); `0`: this instance makes none (and queues none).")
    webhook_poll_seconds: float = setting(
        5.0, parse=_float(0.01),
        help="How often each instance looks for webhook deliveries due (retries, events whose "
             "notification it missed), besides waking at once on every change's notification.")
    webhook_timeout_seconds: float = setting(
        15.0, parse=_float(0.1),
        help="Seconds a webhook attempt may take in all (resolving, connecting, sending, the "
             "answer) before it counts as failed.")
    webhook_retry_seconds: float = setting(
        5.0, parse=_float(0.01),
        help="Wait before a failed webhook delivery's second attempt; each later wait doubles "
             "(up to `DOCGRAPH_WEBHOOK_RETRY_MAX_SECONDS`), with ±25 % jitter.")
    webhook_retry_max_seconds: float = setting(
        21600.0, parse=_float(0.01),
        help="Longest wait between two attempts at a webhook delivery (6 hours).")
    webhook_retry_horizon_seconds: float = setting(
        259200.0, parse=_float(1.0),
        help="How long a webhook delivery is retried, from when it was queued, before it is "
             "marked failed (3 days; it can still be retried by hand).")
    webhook_disable_after_seconds: float = setting(
        432000.0, parse=_float(1.0),
        help="An endpoint whose every attempt has failed for this long (5 days) is disabled, with "
             "the reason; its pending deliveries wait until it is enabled again.")
    webhook_secret_overlap_seconds: float = setting(
        86400.0, parse=_float(0.0),
        help="After a webhook secret is rotated, how long deliveries are signed with the "
             "previous secret too (24 hours).")
    webhook_allow_private_addresses: bool = setting(
        False, parse=_bool,
        help="Let webhook endpoints be on loopback, private, link-local and other non-public "
             "addresses (server-side request forgery protection off). For tests and closed "
             "networks only.")
    storage_backend: str = setting(
        "local", parse=_choice("local", "s3"),
        help="Object storage: `local` (files under `DOCGRAPH_STORAGE_ROOT`, signed URLs served by "
             "docgraph itself) or `s3` (MinIO or any S3 service).")
    storage_root: Path | None = setting(
        None, parse=_path, shown="DATA_DIR`/objects`",
        help="Directory of the local backend's objects.")
    storage_signing_secret: str | None = setting(
        None, parse=_secret, secret=True,
        help="HMAC key (at least 32 characters) of the local backend's signed URLs; every instance "
             "needs the same one. Required by `docgraph serve` with the local backend; `make run` "
             "generates one in DATA_DIR`/storage-signing-secret` (mode 0600).")
    s3_endpoint: str | None = setting(
        None, parse=_host_port,
        help="`host[:port]` docgraph reaches the S3 service at (no scheme). Required with the s3 "
             "backend.")
    s3_public_url: str | None = setting(
        None, parse=_http_url, shown="http(s)://ENDPOINT",
        help="Base URL clients reach the S3 service at, when it differs from the endpoint (signed "
             "URLs start with it).")
    s3_bucket: str = setting(
        "docgraph", parse=_bucket,
        help="Bucket holding every workspace's objects; created when missing.")
    s3_access_key: str | None = setting(
        None, parse=_text, secret=True,
        help="S3 access key. Required with the s3 backend.")
    s3_secret_key: str | None = setting(
        None, parse=_text, secret=True,
        help="S3 secret key. Required with the s3 backend.")
    s3_region: str = setting(
        "us-east-1", parse=_text,
        help="Region of the bucket (MinIO's default is `us-east-1`). Always passed to the client, "
             "so signing a URL never needs a network call.")
    s3_secure: bool = setting(True, parse=_bool, help="Reach the endpoint over https.")
    storage_timeout: float = setting(
        5.0, parse=_float(0.1),
        help="Seconds an object-storage call may take before the request answers 503 "
             "`unavailable`.")
    max_object_bytes: int = setting(
        1024**3, parse=_int(1, 5 * 1024**3),
        help="Largest upload accepted, in bytes (at most 5 GiB, S3's single-PUT limit).")
    upload_url_seconds: int = setting(
        900, parse=_int(1, 604800),
        help="Lifetime of a signed upload URL.")
    download_url_seconds: int = setting(
        3600, parse=_int(1, 604800),
        help="Lifetime of a signed download URL when the caller does not choose one.")
    download_url_max_seconds: int = setting(
        86400, parse=_int(1, 604800),
        help="Longest download-URL lifetime a caller may ask for (at most 7 days).")
    orphan_upload_seconds: int = setting(
        86400, parse=_int(1),
        help="An upload not recorded as a document within this time is deleted. Must be longer "
             "than `DOCGRAPH_UPLOAD_URL_SECONDS`.")
    delete_grace_seconds: int = setting(
        604800, parse=_int(0),
        help="How long a deleted document's bytes and preview are kept (out of reach of every "
             "URL: deleting revokes them at once) before they are removed for good.")
    sweep_interval_seconds: int = setting(
        300, parse=_int(0),
        help="How often each instance tries to sweep orphaned uploads and deleted documents' bytes "
             "(one instance at a time does the work; `0` turns the background sweep off; "
             "`docgraph sweep` runs it once).")
    clamd_address: str | None = setting(
        None, parse=_clamd_address, shown="(none)",
        help="ClamAV's `clamd` to scan every new document with: its Unix socket "
             "(`/run/clamav/clamd.ctl`) or `host:port` (its `TCPSocket`). Unset: no scanner; "
             "documents are recorded `NOT_SCANNED` (downloadable unless "
             "`DOCGRAPH_SCAN_REQUIRED`).")
    scan_required: bool = setting(
        False, parse=_bool,
        help="Serve only bytes a scanner found clean: `NOT_SCANNED` documents' download and "
             "preview URLs are refused (`document_not_clean`), and without a scanner new "
             "documents wait `PENDING` for one.")
    scan_timeout_seconds: float = setting(
        60.0, parse=_float(0.1),
        help="Seconds `clamd` may take to connect, to take each chunk and to answer before a "
             "scan counts as a failed try.")
    scan_attempts: int = setting(
        5, parse=_int(1, 100),
        help="Tries at scanning a document while `clamd` does not answer before it is marked "
             "`FAILED` (it is scanned again once `clamd` answers).")
    scan_retry_seconds: float = setting(
        10.0, parse=_float(0.01),
        help="Wait before the second try at a scan; each later wait doubles (capped at an hour).")
    scan_poll_seconds: float = setting(
        5.0, parse=_float(0.01),
        help="How often each instance looks for scans due (retries, documents queued while "
             "`clamd` was away) and checks whether `clamd` answers again.")
    text_jobs: int = setting(
        1, parse=_int(0, 64),
        help="Text extraction jobs (for search) each worker runs at once; more wait their turn "
             "(`0`: none run, documents stay `PENDING` until an instance with jobs retries them).")
    text_max_bytes: int = setting(
        100 * 1024 * 1024, parse=_int(1),
        help="Largest file whose text is extracted, in bytes; larger ones are `SKIPPED`.")
    text_max_pages: int = setting(
        100, parse=_int(1, 100_000),
        help="Most pages of a PDF whose text is read (or recognised); the rest are left out.")
    text_max_chars: int = setting(
        200_000, parse=_int(1, 10_000_000),
        help="Most characters of text kept per document; the rest is left out.")
    text_time_limit_seconds: float = setting(
        60.0, parse=_float(1.0),
        help="Longest a document's text extraction may take (OCR included); past it the job "
             "is stopped and the document's text `FAILED`.")
    ocr_languages: tuple[str, ...] = setting(
        ("eng",), parse=_languages,
        help="Tesseract languages images and scanned PDF pages are read in, comma-separated "
             "(each needs its `tesseract-ocr-LANG` package, e.g. `eng,deu`).")
    graphql_max_depth: int = setting(
        10, parse=_int(1, 100),
        help="Deepest field nesting a GraphQL operation may have (introspection fields excluded).")
    graphql_max_aliases: int = setting(
        30, parse=_int(0, 1000),
        help="Most field aliases one GraphQL document may use.")
    graphql_max_tokens: int = setting(
        5000, parse=_int(100, 1_000_000),
        help="Most lexical tokens one GraphQL document may have; longer documents are refused "
             "before parsing finishes.")
    graphql_max_body_bytes: int = setting(
        1 << 20, parse=_int(1024, 1 << 30),
        help="Largest `POST /graphql` body, in bytes (413 `payload_too_large` beyond).")
    graphql_compiled: bool = setting(
        True, parse=_bool,
        help="Run queries through the compiled execution path (same responses, a fraction of the "
             "CPU); off runs every operation through graphql-core's executor.")
    graphql_introspection: bool = setting(
        True, parse=_bool,
        help="Answer introspection queries (and suggest field names in errors). Turn off in "
             "production.")
    graphql_graphiql: bool = setting(
        True, parse=_bool,
        help="Serve GraphiQL at `GET /graphql` (its assets come from docgraph itself). Turn off in "
             "production. Never served with `DOCGRAPH_TRUSTED_DOCUMENTS`.")
    graphql_apq: str = setting(
        "shared", parse=_choice("shared", "memory", "off"),
        help="Automatic persisted queries (Apollo's protocol: a client sends a query's SHA-256 "
             "alone once it has sent the query with it): `shared` keeps registered documents in "
             "each process's memory and in PostgreSQL, so every instance and worker knows them; "
             "`memory` in each process's memory only; `off` answers "
             "`PERSISTED_QUERY_NOT_SUPPORTED` (clients then send full queries).")
    graphql_apq_cache_size: int = setting(
        512, parse=_int(1, 1_000_000),
        help="Registered documents each process keeps in memory (least recently used go first).")
    graphql_apq_max_document_bytes: int = setting(
        32768, parse=_int(256, 1 << 24),
        help="Largest document (UTF-8 bytes) kept as an automatic persisted query; a larger one "
             "still runs, but its hash alone is never found.")
    graphql_apq_retention_seconds: int = setting(
        2592000, parse=_int(60),
        help="How long a registration stays in PostgreSQL (30 days); a client still using it then "
             "registers it again.")
    subscriptions_per_process: int = setting(
        1000, parse=_int(0, 1_000_000),
        help="Most GraphQL subscriptions, and WebSocket connections, each worker process "
             "serves at once; one more subscription is refused (`unavailable`, retry later), "
             "one more connection closed (1013). `0` turns subscriptions off: no WebSocket at "
             "`/graphql`, and no listening connection to PostgreSQL.")
    subscriptions_per_connection: int = setting(
        20, parse=_int(1, 10_000),
        help="Most subscriptions one WebSocket connection may run at once; one more is "
             "refused (`too_many_subscriptions`).")
    subscription_init_timeout_seconds: float = setting(
        10.0, parse=_float(0.01),
        help="Seconds a new WebSocket connection has to authenticate (`connection_init`) "
             "before it is closed (4408).")
    subscription_ping_seconds: float = setting(
        15.0, parse=_float(0.01),
        help="After this long without a message to a WebSocket client, docgraph sends it a "
             "`ping`; a client from which nothing (not even a `pong`) has come for three times "
             "as long is disconnected (1001).")
    trusted_documents: Path | None = setting(
        None, parse=_path, shown="(none)",
        help="A manifest of the only GraphQL documents that run (JSON `{sha256: document}`, as "
             "GraphQL Codegen's `persisted-documents.json`; `docgraph persisted-documents` writes "
             "one). Checked at startup. Requests name a document by hash or send its exact text; "
             "anything else is refused (`persisted_query_required`).")
    # The command line's client commands (docgraph upload) talk to a running service
    # through its public API; the service itself reads neither of these.
    api_url: str = setting(
        "http://127.0.0.1:8000", parse=_http_url,
        help="Base URL of the running service that `docgraph upload` talks to (`--url` "
             "overrides it). The service itself does not read it.")
    api_key: str | None = setting(
        None, parse=_text, secret=True,
        help="API key `docgraph upload` sends. When unset and the URL is on this machine, the "
             "development key of `make run` (DATA_DIR`/dev-api-key`) is used. The service itself "
             "does not read it.")

    @property
    def metrics_enabled(self) -> bool:
        """Whether anyone can read the metrics: otherwise none are collected."""
        return self.metrics_token is not None or self.metrics_port is not None

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def serves_graphiql(self) -> bool:
        """GraphiQL runs arbitrary queries: never where only trusted documents run."""
        return self.graphql_graphiql and self.trusted_documents is None

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
        if settings.metrics_port is not None and settings.metrics_port == settings.port:
            raise ConfigError(
                f"DOCGRAPH_METRICS_PORT ({settings.metrics_port}) is the API's own port "
                "(DOCGRAPH_PORT): choose another, or use DOCGRAPH_METRICS_TOKEN to serve "
                "/metrics on the API's port")
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


@dataclasses.dataclass(frozen=True)
class Variable:
    """One ``DOCGRAPH_*`` variable, as its field of :class:`Settings` declares it."""

    env: str
    field: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    shown: str | None
    required_for_serve: bool
    secret: bool


def _variable(field: dataclasses.Field[Any]) -> Variable:
    if "parse" not in field.metadata:
        raise TypeError(f"Settings.{field.name} is not declared with setting()")
    return Variable(env=f"DOCGRAPH_{field.name.upper()}", field=field.name,
                    parse=field.metadata["parse"], default=field.default,
                    help=field.metadata["help"], shown=field.metadata["shown"],
                    required_for_serve=field.metadata["required_for_serve"],
                    secret=not field.repr)


VARIABLES: tuple[Variable, ...] = tuple(_variable(f) for f in dataclasses.fields(Settings))


def env_text(value: Any) -> str:
    """``value`` written as a variable would give it (``""`` for None)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _shown_default(var: Variable) -> str:
    if var.shown is not None:
        return var.shown
    if var.default is None:
        return "—"
    text = env_text(var.default)
    return f"`{text}`" if text else "(none)"


def markdown_table() -> str:
    """The README's configuration table: every variable, its default and meaning."""
    rows = [f"| `{v.env}` | {_shown_default(v)} | {v.help} |" for v in VARIABLES]
    return "\n".join(["| Variable | Default | Meaning |", "| --- | --- | --- |", *rows, ""])


def environment(settings: Settings) -> dict[str, str]:
    """``settings`` as ``DOCGRAPH_*`` values, secrets that are set masked."""
    values = {}
    for var in VARIABLES:
        text = env_text(getattr(settings, var.field))
        values[var.env] = "********" if var.secret and text else text
    return values
