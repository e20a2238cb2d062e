"""Virus scanning against a real ClamAV clamd (tests/clamd.py: our own signatures).

A new document is PENDING until its background scan, then CLEAN (downloadable)
or INFECTED (never served: its bytes leave their key at once, and are removed
after the delete grace period); a scanner that stays away makes it FAILED after
the retries, and it is scanned once the scanner is back. Without a scanner,
documents are NOT_SCANNED and downloadable, unless scanning is mandatory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from docgraph.db.database import Database
from docgraph.resolvers.sweeper import sweep
from docgraph.storage.keys import deleted_key

from .clamd import EICAR, EICAR_SIGNATURE, MARKER, MARKER_SIGNATURE, STREAM_MAX_BYTES, Clamd
from .clamd import available as clamd_available
from .conftest import make_tenant
from .gql import GraphQL
from .instances import fresh_database, serving
from .rest import RestAPI, assert_error
from .test_file_types import pdf_bytes

pytestmark = pytest.mark.skipif(not clamd_available(), reason="clamd is not installed")

DOCUMENT = """
query($id: ID!) {
  document(id: $id) {
    id mimeType detectedMimeType scanStatus scanSignature scannedAt pageCount
    download { url }
    previewImage { url }
  }
}"""
STATUS = "query($id: ID!) { document(id: $id) { scanStatus } }"


@pytest.fixture
async def scan_client(scanning_server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=scanning_server.url, timeout=30) as c:
        yield c


@pytest.fixture
def sgql(scan_client, tenant) -> GraphQL:
    """GraphQL against the app whose scanner is the session's clamd."""
    return GraphQL(scan_client, tenant)


@pytest.fixture
def sapi(scan_client, tenant) -> RestAPI:
    return RestAPI(scan_client, tenant)


async def wait_for_status(gql: GraphQL, document_id: str, *wanted: str,
                          tries: int = 600) -> str:
    """Poll until the document's scan status is one of ``wanted`` (bounded)."""
    status = None
    for _ in range(tries):
        status = (await gql(STATUS, {"id": document_id}))["document"]["scanStatus"]
        if status in wanted:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"scan status stayed {status}, never {wanted}")


async def document(gql: GraphQL, document_id: str) -> dict[str, Any]:
    body = await gql.result(DOCUMENT, {"id": document_id})
    return {"data": body["data"]["document"], "errors": body.get("errors", [])}


def codes(errors: list[dict[str, Any]]) -> dict[str, str]:
    return {".".join(map(str, e["path"])): e["extensions"]["code"] for e in errors}


async def test_the_eicar_file_is_infected_and_never_downloadable(sgql, sapi, db, tenant,
                                                                 scanning_server):
    doc = await sgql.create_document(EICAR, name="eicar.txt", mimeType="text/plain")
    # Before the scan finished (or while it runs): pending, refused. The refusal can
    # only be seen before the job ends; either answer is a refusal.
    refused = await sapi.get(f"/v1/documents/{doc['id']}/download-url")
    body = assert_error(refused, 409, "document_not_clean")
    assert body["details"]["scan_status"] in ("pending", "infected")
    if body["details"]["scan_status"] == "pending":
        assert int(refused.headers["retry-after"]) >= 1

    assert await wait_for_status(sgql, doc["id"], "INFECTED") == "INFECTED"
    found = await document(sgql, doc["id"])
    assert found["data"]["scanSignature"] == EICAR_SIGNATURE
    assert found["data"]["scannedAt"]
    assert found["data"]["download"] is None and found["data"]["previewImage"] is None
    assert codes(found["errors"]) == {"document.download": "document_not_clean",
                                      "document.previewImage": "document_not_clean"}
    details = found["errors"][0]["extensions"]["details"]
    assert details == {"scanStatus": "infected", "scanSignature": EICAR_SIGNATURE}
    body = assert_error(await sapi.get(f"/v1/documents/{doc['id']}/download-url"), 409,
                        "document_not_clean")
    assert body["details"] == {"scan_status": "infected",
                                        "scan_signature": EICAR_SIGNATURE}
    facts = (await sapi.ok("GET", f"/v1/documents/{doc['id']}/file"))["data"]
    assert (facts["scan_status"], facts["scan_signature"], facts["downloadable"]) == \
        ("infected", EICAR_SIGNATURE, False)

    # Its bytes left the key any URL could name, at once; they wait under the deleted
    # prefix for the grace period, then go (the row stays, showing what was found).
    store = scanning_server.app.state.store
    assert await store.stat(doc["storagePath"]) is None
    quarantined = deleted_key(tenant.id, uuid.UUID(doc["id"]))
    assert (await store.stat(quarantined)).size == len(EICAR)
    report = await sweep(db, store, orphan_after=dt.timedelta(days=1),
                         delete_grace=dt.timedelta(seconds=0))
    assert report.purged_infected >= 1
    assert await store.stat(quarantined) is None
    assert (await document(sgql, doc["id"]))["data"]["scanStatus"] == "INFECTED"
    # The result is an event, by the system, with the document as it was found.
    events = await db.fetch("select type, actor, data from events where document_id = $1"
                            " order by txid, seq", uuid.UUID(doc["id"]))
    assert [(e["type"], e["actor"]) for e in events][-1] == ("document.scanned", "system")
    scanned = events[-1]["data"]["document"]
    assert (scanned["scanStatus"], scanned["scanSignature"]) == ("INFECTED", EICAR_SIGNATURE)
    assert [e["type"] for e in events].count("document.scanned") == 1


async def test_a_clean_scan_and_the_pdf_facts_are_events(sgql, db):
    doc = await sgql.create_document(pdf_bytes(pages=3), name="facts.pdf")
    await wait_for_status(sgql, doc["id"], "CLEAN")
    events: list[Any] = []
    for _ in range(400):  # the preview job runs after the scan
        events = await db.fetch("select type, actor, data from events where document_id = $1"
                                " order by txid, seq", uuid.UUID(doc["id"]))
        if len(events) == 3:
            break
        await asyncio.sleep(0.05)
    assert [(e["type"], e["actor"]) for e in events][1:] == [
        ("document.scanned", "system"), ("document.updated", "system")]
    assert events[1]["data"]["document"]["scanStatus"] == "CLEAN"
    assert events[2]["data"]["document"]["pageCount"] == 3


async def test_a_file_with_the_custom_signature_is_infected(sgql):
    content = pdf_bytes()[:-6] + b"\n% " + MARKER + b"\n%%EOF\n"
    doc = await sgql.create_document(content, name="invoice.pdf")
    await wait_for_status(sgql, doc["id"], "INFECTED")
    assert (await document(sgql, doc["id"]))["data"]["scanSignature"] == MARKER_SIGNATURE


async def test_a_clean_file_becomes_clean_and_downloadable(sgql, sapi, scan_client):
    content = pdf_bytes(pages=2)
    doc = await sgql.create_document(content, name="clean.pdf")
    assert doc["id"]
    await wait_for_status(sgql, doc["id"], "CLEAN")
    found = (await document(sgql, doc["id"]))
    assert found["errors"] == [] or codes(found["errors"]) == {}
    r = await scan_client.get(found["data"]["download"]["url"])
    assert r.status_code == 200 and r.content == content
    # Downloads keep their protections.
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in r.headers["content-security-policy"]
    signed = await sapi.ok("GET", f"/v1/documents/{doc['id']}/download-url")
    assert signed["data"]["url"]
    # The preview job ran after the scan: a clean PDF's page count and preview.
    for _ in range(400):
        found = await document(sgql, doc["id"])
        if found["data"]["pageCount"] is not None and found["data"]["previewImage"]:
            break
        await asyncio.sleep(0.05)
    assert found["data"]["pageCount"] == 2
    assert found["data"]["previewImage"]["url"]


async def test_a_file_clamd_refuses_fails_for_good(sgql, sapi, db):
    """Over clamd's StreamMaxLength it answers an error, not a verdict: FAILED, not
    retried, never served."""
    content = b"%PDF-1.4\n" + b"0" * (STREAM_MAX_BYTES + 1024)
    doc = await sgql.create_document(content, name="huge.pdf")
    assert await wait_for_status(sgql, doc["id"], "FAILED") == "FAILED"
    assert await db.fetchval("select scan_failure from documents where id = $1",
                             uuid.UUID(doc["id"])) == "refused"
    body = assert_error(await sapi.get(f"/v1/documents/{doc['id']}/download-url"), 409,
                        "document_not_clean")
    assert body["details"] == {"scan_status": "failed"}


def test_clamd_replies_are_parsed():
    from docgraph.scanning.base import ScanRefused
    from docgraph.scanning.clamav import parse_address, parse_reply

    assert parse_reply("stream: OK").clean
    assert parse_reply("stream: Eicar-Test-Signature FOUND").signature == \
        "Eicar-Test-Signature"
    with pytest.raises(ScanRefused, match="size limit"):
        parse_reply("INSTREAM size limit exceeded. ERROR")
    with pytest.raises(ScanRefused):
        parse_reply("what?")
    assert parse_address("/run/clamav/clamd.ctl") == "/run/clamav/clamd.ctl"
    assert parse_address("127.0.0.1:3310") == ("127.0.0.1", 3310)
    with pytest.raises(ValueError):
        parse_address("clamd")


async def test_scan_status_filters_lists_and_attachments_hide_unservable_documents(
        sgql, sapi, tenant):
    contact_id = await sgql.create_entity("CONTACT", name="Eve")
    clean = await sgql.create_document(pdf_bytes(), name="ok.pdf")
    infected = await sgql.create_document(EICAR, name="eicar.txt", mimeType="text/plain")
    for doc in (clean, infected):
        await sgql.link(doc["id"], "CONTACT", contact_id)
    await wait_for_status(sgql, clean["id"], "CLEAN")
    await wait_for_status(sgql, infected["id"], "INFECTED")
    listed = await sgql("""query($status: ScanStatus) {
        documents(filter: {scanStatus: $status}) { totalCount nodes { id } } }""",
                        {"status": "INFECTED"})
    assert [n["id"] for n in listed["documents"]["nodes"]] == [infected["id"]], (
        await sgql("{ documents { nodes { id name scanStatus } } }"), clean, infected)
    assert listed["documents"]["totalCount"] == 1
    page = await sgql("""query($id: ID!) { contact(id: $id) {
        clean: documents(scanStatus: CLEAN) { totalCount nodes { id scanStatus } }
        all: documents { totalCount } } }""", {"id": contact_id})
    assert page["contact"]["clean"]["nodes"] == [{"id": clean["id"], "scanStatus": "CLEAN"}]
    assert page["contact"]["all"]["totalCount"] == 2
    # Seed 003's attachments each carry a URL: the infected one is not listed.
    attachments = await sapi.ok("GET", f"/contacts/v4/attachments/{contact_id}")
    assert [a["id"] for a in attachments["attachments"]] == [clean["id"]]
    assert attachments["metadata"]["total"] == 1
    # A filter value outside the enum is a validation error, not a 500.
    error = await sgql.error('{ documents(filter: {scanStatus: DIRTY}) { totalCount } }',
                             code="validation_error")
    assert "DIRTY" in error["message"]


async def test_another_workspaces_document_file_is_not_found(sapi, other_tenant, scan_client):
    doc = await sapi.create_document(pdf_bytes(), name="mine.pdf")
    other = RestAPI(scan_client, other_tenant)
    assert_error(await other.get(f"/v1/documents/{doc['id']}/file"), 404, "not_found")
    assert_error(await other.get(f"/v1/documents/{doc['id']}/download-url"), 404,
                 "not_found")
    assert_error(await sapi.get("/v1/documents/not-a-uuid/file"), 400, "validation_error")


async def test_readyz_tells_about_the_scanner(scan_client, client, clamd):
    ready = (await scan_client.get("/readyz")).json()
    assert ready["status"] == "ready"
    scanner = ready["scanner"]
    assert (scanner["configured"], scanner["state"], scanner["engine"]) == \
        (True, "ready", "clamav")
    assert scanner["version"].startswith("ClamAV ")
    assert scanner["address"] == clamd.address
    default = (await client.get("/readyz")).json()
    assert default["scanner"] == {"required": False, "configured": False,
                                  "state": "not_configured", "new_documents": "not_scanned"}


@pytest.fixture
async def own_database(cluster) -> AsyncIterator[tuple[str, Any]]:
    """A database of this test's own: no other instance's scan loop takes its queue
    (instances on one database share it, as they should)."""
    url = await fresh_database(cluster, "scans")
    database = await Database.connect(url, min_size=1, max_size=2)
    try:
        yield url, await make_tenant(database)
    finally:
        await database.close()


async def test_with_clamd_stopped_scans_retry_fail_and_resume_when_it_is_back(
        tmp_root, own_database):
    database_url, tenant = own_database
    daemon = Clamd(tmp_root / f"clamd-{uuid.uuid4().hex[:8]}")  # not started: "stopped"
    with serving(tmp_root, database_url, clamd_address=daemon.address, scan_attempts=3,
                 scan_retry_seconds=0.05, scan_poll_seconds=0.1,
                 scan_timeout_seconds=2.0) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as c:
            gql = GraphQL(c, tenant)
            doc = await gql.create_document(pdf_bytes(), name="waiting.pdf")
            assert await wait_for_status(gql, doc["id"], "FAILED") == "FAILED"
            found = await document(gql, doc["id"])
            assert codes(found["errors"])["document.download"] == "document_not_clean"
            assert found["errors"][0]["extensions"]["details"] == {"scanStatus": "failed"}
            ready = (await c.get("/readyz")).json()
            assert ready["status"] == "ready"  # serving goes on without the scanner
            assert ready["scanner"]["state"] == "unreachable"
            assert ready["scanner"]["waiting_for_scanner"] >= 1
            daemon.start()
            try:
                assert await wait_for_status(gql, doc["id"], "CLEAN") == "CLEAN"
                found = await document(gql, doc["id"])
                assert found["data"]["download"]["url"]
            finally:
                daemon.stop()


async def test_without_a_scanner_documents_are_not_scanned_and_downloadable(gql, api):
    doc = await gql.create_document(EICAR, name="eicar.txt", mimeType="text/plain")
    found = await document(gql, doc["id"])
    assert found["data"]["scanStatus"] == "NOT_SCANNED"
    assert found["data"]["download"]["url"]
    facts = (await api.ok("GET", f"/v1/documents/{doc['id']}/file"))["data"]
    assert (facts["scan_status"], facts["downloadable"]) == ("not_scanned", True)


async def test_mandatory_scanning_refuses_not_scanned_documents(tmp_root, database_url, gql,
                                                                tenant, clamd):
    # Recorded by an instance without a scanner: NOT_SCANNED.
    doc = await gql.create_document(pdf_bytes(), name="old.pdf")
    with serving(tmp_root, database_url, clamd_address=clamd.address,
                 scan_required=True, scan_poll_seconds=0.2) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as c:
            strict = GraphQL(c, tenant)
            found = await document(strict, doc["id"])
            assert found["data"]["scanStatus"] == "NOT_SCANNED"
            assert codes(found["errors"]) == {"document.download": "document_not_clean",
                                              "document.previewImage": "document_not_clean"}
            body = assert_error(await RestAPI(c, tenant).get(
                f"/v1/documents/{doc['id']}/download-url"), 409, "document_not_clean")
            assert body["details"] == {"scan_status": "not_scanned"}
            assert (await c.get("/readyz")).json()["scanner"]["required"] is True
    # Where scanning is optional, the same document downloads.
    assert (await document(gql, doc["id"]))["data"]["download"]["url"]


async def test_mandatory_scanning_without_a_scanner_keeps_new_documents_pending(
        tmp_root, own_database):
    database_url, tenant = own_database
    with serving(tmp_root, database_url, scan_required=True) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as c:
            strict = GraphQL(c, tenant)
            doc = await strict.create_document(pdf_bytes(), name="new.pdf")
            found = await document(strict, doc["id"])
            assert found["data"]["scanStatus"] == "PENDING"
            assert codes(found["errors"])["document.download"] == "document_not_clean"
            ready = (await c.get("/readyz")).json()["scanner"]
            assert (ready["configured"], ready["new_documents"]) == (False, "pending")
