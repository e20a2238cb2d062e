"""docgraph: serve the API, migrate, manage workspaces, keys and webhooks, upload files.

Commands that need a database use ``DOCGRAPH_DATABASE_URL`` when it is set,
otherwise the embedded cluster under ``DOCGRAPH_DATA_DIR`` (attached to when
``make run`` already runs it, started for the command's duration if not).
``docgraph upload`` is a client of a running service instead: it goes through
the public API (``docgraph/ops/client.py``), never the database.

Output: what a command made or lists goes to stdout — a table or lines, or
with ``--json`` one JSON document and nothing else; everything else
(progress, notes, errors) goes to stderr, an error in one line. Exit status:
see :class:`Exit`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import enum
import functools
import math
import os
import secrets
import signal
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import asyncpg
import orjson
import uvicorn
from uvicorn.config import STARTUP_FAILURE

import docgraph
from docgraph.config import ConfigError, Settings, environment, markdown_table
from docgraph.db.database import Database
from docgraph.db.migrate import MigrationError, migrate, migration_status
from docgraph.errors import AppError, InvalidKey, Unavailable
from docgraph.http.protocol import HttpProtocol
from docgraph.logs import configure_logging
from docgraph.ops import client, workers
from docgraph.ops.embedded import EmbeddedPostgres, EmbeddedPostgresError
from docgraph.resolvers import auth, webhooks, workspaces
from docgraph.schema.graphiql import is_loopback

T = TypeVar("T")

DEV_WORKSPACE_NAME = "Development"
DEV_KEY_FILE = "dev-api-key"
# The README's configuration table lies between these (make readme-config).
CONFIG_TABLE_START = "<!-- config:start -->"
CONFIG_TABLE_END = "<!-- config:end -->"


class Exit(enum.IntEnum):
    """The exit statuses of every command (the README's CLI reference lists them)."""

    OK = 0
    # The command cannot run as given: bad arguments, a malformed DOCGRAPH_* setting,
    # a file that cannot be read. Nothing was sent anywhere.
    USAGE = 1
    # The service or the database answered no: an unknown id, a refused key, an invalid
    # value, a quota, a migration that was changed after it was applied.
    REFUSED = 2
    # The service, the database or the object store could not be reached, did not
    # answer in time or failed (5xx); `serve` and `dev`: the server could not start.
    UNAVAILABLE = 3
    INTERRUPTED = 130


class CommandError(Exception):
    """A failure the user can act on; printed in one line, without a traceback."""

    status = Exit.REFUSED


class UsageError(CommandError):
    status = Exit.USAGE


class UnavailableError(CommandError):
    status = Exit.UNAVAILABLE


def _embedded(settings: Settings, *, ephemeral: bool = False) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir / "pgdata", ephemeral=ephemeral)


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The configured database, or the embedded one for this command's duration.

    A database that cannot be reached is an :class:`UnavailableError`, not a traceback.
    """
    try:
        if settings.database_url:
            yield settings.database_url
            return
        cluster = _embedded(settings)
        url, started = cluster.attach_or_start()
        try:
            yield url
        finally:
            if started:
                cluster.stop()
    except (ConnectionError, TimeoutError, socket.gaierror, asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError) as exc:
        host = urlsplit(settings.database_url).hostname if settings.database_url else None
        where = f" at {host}" if host else ""
        raise UnavailableError(f"cannot reach the database{where}: "
                               f"{exc.__class__.__name__}: {exc}") from None


def _run_with_db(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    async def runner() -> T:
        db = await Database.connect(url, min_size=1, max_size=2)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(runner())


def print_json(data: Any) -> None:
    """``data`` as one JSON document on stdout (``--json``): ids and times as strings."""
    sys.stdout.write(orjson.dumps(data, default=_json_default,
                                  option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z).decode() + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path | uuid.UUID):  # asyncpg's UUIDs are a subclass orjson skips
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    table = [[str(row.get(c, "")) if row.get(c) is not None else "-" for c in columns]
             for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) if table else len(c)
              for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in table:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def _url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}")
    return value.strip().rstrip("/")


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError(f"expected seconds (0 to 86400), got {value!r}")
    return seconds


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a UUID: {value!r}") from None


# -- commands ------------------------------------------------------------


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    if args.status:
        _migrate_status(settings, args)
        return
    with database_url(settings) as url:
        applied = asyncio.run(migrate(url))
    if args.json:
        print_json([{"version": m.version, "name": m.name} for m in applied])
    elif applied:
        for m in applied:
            print(f"applied {m.version:04d}_{m.name}")
    else:
        print("database is up to date")


def _migrate_status(settings: Settings, args: argparse.Namespace) -> None:
    """List every migration, applied or pending; change nothing."""
    with database_url(settings) as url:
        found = asyncio.run(migration_status(url))
    if args.json:
        print_json(found)
        return
    _print_rows([{"version": f"{m.version:04d}", "name": m.name, "state": m.state,
                  "applied_at": m.applied_at} for m in found],
                ["version", "name", "state", "applied_at"])
    pending = sum(m.state == "pending" for m in found)
    print(f"{pending} pending: `docgraph migrate` applies them" if pending
          else "database is up to date", file=sys.stderr)


def cmd_workspace_create(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        asyncio.run(migrate(url))
        ws = _run_with_db(url, lambda db: workspaces.create_workspace(db, args.name,
                                                                      args.quota_bytes))
        if args.search_language:
            _set_search_language(url, ws["id"], args.search_language)
            ws["text_search_config"] = args.search_language
    if args.json:
        print_json(ws)
    else:
        print(ws["id"])


def _set_search_language(url: str, workspace_id: uuid.UUID, config: str) -> int:
    try:
        return _run_with_db(url, lambda db: workspaces.set_text_search_config(
            db, workspace_id, config))
    except AppError as exc:
        raise CommandError(exc.message) from None


def cmd_workspace_search_language(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        asyncio.run(migrate(url))
        count = _set_search_language(url, args.workspace, args.config)
    print(f"workspace {args.workspace} searches in {args.config}: {count} document(s) "
          "indexed again")


def cmd_workspace_list(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        rows = _run_with_db(url, workspaces.list_workspaces)
    if args.json:
        print_json(rows)
        return
    _print_rows(rows, ["id", "name", "quota_bytes", "used_bytes", "text_search_config",
                       "created_at"])


def cmd_key_create(settings: Settings, args: argparse.Namespace) -> None:
    async def work(db: Database) -> tuple[str, dict]:
        if await workspaces.get_workspace(db, args.workspace) is None:
            raise CommandError(f"no workspace {args.workspace}")
        return await auth.create_key(db, args.workspace, args.scopes, name=args.name,
                                     rate_limit=args.rate_limit)

    with database_url(settings) as url:
        key, record = _run_with_db(url, work)
    if args.json:
        print_json({**record, "key": key})
        return
    print(f"key id: {record['id']}", file=sys.stderr)
    print(f"scopes: {' '.join(record['scopes'])}", file=sys.stderr)
    print("The key is shown once; store it now:", file=sys.stderr)
    print(key)


def cmd_key_list(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        rows = _run_with_db(url, lambda db: auth.list_keys(db, args.workspace))
    if args.json:
        print_json(rows)
        return
    for row in rows:
        row["scopes"] = ",".join(row["scopes"])
    _print_rows(rows, ["id", "workspace_id", "prefix", "name", "scopes", "rate_limit",
                       "created_at", "revoked_at"])


def cmd_key_revoke(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        row = _run_with_db(url, lambda db: auth.revoke_key(db, args.id))
    if row is None:
        raise CommandError(f"no key {args.id}")
    if args.json:
        print_json(row)
    else:
        print(f"revoked {row['id']} at {row['revoked_at']}")


async def _require_workspace(db: Database, workspace_id: uuid.UUID) -> None:
    if await workspaces.get_workspace(db, workspace_id) is None:
        raise CommandError(f"no workspace {workspace_id}")


def cmd_webhook_create(settings: Settings, args: argparse.Namespace) -> None:
    """Register an endpoint; print its id, then its secret (shown once)."""
    fields: dict[str, Any] = {"url": args.url, "event_types": args.types or []}
    if args.description is not None:
        fields["description"] = args.description

    async def work(db: Database) -> Any:
        await _require_workspace(db, args.workspace)
        return await webhooks.register_endpoint(db, settings, args.workspace, fields)

    with database_url(settings) as url:
        asyncio.run(migrate(url))
        created = _run_with_db(url, work)
    endpoint = created.endpoint
    if args.json:
        print_json({**dataclasses.asdict(endpoint), "secret": created.secret})
        return
    print(f"endpoint id: {endpoint.id}", file=sys.stderr)
    print(f"url: {endpoint.url}", file=sys.stderr)
    print(f"event types: {' '.join(endpoint.event_types) or '(all)'}", file=sys.stderr)
    print("The signing secret is shown once; store it now:", file=sys.stderr)
    print(created.secret)


def cmd_webhook_list(settings: Settings, args: argparse.Namespace) -> None:
    async def work(db: Database) -> list[Any]:
        await _require_workspace(db, args.workspace)
        return await webhooks.endpoints_of(db, args.workspace)

    with database_url(settings) as url:
        endpoints = _run_with_db(url, work)
    if args.json:
        print_json(endpoints)
        return
    rows = [{"id": e.id, "url": e.url, "event_types": ",".join(e.event_types) or "(all)",
             "enabled": "yes" if e.enabled else "no", "disabled_reason": e.disabled_reason,
             "failing_since": e.failing_since, "created_at": e.created_at}
            for e in endpoints]
    _print_rows(rows, ["id", "url", "event_types", "enabled", "disabled_reason",
                       "failing_since", "created_at"])


def cmd_webhook_delete(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        deleted = _run_with_db(url, lambda db: webhooks.remove_endpoint(
            db, args.workspace, args.id))
    if args.json:
        print_json(deleted)
    else:
        print(f"deleted {deleted.id} at {deleted.deleted_at}")


def cmd_webhook_rotate(settings: Settings, args: argparse.Namespace) -> None:
    """A new secret; print it (shown once)."""
    with database_url(settings) as url:
        rotated = _run_with_db(url, lambda db: webhooks.new_endpoint_secret(
            db, settings, args.workspace, args.id))
    if args.json:
        print_json({**dataclasses.asdict(rotated.endpoint), "secret": rotated.secret})
        return
    until = rotated.endpoint.previous_secret_expires_at
    print(f"endpoint id: {rotated.endpoint.id}", file=sys.stderr)
    if until is not None:
        print(f"the previous secret signs too until {until}", file=sys.stderr)
    print("The new signing secret is shown once; store it now:", file=sys.stderr)
    print(rotated.secret)


def _proxy_options(settings: Settings) -> dict[str, Any]:
    """Trust X-Forwarded-For only from the configured load balancers."""
    if settings.forwarded_allow_ips:
        return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}
    return {"proxy_headers": False}


def cmd_sweep(settings: Settings, args: argparse.Namespace) -> None:
    """Remove orphaned uploads and deleted documents' bytes once (what instances do
    every DOCGRAPH_SWEEP_INTERVAL_SECONDS)."""
    from docgraph.http.paths import STORAGE_PREFIX
    from docgraph.resolvers.sweeper import sweep_with
    from docgraph.storage.factory import build_store

    # Sweeping signs no URL: without a configured secret, any will do.
    store = build_store(dataclasses.replace(
        settings, storage_signing_secret=settings.storage_signing_secret
        or secrets.token_urlsafe(32)), local_route=STORAGE_PREFIX)

    async def work(db: Database) -> Any:
        try:
            return await sweep_with(db, store, settings, deep=args.deep)
        finally:
            await store.close()

    with database_url(settings) as url:
        asyncio.run(migrate(url))
        report = _run_with_db(url, work)
    if args.json:
        print_json(report)
        return
    if report.skipped:
        print("another instance is sweeping right now; nothing done")
        return
    print(f"orphan uploads removed:         {report.orphan_uploads}")
    print(f"unarrived uploads forgotten:    {report.forgotten_uploads}")
    print(f"deleted documents' bytes moved: {report.finished_moves}")
    print(f"deleted documents purged:       {report.purged_documents}")
    print(f"interrupted upload files:       {report.incomplete_uploads}")
    print(f"image previews retried:         {report.retried_images}")
    if args.deep:
        print(f"unreferenced objects removed:   {report.unreferenced_objects}")


def cmd_schema(settings: Settings, args: argparse.Namespace) -> None:
    """Print the GraphQL schema (SDL), as committed in schema.graphql."""
    from docgraph.schema import schema_sdl

    sys.stdout.write(schema_sdl())


def operation_texts(path: Path) -> list[str]:
    """The GraphQL documents a file holds: a ``.json`` file's strings (an object's values
    — by operation name, or a manifest by hash — or an array's items); any other file
    is one document."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() != ".json":
        try:
            return [raw.decode("utf-8")]
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text") from None
    try:
        content = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CommandError(f"{path} is not JSON: {exc}") from None
    texts = list(content.values()) if isinstance(content, dict) else content
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise CommandError(f"{path}: expected a JSON object or array of GraphQL documents "
                           "(strings)")
    return texts


def cmd_persisted_documents(settings: Settings, args: argparse.Namespace) -> None:
    """Print the manifest of trusted documents (``{sha256: document}``) of some files,
    each document checked against the schema as the settings configure it."""
    from docgraph.schema import build_schema
    from docgraph.schema.persisted import manifest

    texts = [text for path in args.files for text in operation_texts(path)]
    try:
        documents = manifest(texts, build_schema(settings))
    except ValueError as exc:
        raise CommandError(f"a document the schema refuses: {exc}") from None
    sys.stdout.write(orjson.dumps(documents, option=orjson.OPT_INDENT_2).decode() + "\n")


def with_config_table(text: str) -> str:
    """``text`` (the README) with the configuration table between its markers regenerated."""
    before, start, rest = text.partition(CONFIG_TABLE_START)
    _, end, after = rest.partition(CONFIG_TABLE_END)
    if not start or not end:
        raise UsageError(f"no {CONFIG_TABLE_START} ... {CONFIG_TABLE_END} block to replace")
    return f"{before}{start}\n\n{markdown_table()}\n{end}{after}"


def cmd_config(settings: Settings, args: argparse.Namespace) -> None:
    """Print the settings in effect (secrets masked), the README's table, or rewrite it."""
    if args.markdown:
        sys.stdout.write(markdown_table())
    elif args.readme:
        try:
            args.readme.write_text(with_config_table(args.readme.read_text()))
        except OSError as exc:
            raise UsageError(f"cannot rewrite {args.readme}: {exc.strerror}") from None
    elif args.json:
        print_json(environment(settings))
    else:
        for env, value in environment(settings).items():
            print(f"{env}={value}")


def _uvicorn_config(app: Any, settings: Settings, **kwargs: Any) -> uvicorn.Config:
    # HttpProtocol: a request uvicorn cannot parse gets the documented error body.
    # A WebSocket message (GraphQL subscriptions) larger than a GraphQL body is refused
    # by uvicorn itself (1009), before it is buffered whole.
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                          access_log=False, server_header=False, http=HttpProtocol,
                          ws_max_size=settings.graphql_max_body_bytes,
                          **_proxy_options(settings), **kwargs)


def app_from_env() -> Any:
    """Factory for uvicorn workers started by ``docgraph serve``."""
    from docgraph.app import create_app

    settings = Settings.from_env(require_database=True)
    configure_logging(settings.log_level, settings.log_format)
    assert settings.database_url is not None
    return create_app(settings, settings.database_url)


def _serve_metrics_port(settings: Settings, registry: Any) -> Callable[[], None]:
    """``DOCGRAPH_METRICS_PORT``'s server (a thread of this process); returns its stop."""
    from docgraph.observability.metrics import serve_metrics_port

    assert settings.metrics_port is not None
    try:
        return serve_metrics_port(settings.metrics_host, settings.metrics_port, registry)
    except OSError as exc:  # the server could not start
        raise UnavailableError(f"cannot serve metrics on {settings.metrics_host}:"
                               f"{settings.metrics_port}: {exc.strerror}") from None


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    """Production: migrate once, then run the workers (each builds its own app).

    With metrics on, the workers write them to one directory (prometheus-client's
    multiprocess mode), made empty here; this process drops the gauges of each
    worker that exits and serves ``DOCGRAPH_METRICS_PORT``, counting every worker.
    """
    from docgraph.observability.tracing import check_environment

    settings = Settings.from_env(require_database=True)
    assert settings.database_url is not None
    check_environment(os.environ)  # malformed OTEL_* variables: one clear error
    if settings.trusted_documents is not None:
        # Checked once here, so a bad manifest is one clear error, not each worker's.
        from docgraph.schema import build_schema
        from docgraph.schema.persisted import trusted_documents

        trusted_documents(settings.trusted_documents, build_schema(settings))
    asyncio.run(migrate(settings.database_url))
    config = _uvicorn_config("docgraph.ops.cli:app_from_env", settings, factory=True,
                             workers=settings.workers)
    with contextlib.ExitStack() as stack:
        on_worker_exit = None
        if settings.metrics_enabled:
            from docgraph.observability import metrics

            directory = stack.enter_context(metrics.multiprocess_directory())
            on_worker_exit = functools.partial(metrics.worker_exited, directory=directory)
            if settings.metrics_port is not None:
                stack.callback(_serve_metrics_port(
                    settings, metrics.multiprocess_registry(directory)))
        if settings.workers == 1:
            server = uvicorn.Server(config)
            server.run()
            if not server.started:
                sys.exit(STARTUP_FAILURE)
            return
        code = workers.serve(config, on_worker_exit)
    sys.exit(code)


async def ensure_dev_key(db: Database, stored_key: str | None) -> tuple[str, bool]:
    """The development key: the stored one if it still works, else a new one.

    Returns the key and whether it is new (and must be stored).
    """
    if stored_key:
        try:
            await auth.KeyVerifier(db, 0).verify(auth.bearer_token(f"Bearer {stored_key}"))
            return stored_key, False
        except InvalidKey:
            pass
    workspace = await workspaces.create_workspace(db, DEV_WORKSPACE_NAME)
    key, _ = await auth.create_key(db, workspace["id"], auth.SCOPES, name="development")
    return key, True


def _store_dev_key(key_file: Path, key: str) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")


class _StopSignals:
    """SIGTERM and SIGHUP end ``docgraph dev`` the way Ctrl-C does.

    A process manager, an IDE's stop button or ``timeout`` send SIGTERM to
    ``make run``'s process group; closing its terminal sends SIGHUP. Python's
    default for both is to die on the spot, and uvicorn, which handles SIGTERM
    (not SIGHUP) while it serves, raises it again once it has shut down: no
    ``finally`` would run, and the embedded PostgreSQL — in a session of its
    own (pg_ctl starts it so), out of the signal's reach — would be left
    running. Inside this block they raise ``SystemExit`` (status 128 + the
    signal) instead, after a graceful shutdown of ``server`` while it serves.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        self._previous = {sig: signal.signal(sig, self._stop) for sig in self.SIGNALS}
        return self

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if self.server is not None and not self.server.should_exit:
            # Shut down as on SIGTERM; uvicorn raises the signal again afterwards.
            self.server.handle_exit(signum, frame)
            return
        raise SystemExit(128 + signum)

    @staticmethod
    def ignore() -> None:
        """Let no further signal (make sends its own SIGTERM) cut the clean-up short."""
        for sig in (signal.SIGINT, *_StopSignals.SIGNALS):
            signal.signal(sig, signal.SIG_IGN)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def cmd_dev(settings: Settings, args: argparse.Namespace) -> None:
    """What ``make run`` does: embedded services, migrations, a dev key, serve.

    Ctrl-C, SIGTERM and SIGHUP stop the server and the embedded PostgreSQL.
    """
    with _StopSignals() as stop_signals:
        _dev(settings, stop_signals)


def _dev(settings: Settings, stop_signals: _StopSignals) -> None:
    from docgraph.app import create_app
    from docgraph.storage.factory import with_dev_signing_secret

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = with_dev_signing_secret(settings)
    cluster = None
    url = settings.database_url
    interrupt = signal.getsignal(signal.SIGINT)
    try:
        if url is None:
            cluster = _embedded(settings)
            url = cluster.start()
        asyncio.run(migrate(url))
        key_file = settings.data_dir / DEV_KEY_FILE
        stored = key_file.read_text().strip() if key_file.exists() else None
        key, created = _run_with_db(url, lambda db: ensure_dev_key(db, stored))
        if created:
            _store_dev_key(key_file, key)
        base = settings.base_url
        # GraphiQL comes with the key in its headers only for browsers on this machine;
        # listening on another interface, the page keeps its placeholder.
        on_loopback = is_loopback(settings.host)
        graphiql_note = ("GraphiQL, with the key in its headers" if on_loopback else
                         f"GraphiQL (no key on the page: {settings.host} is not loopback)")
        print(
            "\n"
            f"  docgraph is starting on {base}\n"
            f"  GraphQL:         {base}/graphql  ({graphiql_note})\n"
            f"  Development key: {key}"
            f"{'  (new)' if created else ''}\n"
            f"  (stored in {key_file})\n"
            f"  Try: curl -H 'Authorization: Bearer {key}' {base}/v1/workspace\n"
            f"       docgraph upload FILE --link contact:ID\n",
            file=sys.stderr, flush=True,
        )
        app = create_app(settings, url, graphiql_dev_key=key if on_loopback else None)
        if settings.metrics_port is not None:
            stop_metrics = _serve_metrics_port(
                settings, app.state.observability.metrics.scrape_registry())
        stop_signals.server = uvicorn.Server(_uvicorn_config(app, settings))
        try:
            stop_signals.server.run()
        finally:
            if settings.metrics_port is not None:
                stop_metrics()
    finally:
        if cluster is not None:
            _StopSignals.ignore()
            cluster.stop()
            signal.signal(signal.SIGINT, interrupt)


def _api_key(settings: Settings, url: str) -> str:
    """DOCGRAPH_API_KEY; else, for a service on this machine, ``make run``'s key."""
    if settings.api_key:
        if not settings.api_key.isascii() or not settings.api_key.isprintable() \
                or " " in settings.api_key:
            raise UsageError("DOCGRAPH_API_KEY holds characters an HTTP header cannot carry")
        return settings.api_key
    key_file = settings.data_dir / DEV_KEY_FILE
    if is_loopback(urlsplit(url).hostname):
        with contextlib.suppress(OSError):
            key = key_file.read_text().strip()
            if key:
                return key
    raise UsageError("DOCGRAPH_API_KEY is not set: export the API key to upload with "
                     "(`docgraph key create` makes one)")


def cmd_upload(settings: Settings, args: argparse.Namespace) -> None:
    """Upload files through the public API: URL, PUT with progress, record, link."""
    try:
        links = [client.Link.parse(text) for text in args.link]
        files = [client.LocalFile.check(text, args.mime_type) for text in args.files]
    except client.BadInput as exc:
        raise UsageError(str(exc)) from None
    tags = [tag.strip() for text in args.tags for tag in text.split(",") if tag.strip()]
    url = args.url or settings.api_url
    key = _api_key(settings, url)
    if args.quiet:
        progress_class: type[Any] = client.NoProgress
    elif sys.stderr.isatty():
        progress_class = client.BarProgress
    else:
        progress_class = client.PlainProgress
    finished: list[client.Uploaded] = []

    def recorded(item: client.Uploaded) -> None:
        finished.append(item)

    try:
        with client.Api(url, key, timeout=args.timeout) as api:
            client.check_links(api, links)
            for file in files:
                progress = progress_class(file)
                try:
                    item = client.upload(api, file, links=links, folder=args.folder,
                                         tags=tags, progress=progress, done=recorded)
                finally:
                    progress.close()
                if not args.json:
                    _print_uploaded(item)
    except client.ClientError as exc:
        last = finished[-1] if finished else None
        if last is not None and len(last.links) < len(links):
            exc.args = (f"{exc} (document {last.document['id']} was recorded; "
                        f"{len(last.links)} of its {len(links)} links were made)",)
        raise _command_error(exc) from None
    finally:
        if args.json:
            print_json([item.as_json() for item in finished])


def _print_uploaded(item: client.Uploaded) -> None:
    document = item.document
    linked = ", ".join(f"{link['entity_type']}:{link['entity_id']}"
                       + (f" ({link['role']})" if link.get("role") else "")
                       for link in item.links)
    print(f"{document['id']}  {document['name']}  "
          f"{client.format_size(document['size_bytes'])}"
          + (f"  linked to {linked}" if linked else ""), flush=True)


def _command_error(exc: client.ClientError) -> CommandError:
    if isinstance(exc, client.Refused):
        return CommandError(str(exc))
    if isinstance(exc, client.Unreachable):
        return UnavailableError(str(exc))
    return UsageError(str(exc))


# -- parser ----------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line and exit status 1 (:class:`Exit`)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(Exit.USAGE)


def _json_flag(parser: argparse._ActionsContainer) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document on stdout, and nothing else there")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="docgraph", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"docgraph {docgraph.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="serve the API (needs DOCGRAPH_DATABASE_URL)").set_defaults(
        func=cmd_serve)
    sub.add_parser("dev", help="embedded services + development key + serve (make run)"
                   ).set_defaults(func=cmd_dev)
    p = sub.add_parser("migrate", help="apply pending migrations")
    p.add_argument("--status", action="store_true",
                   help="list applied and pending migrations instead; change nothing")
    _json_flag(p)
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("sweep", help="remove orphaned uploads and deleted documents' bytes now")
    p.add_argument("--deep", action="store_true",
                   help="also list the store and remove objects nothing refers to")
    _json_flag(p)
    p.set_defaults(func=cmd_sweep)
    sub.add_parser("schema", help="print the GraphQL schema (make schema writes schema.graphql)"
                   ).set_defaults(func=cmd_schema)
    p = sub.add_parser(
        "persisted-documents",
        help="print the manifest of trusted documents (DOCGRAPH_TRUSTED_DOCUMENTS) of files")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE",
                   help="a .graphql file (one document), or a .json object or array of "
                        "documents (examples/operations.json)")
    p.set_defaults(func=cmd_persisted_documents)
    p = sub.add_parser("config", help="print the settings in effect, secrets masked")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--markdown", action="store_true",
                      help="print the configuration table of the README instead")
    what.add_argument("--readme", type=Path, metavar="FILE",
                      help="rewrite that table between FILE's config markers")
    _json_flag(what)
    p.set_defaults(func=cmd_config)

    ws = sub.add_parser("workspace", help="manage workspaces").add_subparsers(
        dest="action", required=True)
    p = ws.add_parser("create", help="create a workspace and print its id")
    p.add_argument("name")
    p.add_argument("--quota-bytes", type=int, default=None)
    p.add_argument("--search-language", default=None, metavar="CONFIG",
                   help="the text search configuration of its documents (default: english)")
    _json_flag(p)
    p.set_defaults(func=cmd_workspace_create)
    p = ws.add_parser("list", help="list workspaces")
    _json_flag(p)
    p.set_defaults(func=cmd_workspace_list)
    p = ws.add_parser("search-language",
                      help="choose a workspace's text search configuration (english, german, "
                           "simple, ...) and index its documents again")
    p.add_argument("workspace", type=_uuid)
    p.add_argument("config")
    p.set_defaults(func=cmd_workspace_search_language)

    keys = sub.add_parser("key", help="manage API keys").add_subparsers(
        dest="action", required=True)
    p = keys.add_parser("create", help="create a key and print it once")
    p.add_argument("--workspace", required=True, type=_uuid)
    p.add_argument("--scopes", nargs="+", default=list(auth.DEFAULT_SCOPES),
                   help="read:documents, write:documents and/or manage:webhooks (default: "
                        "read:documents write:documents)")
    p.add_argument("--name", default=None)
    p.add_argument("--rate-limit", type=int, default=None,
                   help="requests per window for this key (default: the deployment's)")
    _json_flag(p)
    p.set_defaults(func=cmd_key_create)
    p = keys.add_parser("list", help="list keys (never the keys themselves)")
    p.add_argument("--workspace", type=_uuid, default=None)
    _json_flag(p)
    p.set_defaults(func=cmd_key_list)
    p = keys.add_parser("revoke", help="revoke a key")
    p.add_argument("id", type=_uuid)
    _json_flag(p)
    p.set_defaults(func=cmd_key_revoke)

    p = sub.add_parser(
        "upload", help="upload files to a running service and record them as documents",
        description="Upload each FILE through the public API of a running service (--url; "
                    "the key in DOCGRAPH_API_KEY): ask for a signed upload URL, PUT the bytes "
                    "with a progress bar, record the document, link it.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--link", action="append", default=[], metavar="TYPE:ID[:ROLE]",
                   help="link each document to this entity (contact, company or business, "
                        "deal, event, matter, task), with an optional role; repeatable")
    p.add_argument("--folder", default=None, metavar="PATH",
                   help="the documents' folder, e.g. /clients/acme")
    p.add_argument("--tags", action="append", default=[], metavar="TAG[,TAG...]",
                   help="the documents' tags, comma-separated; repeatable")
    p.add_argument("--mime-type", default=None, metavar="TYPE",
                   help="the files' MIME type (default: guessed from each name)")
    p.add_argument("--url", type=_url, default=None,
                   help="the service's base URL (default: DOCGRAPH_API_URL, "
                        "http://127.0.0.1:8000)")
    p.add_argument("--timeout", type=_seconds, default=60.0, metavar="SECONDS",
                   help="give up on a request that gets no answer for this long (default 60)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _json_flag(p)
    p.set_defaults(func=cmd_upload)

    hooks = sub.add_parser("webhook", help="manage a workspace's webhook endpoints"
                           ).add_subparsers(dest="action", required=True)
    p = hooks.add_parser("create", help="register an endpoint and print its secret once")
    p.add_argument("--workspace", required=True, type=_uuid)
    p.add_argument("--url", required=True, help="where deliveries are POSTed (http or https)")
    p.add_argument("--types", nargs="+", default=None, metavar="TYPE",
                   help="the event types it receives, e.g. document.created (default: all)")
    p.add_argument("--description", default=None)
    _json_flag(p)
    p.set_defaults(func=cmd_webhook_create)
    p = hooks.add_parser("list", help="list a workspace's endpoints (never their secrets)")
    p.add_argument("--workspace", required=True, type=_uuid)
    _json_flag(p)
    p.set_defaults(func=cmd_webhook_list)
    p = hooks.add_parser("delete", help="delete an endpoint and its deliveries")
    p.add_argument("--workspace", required=True, type=_uuid)
    p.add_argument("id", type=_uuid)
    _json_flag(p)
    p.set_defaults(func=cmd_webhook_delete)
    p = hooks.add_parser("rotate", help="give an endpoint a new secret and print it once")
    p.add_argument("--workspace", required=True, type=_uuid)
    p.add_argument("id", type=_uuid)
    _json_flag(p)
    p.set_defaults(func=cmd_webhook_rotate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.log_format)
        args.func(settings, args)
    except ConfigError as exc:
        return _fail(exc, Exit.USAGE)
    except CommandError as exc:
        return _fail(exc, exc.status)
    except (MigrationError, asyncpg.PostgresError) as exc:
        return _fail(exc, Exit.REFUSED)
    except EmbeddedPostgresError as exc:
        return _fail(exc, Exit.UNAVAILABLE)
    except AppError as exc:
        status = Exit.UNAVAILABLE if isinstance(exc, Unavailable) else Exit.REFUSED
        fields = exc.details.get("fields") if isinstance(exc.details, dict) else None
        named = "; ".join(f"{name}: {problem}" for name, problem in (fields or {}).items())
        return _fail(f"{exc.code}: {exc.message}" + (f" ({named})" if named else ""), status)
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    return Exit.OK


def _fail(error: object, status: Exit) -> int:
    """One line on stderr, whatever the error's text holds."""
    message = " ".join(str(error).split())
    print(f"docgraph: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
