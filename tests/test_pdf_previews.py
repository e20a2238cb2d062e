"""PDFs: the preview job renders the first page as the 256 px preview (pypdfium2) and
records the page count; a broken or encrypted PDF gets neither, and no error."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image, ImageDraw

from docgraph.resolvers.pdfs import analyse_pdf

DOCUMENT = """
query($id: ID!) {
  document(id: $id) {
    pageCount image { width height }
    download { url }
    previewImage { url width height }
  }
}"""


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An ordinary HTTP client: no base URL, no API key."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def multipage_pdf(pages: int) -> bytes:
    """A real PDF of ``pages`` A4-ish pages, each with a different mark (Pillow)."""
    images = []
    for n in range(pages):
        page = Image.new("RGB", (595, 842), (255, 255, 255))
        draw = ImageDraw.Draw(page)
        draw.rectangle((40, 40, 555, 140), fill=(20 * n, 40, 200))
        draw.text((60, 200), f"Page {n + 1} of {pages}", fill=(0, 0, 0))
        images.append(page)
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    """A PDF whose trailer names a Standard security handler: it needs a password
    that nobody gives (PDFium refuses to open it)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
               b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <"
               + b"22" * 32 + b"> /P -4 >>"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<" % (len(objects) + 1)
              + b"ab" * 16 + b"> <" + b"ab" * 16 + b">] >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


async def preview_checked(db, document_id: str) -> bool:
    for _ in range(600):
        if await db.fetchval("select image_checked_at is not null from documents where id = $1",
                             uuid.UUID(document_id)):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_multipage_pdf_gets_its_first_page_as_preview_and_its_page_count(
        gql, db, http):
    content = multipage_pdf(3)
    doc = await gql.create_document(content, name="statement.pdf")
    assert await preview_checked(db, doc["id"])
    found = (await gql(DOCUMENT, {"id": doc["id"]}))["document"]
    assert found["pageCount"] == 3
    assert found["image"] is None  # image size is for images
    preview = found["previewImage"]
    assert (preview["width"], preview["height"]) == (181, 256)  # A4's ratio, 256 px high
    r = await http.get(preview["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.content)) as im:
        assert (im.format, im.size) == ("JPEG", (181, 256))
        # The first page's mark (blue band near the top) is in the preview.
        red, _green, blue = im.convert("RGB").getpixel((90, 25))
        assert blue > 150 and red < 80
    # The original is untouched.
    assert (await http.get(found["download"]["url"])).content == content


async def test_a_broken_pdf_gets_no_preview_no_page_count_and_no_error(gql, db):
    doc = await gql.create_document(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not "
                                    b"a PDF body\n%%EOF\n", name="broken.pdf")
    assert await preview_checked(db, doc["id"])
    body = await gql.result(DOCUMENT, {"id": doc["id"]})
    assert "errors" not in body
    found = body["data"]["document"]
    assert (found["pageCount"], found["previewImage"]) == (None, None)
    assert found["download"]["url"]


async def test_an_encrypted_pdf_gets_no_preview_no_page_count_and_no_error(gql, db):
    doc = await gql.create_document(encrypted_pdf(), name="locked.pdf")
    assert await preview_checked(db, doc["id"])
    body = await gql.result(DOCUMENT, {"id": doc["id"]})
    assert "errors" not in body
    assert (body["data"]["document"]["pageCount"],
            body["data"]["document"]["previewImage"]) == (None, None)


def test_analyse_pdf_directly():
    result = analyse_pdf(io.BytesIO(multipage_pdf(2)))
    assert result is not None and result.page_count == 2
    assert result.preview is not None and result.preview.content_type == "image/jpeg"
    assert analyse_pdf(io.BytesIO(encrypted_pdf())) is None
    assert analyse_pdf(io.BytesIO(b"%PDF-1.4 nothing")) is None
