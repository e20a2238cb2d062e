"""Persisted operations: GraphQL documents named by the SHA-256 of their text.

A request may name its document by hash instead of sending it (Apollo's
automatic persisted queries, ``extensions.persistedQuery``, or the
GraphQL-over-HTTP draft's ``documentId``). Where the names come from is one of:

* **Trusted documents** (``DOCGRAPH_TRUSTED_DOCUMENTS``): a manifest read and
  checked at startup. Only its documents run; nothing is registered; no SQL.
* **Automatic persisted queries** (``DOCGRAPH_GRAPHQL_APQ``): documents clients
  register by sending a hash with its text. Each process keeps them in an LRU
  (bounded in entries, each document bounded in bytes); with ``shared`` they
  also go to PostgreSQL (``persisted_operations``), so every instance and worker
  knows a hash any of them was sent. A hash the LRU holds costs no SQL; one it
  lacks costs one SELECT (then it is held); a registration one INSERT.

Hashes are no secret (anyone holding a text can hash it) and a text is stored
only under its own hash, checked, and only once the GraphQL layer found it a
valid document (it registers; this module does not know the schema).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping

from docgraph.db import persisted_operations as table
from docgraph.db.database import Database

APQ_MODES = ("shared", "memory", "off")


def sha256_hex(text: str) -> str:
    """The SHA-256 of ``text`` in UTF-8, as 64 lower-case hexadecimal digits (the
    persisted-query protocols' hash; a lone surrogate is hashed as Python encodes it)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class PersistedOperations:
    """Where a hash finds its document (see the module's docstring)."""

    def __init__(self, *, apq: str = "shared", cache_size: int = 512,
                 max_document_bytes: int = 32768,
                 trusted: Mapping[str, str] | None = None) -> None:
        if apq not in APQ_MODES:
            raise ValueError(f"apq must be one of {', '.join(APQ_MODES)}, not {apq!r}")
        self.apq = apq
        self.cache_size = cache_size
        self.max_document_bytes = max_document_bytes
        self._trusted = dict(trusted) if trusted is not None else None
        # sha256 -> text, least recently used first.
        self._cache: OrderedDict[str, str] = OrderedDict()

    @property
    def trusted(self) -> bool:
        """Whether only the manifest's documents run."""
        return self._trusted is not None

    @property
    def enabled(self) -> bool:
        """Whether a request may name its document by hash at all."""
        return self._trusted is not None or self.apq != "off"

    def trusted_texts(self) -> list[str]:
        """The manifest's documents (trusted mode; none otherwise)."""
        return list(self._trusted.values()) if self._trusted is not None else []

    def trusted_source(self, sha256: str) -> str | None:
        """The manifest's document of that hash (trusted mode), if it has one."""
        return self._trusted.get(sha256) if self._trusted is not None else None

    async def find(self, db: Database, sha256: str) -> str | None:
        """The document registered under ``sha256``: from this process's LRU, else
        (``shared``) from PostgreSQL; None when nobody registered it."""
        if self._trusted is not None:
            return self._trusted.get(sha256)
        text = self._cache.get(sha256)
        if text is not None:
            self._cache.move_to_end(sha256)
            return text
        if self.apq != "shared":
            return None
        text = await table.source(db, sha256)
        if text is not None:
            self._hold(sha256, text)
        return text

    def storable(self, text: str) -> bool:
        """Whether ``text`` may be registered (APQ on, not over the size bound)."""
        return (self._trusted is None and self.apq != "off"
                and len(text) <= self.max_document_bytes  # a cheap first look
                and len(text.encode("utf-8", "surrogatepass")) <= self.max_document_bytes)

    async def register(self, db: Database, sha256: str, text: str) -> bool:
        """Keep ``text`` (already checked: its hash, and that it is a valid document)
        under ``sha256``; False when it may not be kept (see :meth:`storable`)."""
        if not self.storable(text):
            return False
        if sha256 in self._cache:
            self._cache.move_to_end(sha256)
            return True
        if self.apq == "shared":
            await table.insert(db, sha256, text)
        self._hold(sha256, text)
        return True

    def _hold(self, sha256: str, text: str) -> None:
        self._cache[sha256] = text
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
