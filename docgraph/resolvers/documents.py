"""Document use cases: record, read, list, change, verify and delete documents.

Inputs are what callers sent (GraphQL arguments or REST JSON, snake_case
keys as in the seeds); every one is validated here, so both APIs accept
and refuse exactly the same things.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from docgraph.db import documents as documents_db
from docgraph.errors import Conflict, NotFound, StorageConflict
from docgraph.resolvers import deletion, resources, scans, texts
from docgraph.resolvers import uploads as uploads_uc
from docgraph.resolvers import validation as v
from docgraph.resolvers.auth import READ_DOCUMENTS, WRITE_DOCUMENTS
from docgraph.resolvers.loaders import EntityDocumentsQuery
from docgraph.resolvers.pagination import Edge, LinkedDocumentEdge, PageRequest, build_page
from docgraph.resolvers.previews import has_preview_job, process_document_preview
from docgraph.resolvers.records import (
    DeletedDocument,
    DocumentFile,
    DocumentRecord,
    DocumentStatus,
    DocumentType,
    EntityDocuments,
    LinkedDocumentOrder,
    Page,
    PreviewImage,
    ScanStatus,
    SignedUrl,
)
from docgraph.resolvers.rendered_pages import PageSelection, RenderedPage

if TYPE_CHECKING:
    from docgraph.resolvers.context import RequestContext

# The verification status machine of seed 004: target -> the statuses it may come from.
TRANSITIONS: Mapping[DocumentStatus, tuple[DocumentStatus, ...]] = {
    DocumentStatus.VERIFIED: (DocumentStatus.PENDING,),
    DocumentStatus.REJECTED: (DocumentStatus.PENDING,),
    DocumentStatus.EXPIRED: (DocumentStatus.VERIFIED,),
}


def _not_found() -> NotFound:
    return NotFound("No such document.")


def _remember(ctx: RequestContext, document: DocumentRecord) -> DocumentRecord:
    ctx.loaders.document_by_id.clear(document.id).prime(document.id, document)
    return document


async def get_document(ctx: RequestContext, document_id: Any) -> DocumentRecord | None:
    """A live document of the caller's workspace, or ``None``."""
    ctx.principal.require(READ_DOCUMENTS)
    return await ctx.document_by_id.load(v.check("id", v.identifier, document_id))


async def require_document(ctx: RequestContext, document_id: Any) -> DocumentRecord:
    """Like :func:`get_document`, but an unknown document is ``NotFound`` (REST's 404)."""
    ctx.principal.require(READ_DOCUMENTS)
    return await load_document(ctx, v.check("id", v.identifier, document_id))


async def load_document(ctx: RequestContext, document_id: uuid.UUID) -> DocumentRecord:
    """A live document or ``NotFound``, for use cases that checked their own scope."""
    document = await ctx.loaders.document_by_id.load(document_id)
    if document is None:
        raise _not_found()
    return document


async def create_document(ctx: RequestContext, fields: Mapping[str, Any]) -> DocumentRecord:
    """Record a document (seed 002) whose bytes were uploaded through requestUploadUrl.

    1. The fields are validated (every bad one named at once).
    2. The upload is verified, outside any transaction (no transaction waits
       on the object store): it is pending at ``storage_path`` in the caller's
       workspace, and the object arrived with the declared size, type and
       SHA-256. ``size_bytes`` and ``sha256`` are optional; given, they must
       match the object. ``mime_type`` must be the one declared for the
       upload (the object is stored with it): another one is refused, never
       silently replaced.
    3. One statement inserts the document (and its folder, created on
       demand) and moves the upload's size from pending to the workspace's
       used bytes. A live document at ``storage_path``, or an upload recorded
       meanwhile by a concurrent request, is a ``StorageConflict``.
       The bytes' first few KiB must not contradict the declared type
       (``resolvers.filetypes``); the type detected is recorded.
    4. Off the request path: with a scanner, the virus scan
       (``scans.scan_document``: the document is ``pending`` until then), and
       once the bytes are clean (or when nothing scans them), an image's
       dimensions and preview, or a PDF's page count and first-page preview
       (``process_document_preview``), and the text inside it, for search
       (``texts.extract_document_text``).
    """
    ctx.principal.require(WRITE_DOCUMENTS)
    new = resources.DOCUMENT_CREATE.parse(fields)
    upload = await uploads_uc.verify_upload(
        ctx.db, ctx.store, ctx.principal, storage_path=new["storage_path"],
        size_bytes=new.get("size_bytes"), sha256=new.get("sha256"),
        mime_type=new["mime_type"])
    row = await documents_db.insert_uploaded_document(
        ctx.db, ctx.workspace_id, uuid.uuid4(),
        name=new["name"], description=new.get("description"),
        mime_type=upload.mime_type, size_bytes=upload.size_bytes,
        storage_path=upload.storage_path, folder=new.get("folder"), tags=new.get("tags", []),
        type=new.get("type", DocumentType.OTHER), user_data=new.get("user_data", {}),
        created_by=ctx.principal.key_id, checksum_sha256=upload.checksum_sha256,
        actor=ctx.principal.actor,
        detected_mime_type=upload.detected_mime_type,
        scan_status=scans.initial_status(ctx.settings, ctx.scanner).value,
        first_scan_lease_seconds=scans.first_try_lease(ctx.settings, ctx.scanner),
    )
    if row is None:
        raise StorageConflict("The upload at storage_path was already recorded or has expired.",
                              details={"storage_path": upload.storage_path})
    document = DocumentRecord.from_row(row)
    if document.scan_status is ScanStatus.PENDING:
        if ctx.scanner is not None:
            ctx.jobs.spawn(f"scan {document.id}", scans.scan_document(
                ctx.db, ctx.store, ctx.scanner, ctx.settings, ctx.workspace_id, document.id,
                ctx.jobs))
    else:
        if has_preview_job(document.mime_type):
            ctx.jobs.spawn(f"preview {document.id}", process_document_preview(
                ctx.db, ctx.store, ctx.workspace_id, document.id))
        # Bytes a scanner has yet to look at are read once it found them clean (scans).
        texts.start_extraction(ctx.jobs, ctx.db, ctx.store, ctx.settings, ctx.workspace_id,
                               document.id)
    return _remember(ctx, document)


async def update_document(ctx: RequestContext, document_id: Any,
                          changes: Mapping[str, Any]) -> DocumentRecord:
    """Change a live document's metadata (the fields of ``DOCUMENT_UPDATE`` given).

    ``None`` clears ``description`` or ``folder``; ``tags`` and ``user_data``
    are replaced, not merged. The bytes' facts (storage path, MIME type,
    size) and the status (see :func:`verify_document`) are not changed here.

    No change at all changes nothing and answers the document as it is: a
    read, which needs ``read:documents`` too (refused before any lookup, so a
    key that may only write learns nothing from it, not even whether the
    document exists).
    """
    ctx.principal.require(WRITE_DOCUMENTS)
    doc_id = v.check("id", v.identifier, document_id)
    cleaned = resources.DOCUMENT_UPDATE.parse(changes)
    if not cleaned:
        ctx.principal.require(READ_DOCUMENTS)
        return await load_document(ctx, doc_id)
    folder = cleaned.get("folder")
    async with ctx.db.transaction() as conn:
        if folder is not None:
            await documents_db.insert_folder(conn, ctx.workspace_id, folder)
        row = await documents_db.update_document(conn, ctx.workspace_id, doc_id, cleaned,
                                                 actor=ctx.principal.actor)
    if row is None:
        raise _not_found()
    return _remember(ctx, DocumentRecord.from_row(row))


async def delete_document(ctx: RequestContext, document_id: Any) -> DeletedDocument:
    """Soft-delete: from now on the document is absent from every read and list, and
    every URL signed before for its bytes or preview answers 404.

    Its size stops counting toward the workspace's quota at once. Its bytes and
    preview are moved to keys no URL names (see ``resolvers.deletion``) and
    removed by the sweep after DOCGRAPH_DELETE_GRACE_SECONDS. While the object
    store is down nothing changes (``Unavailable``). If the store fails after
    the deletion was recorded, the answer is ``Unavailable`` too: the document
    is gone from every read, and the same delete, retried, finishes the move
    (so does the sweep); only a finished delete answers 404 when repeated.
    """
    ctx.principal.require(WRITE_DOCUMENTS)
    doc_id = v.check("id", v.identifier, document_id)
    await ctx.store.ensure_available()
    deleted = await documents_db.soft_delete_document(ctx.db, ctx.workspace_id, doc_id,
                                                      actor=ctx.principal.actor)
    if deleted is None:
        deleted = await documents_db.select_unmoved_deletion(ctx.db, ctx.workspace_id, doc_id)
        if deleted is None:
            raise _not_found()
    ctx.loaders.document_by_id.clear(doc_id).prime(doc_id, None)
    await deletion.finish_deletion(ctx.db, ctx.store, ctx.workspace_id, deleted)
    return DeletedDocument(id=deleted["id"], deleted_at=deleted["deleted_at"])


def download_url(ctx: RequestContext, document: DocumentRecord,
                 expires_in: Any = None) -> SignedUrl:
    """A signed URL that downloads the document's bytes as its name (seed 003's url and
    urlExpirationDate), valid ``expires_in`` seconds (default
    DOCGRAPH_DOWNLOAD_URL_SECONDS, at most DOCGRAPH_DOWNLOAD_URL_MAX_SECONDS).

    Signing is computation only: no SQL, no call to the store, so a list of
    documents costs nothing more with its URLs. Only bytes that may be served
    are signed for: a document no scanner found clean (pending, infected,
    failed, or not scanned where scanning is mandatory) is ``DocumentNotClean``.
    """
    ctx.principal.require(READ_DOCUMENTS)
    scans.require_clean(document, ctx.settings)
    signed = ctx.store.presign_download(document.storage_path, expires_in=expires_in,
                                        file_name=document.name)
    return SignedUrl(url=signed.url, expires_at=signed.expires_at)


async def document_file(ctx: RequestContext, document_id: Any) -> DocumentFile:
    """What docgraph found in a document's bytes (type, virus scan, pages), and whether
    it hands out URLs for them; ``NotFound`` for an unknown document."""
    document = await require_document(ctx, document_id)
    return DocumentFile(id=document.id, mime_type=document.mime_type,
                        detected_mime_type=document.detected_mime_type,
                        scan_status=document.scan_status,
                        scan_signature=document.scan_signature,
                        scanned_at=document.scanned_at, page_count=document.page_count,
                        downloadable=scans.downloadable(document, ctx.settings))


def preview_image(ctx: RequestContext, document: DocumentRecord,
                  expires_in: Any = None) -> PreviewImage | None:
    """The image's (or a PDF's first page's) reduced copy (seed 003's previewImage) with
    a signed URL, or None until the background job made one (and for other files).
    Refused like :func:`download_url` while no scanner found the bytes clean."""
    ctx.principal.require(READ_DOCUMENTS)
    scans.require_clean(document, ctx.settings)
    lifetime = ctx.store.download_lifetime(expires_in)
    if document.preview_path is None or document.preview_width is None \
            or document.preview_height is None:
        return None
    signed = ctx.store.presign_download(document.preview_path, expires_in=lifetime)
    return PreviewImage(url=signed.url, width=document.preview_width,
                        height=document.preview_height, expires_at=signed.expires_at)


async def _change_status(ctx: RequestContext, document_id: Any, to: DocumentStatus,
                         rejection_reason: str | None = None) -> DocumentRecord:
    allowed_from = TRANSITIONS[to]
    row = await documents_db.change_status(ctx.db, ctx.workspace_id, document_id, to=to,
                                           allowed_from=allowed_from,
                                           rejection_reason=rejection_reason,
                                           actor=ctx.principal.actor)
    if row is None:
        current = await documents_db.select_document_status(ctx.db, ctx.workspace_id,
                                                            document_id)
        if current is None:
            raise _not_found()
        sources = " or ".join(allowed_from)
        raise Conflict(
            f"A {current} document cannot become {to}; only {sources} documents can.",
            details={"status": current, "to": str(to),
                     "allowed_from": [str(s) for s in allowed_from]},
        )
    return _remember(ctx, DocumentRecord.from_row(row))


async def verify_document(ctx: RequestContext, document_id: Any) -> DocumentRecord:
    """pending -> verified; sets ``verified_at``."""
    ctx.principal.require(WRITE_DOCUMENTS)
    doc_id = v.check("id", v.identifier, document_id)
    return await _change_status(ctx, doc_id, DocumentStatus.VERIFIED)


async def reject_document(ctx: RequestContext, document_id: Any, reason: Any) -> DocumentRecord:
    """pending -> rejected; sets ``rejection_reason``."""
    ctx.principal.require(WRITE_DOCUMENTS)
    cleaned = v.parse_fields({"id": document_id, "reason": reason},
                             {"id": v.identifier, "reason": v.rejection_reason})
    return await _change_status(ctx, cleaned["id"], DocumentStatus.REJECTED, cleaned["reason"])


async def expire_document(ctx: RequestContext, document_id: Any) -> DocumentRecord:
    """verified -> expired; clears ``verified_at``."""
    ctx.principal.require(WRITE_DOCUMENTS)
    doc_id = v.check("id", v.identifier, document_id)
    return await _change_status(ctx, doc_id, DocumentStatus.EXPIRED)


def document_filters(filters: Mapping[str, Any] | None) -> documents_db.DocumentFilters:
    """A caller's ``DocumentFilter`` (validated here) as the statements' filter values."""
    f = resources.DOCUMENT_FILTER.parse(filters or {})
    folder = f.get("folder")
    folder_prefix = None
    if folder is not None and f.get("include_subfolders"):
        folder_prefix = folder if folder == "/" else folder + "/"
    mime = f.get("mime_type")
    mime_prefix = mime[:-1] if mime is not None and mime.endswith("/*") else None
    linked_type, linked_id = f.get("linked_to") or (None, None)
    return documents_db.DocumentFilters(
        folder=folder, folder_prefix=folder_prefix, tags=f.get("tags"), type=f.get("type"),
        status=f.get("status"), mime_type=None if mime_prefix else mime,
        mime_prefix=mime_prefix, name_contains=f.get("name_contains"),
        linked_entity_type=linked_type, linked_entity_id=linked_id,
        created_after=f.get("created_after"), created_before=f.get("created_before"),
        scan_status=f.get("scan_status"))


async def list_documents(ctx: RequestContext, filters: Mapping[str, Any] | None,
                         page: PageRequest, *,
                         with_total: bool = True) -> Page[Edge[DocumentRecord]]:
    """The workspace's live documents matching ``filters``, newest first (the list's
    total counted only ``with_total``: it reads every match).

    Filters (all optional, all must match): ``folder`` (exact, or with
    ``include_subfolders`` the whole subtree), ``tags`` (carries all of
    them), ``type``, ``status``, ``mime_type`` (exact, or ``image/*``),
    ``name_contains`` (case-insensitive), ``linked_to``
    (``{"entity_type", "entity_id"}``), ``created_after`` (inclusive) /
    ``created_before`` (exclusive) and ``scan_status``.
    """
    ctx.principal.require(READ_DOCUMENTS)
    filters_given = document_filters(filters)
    page = page.in_order()
    rows = await documents_db.select_document_page(
        ctx.db, ctx.workspace_id, filters_given, after_created_at=page.after_created_at,
        after_id=page.after_id, offset=page.offset, limit=page.limit, with_total=with_total)
    documents = [DocumentRecord.from_row(row) for row in rows if row["id"] is not None]
    for document in documents:
        ctx.document_by_id.prime(document.id, document)
    return build_page(page, [Edge(document) for document in documents],
                      total_count=rows[0]["total_count"],
                      has_preceding=rows[0]["has_preceding"])


def entity_documents_query(entity_id: Any, *, role: Any = None, type: Any = None,
                           status: Any = None, scan_status: Any = None, order: Any = None,
                           page: PageRequest | None = None, with_links: bool = False,
                           with_total: bool = True,
                           scan_statuses: tuple[ScanStatus, ...] | None = None,
                           selection: PageSelection | None = None,
                           ) -> EntityDocumentsQuery:
    """Validate the arguments of an entity's document list.

    ``order``: newest document first (``created_at``, the default) or newest
    link first (``linked_at``); a cursor names its order and serves only it.
    ``scan_statuses``: only documents whose scan status is one of these (a caller
    that lists only documents it can hand URLs for).
    ``with_links``: the caller will ask for each document's links, and they
    load with the page; ``with_total``: the caller will read the total, and it
    is counted; ``selection``: the caller asks only for these stored values, and
    the database writes them (optimisations only: what is asked for is the same).
    """
    cleaned = v.parse_fields(
        {"id": entity_id, "role": role, "type": type, "status": status,
         "scan_status": scan_status, "order": order},
        {"id": v.identifier, "role": v.nullable(v.role), "type": v.nullable(v.document_type),
         "status": v.nullable(v.document_status), "scan_status": v.nullable(v.scan_status),
         "order": v.nullable(v.linked_document_order)},
    )
    if cleaned["scan_status"] is not None:
        scan_statuses = (cleaned["scan_status"],) if scan_statuses is None else tuple(
            s for s in scan_statuses if s is cleaned["scan_status"])
    by_link_time = cleaned["order"] is LinkedDocumentOrder.LINKED_AT
    page = (page or PageRequest()).in_order(by_link_time=by_link_time)
    return EntityDocumentsQuery(entity_id=cleaned["id"], role=cleaned["role"],
                                type=cleaned["type"], status=cleaned["status"],
                                scan_statuses=scan_statuses, page=page,
                                by_link_time=by_link_time, with_links=with_links,
                                with_total=with_total, selection=selection)


async def list_entity_documents(ctx: RequestContext, entity_type: Any, entity_id: Any, *,
                                role: Any = None, type: Any = None, status: Any = None,
                                page: PageRequest | None = None,
                                downloadable_only: bool = False) -> EntityDocuments:
    """One page of an entity's live documents, newest first, each with its link.

    Seeds 000 and 003 (a contact's documents, filtered by link ``role``) and
    004 (a company's, filtered by ``type`` and ``status``): one statement
    answers whether the entity exists, the page and the total. An unknown
    entity, or one of another type, is ``NotFound``. ``downloadable_only``: only
    documents whose bytes may be served (seed 003's attachments each carry a URL).
    """
    ctx.principal.require(READ_DOCUMENTS)
    kind = v.check("entity_type", v.entity_type, entity_type)
    query = entity_documents_query(
        entity_id, role=role, type=type, status=status, page=page,
        scan_statuses=scans.downloadable_statuses(ctx.settings) if downloadable_only else None)
    found = await ctx.document_page_by_entity.load(query)
    # (A query without a selection loads records, never a rendered page.)
    if not isinstance(found, EntityDocuments) or found.owner.entity_type is not kind:
        raise NotFound(f"No such {kind}.")
    return found


async def entity_document_page(
    ctx: RequestContext, query: EntityDocumentsQuery,
    rendered: EntityDocumentsQuery | None = None,
) -> Page[LinkedDocumentEdge] | RenderedPage:
    """The page ``query`` asks of an entity the caller already holds (GraphQL's
    ``Entity.documents``); ``NotFound`` if the entity went away meanwhile.

    ``rendered``: the same query with the caller's selection; when the entity was
    read with that page already written by the database (``get_entity``'s
    ``with_documents``), that page is the answer.
    """
    loader = ctx.document_page_by_entity
    if rendered is not None and rendered in loader.rendered:
        query = rendered
    found = await loader.load(query)
    if found is None:
        raise NotFound("No such entity.")
    return found.page
