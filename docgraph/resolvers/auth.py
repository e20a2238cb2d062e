"""API keys and the principal behind every request.

A key is ``wbk_`` followed by 43 URL-safe base64 characters (32 random
bytes). Only its SHA-256 is stored: with 256 bits of randomness a fast hash
is as strong as a slow one, and lets every request verify its key with one
indexed lookup. Verified keys are cached for ``key_cache_seconds``, so a
revocation reaches every instance within that time.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Iterable

from docgraph.db import api_keys
from docgraph.db.database import Database
from docgraph.errors import InsufficientPermissions, InvalidKey, ValidationError

READ_DOCUMENTS = "read:documents"
WRITE_DOCUMENTS = "write:documents"
# Registering, changing and reading webhook endpoints and their deliveries.
MANAGE_WEBHOOKS = "manage:webhooks"
SCOPES = (READ_DOCUMENTS, WRITE_DOCUMENTS, MANAGE_WEBHOOKS)
# What `docgraph key create` grants unless told otherwise.
DEFAULT_SCOPES = (READ_DOCUMENTS, WRITE_DOCUMENTS)

KEY_PREFIX = "wbk_"
_KEY_FORMAT = re.compile(r"^wbk_[A-Za-z0-9_-]{43}$")
_DISPLAY_PREFIX_LENGTH = 12


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a workspace, through one of its keys."""

    workspace_id: uuid.UUID
    key_id: uuid.UUID
    scopes: frozenset[str]
    rate_limit: int | None = None

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise missing_scope(scope)

    @property
    def actor(self) -> str:
        """Who the events of this principal's changes name: its key's id."""
        return str(self.key_id)


def missing_scope(scope: str) -> InsufficientPermissions:
    """The error of a key without ``scope``."""
    return InsufficientPermissions(f"Missing {scope} permission.",
                                   details={"required_scope": scope})


def generate_key() -> str:
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return KEY_PREFIX + secret


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def parse_scopes(values: Iterable[str]) -> list[str]:
    scopes = sorted({v.strip() for value in values for v in value.split(",") if v.strip()})
    if not scopes:
        raise ValidationError("at least one scope is required",
                              details={"allowed": list(SCOPES)})
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationError(f"unknown scope(s): {', '.join(unknown)}",
                              details={"allowed": list(SCOPES)})
    return scopes


async def create_key(db: Database, workspace_id: uuid.UUID, scopes: Iterable[str], *,
                     name: str | None = None, rate_limit: int | None = None) -> tuple[str, dict]:
    """Create a key; return the key itself (shown once) and its stored record."""
    key = generate_key()
    record = await api_keys.insert_key(
        db, workspace_id=workspace_id, key_hash=hash_key(key),
        prefix=key[:_DISPLAY_PREFIX_LENGTH], scopes=parse_scopes(scopes), name=name,
        rate_limit=rate_limit,
    )
    return key, record


async def list_keys(db: Database, workspace_id: uuid.UUID | None = None) -> list[dict]:
    """Every key (of one workspace, if given): its id, prefix and scopes, never the key."""
    return await api_keys.list_keys(db, workspace_id)


async def revoke_key(db: Database, key_id: uuid.UUID) -> dict | None:
    """Revoke a key (None if there is no such key); every instance stops accepting it
    within ``DOCGRAPH_KEY_CACHE_SECONDS``."""
    return await api_keys.revoke_key(db, key_id)


def bearer_token(authorization: str | None) -> str:
    """The key in an ``Authorization: Bearer`` header, or ``InvalidKey``."""
    if not authorization:
        raise InvalidKey("Missing API key: send Authorization: Bearer wbk_...")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _KEY_FORMAT.match(token):
        raise InvalidKey("Malformed API key: expected Authorization: Bearer wbk_...")
    return token


class KeyVerifier:
    """Turns keys into principals, caching answers for a short time."""

    MAX_ENTRIES = 10_000

    def __init__(self, db: Database, ttl_seconds: float) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}

    async def verify(self, key: str) -> Principal:
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            principal = cached[1]
        else:
            principal = await self._lookup(digest)
            if self.ttl > 0:
                if len(self._cache) >= self.MAX_ENTRIES:
                    self._cache.clear()
                self._cache[digest] = (now + self.ttl, principal)
        if principal is None:
            raise InvalidKey("Invalid or revoked API key.")
        return principal

    async def _lookup(self, digest: bytes) -> Principal | None:
        row = await api_keys.find_key_by_hash(self.db, digest)
        if row is None or row["revoked_at"] is not None:
            return None
        return Principal(workspace_id=row["workspace_id"], key_id=row["id"],
                         scopes=frozenset(row["scopes"]), rate_limit=row["rate_limit"])
