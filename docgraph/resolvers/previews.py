"""The preview job: what a recorded document's bytes show, once they may be read.

Images get their size and a preview (``resolvers.images``); PDFs their page
count and their first page as the preview (``resolvers.pdfs``). The job runs
off the request path, after recording, or after the virus scan found the
bytes clean: bytes no scanner has cleared are never parsed (a scanner is
configured, and has not answered yet).
"""

from __future__ import annotations

import uuid

from docgraph.db import document_files
from docgraph.db.database import Database
from docgraph.errors import NotFound
from docgraph.resolvers.images import (
    IMAGE_MIME_TYPES,
    MAX_IMAGE_BYTES,
    process_document_image,
    read_spooled,
)
from docgraph.resolvers.pdfs import PDF_MIME_TYPE, PdfAnalysis, analyse_pdf
from docgraph.resolvers.records import ScanStatus
from docgraph.storage.base import ObjectStore
from docgraph.storage.keys import preview_key

PREVIEW_MIME_TYPES = IMAGE_MIME_TYPES | {PDF_MIME_TYPE}
MAX_PDF_BYTES = MAX_IMAGE_BYTES
# Scan statuses whose bytes the preview job may read.
READABLE = frozenset({ScanStatus.CLEAN.value, ScanStatus.NOT_SCANNED.value})


def has_preview_job(mime_type: str) -> bool:
    return mime_type in PREVIEW_MIME_TYPES


async def process_document_preview(db: Database, store: ObjectStore, workspace_id: uuid.UUID,
                                   document_id: uuid.UUID) -> object | None:
    """Record what the document's bytes show (see the module); None when nothing was.

    Safe to run more than once; ``Unavailable`` when the store fails (the
    sweep retries).
    """
    document = await document_files.get_live_document_file(db, workspace_id, document_id)
    if document is None or document["scan_status"] not in READABLE:
        return None
    if document["mime_type"] in IMAGE_MIME_TYPES:
        return await process_document_image(db, store, workspace_id, document_id)
    if document["mime_type"] == PDF_MIME_TYPE:
        return await _process_pdf(db, store, workspace_id, document_id, document["storage_path"])
    return None


async def _process_pdf(db: Database, store: ObjectStore, workspace_id: uuid.UUID,
                       document_id: uuid.UUID, path: str) -> PdfAnalysis | None:
    info = await store.stat(path)
    analysis = None
    if info is not None and info.size <= MAX_PDF_BYTES:
        try:
            analysis = await read_spooled(store, path, analyse_pdf)
        except NotFound:  # deleted meanwhile: its bytes moved away
            return None
    if analysis is None:
        await document_files.mark_image_checked(db, workspace_id, document_id,
                                                storage_path=path)
        return None
    preview = analysis.preview
    key = None
    if preview is not None:
        key = preview_key(path, preview.extension)
        await store.write(key, preview.data, content_type=preview.content_type)
    recorded = await document_files.set_pdf(
        db, workspace_id, document_id, storage_path=path, page_count=analysis.page_count,
        preview_path=key, preview_width=preview.width if preview else None,
        preview_height=preview.height if preview else None)
    if not recorded:
        if key is not None:
            await store.delete(key)
        return None
    return analysis
