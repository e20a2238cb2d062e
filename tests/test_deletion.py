"""Deleting a document revokes, at once, every URL signed before for its bytes and its
preview, on both storage backends, whether deleted through REST or GraphQL, rejected first
or not. The bytes wait under the workspace's ``deleted/`` prefix for the grace period; the
sweep removes them then, never sooner, and finishes a move a crash or an outage
interrupted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from docgraph.errors import Unavailable
from docgraph.resolvers.sweeper import sweep, sweep_unreferenced_objects
from docgraph.storage.base import ObjectStore
from tests.conftest import LiveServer, Tenant
from tests.gql import GraphQL
from tests.rest import RestAPI, assert_error
from tests.test_graphql_storage import DELETE, DOCUMENT, image_bytes, preview_of

DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)
REJECT = ("mutation($id: ID!) { rejectDocument(id: $id, reason: \"blurred\") "
          "{ id status } }")


@dataclasses.dataclass
class Backend:
    """A server of one storage backend, the tenant's clients on it, and its store."""

    name: str
    gql: GraphQL
    api: RestAPI
    store: ObjectStore


@pytest.fixture(params=["local", "s3"])
async def backend(request: pytest.FixtureRequest, tenant: Tenant) -> AsyncIterator[Backend]:
    live: LiveServer = request.getfixturevalue("server" if request.param == "local"
                                               else "s3_server")
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        yield Backend(request.param, GraphQL(client, tenant), RestAPI(client, tenant),
                      live.app.state.store)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An ordinary HTTP client: no base URL, no API key."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def image_document(backend: Backend) -> tuple[dict, list[tuple[str, bytes]]]:
    """An image document with its preview made, and every URL one could get for it
    (the longest lifetime), each with the bytes it serves."""
    content = image_bytes("PNG", (400, 300))
    doc = await backend.gql.create_document(content, name="scan.png", mimeType="image/png")
    document = await preview_of(backend.gql, doc["id"])
    longest = (await backend.gql(DOCUMENT, {"id": doc["id"], "expiresIn": 86400}))["document"]
    rest = (await backend.api.ok("GET", f"/v1/documents/{doc['id']}/download-url",
                                 params={"expires_in": 86400}))["data"]
    urls = [document["download"]["url"], longest["download"]["url"], rest["url"],
            document["previewImage"]["url"], longest["previewImage"]["url"]]
    return doc, [(url, content if i < 3 else b"") for i, url in enumerate(urls)]


async def assert_served(http: httpx.AsyncClient, urls: list[tuple[str, bytes]]) -> None:
    for url, content in urls:
        r = await http.get(url)
        assert r.status_code == 200, r.text
        assert r.content == content or not content


async def assert_revoked(http: httpx.AsyncClient, backend: Backend,
                         urls: list[tuple[str, bytes]]) -> None:
    """Every URL answers 404 and serves no byte (local: the documented error body)."""
    for url, content in urls:
        r = await http.get(url)
        assert not content or content not in r.content
        if backend.name == "local":
            assert_error(r, 404, "not_found")
        elif r.status_code == 403 and "response-content-disposition" in url:
            # moto checks a presigned GET's signature only when the key is missing, and
            # miscomputes it when the URL names a file (ours matches botocore's and the
            # minio SDK's: tests/test_storage.py); S3 and MinIO answer 404 NoSuchKey.
            assert b"SignatureDoesNotMatch" in r.content
            continue
        else:
            assert b"NoSuchKey" in r.content
        assert r.status_code == 404, (url, r.status_code)
        assert (await http.head(url)).status_code == 404


async def delete(backend: Backend, document_id: str, via: str) -> dict:
    if via == "rest":
        return (await backend.api.ok("DELETE", f"/v1/documents/{document_id}"))["data"]
    return (await backend.gql(DELETE, {"id": document_id}))["deleteDocument"]


async def objects_under(store: ObjectStore, prefix: str) -> list[str]:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    return [info.key async for info in store.list_older_than(prefix, later)]


def deleted_prefix(tenant: Tenant) -> str:
    return f"workspaces/{tenant.id}/deleted/"


async def backdate_deletion(db, document_id: str, age: dt.timedelta) -> None:
    await db.execute("update documents set deleted_at = now() - $2::interval where id = $1",
                     uuid.UUID(document_id), age)


@pytest.mark.parametrize("via", ["rest", "graphql"])
async def test_deletion_revokes_earlier_download_and_preview_urls_at_once(backend, via, http,
                                                                          db, tenant):
    doc, urls = await image_document(backend)
    await assert_served(http, urls)

    await delete(backend, doc["id"], via)

    await assert_revoked(http, backend, urls)
    # The bytes themselves are kept for the grace period, out of the URLs' reach.
    assert len(await objects_under(backend.store, deleted_prefix(tenant))) == 2
    assert await backend.store.stat(doc["storagePath"]) is None


async def test_a_rejected_then_deleted_documents_urls_are_revoked(backend, http, tenant):
    content = b"%PDF-1.4 a rejected document"
    doc = await backend.gql.create_document(content)
    url = (await backend.gql(DOCUMENT, {"id": doc["id"], "expiresIn": 86400}))[
        "document"]["download"]["url"]
    rest_url = (await backend.api.ok("GET", f"/v1/documents/{doc['id']}/download-url"))[
        "data"]["url"]
    assert (await backend.gql(REJECT, {"id": doc["id"]}))["rejectDocument"]["status"] == \
        "REJECTED"
    await assert_served(http, [(url, content), (rest_url, content)])

    await delete(backend, doc["id"], "rest")

    await assert_revoked(http, backend, [(url, content), (rest_url, content)])
    assert await backend.store.stat(doc["storagePath"]) is None
    assert len(await objects_under(backend.store, deleted_prefix(tenant))) == 1


async def test_the_sweep_removes_the_moved_bytes_after_the_grace_period_and_not_before(
        backend, http, db, tenant):
    doc, urls = await image_document(backend)
    await delete(backend, doc["id"], "graphql")
    moved = await objects_under(backend.store, deleted_prefix(tenant))
    assert len(moved) == 2

    # Within the grace period neither sweep touches them, even the deep one with a
    # cutoff that makes every object a candidate.
    await sweep(db, backend.store, orphan_after=DAY, delete_grace=WEEK, deep=True)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    await sweep_unreferenced_objects(db, backend.store, later,
                                     prefix=f"workspaces/{tenant.id}/")
    assert await objects_under(backend.store, deleted_prefix(tenant)) == moved

    await backdate_deletion(db, doc["id"], 8 * DAY)
    report = await sweep(db, backend.store, orphan_after=DAY, delete_grace=WEEK)

    assert report.purged_documents >= 1
    assert await objects_under(backend.store, deleted_prefix(tenant)) == []
    assert await db.fetchval("select count(*) from documents where id = $1",
                             uuid.UUID(doc["id"])) == 0
    await assert_revoked(http, backend, urls)


async def test_the_deep_sweep_removes_deleted_objects_no_document_waits_for(store, db,
                                                                           tenant):
    stray = f"{deleted_prefix(tenant)}{uuid.uuid4().hex}"
    await store.write(stray, b"left behind", content_type="application/pdf")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert await sweep_unreferenced_objects(db, store, later,
                                            prefix=deleted_prefix(tenant)) == 1
    assert await store.stat(stray) is None


async def test_the_sweep_finishes_a_move_that_was_interrupted(backend, http, db, tenant):
    content = b"%PDF-1.4 interrupted"
    doc = await backend.gql.create_document(content)
    url = (await backend.gql(DOCUMENT, {"id": doc["id"]}))["document"]["download"]["url"]
    # A crash right after the deletion was recorded: the bytes were never moved.
    await db.execute("update documents set deleted_at = now() - interval '5 minutes' "
                     "where id = $1", uuid.UUID(doc["id"]))
    assert (await http.get(url)).status_code == 200

    await sweep(db, backend.store, orphan_after=DAY, delete_grace=WEEK)

    await assert_revoked(http, backend, [(url, content)])
    assert await backend.store.stat(doc["storagePath"]) is None
    moved = await objects_under(backend.store, deleted_prefix(tenant))
    assert len(moved) == 1
    assert b"".join([c async for c in backend.store.read(moved[0])]) == content
    assert await db.fetchval("select count(*) from documents where id = $1",
                             uuid.UUID(doc["id"])) == 1  # still in its grace period


async def test_a_move_that_fails_answers_503_and_a_retry_finishes_it(server, api, gql, http,
                                                                    monkeypatch):
    store = server.app.state.store
    content = b"%PDF-1.4 storage fails"
    doc = await gql.create_document(content)
    url = (await gql(DOCUMENT, {"id": doc["id"]}))["document"]["download"]["url"]

    async def unavailable(*args, **kwargs):
        raise Unavailable("object storage is unreachable; retry shortly")

    with monkeypatch.context() as patch:
        patch.setattr(store, "move", unavailable)
        r = await api.delete(f"/v1/documents/{doc['id']}")
        assert_error(r, 503, "unavailable")
        assert int(r.headers["retry-after"]) >= 1
        assert_error(await api.get(f"/v1/documents/{doc['id']}"), 404, "not_found")
        error = await gql.error(DELETE, {"id": doc["id"]}, code="unavailable")
        assert error["extensions"]["retryAfter"] >= 1

    deleted = (await api.ok("DELETE", f"/v1/documents/{doc['id']}"))["data"]
    assert deleted["id"] == doc["id"]
    assert_error(await http.get(url), 404, "not_found")
    # Once finished, the document is simply gone.
    assert_error(await api.delete(f"/v1/documents/{doc['id']}"), 404, "not_found")
