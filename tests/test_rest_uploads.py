"""REST uploads (seed 002's signed-upload step) and download URLs."""

import hashlib
import uuid

import httpx
import pytest

from tests.conftest import make_tenant
from tests.rest import TIMESTAMP, RestAPI, assert_error, bad_fields

PDF = b"%PDF-1.4\n% a REST upload\n%%EOF\n"


async def test_upload_url_answers_where_and_how_to_put(api, tenant):
    r = await api.post("/v1/documents/upload-url", json={
        "file_name": "Acme NDA.pdf", "mime_type": "application/pdf", "size_bytes": len(PDF)})
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"data"}
    ticket = r.json()["data"]
    assert set(ticket) == {"upload_url", "method", "headers", "storage_path", "expires_at"}
    assert ticket["method"] == "PUT"
    assert ticket["headers"]["Content-Type"] == "application/pdf"
    assert ticket["storage_path"].startswith(f"workspaces/{tenant.id}/uploads/")
    assert ticket["storage_path"].endswith(".pdf")
    assert TIMESTAMP.match(ticket["expires_at"])
    assert ticket["upload_url"].startswith(api.client.base_url.scheme + "://")


async def test_the_whole_flow_upload_record_download(api):
    digest = hashlib.sha256(PDF).hexdigest()
    ticket = await api.upload(PDF, file_name="nda.pdf", sha256=digest)
    r = await api.post("/v1/documents", json={
        "name": "Acme NDA.pdf", "mime_type": "application/pdf",
        "storage_path": ticket["storage_path"], "size_bytes": len(PDF), "sha256": digest})
    assert r.status_code == 201, r.text
    doc = r.json()["data"]
    assert (doc["size_bytes"], doc["storage_path"]) == (len(PDF), ticket["storage_path"])
    signed = await api.ok("GET", f"/v1/documents/{doc['id']}/download-url")
    assert set(signed) == {"data"} and set(signed["data"]) == {"url", "expires_at"}
    async with httpx.AsyncClient() as anyone:  # the URL is the credential: no key
        got = await anyone.get(signed["data"]["url"])
    assert got.status_code == 200
    assert got.content == PDF
    assert got.headers["content-type"].startswith("application/pdf")
    assert "Acme NDA.pdf" in got.headers["content-disposition"]


async def test_size_bytes_may_be_left_to_the_object(api):
    ticket = await api.upload(PDF)
    doc = (await api.ok("POST", "/v1/documents", 201, json={
        "name": "a.pdf", "mime_type": "application/pdf",
        "storage_path": ticket["storage_path"]}))["data"]
    assert doc["size_bytes"] == len(PDF)


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"file_name", "mime_type", "size_bytes"}),
    ({"file_name": "", "mime_type": "application/pdf", "size_bytes": 1}, {"file_name"}),
    ({"file_name": "a\nb.pdf", "mime_type": "application/pdf", "size_bytes": 1},
     {"file_name"}),
    ({"file_name": "a.pdf", "mime_type": "pdf", "size_bytes": 1}, {"mime_type"}),
    ({"file_name": "a.pdf", "mime_type": "application/pdf", "size_bytes": 0}, {"size_bytes"}),
    ({"file_name": "a.pdf", "mime_type": "application/pdf", "size_bytes": "10"},
     {"size_bytes"}),
    ({"file_name": "a.pdf", "mime_type": "application/pdf", "size_bytes": 2**40},
     {"size_bytes"}),
    ({"file_name": "a.pdf", "mime_type": "application/pdf", "size_bytes": 1, "sha256": "ab"},
     {"sha256"}),
    ({"file_name": "a.pdf", "mime_type": "application/pdf", "size_bytes": 1,
      "storage_path": "mine/please.pdf"}, {"storage_path"}),
])
async def test_bad_upload_requests_are_400(api, body, fields):
    assert set(bad_fields(await api.post("/v1/documents/upload-url", json=body))) == fields


async def test_an_upload_over_the_quota_is_413(client, db):
    small = RestAPI(client, await make_tenant(db, "Small", quota_bytes=100))
    r = await small.post("/v1/documents/upload-url", json={
        "file_name": "big.pdf", "mime_type": "application/pdf", "size_bytes": 101})
    error = assert_error(r, 413, "quota_exceeded")
    assert error["details"]["quota_bytes"] == 100
    await small.upload(b"x" * 100)  # exactly the quota fits


async def test_upload_url_needs_write_documents(api, tenant):
    r = await api.post("/v1/documents/upload-url", key=tenant.read_key, json={
        "file_name": "a.pdf", "mime_type": "application/pdf", "size_bytes": 1})
    assert_error(r, 403, "insufficient_permissions")


@pytest.mark.parametrize(("change", "field"), [
    ({"mime_type": "text/plain"}, "mime_type"),
    ({"size_bytes": len(PDF) + 1}, "size_bytes"),
    ({"sha256": "0" * 64}, "sha256"),
])
async def test_recording_checks_what_arrived(api, change, field):
    ticket = await api.upload(PDF)
    r = await api.post("/v1/documents", json={"name": "a.pdf", "mime_type": "application/pdf",
                                              "storage_path": ticket["storage_path"],
                                              **change})
    assert set(bad_fields(r)) == {field}


async def test_nothing_uploaded_yet_is_400(api):
    ticket = (await api.ok("POST", "/v1/documents/upload-url", 201, json={
        "file_name": "a.pdf", "mime_type": "application/pdf", "size_bytes": 5}))["data"]
    r = await api.post("/v1/documents", json={"name": "a.pdf", "mime_type": "application/pdf",
                                              "storage_path": ticket["storage_path"]})
    assert "nothing has been uploaded" in bad_fields(r)["storage_path"]


@pytest.mark.parametrize("expires_in", ["0", "-5", "soon", "1.5", "999999999"])
async def test_bad_download_lifetimes_are_400(api, expires_in):
    doc = await api.create_document()
    r = await api.get(f"/v1/documents/{doc['id']}/download-url",
                      params={"expires_in": expires_in})
    assert set(bad_fields(r)) == {"expires_in"}


async def test_download_url_lifetime(api, server):
    doc = await api.create_document()
    chosen = await api.ok("GET", f"/v1/documents/{doc['id']}/download-url",
                          params={"expires_in": 60})
    default = await api.ok("GET", f"/v1/documents/{doc['id']}/download-url")
    assert chosen["data"]["expires_at"] < default["data"]["expires_at"]


async def test_download_urls_need_read_and_stay_in_the_workspace(api, other_api, tenant):
    doc = await api.create_document()
    r = await api.get(f"/v1/documents/{doc['id']}/download-url", key=tenant.write_key)
    assert_error(r, 403, "insufficient_permissions")
    assert_error(await other_api.get(f"/v1/documents/{doc['id']}/download-url"), 404,
                 "not_found")
    assert_error(await api.get(f"/v1/documents/{uuid.uuid4()}/download-url"), 404,
                 "not_found")
