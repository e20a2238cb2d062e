"""PDF documents: their page count, and their first page as a 256 px preview.

Rendered with pypdfium2 (PDFium, Chrome's PDF engine). A PDF that is
encrypted (needs a password) or broken gets neither, and no error. PDFium is
not thread-safe: one lock serialises every use of it in the process.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import threading
from typing import IO

import pypdfium2

from docgraph.resolvers.images import PREVIEW_LONG_SIDE, Preview

log = logging.getLogger("docgraph.pdfs")

PDF_MIME_TYPE = "application/pdf"
# A page larger than this (in points, either side) is not rendered (PDF's own limit
# is 14,400; a preview scaled down from it costs little, a hostile size much).
MAX_PAGE_POINTS = 200 * 72
_pdfium = threading.Lock()


@dataclasses.dataclass(frozen=True, slots=True)
class PdfAnalysis:
    page_count: int
    preview: Preview | None


def analyse_pdf(fp: IO[bytes]) -> PdfAnalysis | None:
    """The PDF's page count and its first page's preview; None if it cannot be opened
    (broken, or encrypted). Blocking: run it in a thread."""
    with _pdfium:
        try:
            pdf = pypdfium2.PdfDocument(fp)
        except Exception as exc:  # broken or encrypted: PdfiumError, or worse
            log.debug("not a readable PDF: %s: %s", exc.__class__.__name__, exc)
            return None
        try:
            pages = len(pdf)
            if pages <= 0:
                return None
            return PdfAnalysis(page_count=pages, preview=_first_page(pdf))
        except Exception as exc:
            log.debug("unreadable PDF: %s: %s", exc.__class__.__name__, exc)
            return None
        finally:
            pdf.close()


def _first_page(pdf: pypdfium2.PdfDocument) -> Preview | None:
    page = pdf[0]
    try:
        width, height = page.get_size()
        if not (0 < width <= MAX_PAGE_POINTS and 0 < height <= MAX_PAGE_POINTS):
            return None
        scale = PREVIEW_LONG_SIDE / max(width, height)
        bitmap = page.render(scale=scale)
        try:
            image = bitmap.to_pil().convert("RGB")
        finally:
            bitmap.close()
    except Exception as exc:
        log.debug("PDF page not rendered: %s: %s", exc.__class__.__name__, exc)
        return None
    finally:
        page.close()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    return Preview(out.getvalue(), "image/jpeg", "jpg", image.width, image.height)
