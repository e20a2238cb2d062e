"""Type from the bytes: createDocument reads the object's first bytes and refuses a
declared type they contradict (naming both), recording nothing; types the detector
cannot tell are accepted as declared. Real files: a PDF made by Pillow, a ZIP, this
machine's own ELF binaries, an HTML page, a PNG, a CSV."""

from __future__ import annotations

import io
import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from docgraph.resolvers import filetypes

from .rest import assert_error, png

CREATE = """
mutation($input: CreateDocumentInput!) {
  createDocument(input: $input) { id mimeType detectedMimeType scanStatus }
}"""


def pdf_bytes(pages: int = 1) -> bytes:
    images = [Image.new("RGB", (200, 280), (255, 255, 255)) for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("contract.txt", "Not a PDF at all.\n" * 20)
    return out.getvalue()


def elf_bytes() -> bytes:
    binary = shutil.which("true") or "/bin/true"
    data = Path(binary).read_bytes()
    assert data.startswith(b"\x7fELF")
    return data


HTML = (b"\n  <!DOCTYPE html>\n<html><head><title>Invoice</title></head>"
        b"<body><script>document.location='https://evil.example'</script></body></html>\n")
CSV = b"date,amount,payee\n2026-01-02,10.50,Acme\n2026-01-03,99.00,Initech\n"


async def upload(gql, content: bytes, mime_type: str, name: str) -> str:
    ticket = await gql.upload(content, file_name=name, mime_type=mime_type)
    return ticket["storagePath"]


async def test_a_pdf_declared_as_pdf_is_accepted_and_its_type_recorded(gql, db, tenant):
    path = await upload(gql, pdf_bytes(), "application/pdf", "nda.pdf")
    doc = (await gql(CREATE, {"input": {"name": "nda.pdf", "mimeType": "application/pdf",
                                        "storagePath": path}}))["createDocument"]
    assert (doc["mimeType"], doc["detectedMimeType"]) == ("application/pdf", "application/pdf")
    assert await db.fetchval("select detected_mime_type from documents where id = $1",
                             uuid.UUID(doc["id"])) == "application/pdf"


@pytest.mark.parametrize(("content", "detected"), [
    (zip_bytes(), "application/zip"),
    (elf_bytes(), None),  # an executable or a shared object, as libmagic tells them apart
    (HTML, "text/html"),
], ids=["zip", "elf", "html"])
async def test_other_bytes_declared_as_pdf_are_refused_naming_both_types(
        gql, db, tenant, content, detected):
    path = await upload(gql, content, "application/pdf", "contract.pdf")
    error = await gql.error(CREATE, {"input": {"name": "contract.pdf",
                                               "mimeType": "application/pdf",
                                               "storagePath": path}},
                            code="validation_error")
    details = error["extensions"]["details"]
    assert details["declared"] == "application/pdf"
    if detected is None:
        assert details["detected"] in ("application/x-executable", "application/x-sharedlib",
                                       "application/x-pie-executable")
    else:
        assert details["detected"] == detected
    assert set(details["fields"]) == {"mimeType"}
    assert details["detected"] in details["fields"]["mimeType"]
    # Nothing was recorded: no document, and the upload is still pending (its quota too).
    assert await db.fetchval("select count(*) from documents where workspace_id = $1 and "
                             "storage_path = $2", tenant.id, path) == 0
    assert await db.fetchval("select count(*) from uploads where workspace_id = $1 and "
                             "storage_path = $2", tenant.id, path) == 1


async def test_a_png_declared_as_jpeg_is_refused(api, db, tenant):
    ticket = await api.upload(png(32, 32), file_name="photo.jpg", mime_type="image/jpeg")
    r = await api.post("/v1/documents", json={"name": "photo.jpg", "mime_type": "image/jpeg",
                                              "storage_path": ticket["storage_path"]})
    body = assert_error(r, 400, "validation_error")
    assert body["details"]["declared"] == "image/jpeg"
    assert body["details"]["detected"] == "image/png"
    assert "mime_type" in body["details"]["fields"]
    assert await db.fetchval("select count(*) from documents where workspace_id = $1",
                             tenant.id) == 0


async def test_a_csv_declared_as_csv_is_accepted_as_declared(api):
    doc = await api.create_document(CSV, name="payments.csv", mime_type="text/csv")
    assert doc["mime_type"] == "text/csv"
    facts = (await api.ok("GET", f"/v1/documents/{doc['id']}/file"))["data"]
    # Accepted as declared (libmagic 5.44 tells CSV; others say no more than "text").
    assert facts["mime_type"] == "text/csv"
    assert facts["detected_mime_type"] in ("text/csv", "text/plain")


async def test_types_built_on_a_container_are_not_contradicted_by_it(gql):
    """A .docx is a ZIP; binary bytes declared as application/octet-stream claim nothing."""
    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    path = await upload(gql, zip_bytes(), docx_type, "letter.docx")
    doc = (await gql(CREATE, {"input": {"name": "letter.docx", "mimeType": docx_type,
                                        "storagePath": path}}))["createDocument"]
    assert doc["detectedMimeType"] == "application/zip"
    path = await upload(gql, elf_bytes(), "application/octet-stream", "tool")
    doc = (await gql(CREATE, {"input": {"name": "tool", "mimeType": "application/octet-stream",
                                        "storagePath": path}}))["createDocument"]
    assert doc["detectedMimeType"].startswith("application/x-")


async def test_the_check_reads_the_object_once_with_a_ranged_read_on_s3(s3_store):
    """One ranged GET of the first bytes, whatever the object's size."""
    key = f"workspaces/{uuid.uuid4()}/uploads/{uuid.uuid4().hex}.pdf"
    content = pdf_bytes() + b"\n%" + b"x" * 300_000
    await s3_store.write(key, content, content_type="application/pdf")
    head = await s3_store.read_head(key, filetypes.HEAD_BYTES)
    assert head == content[:filetypes.HEAD_BYTES]
    assert await s3_store.read_head(key + ".missing", 10) is None
    await s3_store.delete(key)


@pytest.mark.parametrize(("declared", "detected", "ok"), [
    ("application/pdf", "application/pdf", True),
    ("application/pdf", "text/plain", True),  # the detector cannot tell: accepted
    ("application/pdf", None, True),
    ("application/pdf", "application/zip", False),
    ("application/pdf", "text/html", False),
    ("image/jpeg", "image/png", False),
    ("image/jpg", "image/jpeg", True),  # an alias
    ("application/vnd.oasis.opendocument.text", "application/zip", True),
    ("application/epub+zip", "application/zip", True),
    ("application/msword", "application/x-ole-storage", True),
    ("application/zip", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     True),
    ("image/svg+xml", "application/xml", True),
    ("text/markdown", "text/x-shellscript", True),
    ("text/csv", "application/x-executable", False),
    ("application/octet-stream", "application/x-executable", True),
])
def test_compatibility_rules(declared, detected, ok):
    assert filetypes.compatible(declared, detected) is ok


def test_the_detector_reads_real_heads():
    assert filetypes.detect_sync(pdf_bytes()[:filetypes.HEAD_BYTES]) == "application/pdf"
    assert filetypes.detect_sync(png(8, 8)) == "image/png"
    assert filetypes.detect_sync(HTML) == "text/html"
    assert filetypes.detect_sync(CSV) in ("text/csv", "text/plain")
    assert filetypes.detect_sync(b"Dear Ada,\nthank you.\n") == "text/plain"
    assert filetypes.detect_sync(b"") is None
