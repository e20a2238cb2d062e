"""The upload use cases (requestUploadUrl, and createDocument's verification) on both
backends, with the bytes PUT by an ordinary HTTP client."""

import asyncio
import hashlib
import os
import re
import uuid

import httpx
import pytest

from docgraph.config import Settings
from docgraph.db import documents as documents_db
from docgraph.db import uploads as uploads_db
from docgraph.errors import (
    InsufficientPermissions,
    QuotaExceeded,
    StorageConflict,
    Unavailable,
    ValidationError,
)
from docgraph.jobs.runner import BackgroundJobs
from docgraph.resolvers import auth
from docgraph.resolvers.auth import KeyVerifier, Principal
from docgraph.resolvers.context import RequestContext, Services
from docgraph.resolvers.rate_limits import RateLimiter
from docgraph.resolvers.uploads import (
    request_upload,
    request_upload_url,
    safe_extension,
    verify_upload,
)
from docgraph.storage.base import StoreLimits
from docgraph.storage.local import LocalObjectStore

from .conftest import TEST_SIGNING_SECRET, make_tenant


def principal_of(tenant, scopes=auth.SCOPES) -> Principal:
    return Principal(workspace_id=tenant.id, key_id=uuid.uuid4(), scopes=frozenset(scopes))


async def record(db, tenant, storage_path: str, size: int):
    """Record a document on the pending upload at ``storage_path`` (createDocument's
    statement): its row, or None when the upload is no longer pending."""
    return await documents_db.insert_uploaded_document(
        db, tenant.id, uuid.uuid4(), name="recorded.txt", description=None,
        mime_type="text/plain", size_bytes=size, storage_path=storage_path, folder=None,
        tags=[], type="other", user_data={}, created_by=None, actor="system")


async def put(ticket, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.request(ticket.method, ticket.upload_url, content=body,
                                  headers=ticket.headers)


async def test_request_put_verify_record_and_download(db, store, tenant):
    data = b"%PDF-1.4\n" + os.urandom(50_000)  # a PDF's first line: declared so
    who = principal_of(tenant)
    ticket = await request_upload(db, store, who, file_name="Acme NDA 2026.PDF",
                                  mime_type="application/pdf", size_bytes=len(data),
                                  sha256=hashlib.sha256(data).hexdigest())
    assert re.fullmatch(rf"workspaces/{tenant.id}/uploads/[0-9a-f]{{32}}\.pdf",
                        ticket.storage_path)
    assert ticket.method == "PUT"
    assert ticket.headers["Content-Type"] == "application/pdf"
    pending = await uploads_db.get_upload(db, tenant.id, ticket.storage_path)
    assert pending["size_bytes"] == len(data)
    assert pending["file_name"] == "Acme NDA 2026.PDF"
    assert pending["expires_at"] == ticket.expires_at

    r = await put(ticket, data)
    assert r.status_code == 200, r.text

    verified = await verify_upload(db, store, who, storage_path=ticket.storage_path,
                                   size_bytes=len(data), mime_type="application/pdf")
    assert verified.size_bytes == len(data)
    assert verified.mime_type == "application/pdf"
    assert verified.checksum_sha256 == hashlib.sha256(data).digest()

    assert await record(db, tenant, ticket.storage_path, len(data)) is not None
    assert await uploads_db.get_upload(db, tenant.id, ticket.storage_path) is None
    assert await db.fetchval("select (used_bytes, pending_bytes) from workspaces where id = $1",
                             tenant.id) == (len(data), 0)
    # Recorded once: the upload is no longer pending, and nothing more is recorded.
    assert await record(db, tenant, ticket.storage_path, len(data)) is None
    assert await db.fetchval("select count(*) from documents where storage_path = $1",
                             ticket.storage_path) == 1

    async with httpx.AsyncClient(timeout=30) as http:
        download = await http.get(store.presign_download(ticket.storage_path).url)
    assert download.content == data


@pytest.mark.parametrize(("file_name", "extension"), [
    ("../../etc/passwd", ""),
    ("../../../root/.ssh/id_rsa.pub", ".pub"),
    ("..\\..\\windows\\win.ini", ".ini"),
    ("/var/www/shell.php", ".php"),
    ("a/b/c/report.final.PDF", ".pdf"),
    ("....", ""),
    (".bashrc", ""),
    ("photo.jpeg ", ".jpeg"),
    ("weird.ext-with-dash", ""),
    ("long." + "x" * 40, ""),
    ("файл.docx", ".docx"),
])
async def test_file_names_never_become_paths(db, local_store, tenant, file_name, extension):
    assert safe_extension(file_name.strip()) == extension
    ticket = await request_upload(db, local_store, principal_of(tenant), file_name=file_name,
                                  mime_type="application/octet-stream", size_bytes=3)
    assert re.fullmatch(rf"workspaces/{tenant.id}/uploads/[0-9a-f]{{32}}{re.escape(extension)}",
                        ticket.storage_path)
    r = await put(ticket, b"abc")
    assert r.status_code == 200
    assert await local_store.stat(ticket.storage_path) is not None


@pytest.mark.parametrize(("field", "value"), [
    ("file_name", ""), ("file_name", "   "), ("file_name", "a\x00b.pdf"),
    ("file_name", "line\nbreak.pdf"), ("file_name", "x" * 256), ("file_name", None),
    ("mime_type", "pdf"), ("mime_type", "application/pdf; charset=binary"),
    ("mime_type", "foo/bar"), ("mime_type", "image/"), ("mime_type", ""),
    ("mime_type", "text/plain\r\nX-Evil: 1"), ("mime_type", 5),
    ("size_bytes", 0), ("size_bytes", -1), ("size_bytes", True), ("size_bytes", "12"),
    ("size_bytes", 1.5), ("size_bytes", None),
    ("sha256", "abc"), ("sha256", "g" * 64), ("sha256", 123),
])
async def test_bad_input_is_a_validation_error_naming_the_field(db, local_store, tenant,
                                                                field, value):
    args = {"file_name": "a.pdf", "mime_type": "application/pdf", "size_bytes": 10,
            "sha256": None, field: value}
    with pytest.raises(ValidationError) as info:
        await request_upload(db, local_store, principal_of(tenant), **args)
    assert list(info.value.details["fields"]) == [field]
    assert await db.fetchval("select count(*) from uploads where workspace_id = $1",
                             tenant.id) == 0


async def test_a_size_over_the_configured_maximum_is_refused(db, local_store, tenant):
    with pytest.raises(ValidationError) as info:
        await request_upload(db, local_store, principal_of(tenant), file_name="big.iso",
                             mime_type="application/octet-stream",
                             size_bytes=local_store.limits.max_object_bytes + 1)
    assert info.value.details["fields"] == {"size_bytes": (
        f"must be at most {local_store.limits.max_object_bytes}, the largest upload accepted")}


async def test_mime_types_are_normalised(db, local_store, tenant):
    ticket = await request_upload(db, local_store, principal_of(tenant), file_name=" a.png ",
                                  mime_type="Image/PNG", size_bytes=1)
    assert ticket.headers["Content-Type"] == "image/png"
    pending = await uploads_db.get_upload(db, tenant.id, ticket.storage_path)
    assert (pending["file_name"], pending["mime_type"]) == ("a.png", "image/png")


async def test_a_read_only_key_cannot_request_or_verify(db, local_store, tenant):
    reader = principal_of(tenant, [auth.READ_DOCUMENTS])
    with pytest.raises(InsufficientPermissions):
        await request_upload(db, local_store, reader, file_name="a.pdf",
                             mime_type="application/pdf", size_bytes=1)
    with pytest.raises(InsufficientPermissions):
        await verify_upload(db, local_store, reader,
                            storage_path=f"workspaces/{tenant.id}/uploads/x.pdf")


async def test_the_quota_counts_used_and_pending_bytes(db, local_store):
    tenant = await make_tenant(db, "Small quota", quota_bytes=1000)
    who = principal_of(tenant)
    await request_upload(db, local_store, who, file_name="a.bin",
                         mime_type="application/octet-stream", size_bytes=600)
    with pytest.raises(QuotaExceeded) as info:
        await request_upload(db, local_store, who, file_name="b.bin",
                             mime_type="application/octet-stream", size_bytes=401)
    assert info.value.status == 413
    assert info.value.code == "quota_exceeded"
    assert info.value.details == {"quota_bytes": 1000, "used_bytes": 0, "pending_bytes": 600,
                                  "size_bytes": 401}
    assert "400 bytes are available" in info.value.message
    await request_upload(db, local_store, who, file_name="c.bin",
                         mime_type="application/octet-stream", size_bytes=400)
    await db.execute("update workspaces set used_bytes = 1 where id = $1", tenant.id)
    with pytest.raises(QuotaExceeded):
        await request_upload(db, local_store, who, file_name="d.bin",
                             mime_type="application/octet-stream", size_bytes=1)


async def test_concurrent_requests_cannot_overshoot_the_quota(db, local_store):
    tenant = await make_tenant(db, "Race", quota_bytes=1000)
    who = principal_of(tenant)
    results = await asyncio.gather(*(
        request_upload(db, local_store, who, file_name=f"{i}.bin",
                       mime_type="application/octet-stream", size_bytes=300)
        for i in range(5)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 3
    assert all(isinstance(r, QuotaExceeded) for r in results if isinstance(r, Exception))


# -- verification -------------------------------------------------------------------

async def requested(db, store, tenant, data: bytes, sha256: str | None = None):
    return await request_upload(db, store, principal_of(tenant), file_name="file.txt",
                                mime_type="text/plain", size_bytes=len(data), sha256=sha256)


async def test_verify_without_an_upload(db, store, tenant):
    who = principal_of(tenant)
    ticket = await requested(db, store, tenant, b"hello")
    with pytest.raises(ValidationError, match="nothing has been uploaded") as info:
        await verify_upload(db, store, who, storage_path=ticket.storage_path)
    assert list(info.value.details["fields"]) == ["storage_path"]
    never = f"workspaces/{tenant.id}/uploads/{uuid.uuid4().hex}.txt"
    with pytest.raises(ValidationError, match="no upload is pending"):
        await verify_upload(db, store, who, storage_path=never)


async def test_verify_with_a_wrong_size(db, store, tenant):
    ticket = await requested(db, store, tenant, b"hello")
    assert (await put(ticket, b"hello")).status_code == 200
    with pytest.raises(ValidationError, match="size_bytes is 6") as info:
        await verify_upload(db, store, principal_of(tenant), storage_path=ticket.storage_path,
                            size_bytes=6)
    assert info.value.details == {"fields": {"size_bytes": info.value.message}, "actual": 5}


async def test_verify_with_a_wrong_sha256(db, store, tenant):
    who = principal_of(tenant)
    ticket = await requested(db, store, tenant, b"hello")
    assert (await put(ticket, b"hello")).status_code == 200
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(ValidationError, match="SHA-256") as info:
        await verify_upload(db, store, who, storage_path=ticket.storage_path, sha256=wrong)
    assert info.value.details["actual"] == hashlib.sha256(b"hello").hexdigest()
    right = await verify_upload(db, store, who, storage_path=ticket.storage_path,
                                sha256=hashlib.sha256(b"hello").hexdigest().upper())
    assert right.checksum_sha256 == hashlib.sha256(b"hello").digest()
    # Without a declared checksum nothing is computed.
    plain = await verify_upload(db, store, who, storage_path=ticket.storage_path)
    assert plain.checksum_sha256 is None


async def test_bytes_that_differ_from_the_sha256_declared_with_the_request(db, store, tenant):
    who = principal_of(tenant)
    ticket = await requested(db, store, tenant, b"hello",
                             sha256=hashlib.sha256(b"HELLO").hexdigest())
    assert (await put(ticket, b"hello")).status_code == 200
    with pytest.raises(ValidationError, match="SHA-256"):
        await verify_upload(db, store, who, storage_path=ticket.storage_path)
    with pytest.raises(ValidationError, match="differs from the one declared"):
        await verify_upload(db, store, who, storage_path=ticket.storage_path,
                            sha256=hashlib.sha256(b"hello").hexdigest())


async def test_verify_another_workspaces_path(db, store, tenant, other_tenant):
    """Another workspace's upload is answered exactly like a path where nothing was ever
    requested, in any workspace: nothing about other workspaces leaks."""
    theirs = await requested(db, store, other_tenant, b"secret")
    assert (await put(theirs, b"secret")).status_code == 200
    answers = []
    for path in (theirs.storage_path,
                 f"workspaces/{other_tenant.id}/uploads/{uuid.uuid4().hex}.txt",
                 f"workspaces/{tenant.id}/uploads/{uuid.uuid4().hex}.txt",
                 "uploads/anywhere.txt"):
        with pytest.raises(ValidationError) as info:
            await verify_upload(db, store, principal_of(tenant), storage_path=path,
                                size_bytes=6, mime_type="text/plain")
        answers.append((info.value.message, info.value.details))
    assert answers[0][1] == {"fields": {"storage_path": answers[0][0]}}
    assert "no upload is pending" in answers[0][0]
    assert answers == [answers[0]] * 4


async def test_verify_a_malformed_size(db, local_store, tenant):
    for size in ("5", -1, True, 2.0):
        with pytest.raises(ValidationError) as info:
            await verify_upload(db, local_store, principal_of(tenant),
                                storage_path=f"workspaces/{tenant.id}/uploads/x.txt",
                                size_bytes=size)
        assert list(info.value.details["fields"]) == ["size_bytes"]


@pytest.mark.parametrize("path", ["../x", "/workspaces/x", "workspaces//x", "a\\b", "", 42])
async def test_verify_a_malformed_path(db, local_store, tenant, path):
    with pytest.raises(ValidationError) as info:
        await verify_upload(db, local_store, principal_of(tenant), storage_path=path)
    assert list(info.value.details["fields"]) == ["storage_path"]


async def test_verify_a_mime_type_other_than_declared(db, local_store, tenant):
    ticket = await requested(db, local_store, tenant, b"hello")
    assert (await put(ticket, b"hello")).status_code == 200
    with pytest.raises(ValidationError, match="differs") as info:
        await verify_upload(db, local_store, principal_of(tenant),
                            storage_path=ticket.storage_path, mime_type="text/html")
    assert list(info.value.details["fields"]) == ["mime_type"]


async def test_verify_a_path_a_live_document_records(db, store, tenant):
    who = principal_of(tenant)
    ticket = await requested(db, store, tenant, b"hello")
    assert (await put(ticket, b"hello")).status_code == 200
    assert await record(db, tenant, ticket.storage_path, 5) is not None
    with pytest.raises(StorageConflict) as info:
        await verify_upload(db, store, who, storage_path=ticket.storage_path)
    assert info.value.details == {"storage_path": ticket.storage_path}


async def test_verify_an_object_stored_with_another_type(db, store, tenant):
    """Bytes put at the key some other way than the signed URL (which enforces the type)."""
    ticket = await requested(db, store, tenant, b"<b>hi</b>")
    await store.write(ticket.storage_path, b"<b>hi</b>", content_type="text/html")
    with pytest.raises(ValidationError, match="stored as text/html") as info:
        await verify_upload(db, store, principal_of(tenant), storage_path=ticket.storage_path)
    assert info.value.details["declared"] == "text/plain"


async def test_no_upload_url_while_storage_is_unreachable(db, tmp_path, tenant):
    """A local store whose root cannot be created is down; once it can, it is back."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    down = LocalObjectStore(blocker / "objects", secret=TEST_SIGNING_SECRET,
                            url_prefix="http://127.0.0.1:9/storage/", limits=StoreLimits())
    with pytest.raises(Unavailable) as info:
        await request_upload(db, down, principal_of(tenant), file_name="a.pdf",
                             mime_type="application/pdf", size_bytes=10)
    assert info.value.headers["Retry-After"]
    assert await db.fetchval("select count(*) from uploads where workspace_id = $1",
                             tenant.id) == 0
    blocker.unlink()
    for _ in range(200):  # failures are remembered for a moment; poll until it is back
        try:
            await down.ensure_available()
            break
        except Unavailable:
            await asyncio.sleep(0.05)
    ticket = await request_upload(db, down, principal_of(tenant), file_name="a.pdf",
                                  mime_type="application/pdf", size_bytes=10)
    assert ticket.storage_path.startswith(f"workspaces/{tenant.id}/")


async def test_the_request_context_use_case_names_every_bad_field(db, local_store, tenant):
    """What GraphQL and the REST shim call: unknown and missing fields are named at once."""
    services = Services(db=db, store=local_store, jobs=BackgroundJobs(), settings=Settings(),
                        keys=KeyVerifier(db, 0),
                        rate_limits=RateLimiter(db, lease=1, window_seconds=60))
    ctx = RequestContext(services, principal_of(tenant), request_id="t")
    with pytest.raises(ValidationError) as info:
        await request_upload_url(ctx, {"file_name": "a.pdf", "size": 3, "sha256": None})
    assert info.value.details["fields"] == {"mime_type": "is required",
                                            "size_bytes": "is required",
                                            "size": "is not a field that can be set here"}
    ticket = await request_upload_url(ctx, {"file_name": "a.pdf", "mime_type": "text/plain",
                                            "size_bytes": 3, "sha256": None})
    assert ticket.storage_path.endswith(".pdf")
