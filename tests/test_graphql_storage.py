"""The signed-upload flow through GraphQL, on both storage backends: requestUploadUrl,
a PUT by an ordinary HTTP client, a verified createDocument, downloads, image previews,
quota, purging after deletion, and object storage being down."""

import asyncio
import datetime as dt
import hashlib
import io
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from docgraph.app import create_app
from docgraph.ops.embedded import free_port
from tests.conftest import LiveServer, make_settings, make_tenant, s3_settings
from tests.gql import CREATE_DOCUMENT, REQUEST_UPLOAD_URL, GraphQL, put_upload

DOCUMENT = """
query($id: ID!, $expiresIn: Int) {
  document(id: $id) {
    id name sizeBytes mimeType attachmentType
    image { width height }
    download(expiresIn: $expiresIn) { url expiresAt }
    previewImage(expiresIn: $expiresIn) { url width height expiresAt }
  }
}
"""
DELETE = "mutation($id: ID!) { deleteDocument(id: $id) { id deletedAt } }"


def image_bytes(fmt: str, size: tuple[int, int]) -> bytes:
    im = Image.new("RGB", size, (200, 30, 30))
    im.paste((0, 0, 255), (0, 0, size[0] // 4, size[1]))
    out = io.BytesIO()
    im.save(out, fmt)
    return out.getvalue()


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An ordinary HTTP client: no base URL, no API key."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture(params=["local", "s3"])
async def backend_gql(request, tenant, client) -> AsyncIterator[GraphQL]:
    """The tenant's GraphQL client on a server of each storage backend in turn."""
    if request.param == "local":
        yield GraphQL(client, tenant)
        return
    server = request.getfixturevalue("s3_server")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as s3_client:
        yield GraphQL(s3_client, tenant)


async def used_bytes(db, tenant) -> int:
    return await db.fetchval("select used_bytes from workspaces where id = $1", tenant.id)


async def pending_bytes(db, tenant) -> int:
    return await db.fetchval("select pending_bytes from workspaces where id = $1", tenant.id)


async def test_the_whole_flow(backend_gql, http, db, tenant):
    content = b"%PDF-1.4\n" + os.urandom(200_000)  # declared application/pdf
    digest = hashlib.sha256(content).hexdigest()
    before = await used_bytes(db, tenant)
    pending_before = await pending_bytes(db, tenant)
    asked_at = dt.datetime.now(dt.UTC)
    ticket = (await backend_gql(REQUEST_UPLOAD_URL, {"input": {
        "fileName": "Acme NDA 2026.pdf", "mimeType": "application/pdf",
        "sizeBytes": len(content), "sha256": digest}}))["requestUploadUrl"]
    assert ticket["method"] == "PUT"
    assert {h["name"]: h["value"] for h in ticket["headers"]} == {
        "Content-Type": "application/pdf", "If-None-Match": "*"}
    assert ticket["storagePath"].startswith(f"workspaces/{tenant.id}/uploads/")
    assert ticket["storagePath"].endswith(".pdf")
    assert parse_time(ticket["expiresAt"]) > asked_at
    assert await pending_bytes(db, tenant) == pending_before + len(content)

    r = await put_upload(http, ticket, content)
    assert r.status_code == 200, r.text

    doc = (await backend_gql(CREATE_DOCUMENT, {"input": {
        "name": "Acme NDA 2026.pdf", "mimeType": "application/pdf",
        "storagePath": ticket["storagePath"]}}))["createDocument"]
    assert (doc["sizeBytes"], doc["sha256"], doc["storagePath"]) == \
        (len(content), digest, ticket["storagePath"])
    assert await used_bytes(db, tenant) == before + len(content)
    assert await pending_bytes(db, tenant) == pending_before  # moved from pending to used
    assert await db.fetchval("select count(*) from uploads where storage_path = $1",
                             ticket["storagePath"]) == 0

    read = (await backend_gql(DOCUMENT, {"id": doc["id"], "expiresIn": 120}))["document"]
    assert read["previewImage"] is None and read["image"] is None
    expires_at = parse_time(read["download"]["expiresAt"])
    assert asked_at + dt.timedelta(seconds=60) < expires_at
    assert expires_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=121)
    download = await http.get(read["download"]["url"])
    assert download.status_code == 200
    assert download.content == content


async def test_an_upload_recorded_by_concurrent_requests_makes_one_document(gql, db, tenant):
    content = b"%PDF-1.4\n" + os.urandom(5_000)
    ticket = await gql.upload(content)
    used, pending = await used_bytes(db, tenant), await pending_bytes(db, tenant)
    variables = {"input": {"name": "twice.pdf", "mimeType": "application/pdf",
                           "storagePath": ticket["storagePath"]}}
    bodies = [r.json() for r in await asyncio.gather(
        *(gql.post(CREATE_DOCUMENT, variables) for _ in range(8)))]
    created = [b["data"]["createDocument"] for b in bodies if b.get("data")]
    assert len(created) == 1
    assert sorted(b["errors"][0]["extensions"]["code"] for b in bodies if "errors" in b) == \
        ["storage_conflict"] * 7
    assert await db.fetchval("select count(*) from documents where workspace_id = $1 "
                             "and storage_path = $2", tenant.id, ticket["storagePath"]) == 1
    # Its bytes moved from pending to used exactly once.
    assert (await used_bytes(db, tenant), await pending_bytes(db, tenant)) == \
        (used + len(content), pending - len(content))


async def test_a_document_in_a_new_folder_creates_the_folder(gql, db, tenant):
    doc = await gql.create_document(folder="/clients/new-one/2026")
    assert await db.fetchval("select folder from documents where workspace_id = $1 and id = $2",
                             tenant.id, uuid.UUID(doc["id"])) == "/clients/new-one/2026"
    assert await db.fetchval("select count(*) from folders where workspace_id = $1 and path = $2",
                             tenant.id, "/clients/new-one/2026") == 1


async def test_a_local_download_is_saved_under_the_documents_name(gql, http):
    doc = await gql.create_document(b"%PDF-1.4 contract", name="Contrat signé.pdf")
    url = (await gql(DOCUMENT, {"id": doc["id"]}))["document"]["download"]["url"]
    r = await http.get(url)
    assert r.content == b"%PDF-1.4 contract"
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == \
        "attachment; filename=\"Contrat sign_.pdf\"; filename*=UTF-8''Contrat%20sign%C3%A9.pdf"
    # The signature covers the object: the URL serves nothing else.
    other = await gql.create_document(b"other bytes")
    tampered = url.replace(doc["storagePath"], other["storagePath"])
    assert (await http.get(tampered)).status_code == 403


@pytest.mark.parametrize("expires_in", [0, -5, 86401])
async def test_a_download_lifetime_outside_the_limits_is_refused(gql, expires_in):
    doc = await gql.create_document()
    body = await gql.result(DOCUMENT, {"id": doc["id"], "expiresIn": expires_in})
    # The document itself still answers; each URL field carries the error.
    assert body["data"]["document"]["id"] == doc["id"]
    assert body["data"]["document"]["download"] is None
    errors = {tuple(e["path"]): e for e in body["errors"]}
    assert set(errors) == {("document", "download"), ("document", "previewImage")}
    for error in errors.values():
        assert error["extensions"]["code"] == "validation_error"
        assert error["extensions"]["details"]["max"] == 86400
        assert list(error["extensions"]["details"]["fields"]) == ["expiresIn"]


async def test_downloads_need_the_read_scope(gql, tenant):
    body = await gql.result(
        "mutation($input: CreateDocumentInput!) { createDocument(input: $input) "
        "{ id download { url } } }",
        {"input": {"name": "a.pdf", "mimeType": "application/pdf",
                   "storagePath": (await gql.upload(b"abc", key=tenant.write_key))[
                       "storagePath"]}}, key=tenant.write_key)
    assert body["data"]["createDocument"]["download"] is None
    assert body["errors"][0]["extensions"]["code"] == "insufficient_permissions"
    assert body["errors"][0]["path"] == ["createDocument", "download"]


# -- createDocument verifies before it records -----------------------------------------

CREATE = "mutation($input: CreateDocumentInput!) { createDocument(input: $input) { id } }"


def create_input(path: str, **fields) -> dict:
    return {"input": {"name": "f.txt", "mimeType": "text/plain", "storagePath": path,
                      **fields}}


async def test_create_document_refuses_what_was_not_uploaded_as_declared(backend_gql, http,
                                                                        db, tenant):
    before = await used_bytes(db, tenant)
    never = f"workspaces/{tenant.id}/uploads/{uuid.uuid4().hex}.txt"
    error = await backend_gql.error(CREATE, create_input(never), code="validation_error")
    assert "no upload is pending" in error["message"]
    assert list(error["extensions"]["details"]["fields"]) == ["storagePath"]

    content = b"hello, world"
    ticket = (await backend_gql(REQUEST_UPLOAD_URL, {"input": {
        "fileName": "f.txt", "mimeType": "text/plain", "sizeBytes": len(content)}}))[
        "requestUploadUrl"]
    path = ticket["storagePath"]
    error = await backend_gql.error(CREATE, create_input(path), code="validation_error")
    assert error["message"] == "nothing has been uploaded to storage_path yet"

    assert (await put_upload(http, ticket, content)).status_code == 200
    error = await backend_gql.error(CREATE, create_input(path, sizeBytes=len(content) + 1),
                                    code="validation_error")
    assert error["extensions"]["details"]["actual"] == len(content)
    assert list(error["extensions"]["details"]["fields"]) == ["sizeBytes"]
    wrong = hashlib.sha256(b"something else").hexdigest()
    error = await backend_gql.error(CREATE, create_input(path, sha256=wrong),
                                    code="validation_error")
    assert error["extensions"]["details"]["actual"] == hashlib.sha256(content).hexdigest()
    assert list(error["extensions"]["details"]["fields"]) == ["sha256"]
    error = await backend_gql.error(CREATE, {"input": {
        "name": "f.txt", "mimeType": "text/html", "storagePath": path}},
        code="validation_error")
    assert list(error["extensions"]["details"]["fields"]) == ["mimeType"]
    assert "text/plain" in error["message"]

    # Nothing was recorded, and the upload is still there to be recorded properly.
    assert await used_bytes(db, tenant) == before
    doc = (await backend_gql(CREATE_DOCUMENT, create_input(
        path, sizeBytes=len(content), sha256=hashlib.sha256(content).hexdigest())))[
        "createDocument"]
    assert doc["sizeBytes"] == len(content)
    assert await used_bytes(db, tenant) == before + len(content)


async def test_another_workspaces_upload_answers_exactly_like_a_missing_one(gql, other_gql,
                                                                           tenant):
    theirs = await other_gql.upload(b"their secret", file_name="s.txt", mime_type="text/plain")
    mine_never = f"workspaces/{tenant.id}/uploads/{uuid.uuid4().hex}.txt"
    answers = [await gql.result(CREATE, create_input(path))
               for path in (theirs["storagePath"], mine_never)]
    assert answers[0] == answers[1]
    assert answers[0]["errors"][0]["extensions"]["code"] == "validation_error"
    # Their upload is untouched: they can still record it.
    doc = (await other_gql(CREATE, create_input(theirs["storagePath"])))["createDocument"]
    assert uuid.UUID(doc["id"])


@pytest.mark.parametrize(("field", "value"), [
    ("fileName", ""), ("fileName", "a\x00b.pdf"), ("fileName", "x" * 256),
    ("mimeType", "pdf"), ("mimeType", "text/plain\r\nX-Evil: 1"),
    ("sizeBytes", 0), ("sizeBytes", -1), ("sha256", "abc"), ("sha256", "g" * 64),
])
async def test_request_upload_url_refuses_bad_input(gql, db, tenant, field, value):
    values = {"fileName": "a.pdf", "mimeType": "application/pdf", "sizeBytes": 10,
              field: value}
    error = await gql.error(REQUEST_UPLOAD_URL, {"input": values}, code="validation_error")
    assert list(error["extensions"]["details"]["fields"]) == [field]
    assert await db.fetchval("select count(*) from uploads where workspace_id = $1",
                             tenant.id) == 0


async def test_request_upload_url_needs_the_write_scope(gql, tenant):
    await gql.error(REQUEST_UPLOAD_URL, {"input": {
        "fileName": "a.pdf", "mimeType": "application/pdf", "sizeBytes": 10}},
        code="insufficient_permissions", key=tenant.read_key)


async def test_file_names_never_become_paths(gql, tenant):
    for name in ("../../etc/passwd", "..\\..\\win.ini", "/var/www/shell.php", "a/b/c.PDF"):
        ticket = (await gql(REQUEST_UPLOAD_URL, {"input": {
            "fileName": name, "mimeType": "application/pdf", "sizeBytes": 3}}))[
            "requestUploadUrl"]
        path = ticket["storagePath"]
        assert path.startswith(f"workspaces/{tenant.id}/uploads/")
        assert ".." not in path and "\\" not in path and path.count("/") == 3


# -- quota ---------------------------------------------------------------------------

async def test_the_quota_through_request_create_and_delete(db, client):
    small = await make_tenant(db, "Small quota", quota_bytes=1000)
    gql = GraphQL(client, small)
    content = b"%PDF-1.4\n" + os.urandom(591)
    doc = await gql.create_document(content)
    error = await gql.error(REQUEST_UPLOAD_URL, {"input": {
        "fileName": "b.bin", "mimeType": "application/octet-stream", "sizeBytes": 401}},
        code="quota_exceeded")
    assert error["message"] == ("This upload of 401 bytes would exceed the workspace's "
                                "quota: 400 bytes are available.")
    assert error["extensions"]["details"] == {"quotaBytes": 1000, "usedBytes": 600,
                                              "pendingBytes": 0, "sizeBytes": 401}
    # A pending upload holds its bytes too.
    await gql.upload(os.urandom(300), mime_type="application/octet-stream")
    await gql.error(REQUEST_UPLOAD_URL, {"input": {
        "fileName": "c.bin", "mimeType": "application/octet-stream", "sizeBytes": 101}},
        code="quota_exceeded")
    # Deleting a document frees its bytes at once (they are purged later).
    await gql(DELETE, {"id": doc["id"]})
    assert await used_bytes(db, small) == 0
    await gql.upload(os.urandom(700), mime_type="application/octet-stream")
    assert await db.fetchval("select used_bytes from workspaces where id = $1", small.id) == 0


# -- images ------------------------------------------------------------------------

async def preview_of(gql, document_id: str) -> dict:
    """The document once its background preview job has run (polled; no timing involved)."""
    for _ in range(600):
        document = (await gql(DOCUMENT, {"id": document_id}))["document"]
        if document["previewImage"] is not None:
            return document
        await asyncio.sleep(0.05)
    raise AssertionError("the preview job never recorded a preview")


async def image_checked(db, document_id: str) -> bool:
    for _ in range(600):
        if await db.fetchval("select image_checked_at is not null from documents where id = $1",
                             uuid.UUID(document_id)):
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize(("fmt", "mime_type", "size", "preview_size"), [
    ("PNG", "image/png", (600, 300), (256, 128)),
    ("JPEG", "image/jpeg", (300, 600), (128, 256)),
])
async def test_images_get_their_size_and_a_preview(backend_gql, http, fmt, mime_type, size,
                                                  preview_size):
    content = image_bytes(fmt, size)
    doc = await backend_gql.create_document(content, name=f"photo.{fmt.lower()}",
                                            mimeType=mime_type)
    assert doc["attachmentType"] == "IMAGE"
    document = await preview_of(backend_gql, doc["id"])
    assert document["image"] == {"width": size[0], "height": size[1]}
    preview = document["previewImage"]
    assert (preview["width"], preview["height"]) == preview_size
    assert parse_time(preview["expiresAt"]) > dt.datetime.now(dt.UTC)
    r = await http.get(preview["url"])
    assert r.status_code == 200
    assert len(r.content) < len(content)
    with Image.open(io.BytesIO(r.content)) as im:
        assert (im.format, im.size) == ("JPEG", preview_size)
    # The original is untouched.
    assert (await http.get(document["download"]["url"])).content == content


async def test_a_fake_png_gets_no_preview_and_no_error(gql, db):
    # Text: the type detector cannot tell it from a PNG's declared type (HTML it can,
    # and refuses: tests/test_file_types.py).
    doc = await gql.create_document(b"not a png, only some text", name="fake.png",
                                    mimeType="image/png")
    assert await image_checked(db, doc["id"])
    document = (await gql(DOCUMENT, {"id": doc["id"]}))["document"]
    assert document["image"] is None and document["previewImage"] is None
    assert document["attachmentType"] == "IMAGE"
    assert document["download"]["url"]


# -- deletion and purging --------------------------------------------------------------

async def test_a_deleted_documents_bytes_and_preview_are_purged_after_the_grace(
        tmp_root, database_url, db, tenant, http):
    settings = make_settings(tmp_root, delete_grace_seconds=1, sweep_interval_seconds=1)
    live = LiveServer(create_app(settings, database_url), settings.host, settings.port).start()
    try:
        store = live.app.state.store
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            gql = GraphQL(client, tenant)
            doc = await gql.create_document(image_bytes("PNG", (400, 400)), name="p.png",
                                            mimeType="image/png")
            await preview_of(gql, doc["id"])
            preview_path = await db.fetchval("select preview_path from documents where id = $1",
                                             uuid.UUID(doc["id"]))
            assert await store.stat(doc["storagePath"]) is not None
            assert await store.stat(preview_path) is not None
            await gql(DELETE, {"id": doc["id"]})
            # Gone from every read at once; the bytes stay for the grace period.
            assert (await gql(DOCUMENT, {"id": doc["id"]}))["document"] is None
            for _ in range(600):  # the background sweep wakes every 0.8-1.2 s
                if await db.fetchval("select count(*) from documents where id = $1",
                                     uuid.UUID(doc["id"])) == 0:
                    break
                await asyncio.sleep(0.05)
            assert await db.fetchval("select count(*) from documents where id = $1",
                                     uuid.UUID(doc["id"])) == 0
            assert await store.stat(doc["storagePath"]) is None
            assert await store.stat(preview_path) is None
    finally:
        live.stop()


# -- object storage down -------------------------------------------------------------

async def test_storage_down_refuses_uploads_and_keeps_metadata(tmp_root, database_url, gql,
                                                               db, tenant):
    doc = await gql.create_document(name="kept.pdf")
    pending = await gql(REQUEST_UPLOAD_URL, {"input": {
        "fileName": "late.pdf", "mimeType": "application/pdf", "sizeBytes": 5}})
    pending_path = pending["requestUploadUrl"]["storagePath"]
    settings = s3_settings(tmp_root, f"127.0.0.1:{free_port()}", storage_timeout=0.5)
    live = LiveServer(create_app(settings, database_url), settings.host, settings.port).start()
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            down = GraphQL(client, tenant)
            uploads_before = await db.fetchval(
                "select count(*) from uploads where workspace_id = $1", tenant.id)
            r = await down.post(REQUEST_UPLOAD_URL, {"input": {
                "fileName": "a.pdf", "mimeType": "application/pdf", "sizeBytes": 5}})
            assert r.status_code == 200
            body = r.json()
            assert body["data"] is None
            error = body["errors"][0]
            assert error["extensions"]["code"] == "unavailable"
            assert error["extensions"]["retryAfter"] >= 1
            assert int(r.headers["retry-after"]) == error["extensions"]["retryAfter"]
            assert await db.fetchval("select count(*) from uploads where workspace_id = $1",
                                     tenant.id) == uploads_before
            # createDocument needs the store to verify the upload.
            error = await down.error(CREATE, {"input": {
                "name": "late.pdf", "mimeType": "application/pdf",
                "storagePath": pending_path}}, code="unavailable")
            assert error["extensions"]["retryAfter"] >= 1
            # Metadata reads keep working; signing a URL needs no network.
            read = (await down(DOCUMENT, {"id": doc["id"]}))["document"]
            assert read["name"] == "kept.pdf"
            assert read["download"]["url"]
            listed = await down("{ documents(first: 100) { totalCount nodes { id } } }")
            assert doc["id"] in [n["id"] for n in listed["documents"]["nodes"]]
    finally:
        live.stop()
