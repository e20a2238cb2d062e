"""The ``docgraph`` command: serve, dev, migrate, workspaces, keys, configuration, manifests.

Commands that need a database use ``DOCGRAPH_DATABASE_URL`` when it is set,
otherwise the embedded cluster under ``DOCGRAPH_DATA_DIR`` (attached to when
``make run`` already runs it, started for the command's duration if not).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import secrets
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import orjson
import uvicorn
from uvicorn.config import STARTUP_FAILURE

from docgraph.config import ConfigError, Settings, environment, markdown_table
from docgraph.db.database import Database
from docgraph.db.migrate import MigrationError, migrate
from docgraph.errors import AppError, InvalidKey
from docgraph.http.protocol import HttpProtocol
from docgraph.logs import configure_logging
from docgraph.ops import workers
from docgraph.ops.embedded import EmbeddedPostgres, EmbeddedPostgresError
from docgraph.resolvers import auth, webhooks, workspaces

T = TypeVar("T")

DEV_WORKSPACE_NAME = "Development"
DEV_KEY_FILE = "dev-api-key"
# The README's configuration table lies between these (make readme-config).
CONFIG_TABLE_START = "<!-- config:start -->"
CONFIG_TABLE_END = "<!-- config:end -->"


class CommandError(Exception):
    """A failure the user can act on; printed without a traceback."""


def _embedded(settings: Settings, *, ephemeral: bool = False) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir / "pgdata", ephemeral=ephemeral)


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The configured database, or the embedded one for this command's duration."""
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


def _run_with_db(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    async def runner() -> T:
        db = await Database.connect(url, min_size=1, max_size=2)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(runner())


def _print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    table = [[str(row.get(c, "")) if row.get(c) is not None else "-" for c in columns]
             for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) if table else len(c)
              for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in table:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a UUID: {value!r}") from None


# -- commands ------------------------------------------------------------


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        applied = asyncio.run(migrate(url))
    if applied:
        for m in applied:
            print(f"applied {m.version:04d}_{m.name}")
    else:
        print("database is up to date")


def cmd_workspace_create(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        asyncio.run(migrate(url))
        ws = _run_with_db(url, lambda db: workspaces.create_workspace(db, args.name,
                                                                      args.quota_bytes))
    print(ws["id"])


def cmd_workspace_list(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        rows = _run_with_db(url, workspaces.list_workspaces)
    _print_rows(rows, ["id", "name", "quota_bytes", "used_bytes", "created_at"])


def cmd_key_create(settings: Settings, args: argparse.Namespace) -> None:
    async def work(db: Database) -> tuple[str, dict]:
        if await workspaces.get_workspace(db, args.workspace) is None:
            raise CommandError(f"no workspace {args.workspace}")
        return await auth.create_key(db, args.workspace, args.scopes, name=args.name,
                                     rate_limit=args.rate_limit)

    with database_url(settings) as url:
        key, record = _run_with_db(url, work)
    print(f"key id: {record['id']}", file=sys.stderr)
    print(f"scopes: {' '.join(record['scopes'])}", file=sys.stderr)
    print("The key is shown once; store it now:", file=sys.stderr)
    print(key)


def cmd_key_list(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        rows = _run_with_db(url, lambda db: auth.list_keys(db, args.workspace))
    for row in rows:
        row["scopes"] = ",".join(row["scopes"])
    _print_rows(rows, ["id", "workspace_id", "prefix", "name", "scopes", "rate_limit",
                       "created_at", "revoked_at"])


def cmd_key_revoke(settings: Settings, args: argparse.Namespace) -> None:
    with database_url(settings) as url:
        row = _run_with_db(url, lambda db: auth.revoke_key(db, args.id))
    if row is None:
        raise CommandError(f"no key {args.id}")
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
    print(f"deleted {deleted.id} at {deleted.deleted_at}")


def cmd_webhook_rotate(settings: Settings, args: argparse.Namespace) -> None:
    """A new secret; print it (shown once)."""
    with database_url(settings) as url:
        rotated = _run_with_db(url, lambda db: webhooks.new_endpoint_secret(
            db, settings, args.workspace, args.id))
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
        raise CommandError(f"no {CONFIG_TABLE_START} ... {CONFIG_TABLE_END} block to replace")
    return f"{before}{start}\n\n{markdown_table()}\n{end}{after}"


def cmd_config(settings: Settings, args: argparse.Namespace) -> None:
    """Print the settings in effect (secrets masked), the README's table, or rewrite it."""
    if args.markdown:
        sys.stdout.write(markdown_table())
    elif args.readme:
        try:
            args.readme.write_text(with_config_table(args.readme.read_text()))
        except OSError as exc:
            raise CommandError(f"cannot rewrite {args.readme}: {exc.strerror}") from None
    else:
        for env, value in environment(settings).items():
            print(f"{env}={value}")


def _uvicorn_config(app: Any, settings: Settings, **kwargs: Any) -> uvicorn.Config:
    # HttpProtocol: a request uvicorn cannot parse gets the documented error body.
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                          access_log=False, server_header=False, http=HttpProtocol,
                          **_proxy_options(settings), **kwargs)


def app_from_env() -> Any:
    """Factory for uvicorn workers started by ``docgraph serve``."""
    from docgraph.app import create_app

    settings = Settings.from_env(require_database=True)
    configure_logging(settings.log_level)
    assert settings.database_url is not None
    return create_app(settings, settings.database_url)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    """Production: migrate once, then run the workers (each builds its own app)."""
    settings = Settings.from_env(require_database=True)
    assert settings.database_url is not None
    if settings.trusted_documents is not None:
        # Checked once here, so a bad manifest is one clear error, not each worker's.
        from docgraph.schema import build_schema
        from docgraph.schema.persisted import trusted_documents

        trusted_documents(settings.trusted_documents, build_schema(settings))
    asyncio.run(migrate(settings.database_url))
    config = _uvicorn_config("docgraph.ops.cli:app_from_env", settings, factory=True,
                             workers=settings.workers)
    if settings.workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    sys.exit(workers.serve(config))


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
        print(
            "\n"
            f"  docgraph is starting on {base}\n"
            f"  GraphQL:         {base}/graphql\n"
            f"  Development key: {key}"
            f"{'  (new)' if created else ''}\n"
            f"  (stored in {key_file})\n"
            f"  Try: curl -H 'Authorization: Bearer {key}' {base}/v1/workspace\n",
            file=sys.stderr, flush=True,
        )
        stop_signals.server = uvicorn.Server(
            _uvicorn_config(create_app(settings, url), settings))
        stop_signals.server.run()
    finally:
        if cluster is not None:
            _StopSignals.ignore()
            cluster.stop()
            signal.signal(signal.SIGINT, interrupt)


# -- parser ----------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docgraph", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="serve the API (needs DOCGRAPH_DATABASE_URL)").set_defaults(
        func=cmd_serve)
    sub.add_parser("dev", help="embedded services + development key + serve (make run)"
                   ).set_defaults(func=cmd_dev)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    p = sub.add_parser("sweep", help="remove orphaned uploads and deleted documents' bytes now")
    p.add_argument("--deep", action="store_true",
                   help="also list the store and remove objects nothing refers to")
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
    p.set_defaults(func=cmd_config)

    ws = sub.add_parser("workspace", help="manage workspaces").add_subparsers(
        dest="action", required=True)
    p = ws.add_parser("create", help="create a workspace and print its id")
    p.add_argument("name")
    p.add_argument("--quota-bytes", type=int, default=None)
    p.set_defaults(func=cmd_workspace_create)
    ws.add_parser("list", help="list workspaces").set_defaults(func=cmd_workspace_list)

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
    p.set_defaults(func=cmd_key_create)
    p = keys.add_parser("list", help="list keys (never the keys themselves)")
    p.add_argument("--workspace", type=_uuid, default=None)
    p.set_defaults(func=cmd_key_list)
    p = keys.add_parser("revoke", help="revoke a key")
    p.add_argument("id", type=_uuid)
    p.set_defaults(func=cmd_key_revoke)

    hooks = sub.add_parser("webhook", help="manage a workspace's webhook endpoints"
                           ).add_subparsers(dest="action", required=True)
    p = hooks.add_parser("create", help="register an endpoint and print its secret once")
    p.add_argument("--workspace", required=True, type=_uuid)
    p.add_argument("--url", required=True, help="where deliveries are POSTed (http or https)")
    p.add_argument("--types", nargs="+", default=None, metavar="TYPE",
                   help="the event types it receives, e.g. document.created (default: all)")
    p.add_argument("--description", default=None)
    p.set_defaults(func=cmd_webhook_create)
    p = hooks.add_parser("list", help="list a workspace's endpoints (never their secrets)")
    p.add_argument("--workspace", required=True, type=_uuid)
    p.set_defaults(func=cmd_webhook_list)
    p = hooks.add_parser("delete", help="delete an endpoint and its deliveries")
    p.add_argument("--workspace", required=True, type=_uuid)
    p.add_argument("id", type=_uuid)
    p.set_defaults(func=cmd_webhook_delete)
    p = hooks.add_parser("rotate", help="give an endpoint a new secret and print it once")
    p.add_argument("--workspace", required=True, type=_uuid)
    p.add_argument("id", type=_uuid)
    p.set_defaults(func=cmd_webhook_rotate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        args.func(settings, args)
    except (ConfigError, CommandError, MigrationError, EmbeddedPostgresError) as exc:
        print(f"docgraph: error: {exc}", file=sys.stderr)
        return 2
    except AppError as exc:
        print(f"docgraph: error: {exc.code}: {exc.message}", file=sys.stderr)
        fields = exc.details.get("fields") if isinstance(exc.details, dict) else None
        for name, problem in (fields or {}).items():
            print(f"  {name}: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
