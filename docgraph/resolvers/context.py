"""What every use case gets: the process's services, who calls, and this request's loaders.

:class:`Services` is built once per process by the app (the database pool,
the object store, the background jobs, the key verifier, the rate limiter and
its leases, the settings). Both faces build one :class:`RequestContext` per request from it
(``docgraph.http.context.request_context``); a GraphQL subscription builds
a ``resolvers.subscriptions.SubscriptionContext``. The dataloaders are created on
first use and live as long as the request: their caches never outlive it,
and never mix workspaces. Reading through them needs ``read:documents``
(:class:`RequestContext`); a mutation primes and clears them through
:class:`Loaders`, unchecked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from docgraph.config import Settings
from docgraph.db.database import Database, StatementTally, statement_counter
from docgraph.resolvers.auth import READ_DOCUMENTS, KeyVerifier, Principal, missing_scope
from docgraph.resolvers.loaders import (
    DocumentByIdLoader,
    DocumentPageByEntityLoader,
    EntityByIdLoader,
    EntityDocumentsQuery,
    LinksByDocumentLoader,
    PrimedLoaders,
    TextByDocumentLoader,
)
from docgraph.resolvers.rate_limits import RateLimiter
from docgraph.scanning.base import Scanner
from docgraph.storage.base import ObjectStore

if TYPE_CHECKING:
    from docgraph.resolvers.subscriptions import EventHub


class Jobs(Protocol):
    """Work a use case starts after its response (``docgraph.jobs.runner`` runs it)."""

    def spawn(self, name: str, job: Coroutine[Any, Any, Any],
              lane: str | None = None) -> Any: ...

    def pending(self, lane: str | None = None) -> int: ...


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Services:
    """What lives as long as the process and every request may use."""

    db: Database
    store: ObjectStore
    jobs: Jobs
    settings: Settings
    keys: KeyVerifier
    rate_limits: RateLimiter
    # The virus scanner, when one is configured (DOCGRAPH_CLAMD_ADDRESS).
    scanner: Scanner | None = None
    # What wakes GraphQL subscriptions (None: subscriptions are off).
    events: EventHub | None = None


@contextlib.contextmanager
def counting_statements() -> Iterator[StatementTally]:
    """Count (and time) the SQL statements sent within the block.

    Inside a block that counts already, the outer tally counts on: the
    ``X-Statement-Count`` header and the metrics of one request read one tally.
    """
    tally = statement_counter.get()
    if tally is not None:
        yield tally
        return
    tally = StatementTally()
    token = statement_counter.set(tally)
    try:
        yield tally
    finally:
        statement_counter.reset(token)


def without_statement_count() -> None:
    """In the current context, count nothing (a background job's SQL is not its request's)."""
    statement_counter.set(None)


class Loaders:
    """One request's dataloaders, created on first use, with no scope check.

    For use cases that checked their own scope: a mutation primes or clears
    what it changed, or looks up the object it writes to. Reads go through
    the :class:`RequestContext` properties of the same names, which need
    ``read:documents``.
    """

    __slots__ = ("_document_page_by_entity", "_primed", "_text_by_document", "db",
                 "workspace_id")

    def __init__(self, db: Database, workspace_id: uuid.UUID) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self._primed = PrimedLoaders(db, workspace_id)
        self._document_page_by_entity: DocumentPageByEntityLoader | None = None
        self._text_by_document: TextByDocumentLoader | None = None

    @property
    def document_by_id(self) -> DocumentByIdLoader:
        return self._primed.document_by_id

    @property
    def links_by_document(self) -> LinksByDocumentLoader:
        return self._primed.links_by_document

    @property
    def entity_by_id(self) -> EntityByIdLoader:
        return self._primed.entity_by_id

    @property
    def text_by_document(self) -> TextByDocumentLoader:
        if self._text_by_document is None:
            self._text_by_document = TextByDocumentLoader(self.db, self.workspace_id)
        return self._text_by_document

    @property
    def document_page_by_entity(self) -> DocumentPageByEntityLoader:
        if self._document_page_by_entity is None:
            self._document_page_by_entity = DocumentPageByEntityLoader(
                self.db, self.workspace_id, primes=self._primed)
        return self._document_page_by_entity


class RequestContext:
    """One request: the services, the caller, and its loaders.

    The loader properties (``document_by_id``, ``links_by_document``,
    ``entity_by_id``, ``document_page_by_entity``) are how anything reads
    through the loaders: each needs ``read:documents``. GraphQL's relations
    (a document's links, a link's document and entity, an entity's
    documents) load through them, whichever executor runs them (the compiled
    one calls a relation's loader straight off the context, past its
    resolver), so a key that may only write gets back the object its
    mutation changed and nothing it leads to. Use cases that prime or clear
    what they changed use :attr:`loaders` itself.
    """

    __slots__ = ("accepts_rendered", "can_read", "db", "jobs", "loaders", "planned_pages",
                 "principal", "request_id", "scanner", "settings", "store")

    def __init__(self, services: Services, principal: Principal, request_id: str) -> None:
        self.db = services.db
        self.store = services.store
        self.jobs = services.jobs
        self.scanner = services.scanner
        self.settings = services.settings
        self.principal = principal
        self.request_id = request_id
        self.can_read = READ_DOCUMENTS in principal.scopes
        self.loaders = Loaders(services.db, principal.workspace_id)
        # Whether the executor running the query puts a ready-made value (a
        # ``rendered_pages.RenderedPage``) in the answer as it is: the compiled
        # executor does; graphql-core's would try to read it as an object.
        self.accepts_rendered = False
        # Pages the faces worked out ahead (``get_entity``'s ``with_documents``), by
        # what asked for them; only for the executor that accepts rendered pages.
        self.planned_pages: dict[Any, EntityDocumentsQuery] = {}

    @property
    def workspace_id(self) -> uuid.UUID:
        return self.principal.workspace_id

    @property
    def document_by_id(self) -> DocumentByIdLoader:
        if not self.can_read:
            raise missing_scope(READ_DOCUMENTS)
        return self.loaders.document_by_id

    @property
    def links_by_document(self) -> LinksByDocumentLoader:
        if not self.can_read:
            raise missing_scope(READ_DOCUMENTS)
        return self.loaders.links_by_document

    @property
    def entity_by_id(self) -> EntityByIdLoader:
        if not self.can_read:
            raise missing_scope(READ_DOCUMENTS)
        return self.loaders.entity_by_id

    @property
    def text_by_document(self) -> TextByDocumentLoader:
        if not self.can_read:
            raise missing_scope(READ_DOCUMENTS)
        return self.loaders.text_by_document

    @property
    def document_page_by_entity(self) -> DocumentPageByEntityLoader:
        if not self.can_read:
            raise missing_scope(READ_DOCUMENTS)
        return self.loaders.document_page_by_entity
