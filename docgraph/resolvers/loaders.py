"""Per-request dataloaders: one statement per level of a query, not per item.

Each loader belongs to one request's :class:`~docgraph.resolvers.context.RequestContext`
(never shared: its cache holds one workspace's rows as of that request), and
every statement it sends names that workspace.

Loaders hold the database and the workspace, never the context that holds
them: a cycle would leave each request's rows to the cyclic garbage collector,
whose passes over them cost more than the rest of a request.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from asyncio import Future
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader

from docgraph.db import documents as documents_db
from docgraph.db import entities as entities_db
from docgraph.db import links as links_db
from docgraph.db import page_json
from docgraph.db import texts as texts_db
from docgraph.resolvers.pagination import LinkedDocumentEdge, PageRequest, build_page
from docgraph.resolvers.records import (
    DocumentRecord,
    DocumentStatus,
    DocumentType,
    EntityDocuments,
    EntityRecord,
    LinkRecord,
    ScanStatus,
)
from docgraph.resolvers.rendered_pages import PageSelection, RenderedDocuments, render

if TYPE_CHECKING:
    from docgraph.db.database import Database


K = TypeVar("K")
V = TypeVar("V")


class Missing(enum.Enum):
    MISSING = enum.auto()


MISSING = Missing.MISSING


class RequestLoader(DataLoader[K, V]):
    """A DataLoader whose values primed in bulk stay plain until they are asked for.

    ``prime`` makes a future per key, asked for or not, and a page primes every
    document on it and each one's links. ``remember`` primes lazily: ``load``
    makes the future when a key is asked for, and ``known`` hands a value that
    is there already to the compiled executor with no future at all.
    """

    def __init__(self) -> None:
        super().__init__()
        self._known: dict[K, V] = {}

    def remember(self, key: K, value: V) -> None:
        """``prime(key, value)``, deferred (a key already there keeps its value)."""
        if key not in self._cache:
            self._known.setdefault(key, value)

    def known(self, key: K) -> V | Missing:
        """The key's value if it is there already: remembered, primed or loaded."""
        future = self._cache.get(key)
        if future is None:
            return self._known.get(key, MISSING)
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result()  # type: ignore[no-any-return]
        return MISSING

    def load(self, key: K) -> Future[V]:
        if key in self._known and key not in self._cache:
            super().prime(key, self._known[key])
        return super().load(key)

    def prime(self, key: K, value: V) -> RequestLoader[K, V]:
        if key not in self._known:  # else it is there already, as prime expects
            super().prime(key, value)
        return self

    def clear(self, key: K) -> RequestLoader[K, V]:
        self._known.pop(key, None)
        super().clear(key)
        return self

    def clear_all(self) -> RequestLoader[K, V]:
        self._known.clear()
        super().clear_all()
        return self


class DocumentByIdLoader(RequestLoader[uuid.UUID, DocumentRecord | None]):
    """Live documents by id (``None`` for unknown, deleted or other workspaces' ids)."""

    def __init__(self, db: Database, workspace_id: uuid.UUID) -> None:
        super().__init__()
        self.db = db
        self.workspace_id = workspace_id

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[DocumentRecord | None]:
        rows = await documents_db.select_documents_by_id(self.db, self.workspace_id,
                                                         keys)
        found = {row["id"]: DocumentRecord.from_row(row) for row in rows}
        return [found.get(key) for key in keys]


class LinksByDocumentLoader(RequestLoader[uuid.UUID, list[LinkRecord]]):
    """Every link of each document, oldest first."""

    def __init__(self, db: Database, workspace_id: uuid.UUID) -> None:
        super().__init__()
        self.db = db
        self.workspace_id = workspace_id

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[list[LinkRecord]]:
        rows = await links_db.select_links_by_document(self.db, self.workspace_id, keys)
        by_document: dict[uuid.UUID, list[LinkRecord]] = {key: [] for key in keys}
        for row in rows:
            link = LinkRecord.from_columns(row)
            by_document[link.document_id].append(link)
        return [by_document[key] for key in keys]


class TextByDocumentLoader(RequestLoader[uuid.UUID, str | None]):
    """The text extracted from each live document (``None`` where there is none)."""

    def __init__(self, db: Database, workspace_id: uuid.UUID) -> None:
        super().__init__()
        self.db = db
        self.workspace_id = workspace_id

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[str | None]:
        found = await texts_db.select_texts(self.db, self.workspace_id, keys)
        return [found.get(key) for key in keys]


class EntityByIdLoader(RequestLoader[uuid.UUID, EntityRecord | None]):
    """Entities of any type by id (``None`` for unknown or other workspaces' ids)."""

    def __init__(self, db: Database, workspace_id: uuid.UUID) -> None:
        super().__init__()
        self.db = db
        self.workspace_id = workspace_id

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[EntityRecord | None]:
        rows = await entities_db.select_entities_by_id(self.db, self.workspace_id, keys)
        found = {row["id"]: EntityRecord.from_row(row) for row in rows}
        return [found.get(key) for key in keys]


@dataclasses.dataclass(frozen=True, slots=True)
class EntityDocumentsQuery:
    """Which page of which entity's documents: the key of DocumentPageByEntityLoader."""

    entity_id: uuid.UUID
    role: str | None = None
    type: DocumentType | None = None
    status: DocumentStatus | None = None
    # Only documents whose scan status is one of these.
    scan_statuses: tuple[ScanStatus, ...] | None = None
    page: PageRequest = dataclasses.field(default_factory=PageRequest)
    # Newest link first, instead of newest document first.
    by_link_time: bool = False
    # The query will ask for each document's links: they load with the page.
    with_links: bool = False
    # The caller will read the list's total (else it is not counted).
    with_total: bool = True
    # The caller asks only for stored values, these: the database writes the page
    # (``rendered_pages``), and the result's page is a RenderedPage.
    selection: PageSelection | None = None

    @property
    def shape(self) -> tuple[Any, ...]:
        """Everything but the entity: queries of one shape share a statement."""
        return (self.role, self.type, self.status, self.scan_statuses, self.page,
                self.by_link_time, self.with_links, self.with_total, self.selection)


def _page_arguments(query: EntityDocumentsQuery) -> dict[str, Any]:
    """The page statement's arguments for a key (and every key of its shape)."""
    page = query.page
    after_id = page.after_id  # the page is in its order: a UUID cursor, if any
    return {
        "role": query.role, "type": query.type, "status": query.status,
        "scan_statuses": None if query.scan_statuses is None
        else [s.value for s in query.scan_statuses],
        "by_link_time": query.by_link_time,
        "after": ((page.after_created_at, after_id)
                  if page.after_created_at is not None and after_id is not None else None),
        "offset": page.offset, "limit": page.limit, "with_total": query.with_total}


class PrimedLoaders:
    """The loaders a page primes with what it read, each made on first use (a written
    page primes only the entity's). They hold no reference back: see the module's
    docstring."""

    __slots__ = ("_document_by_id", "_entity_by_id", "_links_by_document", "db",
                 "workspace_id")

    def __init__(self, db: Database, workspace_id: uuid.UUID) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self._document_by_id: DocumentByIdLoader | None = None
        self._links_by_document: LinksByDocumentLoader | None = None
        self._entity_by_id: EntityByIdLoader | None = None

    @property
    def document_by_id(self) -> DocumentByIdLoader:
        if self._document_by_id is None:
            self._document_by_id = DocumentByIdLoader(self.db, self.workspace_id)
        return self._document_by_id

    @property
    def links_by_document(self) -> LinksByDocumentLoader:
        if self._links_by_document is None:
            self._links_by_document = LinksByDocumentLoader(self.db, self.workspace_id)
        return self._links_by_document

    @property
    def entity_by_id(self) -> EntityByIdLoader:
        if self._entity_by_id is None:
            self._entity_by_id = EntityByIdLoader(self.db, self.workspace_id)
        return self._entity_by_id


class DocumentPageByEntityLoader(
        DataLoader[EntityDocumentsQuery, EntityDocuments | RenderedDocuments | None]):
    """An entity and one page of its documents (``None`` for an unknown entity).

    All the keys of one shape (same filters, same page) load in one statement,
    so ``links { entity { documents(first: 5) } }`` costs one statement however
    many entities the links name. The documents and entities it reads prime the
    other loaders, and so do the documents' links when the key asks for them.
    """

    def __init__(self, db: Database, workspace_id: uuid.UUID, *, primes: PrimedLoaders) -> None:
        super().__init__()
        self.db = db
        self.workspace_id = workspace_id
        self.primes = primes  # (each made when first primed: a written page primes none)
        # The keys loaded with a selection: the pages the database wrote.
        self.rendered: set[EntityDocumentsQuery] = set()

    async def batch_load_fn(
        self, keys: Sequence[EntityDocumentsQuery]
    ) -> list[EntityDocuments | RenderedDocuments | None]:
        by_shape: dict[tuple[Any, ...], list[EntityDocumentsQuery]] = defaultdict(list)
        for key in keys:
            by_shape[key.shape].append(key)
        results: dict[EntityDocumentsQuery, EntityDocuments | RenderedDocuments] = {}
        for group in by_shape.values():
            results.update(await self._load_shape(group))
        return [results.get(key) for key in keys]

    async def _load_shape(
        self, keys: list[EntityDocumentsQuery]
    ) -> dict[EntityDocumentsQuery, EntityDocuments | RenderedDocuments]:
        sample = keys[0]
        if sample.selection is not None:
            return await self._load_rendered(keys)
        rows = await documents_db.select_entity_document_pages(
            self.db, self.workspace_id, sorted({k.entity_id for k in keys}),
            with_links=sample.with_links, **_page_arguments(sample))
        by_owner: dict[uuid.UUID, list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            by_owner[row["owner_id"]].append(row)
        loaded = {owner_id: self._entity_documents(sample, owner_rows)
                  for owner_id, owner_rows in by_owner.items()}
        for key in keys:
            if key.entity_id not in loaded:  # unknown here: tell the entity loader too
                self.primes.entity_by_id.remember(key.entity_id, None)
        return {key: loaded[key.entity_id] for key in keys if key.entity_id in loaded}

    async def _load_rendered(
        self, keys: list[EntityDocumentsQuery]
    ) -> dict[EntityDocumentsQuery, EntityDocuments | RenderedDocuments]:
        """Pages written by the database, for keys of one shape with a selection."""
        sample = keys[0]
        selection = sample.selection
        assert selection is not None
        page = sample.page
        rows = await page_json.select_entity_document_page_json(
            self.db, self.workspace_id, sorted({k.entity_id for k in keys}), selection.lists,
            **_page_arguments(sample))
        loaded: dict[uuid.UUID, RenderedDocuments] = {}
        for row in rows:
            owner = EntityRecord.from_row(row, prefix="owner_")
            self.primes.entity_by_id.remember(owner.id, owner)
            loaded[owner.id] = RenderedDocuments(owner=owner, page=render(
                selection, row, limit=page.limit, offset=page.offset,
                after=page.after is not None))
        found: dict[EntityDocumentsQuery, EntityDocuments | RenderedDocuments] = {}
        for key in keys:
            if key.entity_id in loaded:
                found[key] = loaded[key.entity_id]
                self.rendered.add(key)
            else:  # unknown here: tell the entity loader too
                self.primes.entity_by_id.remember(key.entity_id, None)
        return found

    def _entity_documents(self, query: EntityDocumentsQuery,
                          rows: list[Mapping[str, Any]]) -> EntityDocuments:
        first = rows[0]  # the only row with all of the owner's columns
        owner = EntityRecord.from_row(first, prefix="owner_")
        self.primes.entity_by_id.remember(owner.id, owner)
        edges: list[LinkedDocumentEdge] = []
        if first["id"] is not None:  # else the owner has no document on this page
            start = list(first.keys()).index("id")  # type: ignore[attr-defined]
            prime = self.primes.document_by_id.remember
            prime_links = self.primes.links_by_document.remember
            entity_type, entity_id = owner.entity_type, owner.id
            with_links, by_link_time = query.with_links, query.by_link_time
            for row in rows:
                document = DocumentRecord.from_columns(row, start)
                prime(document.id, document)
                if with_links:
                    ids = row["document_link_ids"]
                    prime_links(document.id, LinkRecord.of_document(
                        document.id, ids, row["document_link_entity_types"],
                        row["document_link_entity_ids"], row["document_link_roles"],
                        row["document_link_created_at"]) if ids is not None else [])
                edges.append(LinkedDocumentEdge(document, LinkRecord(
                    row["link_id"], document.id, entity_type, entity_id, row["link_role"],
                    row["link_created_at"]), by_link_time))
        return EntityDocuments(owner=owner, page=build_page(
            query.page, edges, total_count=first["total_count"],
            has_preceding=first["has_preceding"]))
