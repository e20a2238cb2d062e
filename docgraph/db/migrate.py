"""Numbered plain-SQL migrations, applied in order under an advisory lock.

Files in ``migrations/`` are named ``NNNN_description.sql``. Each runs in
its own transaction and is recorded in ``schema_migrations`` with a
checksum; an applied file that has since changed stops start-up, since the
database no longer matches the code. Instances that start together queue on
the advisory lock, so a migration is applied exactly once.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import re
from pathlib import Path

import asyncpg

from docgraph.db import links

log = logging.getLogger("docgraph.migrate")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# An arbitrary constant, shared by every docgraph instance: "docgraph" in ASCII.
ADVISORY_LOCK_KEY = 0x646F636772617068

CREATE_MIGRATIONS_TABLE = """
create table if not exists schema_migrations (
    version    integer     primary key,
    name       text        not null,
    checksum   text        not null,
    applied_at timestamptz not null default now()
)
"""
SELECT_APPLIED = "select version, name, checksum from schema_migrations order by version"
# For ``docgraph migrate --status``, which changes nothing (the table may not exist yet).
MIGRATIONS_TABLE_EXISTS = "select to_regclass('schema_migrations') is not null"
SELECT_APPLIED_AT = """
select version, name, checksum, applied_at from schema_migrations order by version
"""
INSERT_APPLIED = "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)"
LOCK = "select pg_advisory_lock($1)"
UNLOCK = "select pg_advisory_unlock($1)"

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return migrations


async def apply_migrations(conn: asyncpg.Connection,
                           migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration; return those applied by this call."""
    migrations = load_migrations() if migrations is None else migrations
    await conn.execute(LOCK, ADVISORY_LOCK_KEY)
    try:
        await conn.execute(CREATE_MIGRATIONS_TABLE)
        applied = {row["version"]: row for row in await conn.fetch(SELECT_APPLIED)}
        done = []
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was changed after "
                        "it was applied; add a new migration instead of editing an applied one"
                    )
                continue
            log.info("applying migration %04d_%s", migration.version, migration.name)
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(INSERT_APPLIED, migration.version, migration.name,
                                   migration.checksum)
            done.append(migration)
        return done
    finally:
        await conn.execute(UNLOCK, ADVISORY_LOCK_KEY)


@dataclasses.dataclass(frozen=True)
class MigrationStatus:
    """One migration as the database and the code see it.

    ``state``: ``applied``; ``pending`` (in the code, not in the database);
    ``changed`` (applied, but its file has changed since: start-up refuses);
    ``unknown`` (applied, but this code has no such file: a newer version ran).
    """

    version: int
    name: str
    state: str
    applied_at: datetime.datetime | None


async def migration_status(database_url: str,
                           migrations: list[Migration] | None = None) -> list[MigrationStatus]:
    """Every migration, applied or not, in order; reads only (no lock, no table created)."""
    migrations = load_migrations() if migrations is None else migrations
    conn = await asyncpg.connect(database_url)
    try:
        rows = (await conn.fetch(SELECT_APPLIED_AT)
                if await conn.fetchval(MIGRATIONS_TABLE_EXISTS) else [])
    finally:
        await conn.close()
    applied = {row["version"]: row for row in rows}
    known = {m.version for m in migrations}
    found = []
    for migration in migrations:
        row = applied.get(migration.version)
        if row is None:
            found.append(MigrationStatus(migration.version, migration.name, "pending", None))
        else:
            state = "applied" if row["checksum"] == migration.checksum else "changed"
            found.append(MigrationStatus(migration.version, migration.name, state,
                                         row["applied_at"]))
    found += [MigrationStatus(row["version"], row["name"], "unknown", row["applied_at"])
              for version, row in applied.items() if version not in known]
    return sorted(found, key=lambda m: m.version)


async def migrate(database_url: str) -> list[Migration]:
    """Apply pending migrations, then complete what bulk loads left out (see
    ``links.COMPLETE_DOCUMENT_TIMES``): every command that serves runs this first."""
    conn = await asyncpg.connect(database_url)
    try:
        applied = await apply_migrations(conn)
        completed = await links.complete_document_times(conn)
        if completed:
            log.info("links completed with their documents' times", extra={"links": completed})
        return applied
    finally:
        await conn.close()
