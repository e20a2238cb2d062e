"""The text extraction job's edges: its time limit, lost jobs retried then given up, a
document deleted meanwhile, the workspace's text search configuration, and the
query's parts."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid

import httpx
import pytest

from docgraph.errors import NotFound, ValidationError
from docgraph.jobs.runner import BackgroundJobs
from docgraph.resolvers.search import split_query
from docgraph.resolvers.text_extraction import Limits, extract_docx, extract_plain
from docgraph.resolvers.texts import (
    TEXT_LANE,
    TEXT_MAX_ATTEMPTS,
    TEXT_RETRY_AFTER,
    extract_document_text,
    retry_lost_texts,
    run_extractor,
)
from docgraph.resolvers.workspaces import set_text_search_config
from tests.conftest import make_settings
from tests.textfiles import docx_with_text, pdf_with_text

INSERT_DOCUMENT = """
insert into documents (workspace_id, id, name, mime_type, size_bytes, storage_path, created_at)
values ($1, $2, $3, $4, $5, $6, $7)
"""
SELECT_TEXT = """
select d.text_status, d.text_length, d.text_status_reason, d.text_attempts, t.content
from documents d left join document_texts t on t.workspace_id = d.workspace_id
                                           and t.document_id = d.id
where d.workspace_id = $1 and d.id = $2
"""
MATCHES = """
select count(*) from documents
where workspace_id = $1 and search_vector @@ websearch_to_tsquery(
    (select text_search_config from workspaces where id = $1)::regconfig, $2)
"""


async def stored(db, store, tenant, data: bytes, mime_type: str = "application/pdf", *,
                 age: dt.timedelta = dt.timedelta(0)) -> uuid.UUID:
    document_id = uuid.uuid4()
    key = f"workspaces/{tenant.id}/uploads/{uuid.uuid4().hex}"
    await store.write(key, data, content_type=mime_type)
    await db.execute(INSERT_DOCUMENT, tenant.id, document_id, "stored.pdf", mime_type,
                     len(data), key, dt.datetime.now(dt.UTC) - age)
    return document_id


async def test_the_extractor_is_stopped_at_the_time_limit(tmp_path):
    file = tmp_path / "doc.pdf"
    file.write_bytes(pdf_with_text("Too slow to read."))
    arguments = {"mime_type": "application/pdf", "max_pages": 5, "max_chars": 1000,
                 "ocr_languages": ["eng"], "seconds": 1}
    result = await run_extractor(arguments, str(file), 0.01)
    assert result["status"] == "failed"
    assert "took longer than 0.01 s" in result["reason"]
    assert (await run_extractor(arguments, str(file), 30))["text"] == "Too slow to read."


async def test_lost_jobs_are_retried_then_given_up(db, local_store, tenant, tmp_root):
    settings = make_settings(tmp_root, text_jobs=1)
    lost = await stored(db, local_store, tenant, pdf_with_text("Lost Okapi text."),
                        age=TEXT_RETRY_AFTER * 2)
    recent = await stored(db, local_store, tenant, pdf_with_text("Recent."))
    hopeless = await stored(db, local_store, tenant, pdf_with_text("Hopeless."),
                            age=TEXT_RETRY_AFTER * 2)
    await db.execute("update documents set text_attempts = $2 where id = $1", hopeless,
                     TEXT_MAX_ATTEMPTS)
    held = await stored(db, local_store, tenant, pdf_with_text("Held."),
                        age=TEXT_RETRY_AFTER * 2)
    await db.execute("update documents set text_claimed_at = now() where id = $1", held)

    jobs = BackgroundJobs(lanes={TEXT_LANE: 1})
    try:
        started = await retry_lost_texts(db, local_store, settings, jobs, limit=1000)
        await jobs.wait()
    finally:
        await jobs.aclose()
    assert started >= 1
    done = await db.fetchrow(SELECT_TEXT, tenant.id, lost)
    assert (done["text_status"], done["content"], done["text_attempts"]) == (
        "done", "Lost Okapi text.", 1)
    gave_up = await db.fetchrow(SELECT_TEXT, tenant.id, hopeless)
    assert gave_up["text_status"] == "failed"
    assert "did not finish in 3 attempts" in gave_up["text_status_reason"]
    for untouched in (recent, held):  # too recent to be lost; claimed by a live job
        row = await db.fetchrow(SELECT_TEXT, tenant.id, untouched)
        assert (row["text_status"], row["text_attempts"]) == ("pending", 0)
    # A job that finds its document done, held or deleted does nothing.
    assert await extract_document_text(db, local_store, settings, tenant.id, lost) is None
    assert await extract_document_text(db, local_store, settings, tenant.id, held) is None


async def test_a_document_deleted_meanwhile_is_left_alone(db, local_store, tenant, tmp_root):
    settings = make_settings(tmp_root, text_jobs=1)
    document_id = await stored(db, local_store, tenant, pdf_with_text("Vanishing."))
    key = await db.fetchval("select storage_path from documents where id = $1", document_id)
    await local_store.delete(key)
    assert await extract_document_text(db, local_store, settings, tenant.id,
                                       document_id) is None
    row = await db.fetchrow(SELECT_TEXT, tenant.id, document_id)
    assert row["content"] is None


async def test_files_over_the_size_limit_are_skipped(db, local_store, tenant, tmp_root):
    settings = make_settings(tmp_root, text_jobs=1, text_max_bytes=10)
    document_id = await stored(db, local_store, tenant, pdf_with_text("Too big."))
    outcome = await extract_document_text(db, local_store, settings, tenant.id, document_id)
    assert outcome is not None and outcome.status == "skipped"
    row = await db.fetchrow(SELECT_TEXT, tenant.id, document_id)
    assert row["text_status"] == "skipped" and "DOCGRAPH_TEXT_MAX_BYTES" in \
        row["text_status_reason"]


async def test_the_characters_kept_are_bounded(db, local_store, tenant, tmp_root):
    settings = make_settings(tmp_root, text_jobs=1, text_max_chars=12)
    document_id = await stored(db, local_store, tenant, b"Twelve chars and then some more",
                               "text/plain")
    await extract_document_text(db, local_store, settings, tenant.id, document_id)
    row = await db.fetchrow(SELECT_TEXT, tenant.id, document_id)
    assert (row["text_status"], row["content"], row["text_length"]) == ("done",
                                                                        "Twelve chars", 12)


def test_docx_and_plain_text_readers(tmp_path):
    limits = Limits(max_pages=5, max_chars=100, ocr_languages=("eng",), deadline=1e18)
    path = tmp_path / "a.docx"
    path.write_bytes(docx_with_text("First paragraph", "Second & last"))
    with open(path, "rb") as fp:
        assert extract_docx(fp, limits).text == "First paragraph\nSecond & last\n"
    path.write_bytes("Grüße, caf\xe9".encode("cp1252"))
    with open(path, "rb") as fp:
        assert extract_plain(fp, limits).text == "Grüße, café"
    path.write_bytes("Grüße".encode("utf-16"))
    with open(path, "rb") as fp:
        assert extract_plain(fp, limits).text == "Grüße"


async def test_the_workspace_chooses_its_text_search_configuration(db, local_store, tenant,
                                                                   tmp_root):
    settings = make_settings(tmp_root, text_jobs=1)
    document_id = await stored(db, local_store, tenant,
                               b"The contracts were signed by the parties.", "text/plain")
    await extract_document_text(db, local_store, settings, tenant.id, document_id)
    assert await db.fetchval(MATCHES, tenant.id, "sign contract") == 1  # english: stemmed
    assert await set_text_search_config(db, tenant.id, "simple") >= 1
    assert await db.fetchval(MATCHES, tenant.id, "sign contract") == 0  # simple: as written
    assert await db.fetchval(MATCHES, tenant.id, "signed contracts") == 1
    assert await db.fetchval(MATCHES, tenant.id, "stored.pdf") == 1  # the name too
    with pytest.raises(ValidationError) as refused:
        await set_text_search_config(db, tenant.id, "klingon")
    assert "english" in refused.value.details["known"]
    with pytest.raises(NotFound):
        await set_text_search_config(db, uuid.uuid4(), "simple")
    assert await set_text_search_config(db, tenant.id, "english") >= 1
    assert await db.fetchval(MATCHES, tenant.id, "sign contract") == 1


@pytest.mark.parametrize(("query", "wanted", "excluded"), [
    ("acme nda", ["acme", "nda"], None),
    ('"signed with acme" -draft', ["signed with acme"], '"draft"'),
    ('nda or contract -"old version" -x', ["nda", "contract"], '"old version" or "x"'),
    ("-draft", [], '"draft"'),
    ('"unterminated phrase', ["unterminated phrase"], None),
])
def test_queries_are_split_into_wanted_and_excluded_words(query, wanted, excluded):
    terms = split_query(query)
    assert (terms.wanted, terms.excluded) == (wanted, excluded)


async def test_with_a_scanner_text_is_read_once_the_bytes_are_clean(
        db, tmp_root, database_url, clamd, tenant):
    """The extraction waits for the virus scan: a clean file's text is read after it; an
    infected file's never is (the retry marks it SKIPPED)."""
    from tests.clamd import EICAR
    from tests.gql import GraphQL
    from tests.instances import serving
    from tests.test_search import finished

    with serving(tmp_root, database_url, clamd_address=clamd.address, scan_poll_seconds=0.2,
                 scan_retry_seconds=0.1, scan_timeout_seconds=10.0, text_jobs=1) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            gql = GraphQL(client, tenant)
            clean = await gql.create_document(pdf_with_text("Scanned Echidna minutes."),
                                              name="clean.pdf", mimeType="application/pdf")
            infected = await gql.create_document(EICAR, name="eicar.txt",
                                                 mimeType="text/plain")
            done = await finished(gql, clean["id"])
            assert done["textStatus"] == "DONE" and "Echidna" in done["text"]
            query = "query($id: ID!) { document(id: $id) { scanStatus textStatus } }"
            deadline = time.monotonic() + 60  # bounded; generous for a loaded machine
            while True:
                shown = (await gql(query, {"id": infected["id"]}))["document"]
                if shown["scanStatus"] == "INFECTED" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert shown == {"scanStatus": "INFECTED", "textStatus": "PENDING"}
            # Lost texts are retried oldest first, a batch at a time, and the shared test
            # database holds every other test's pending texts: made the oldest, this one
            # is in the first batch however many there are.
            await db.execute("update documents set created_at = created_at - interval '50 years' "
                             "where workspace_id = $1 and id = $2", tenant.id,
                             uuid.UUID(infected["id"]))
            jobs = BackgroundJobs(lanes={TEXT_LANE: 1})
            try:
                await retry_lost_texts(db, live.app.state.store, make_settings(
                    tmp_root, text_jobs=1), jobs, now=dt.datetime.now(dt.UTC)
                    + TEXT_RETRY_AFTER * 2, limit=1000)
                await jobs.wait()
            finally:
                await jobs.aclose()
            row = await db.fetchrow(SELECT_TEXT, tenant.id, uuid.UUID(infected["id"]))
            assert (row["text_status"], row["content"]) == ("skipped", None)
            assert "infected" in row["text_status_reason"]
