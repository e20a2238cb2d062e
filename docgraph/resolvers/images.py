"""Image documents: their dimensions, and a small preview stored beside them.

``process_document_image`` runs after a document is recorded, off the
request path (see ``docgraph.jobs.runner``): it reads the object, measures it
with Pillow, writes a preview (256 px on the long side, EXIF orientation
applied; JPEG, or PNG when the image has transparency) next to the original,
and records both on the document. A file that is not really an image, or is
too large to decode safely, simply gets no preview.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import tempfile
import uuid
from collections.abc import Callable
from typing import IO, TypeVar

from PIL import Image, ImageOps

from docgraph.db import document_files
from docgraph.db.database import Database
from docgraph.errors import NotFound
from docgraph.storage.base import ObjectStore
from docgraph.storage.keys import preview_key

log = logging.getLogger("docgraph.images")

IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PILLOW_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
PREVIEW_LONG_SIDE = 256
# Decompression-bomb limits: decoding costs memory per pixel, whatever the file size.
MAX_PIXELS = 50_000_000
MAX_IMAGE_BYTES = 100 * 1024 * 1024
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
T = TypeVar("T")
_SWAPPED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that turn the image a quarter
_EXIF_ORIENTATION = 0x0112


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


@dataclasses.dataclass(frozen=True, slots=True)
class ImageAnalysis:
    """An image's displayed size (EXIF orientation applied) and its preview, if made."""

    format: str
    width: int
    height: int
    preview: Preview | None


def analyse_image(fp: IO[bytes]) -> ImageAnalysis | None:
    """Measure the image in ``fp`` and make its preview; None if it is not an image.

    Blocking and CPU-bound: run it in a thread. Only the header is parsed
    before the pixel count is checked, so a decompression bomb is refused
    before it is decoded.
    """
    try:
        with Image.open(fp, formats=PILLOW_FORMATS) as im:
            fmt = str(im.format)
            width, height = im.size
            if width <= 0 or height <= 0:
                return None
            too_large = width * height > MAX_PIXELS
            # A PNG's EXIF may follow its pixels: reading it would decode them.
            exif_is_safe = not (too_large and fmt == "PNG")
            if exif_is_safe and \
                    im.getexif().get(_EXIF_ORIENTATION, 1) in _SWAPPED_ORIENTATIONS:
                width, height = height, width
            if too_large:
                return ImageAnalysis(fmt, width, height, preview=None)
            return ImageAnalysis(fmt, width, height, preview=_preview(im))
    except Exception as exc:  # hostile files make Pillow raise almost anything
        log.debug("not a readable image: %s: %s", exc.__class__.__name__, exc)
        return None


def _preview(im: Image.Image) -> Preview:
    if im.format == "JPEG":
        im.draft("RGB", (PREVIEW_LONG_SIDE, PREVIEW_LONG_SIDE))  # decode at a reduced scale
    im.load()
    oriented = ImageOps.exif_transpose(im)
    oriented.thumbnail((PREVIEW_LONG_SIDE, PREVIEW_LONG_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if _has_alpha(oriented):
        oriented.convert("RGBA").save(out, "PNG", optimize=True)
        content_type, extension = "image/png", "png"
    else:
        oriented.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
        content_type, extension = "image/jpeg", "jpg"
    return Preview(out.getvalue(), content_type, extension, oriented.width, oriented.height)


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info)


async def read_spooled(store: ObjectStore, path: str, analyse: Callable[[IO[bytes]], T]) -> T:
    """``analyse`` (in a thread) of the object at ``path``, copied to a spool first (in
    memory up to ``SPOOL_IN_MEMORY_BYTES``, then a temporary file). ``NotFound``
    when the object is gone."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
        async for chunk in store.read(path):
            await asyncio.to_thread(spool.write, chunk)
        await asyncio.to_thread(spool.seek, 0)
        return await asyncio.to_thread(analyse, spool)


async def process_document_image(db: Database, store: ObjectStore, workspace_id: uuid.UUID,
                                 document_id: uuid.UUID) -> ImageAnalysis | None:
    """Record an image document's size and preview; None when there is nothing to record.

    Either way the document is then marked checked (``image_checked_at``),
    unless the store failed (``Unavailable`` propagates; the sweep retries).
    Safe to run more than once, and harmless for a document that was deleted
    meanwhile (its preview is removed again).
    """
    document = await document_files.get_live_document_file(db, workspace_id, document_id)
    if document is None or document["mime_type"] not in IMAGE_MIME_TYPES:
        return None
    path = document["storage_path"]
    info = await store.stat(path)
    analysis = None
    if info is not None and info.size <= MAX_IMAGE_BYTES:
        try:
            analysis = await read_spooled(store, path, analyse_image)
        except NotFound:  # the document was deleted meanwhile: its bytes moved away
            return None
    if analysis is None:
        await document_files.mark_image_checked(db, workspace_id, document_id,
                                                storage_path=path)
        return None
    key = None
    if analysis.preview is not None:
        key = preview_key(path, analysis.preview.extension)
        await store.write(key, analysis.preview.data, content_type=analysis.preview.content_type)
    recorded = await document_files.set_image(
        db, workspace_id, document_id, storage_path=path, width=analysis.width,
        height=analysis.height, preview_path=key,
        preview_width=analysis.preview.width if analysis.preview else None,
        preview_height=analysis.preview.height if analysis.preview else None)
    if not recorded:
        if key is not None:
            await store.delete(key)
        return None
    return analysis
