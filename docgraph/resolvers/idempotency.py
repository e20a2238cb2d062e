"""Idempotency-Key records: claim a key for one run, replay its response, or refuse.

Records live in PostgreSQL per (workspace, API key, Idempotency-Key), so a
retry may reach any instance, and a response is replayed only to the API key
that made it. Concurrent requests with one key race on one INSERT … ON
CONFLICT, so exactly one runs; a run that dies with its instance keeps the
key until its lease ends. (``docgraph.http.idempotency`` applies this to
requests.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid

from docgraph.db import idempotency
from docgraph.db.database import Database
from docgraph.db.idempotency import Record
from docgraph.errors import IdempotencyInProgress, IdempotencyMismatch, Unavailable

log = logging.getLogger("docgraph.idempotency")

_CLAIM_TRIES = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """The right to run the request once; ``attempt`` tells this run from a later one."""

    workspace_id: uuid.UUID
    api_key_id: uuid.UUID
    key: str
    attempt: uuid.UUID


async def claim_or_replay(db: Database, workspace_id: uuid.UUID, api_key_id: uuid.UUID,
                          key: str, fingerprint: bytes, *, lease_seconds: float,
                          retention_seconds: int) -> Claim | Record:
    """A :class:`Claim` to run the request, or the finished first run's :class:`Record`.

    ``key`` is the Idempotency-Key of the API key ``api_key_id``: another API
    key's use of the same Idempotency-Key is another request altogether.

    The key used with another request (another ``fingerprint``) is
    ``IdempotencyMismatch``; a first run still going is ``IdempotencyInProgress``.
    """
    attempt = uuid.uuid4()
    for _ in range(_CLAIM_TRIES):
        if await idempotency.claim(db, workspace_id, api_key_id, key, fingerprint, attempt,
                                   lease_seconds=lease_seconds,
                                   retention_seconds=retention_seconds):
            return Claim(workspace_id, api_key_id, key, attempt)
        record = await idempotency.get_record(db, workspace_id, api_key_id, key)
        if record is None:  # expired or released since the claim: claim again
            continue
        if record.fingerprint != fingerprint:
            raise IdempotencyMismatch(details={"idempotency_key": key})
        if record.status is None or record.headers is None or record.body is None:
            break
        return record
    raise IdempotencyInProgress(details={"idempotency_key": key}, headers={"Retry-After": "1"})


async def release(db: Database, claim: Claim) -> None:
    """Give the key up without a response: a retry runs the request again."""
    with contextlib.suppress(Unavailable):
        await idempotency.release(db, claim.workspace_id, claim.api_key_id, claim.key,
                                  claim.attempt)


async def keep(db: Database, claim: Claim, *, status: int, headers: list[list[str]],
               body: bytes) -> None:
    """Keep the run's response for replay.

    When the database cannot take it, the work is done all the same: the key
    stays locked until its lease ends, and a retry after that runs again.
    """
    try:
        await idempotency.complete(db, claim.workspace_id, claim.api_key_id, claim.key,
                                   claim.attempt, status=status, headers=headers, body=body)
    except Unavailable:
        log.warning("could not keep the response for an Idempotency-Key",
                    extra={"workspace_id": str(claim.workspace_id)})
