"""What every use case gets: who calls, the database, the object store, the background
jobs, and this request's loaders.

GraphQL (the view's ``get_context``) and REST build one per request with
:meth:`RequestContext.from_request`. The dataloaders are created on first
use and live as long as the request: their caches never outlive it, and
never mix workspaces.
"""

from __future__ import annotations

import uuid

from starlette.requests import HTTPConnection

from docgraph.auth import Principal
from docgraph.background import BackgroundJobs
from docgraph.config import Settings
from docgraph.db.database import Database
from docgraph.resolvers.loaders import (
    DocumentByIdLoader,
    DocumentPageByEntityLoader,
    EntityByIdLoader,
    LinksByDocumentLoader,
)
from docgraph.storage.base import ObjectStore


class RequestContext:
    __slots__ = ("_document_by_id", "_document_page_by_entity", "_entity_by_id",
                 "_links_by_document", "db", "jobs", "principal", "request_id", "settings",
                 "store")

    def __init__(self, *, db: Database, store: ObjectStore, jobs: BackgroundJobs,
                 principal: Principal, settings: Settings, request_id: str) -> None:
        self.db = db
        self.store = store
        self.jobs = jobs
        self.principal = principal
        self.settings = settings
        self.request_id = request_id
        self._document_by_id: DocumentByIdLoader | None = None
        self._links_by_document: LinksByDocumentLoader | None = None
        self._entity_by_id: EntityByIdLoader | None = None
        self._document_page_by_entity: DocumentPageByEntityLoader | None = None

    @classmethod
    def from_request(cls, request: HTTPConnection) -> RequestContext:
        """The context of an authenticated request (AuthMiddleware set its principal)."""
        state = request.app.state
        return cls(db=state.db, store=state.store, jobs=state.jobs,
                   principal=request.state.principal, settings=state.settings,
                   request_id=request.state.request_id)

    @property
    def workspace_id(self) -> uuid.UUID:
        return self.principal.workspace_id

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

    @property
    def document_page_by_entity(self) -> DocumentPageByEntityLoader:
        if self._document_page_by_entity is None:
            self._document_page_by_entity = DocumentPageByEntityLoader(
                self.db, self.workspace_id, documents=self.document_by_id,
                links=self.links_by_document, entities=self.entity_by_id)
        return self._document_page_by_entity
