"""Events: one for every change, in the change's own transaction, readable as the audit
trail (GraphQL ``events``, REST ``GET /v1/events``) and by the outbox's readers."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
import uuid
from typing import Any

import asyncpg
import pytest

from docgraph.db import documents as documents_db
from docgraph.db import entities as entities_db
from docgraph.resolvers import events as events_uc
from docgraph.resolvers.maintenance import purge_expired
from docgraph.resolvers.records import EventPosition
from docgraph.resolvers.validation import event_position
from tests.conftest import key_id
from tests.gql import CREATE_DOCUMENT, DOCUMENT_FIELDS
from tests.rest import TIMESTAMP, assert_error, bad_fields, png

LINK_FIELDS = "id documentId entityType entityId role createdAt"
# Everything an event carries of a document: the fields tests read and the file's facts.
EVENT_DOCUMENT_FIELDS = f"""{DOCUMENT_FIELDS}
    detectedMimeType scanStatus scanSignature scannedAt pageCount
    textStatus textLength textStatusReason"""
DOCUMENT = f"""query($id: ID!) {{ document(id: $id) {{ {EVENT_DOCUMENT_FIELDS}
    links {{ {LINK_FIELDS} }} }} }}"""
ENTITY = """query($id: ID!) { entity(id: $id) {
    id entityType name attributes createdAt updatedAt } }"""
EVENTS = """
query($filter: ChangeEventFilter, $first: Int, $after: String, $offset: Int) {
  events(filter: $filter, first: $first, after: $after, offset: $offset) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id type occurredAt actor data } }
  }
}
"""
EVENTS_NO_TOTAL = """
query($filter: ChangeEventFilter, $first: Int, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id type actor data }
  }
}
"""
UPDATE = "mutation($id: ID!, $input: UpdateDocumentInput!) { updateDocument(id: $id, input: $input) { id } }"  # noqa: E501
VERIFY = "mutation($id: ID!) { verifyDocument(id: $id) { id } }"
REJECT = "mutation($id: ID!, $r: String!) { rejectDocument(id: $id, reason: $r) { id } }"
EXPIRE = "mutation($id: ID!) { expireDocument(id: $id) { id } }"
DELETE = "mutation($id: ID!) { deleteDocument(id: $id) { id deletedAt } }"
UNLINK = """mutation($d: ID!, $t: EntityType!, $e: ID!) {
    unlinkDocument(documentId: $d, entityType: $t, entityId: $e) { link { id } } }"""
CREATE_CONTACT = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
UPDATE_CONTACT = """mutation($id: ID!, $input: UpdateContactInput!) {
    updateContact(id: $id, input: $input) { id } }"""
CREATE_ENTITY = "mutation($input: CreateEntityInput!) { createEntity(input: $input) { id } }"

SELECT_EVENTS = """
select seq, txid::text::bigint as txid, type, occurred_at, actor, document_id, entity_ids, data
from events where workspace_id = $1 order by txid, seq
"""


async def recorded(db, workspace_id) -> list[dict[str, Any]]:
    """The workspace's events as stored, in the order readers follow."""
    return [dict(row) for row in await db.fetch(SELECT_EVENTS, workspace_id)]


async def types_of(db, workspace_id) -> list[str]:
    return [row["type"] for row in await recorded(db, workspace_id)]


async def document_as_graphql_shows_it(gql, document_id: str) -> dict[str, Any]:
    return (await gql(DOCUMENT, {"id": document_id}))["document"]


async def all_events(gql, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every event the events query answers (newest first), walking its pages."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await gql(EVENTS_NO_TOTAL, {"filter": filter, "first": 100,
                                            "after": after}))["events"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


# -- every change makes its event ------------------------------------------------------


async def test_every_graphql_mutation_makes_exactly_its_event(db, gql, tenant):
    actor = str(await key_id(db, tenant.key))
    contact = (await gql(CREATE_CONTACT, {"input": {"name": "Ada", "attributes": {"a": 1}}}))[
        "createContact"]["id"]
    await gql(UPDATE_CONTACT, {"id": contact, "input": {"name": "Ada L."}})
    deal = (await gql(CREATE_ENTITY, {"input": {"entityType": "DEAL"}}))["createEntity"]["id"]
    doc = await gql.create_document(folder="/clients", tags=["nda"], userData={"n": 1})
    await gql(UPDATE, {"id": doc["id"], "input": {"name": "renamed.pdf", "tags": []}})
    link = (await gql.link(doc["id"], "CONTACT", contact, "signed"))["link"]
    assert (await gql.link(doc["id"], "CONTACT", contact, "signed"))["created"] is False
    await gql.link(doc["id"], "DEAL", deal)
    await gql(VERIFY, {"id": doc["id"]})
    await gql(EXPIRE, {"id": doc["id"]})
    other = await gql.create_document()
    await gql(REJECT, {"id": other["id"], "r": "blurry"})
    await gql(UNLINK, {"d": doc["id"], "t": "DEAL", "e": deal})
    before_delete = await document_as_graphql_shows_it(gql, doc["id"])
    deleted = (await gql(DELETE, {"id": doc["id"]}))["deleteDocument"]

    rows = await recorded(db, tenant.id)
    assert [r["type"] for r in rows] == [
        "entity.created", "entity.updated", "entity.created", "document.created",
        "document.updated", "document.linked", "document.linked", "document.verified",
        "document.expired", "document.created", "document.rejected", "document.unlinked",
        "document.deleted"]
    assert {r["actor"] for r in rows} == {actor}
    # Each event names what it is about.
    doc_id, contact_id, deal_id = uuid.UUID(doc["id"]), uuid.UUID(contact), uuid.UUID(deal)
    assert [(r["document_id"], r["entity_ids"]) for r in rows] == [
        (None, [contact_id]), (None, [contact_id]), (None, [deal_id]), (doc_id, []),
        (doc_id, []), (doc_id, [contact_id]), (doc_id, [deal_id]),
        (doc_id, [contact_id, deal_id]), (doc_id, [contact_id, deal_id]),
        (uuid.UUID(other["id"]), []), (uuid.UUID(other["id"]), []), (doc_id, [deal_id]),
        (doc_id, [contact_id])]
    # The link's event shows the link as linkDocument answered it.
    assert rows[5]["data"] == {"link": link}
    # The deletion's: the document as it was, the links it lost, and when.
    assert rows[-1]["data"] == {"document": {**before_delete, "updatedAt": deleted["deletedAt"],
                                             "deletedAt": deleted["deletedAt"]}}
    # The same events through the events query, newest first, with their ids.
    listed = await all_events(gql)
    assert [e["type"] for e in listed] == [r["type"] for r in reversed(rows)]
    assert [e["id"] for e in listed] == [EventPosition(r["txid"], r["seq"]).token
                                         for r in reversed(rows)]
    assert [e["data"] for e in listed] == [r["data"] for r in reversed(rows)]
    assert {e["actor"] for e in listed} == {actor}


async def test_the_payload_is_the_object_as_graphql_shows_it(db, gql, tenant):
    contact = await gql.create_entity("CONTACT", name="Ada", attributes={"tier": "gold"})
    doc = await gql.create_document(description="NDA", folder="/x/y", tags=["a", "b"],
                                    type="CONTRACT", userData={"k": [1, 2.5, None, "s"]})
    await gql.link(doc["id"], "CONTACT", contact, "signed")
    await gql(REJECT, {"id": doc["id"], "r": "expired ID"})

    rows = await recorded(db, tenant.id)
    assert rows[0]["data"] == {"entity": (await gql(ENTITY, {"id": contact}))["entity"]}
    shown = await document_as_graphql_shows_it(gql, doc["id"])
    assert rows[-1]["type"] == "document.rejected"
    assert rows[-1]["data"] == {"document": shown}
    assert shown["status"] == "REJECTED" and shown["rejectionReason"] == "expired ID"
    assert shown["type"] == "CONTRACT" and shown["links"][0]["role"] == "signed"
    # Created before the link: no links, the rest as recorded.
    created = rows[1]["data"]["document"]
    assert created["links"] == [] and created["status"] == "PENDING"
    assert {k: v for k, v in created.items() if k not in ("links", "status", "rejectionReason",
                                                          "updatedAt")} == \
        {k: v for k, v in shown.items() if k not in ("links", "status", "rejectionReason",
                                                     "updatedAt")}
    # Never a signed URL, never a secret.
    text = str([r["data"] for r in rows])
    assert "http" not in text and "wbk_" not in text


async def test_every_rest_change_makes_exactly_its_event(db, api, tenant):
    actor = str(await key_id(db, tenant.key))
    contact = await api.create_contact("Ada")
    await api.ok("PATCH", f"/v1/contacts/{contact['id']}", 200, json={"name": "Ada L."})
    business = await api.create_business("Acme")
    await api.ok("PATCH", f"/v1/businesses/{business['id']}", 200, json={"attributes": {}})
    await api.create_entity("matter", name="Case 7")
    doc = await api.create_document()
    await api.ok("PATCH", f"/v1/documents/{doc['id']}", 200, json={"folder": "/r"})
    await api.link(doc["id"], "company", business["id"], "kyc")
    await api.link(doc["id"], "company", business["id"], "kyc")  # exists: no event
    await api.ok("DELETE", f"/v1/documents/{doc['id']}/link?entity_type=company"
                           f"&entity_id={business['id']}", 200)
    await api.ok("DELETE", f"/v1/documents/{doc['id']}", 200)

    rows = await recorded(db, tenant.id)
    assert [r["type"] for r in rows] == [
        "entity.created", "entity.updated", "entity.created", "entity.updated",
        "entity.created", "document.created", "document.updated", "document.linked",
        "document.unlinked", "document.deleted"]
    assert {r["actor"] for r in rows} == {actor}
    assert rows[6]["data"]["document"]["folder"] == "/r"
    assert rows[7]["data"]["link"]["entityType"] == "COMPANY"
    assert rows[9]["data"]["document"]["links"] == []  # unlinked before the deletion


async def test_the_actor_is_the_key_that_made_the_change(db, gql, tenant):
    writer = str(await key_id(db, tenant.write_key))
    await gql(CREATE_CONTACT, {"input": {"name": "By the writer"}}, key=tenant.write_key)
    await gql.create_entity("DEAL")
    rows = await recorded(db, tenant.id)
    assert [r["actor"] for r in rows] == [writer, str(await key_id(db, tenant.key))]
    by_writer = await all_events(gql, {"actor": writer})
    assert [e["data"]["entity"]["name"] for e in by_writer] == ["By the writer"]


async def test_the_system_measuring_an_image_is_an_update_by_system(db, gql, tenant):
    doc = await gql.create_document(png(40, 30), name="photo.png", mimeType="image/png")
    deadline = time.monotonic() + 30
    while (await document_as_graphql_shows_it(gql, doc["id"]))["image"] is None:
        assert time.monotonic() < deadline, "the preview job never ran"
        await asyncio.sleep(0.05)
    rows = await recorded(db, tenant.id)
    assert [(r["type"], r["actor"]) for r in rows] == [
        ("document.created", str(await key_id(db, tenant.key))),
        ("document.updated", "system")]
    assert rows[1]["data"] == {"document": await document_as_graphql_shows_it(gql, doc["id"])}
    assert rows[1]["data"]["document"]["image"] == {"width": 40, "height": 30}


# -- a change that fails or rolls back leaves none -------------------------------------


async def test_refused_and_failed_changes_make_no_event(db, gql, api, tenant):
    contact = await gql.create_entity("CONTACT", name="Ada")
    doc = await gql.create_document()
    before = await types_of(db, tenant.id)
    missing = str(uuid.uuid4())
    # Conflicts: a taken entity id, a status the machine refuses, a recorded upload.
    await gql.error(CREATE_CONTACT, {"input": {"id": contact, "name": "Twin"}}, code="conflict")
    await gql(VERIFY, {"id": doc["id"]})
    before = await types_of(db, tenant.id)
    await gql.error(VERIFY, {"id": doc["id"]}, code="conflict")
    await gql.error(REJECT, {"id": doc["id"], "r": "late"}, code="conflict")
    await gql.error(CREATE_DOCUMENT, {"input": {
        "name": "again.pdf", "mimeType": "application/pdf",
        "storagePath": doc["storagePath"]}}, code="storage_conflict")
    # Not found: the link's document or entity, a link that is not there, an update.
    await gql.error("""mutation($d: ID!, $e: ID!) { linkDocument(documentId: $d,
        entityType: CONTACT, entityId: $e) { created } }""", {"d": missing, "e": contact},
        code="not_found")
    await gql.error("""mutation($d: ID!, $e: ID!) { linkDocument(documentId: $d,
        entityType: CONTACT, entityId: $e) { created } }""", {"d": doc["id"], "e": missing},
        code="not_found")
    await gql.error(UNLINK, {"d": doc["id"], "t": "CONTACT", "e": contact}, code="not_found")
    await gql.error(UPDATE, {"id": missing, "input": {"name": "x", "folder": "/new"}},
                    code="not_found")
    # Invalid input, and a write-only key's empty update (a read).
    await gql.error(UPDATE, {"id": doc["id"], "input": {"name": ""}}, code="validation_error")
    await gql.error(UPDATE_CONTACT, {"id": contact, "input": {"name": None}},
                    code="validation_error")
    await gql.error(UPDATE, {"id": doc["id"], "input": {}}, code="insufficient_permissions",
                    key=tenant.write_key)
    assert_error(await api.post(f"/v1/documents/{doc['id']}/link",
                                json={"entity_type": "contact", "entity_id": 7}),
                 400, "validation_error")
    assert_error(await api.delete(f"/v1/documents/{missing}"), 404, "not_found")
    assert await types_of(db, tenant.id) == before


async def test_a_change_rolled_back_leaves_no_event_and_a_committed_one_has_it(db, tenant):
    contact = uuid.uuid4()
    await entities_db.insert_entity(db, tenant.id, contact, entity_type="contact",
                                    name="Ada", attributes={}, actor="system")

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with db.transaction() as conn:
            row = await entities_db.update_entity(conn, tenant.id, contact, {"name": "Bob"},
                                                  actor="system")
            assert row is not None and row["name"] == "Bob"
            assert await conn.fetchval("select count(*) from events where workspace_id = $1",
                                       tenant.id) == 2  # inside, the event is there
            raise Abort
    assert await types_of(db, tenant.id) == ["entity.created"]
    assert await db.fetchval("select name from entities where id = $1", contact) == "Ada"
    # A statement that fails half way (a check constraint, after its update matched)
    # takes its event with it.
    with pytest.raises(asyncpg.CheckViolationError):
        await entities_db.update_entity(db, tenant.id, contact, {"name": "x" * 300},
                                        actor="system")
    assert await types_of(db, tenant.id) == ["entity.created"]


async def test_a_delete_retried_after_a_storage_failure_records_one_event(
        db, server, gql, api, tenant, monkeypatch):
    from docgraph.errors import Unavailable

    store = server.app.state.store
    doc = await gql.create_document()

    async def unavailable(*args, **kwargs):
        raise Unavailable("object storage is unreachable; retry shortly")

    with monkeypatch.context() as patch:
        patch.setattr(store, "move", unavailable)
        assert_error(await api.delete(f"/v1/documents/{doc['id']}"), 503, "unavailable")
    await api.ok("DELETE", f"/v1/documents/{doc['id']}", 200)
    assert await types_of(db, tenant.id) == ["document.created", "document.deleted"]


# -- readers never skip an event -------------------------------------------------------


async def test_a_late_commit_with_a_lower_position_is_not_skipped(db, database_url, gql,
                                                                  tenant):
    """Sequence numbers are taken in one order and committed in another: a reader paging
    "after the last seen" must still get every event."""
    reader_from = await events_uc.start_position(db)
    slow = await asyncpg.connect(database_url)
    try:
        transaction = slow.transaction()
        await transaction.start()
        # The slow change takes its sequence number first...
        await slow.execute(entities_db.INSERT_ENTITY, tenant.id, uuid.uuid4(), "deal",
                           "Slow", "{}", "system")
        # ...then a quick one takes the next, and commits.
        await gql.create_entity("DEAL", name="Quick")
        quick = await db.fetchrow("select seq, txid::text::bigint as txid from events "
                                  "where workspace_id = $1", tenant.id)
        seen: list[str] = []
        batch = await events_uc.events_after(db, tenant.id, reader_from)
        # The quick event is committed, but behind a transaction still running: not yet.
        assert batch.events == [] and batch.next == reader_from
        await transaction.commit()
        batch = await events_uc.events_after(db, tenant.id, batch.next)
        seen += [event.data["entity"]["name"] for event in batch.events]
        assert seen == ["Slow", "Quick"]
        slow_event, quick_event = batch.events
        assert slow_event.seq < quick["seq"] == quick_event.seq
        assert slow_event.position < quick_event.position
        assert batch.next == quick_event.position
        # A naive reader by sequence number alone would have passed the slow one by.
        assert (await events_uc.events_after(db, tenant.id, batch.next)).events == []
    finally:
        await slow.close()


async def test_a_rolled_back_change_never_reaches_a_reader(db, database_url, gql, tenant):
    start = await events_uc.start_position(db)
    conn = await asyncpg.connect(database_url)
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(entities_db.INSERT_ENTITY, tenant.id, uuid.uuid4(), "deal",
                           "Never", "{}", "system")
        await gql.create_entity("DEAL", name="Kept")
        await transaction.rollback()
    finally:
        await conn.close()
    batch = await events_uc.events_after(db, tenant.id, start)
    assert [event.data["entity"]["name"] for event in batch.events] == ["Kept"]


async def test_readers_filter_by_type_document_and_entity_and_resume_from_an_id(db, gql,
                                                                                tenant):
    start = await events_uc.start_position(db)
    contact = await gql.create_entity("CONTACT", name="Ada")
    docs = [await gql.create_document() for _ in range(3)]
    for doc in docs:
        await gql.link(doc["id"], "CONTACT", contact)
    await gql(VERIFY, {"id": docs[1]["id"]})

    everything = (await events_uc.events_after(db, tenant.id, start)).events
    assert len(everything) == 8
    assert [e.position for e in everything] == sorted(e.position for e in everything)
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    linked = await events_uc.events_after(db, tenant.id, start, types=["document.linked"])
    assert [e.data["link"]["documentId"] for e in linked.events] == [d["id"] for d in docs]
    about = await events_uc.events_after(db, tenant.id, start,
                                         document_id=uuid.UUID(docs[1]["id"]))
    assert [e.type for e in about.events] == ["document.created", "document.linked",
                                              "document.verified"]
    of_contact = await events_uc.events_after(db, tenant.id, start,
                                              entity_id=uuid.UUID(contact))
    assert [e.type for e in of_contact.events] == ["entity.created"] + \
        ["document.linked"] * 3 + ["document.verified"]
    # Resuming from an event's id, two at a time.
    resumed: list[str] = []
    position = event_position(everything[2].id)
    while True:
        batch = await events_uc.events_after(db, tenant.id, position, limit=2)
        if not batch.events:
            break
        resumed += [e.id for e in batch.events]
        position = batch.next
    assert resumed == [e.id for e in everything[3:]]


async def test_a_commit_notifies_listeners_with_the_workspace(db, database_url, gql, tenant):
    listener = await asyncpg.connect(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    try:
        await listener.add_listener(events_uc.CHANNEL,
                                    lambda conn, pid, channel, payload: heard.put_nowait(payload))
        await gql.create_entity("DEAL", name="Loud")
        assert await asyncio.wait_for(heard.get(), 10) == str(tenant.id)
        # A change that rolls back notifies nobody.
        async with db.connection() as conn:
            transaction = conn.raw.transaction()
            await transaction.start()
            await conn.execute(entities_db.INSERT_ENTITY, tenant.id, uuid.uuid4(), "deal",
                               "Quiet", {}, "system")
            await transaction.rollback()
        await gql.create_entity("DEAL", name="Loud again")
        assert await asyncio.wait_for(heard.get(), 10) == str(tenant.id)
        assert heard.empty()
    finally:
        await listener.close()


# -- the audit query ---------------------------------------------------------------------


async def test_the_events_query_filters_and_pages_newest_first(db, gql, tenant):
    contact = await gql.create_entity("CONTACT", name="Ada")
    docs = [await gql.create_document(name=f"d{i}.pdf") for i in range(4)]
    for doc in docs[:3]:
        await gql.link(doc["id"], "CONTACT", contact, "signed")
    await gql(VERIFY, {"id": docs[0]["id"]})
    await gql.create_entity("DEAL", name="Unrelated")
    rows = await recorded(db, tenant.id)
    assert len(rows) == 10

    first = (await gql(EVENTS, {"first": 4}))["events"]
    assert first["totalCount"] == 10
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    assert [e["node"]["type"] for e in first["edges"]] == [
        "entity.created", "document.verified", "document.linked", "document.linked"]
    rest = (await gql(EVENTS, {"first": 100, "after": first["pageInfo"]["endCursor"]}))[
        "events"]
    assert rest["pageInfo"]["hasPreviousPage"] and not rest["pageInfo"]["hasNextPage"]
    assert len(rest["edges"]) == 6 and rest["totalCount"] == 10
    assert [e["node"]["id"] for e in first["edges"] + rest["edges"]] == \
        [EventPosition(r["txid"], r["seq"]).token for r in reversed(rows)]
    by_offset = (await gql(EVENTS, {"first": 2, "offset": 3}))["events"]
    assert [e["node"]["id"] for e in by_offset["edges"]] == \
        [e["node"]["id"] for e in first["edges"][3:]] + [rest["edges"][0]["node"]["id"]]
    # Any edge's cursor goes on from that edge.
    middle = (await gql(EVENTS, {"first": 1, "after": first["edges"][1]["cursor"]}))["events"]
    assert middle["edges"][0]["node"]["id"] == first["edges"][2]["node"]["id"]

    async def ids(filter: dict[str, Any]) -> list[str]:
        page = (await gql(EVENTS, {"filter": filter, "first": 100}))["events"]
        assert page["totalCount"] == len(page["edges"])
        return [e["node"]["type"] for e in page["edges"]]

    assert await ids({"type": "document.linked"}) == ["document.linked"] * 3
    assert await ids({"documentId": docs[0]["id"]}) == [
        "document.verified", "document.linked", "document.created"]
    assert await ids({"entityId": contact}) == [
        "document.verified", "document.linked", "document.linked", "document.linked",
        "entity.created"]
    assert await ids({"entityId": contact, "type": "document.verified",
                      "documentId": docs[0]["id"]}) == ["document.verified"]
    assert await ids({"actor": "system"}) == []
    assert len(await ids({"actor": str(await key_id(db, tenant.key))})) == 10
    # since (inclusive) and until (exclusive), with any offset.
    times = [r["occurred_at"] for r in rows]
    assert await ids({"since": times[-1].isoformat()}) == ["entity.created"]
    assert len(await ids({"until": times[-1].isoformat()})) == 9
    assert len(await ids({"since": times[0].isoformat(), "until": times[-1].isoformat()})) == 9
    shifted = times[4].astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat()
    assert len(await ids({"since": shifted})) == 6
    assert await ids({"since": "2999-01-01T00:00:00Z"}) == []
    assert len(await ids({"until": "2999-01-01T00:00:00Z"})) == 10


async def test_the_pages_are_the_same_with_or_without_their_total(gql):
    for _ in range(5):
        await gql.create_entity("MATTER")
    uncounted = EVENTS.replace("    totalCount\n", "")
    after = None
    for page in ({"first": 2}, {"first": 2, "offset": 3}, {"first": 10},
                 {"first": 2, "after": "next"}, {"first": 2, "filter": {"type": "x"}}):
        if page.get("after") == "next":
            page = {"first": 2, "after": after}
        if page.get("filter"):
            page = {"first": 2, "filter": {"type": "entity.created"}}
        counted = (await gql(EVENTS, page))["events"]
        plain = (await gql(uncounted, page))["events"]
        assert counted.pop("totalCount") == 5
        assert counted == plain, page
        after = counted["pageInfo"]["endCursor"]


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("raw", [
    "e1|0001-01-01T00:00:00+14:00|5",          # year 0 in UTC
    "e1|9999-12-31T23:59:59.999999+00:00|5",   # asyncpg would send +infinity
    "e1|2026-01-01T00:00:00+00:00|0",          # no event has seq 0
    "e1|2026-01-01T00:00:00+00:00|-1",
    "e1|2026-01-01T00:00:00+00:00|9223372036854775808",  # beyond bigint
    "e1|2026-01-01T00:00:00+00:00|" + str(uuid.UUID(int=1)),
    "e1|2026-01-01T00:00:00|5",                # no offset
    "e2|2026-01-01T00:00:00+00:00|5",
])
async def test_a_crafted_events_cursor_is_a_validation_error(gql, raw):
    await gql.create_entity("MATTER")
    error = await gql.error(EVENTS, {"after": cursor(raw)}, code="validation_error")
    assert error["extensions"]["details"] == {
        "fields": {"after": "must be a cursor returned by this API"}}


async def test_each_list_refuses_the_others_cursors(gql):
    await gql.create_entity("MATTER")
    await gql.create_entity("MATTER")
    events_cursor = (await gql(EVENTS, {"first": 1}))["events"]["pageInfo"]["endCursor"]
    for query in ("query($a: String) { documents(after: $a) { nodes { id } } }",
                  "query($a: String) { entities(after: $a) { nodes { id } } }"):
        error = await gql.error(query, {"a": events_cursor}, code="validation_error")
        assert error["extensions"]["details"] == {
            "fields": {"after": "is a cursor of the list in another order"}}
    entities_cursor = (await gql("{ entities(first: 1) { pageInfo { endCursor } } }"))[
        "entities"]["pageInfo"]["endCursor"]
    error = await gql.error(EVENTS, {"after": entities_cursor}, code="validation_error")
    assert error["extensions"]["details"] == {
        "fields": {"after": "is a cursor of the list in another order"}}


async def test_bad_filters_and_pages_are_validation_errors(gql):
    await gql.create_entity("DEAL")
    documents_cursor = (await gql("{ entities(first: 1) { pageInfo { endCursor } } }"))[
        "entities"]["pageInfo"]["endCursor"]
    for variables, field in [
        ({"filter": {"type": "document.exploded"}}, "type"),
        ({"filter": {"type": "DOCUMENT_CREATED"}}, "type"),
        ({"filter": {"documentId": "doc_1"}}, "documentId"),
        ({"filter": {"entityId": "x" * 100}}, "entityId"),
        ({"filter": {"actor": "root"}}, "actor"),
        ({"filter": {"since": "2026-04-17T09:00:00"}}, "since"),  # no offset
        ({"filter": {"until": "2026-04-17"}}, "until"),
        ({"filter": {"since": "0001-01-01T00:00:00+05:00"}}, "since"),
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
        ({"after": "garbage"}, "after"),
        ({"after": documents_cursor, "offset": 2}, "offset"),
    ]:
        error = await gql.error(EVENTS, variables, code="validation_error")
        assert field in error["extensions"]["details"]["fields"], (variables, error)
    # Values of the wrong JSON type, or times that do not parse, never reach the
    # resolver: a GraphQL request error.
    for variables in ({"filter": {"type": 5}}, {"filter": {"since": "yesterday"}},
                      {"filter": {"since": 1713344400}}, {"first": "ten"},
                      {"filter": {"documentId": {"id": 1}}}, {"filter": "all"}):
        body = await gql.result(EVENTS, variables)
        assert "data" not in body, body
        assert body["errors"][0]["extensions"]["code"] == "validation_error"
    r = await gql.post("{ events(filter: {since: \"garbage\"}) { nodes { id } } }")
    assert r.json()["errors"][0]["extensions"]["code"] == "validation_error"


async def test_the_events_need_read_documents(gql, api, tenant):
    await gql.create_entity("DEAL")
    error = await gql.error(EVENTS, {}, code="insufficient_permissions", key=tenant.write_key)
    assert error["extensions"]["details"]["requiredScope"] == "read:documents"
    assert_error(await api.get("/v1/events", key=tenant.write_key), 403,
                 "insufficient_permissions")
    assert len((await gql(EVENTS, {}, key=tenant.read_key))["events"]["edges"]) == 1


async def test_another_workspace_never_sees_the_events(db, gql, other_gql, api, other_api,
                                                       tenant, other_tenant):
    contact = await gql.create_entity("CONTACT", name="Ada")
    doc = await gql.create_document()
    await gql.link(doc["id"], "CONTACT", contact)
    await other_gql.create_entity("DEAL", name="B's own")
    mine = (await gql(EVENTS, {"first": 1}))["events"]
    cursor = mine["pageInfo"]["endCursor"]
    a_key = str(await key_id(db, tenant.key))

    for variables in ({}, {"filter": {"documentId": doc["id"]}},
                      {"filter": {"entityId": contact}}, {"after": cursor},
                      {"filter": {"actor": a_key}}, {"first": 100, "offset": 0}):
        page = (await other_gql(EVENTS, variables))["events"]
        names = [e["node"]["data"].get("entity", {}).get("name") for e in page["edges"]]
        assert all(name == "B's own" for name in names), (variables, page)
        assert page["totalCount"] <= 1
    assert (await other_gql(EVENTS, {"filter": {"documentId": doc["id"]}}))["events"][
        "totalCount"] == 0
    for query in ("", f"?document_id={doc['id']}", f"?entity_id={contact}",
                  f"?after={cursor}", f"?actor={a_key}"):
        body = await other_api.ok("GET", f"/v1/events{query}", 200)
        assert all(e["data"].get("entity", {}).get("name") == "B's own"
                   for e in body["data"]["events"]), (query, body)
    # The outbox's reader is by workspace too.
    start = EventPosition(0, 0)
    seen = (await events_uc.events_after(db, other_tenant.id, start)).events
    assert [e.data["entity"]["name"] for e in seen] == ["B's own"]


# -- REST --------------------------------------------------------------------------------


async def test_rest_lists_events_in_the_list_envelope(db, api, gql, tenant):
    contact = await api.create_contact("Ada")
    doc = await api.create_document()
    await api.link(doc["id"], "contact", contact["id"], "signed")
    body = await api.ok("GET", "/v1/events?per_page=2", 200)
    assert set(body) == {"data", "meta"}
    assert body["meta"]["per_page"] == 2 and body["meta"]["has_more"] is True
    events = body["data"]["events"]
    assert [e["type"] for e in events] == ["document.linked", "document.created"]
    assert set(events[0]) == {"id", "type", "occurred_at", "actor", "data"}
    assert TIMESTAMP.match(events[0]["occurred_at"])
    assert events[0]["actor"] == str(await key_id(db, tenant.key))
    # The data is GraphQL's shape, the same in both APIs.
    graphql = (await gql(EVENTS, {"first": 2}))["events"]["edges"]
    assert [e["data"] for e in events] == [e["node"]["data"] for e in graphql]
    assert [e["id"] for e in events] == [e["node"]["id"] for e in graphql]
    rest = await api.ok("GET", f"/v1/events?after={body['meta']['next_cursor']}", 200)
    assert [e["type"] for e in rest["data"]["events"]] == ["entity.created"]
    assert rest["meta"] == {"per_page": 25, "has_more": False, "next_cursor": None}
    # The filters.
    only = await api.ok("GET", f"/v1/events?type=entity.created&entity_id={contact['id']}",
                        200)
    assert [e["data"]["entity"]["name"] for e in only["data"]["events"]] == ["Ada"]
    by_doc = await api.ok("GET", f"/v1/events?document_id={doc['id']}&since="
                                 f"{events[1]['occurred_at']}", 200)
    assert [e["type"] for e in by_doc["data"]["events"]] == ["document.linked",
                                                              "document.created"]
    none = await api.ok("GET", "/v1/events?until=2000-01-01T00:00:00Z", 200)
    assert none["data"]["events"] == [] and none["meta"]["has_more"] is False


async def test_rest_refuses_bad_filters_with_400(api):
    for query, field in [("type=document.exploded", "type"), ("document_id=12", "document_id"),
                         ("entity_id=", "entity_id"), ("actor=root", "actor"),
                         ("since=yesterday", "since"), ("until=2026-04-17T09:00:00", "until"),
                         ("since=2026-13-01T00:00:00Z", "since"), ("per_page=101", "per_page"),
                         ("per_page=ten", "per_page"), ("after=nope", "after"),
                         ("offset=3", "offset"), ("type=a&type=b", "type")]:
        assert field in bad_fields(await api.get(f"/v1/events?{query}")), query


# -- retention ---------------------------------------------------------------------------


async def test_the_retention_purge_deletes_old_events_only(db, gql, tenant, other_gql,
                                                           other_tenant):
    for name in ("old", "older", "new"):
        await gql.create_entity("DEAL", name=name)
    await other_gql.create_entity("DEAL", name="other's old")
    await db.execute("update events set occurred_at = now() - interval '91 days' "
                     "where data -> 'entity' ->> 'name' in ('old', 'other''s old')")
    await db.execute("update events set occurred_at = now() - interval '400 days' "
                     "where data -> 'entity' ->> 'name' = 'older'")
    # Bounded: one batch of one at a time, then the rest.
    assert await events_uc.purge_old_events(db, 90, batch=1, max_batches=1) == 1
    purged = await purge_expired(db, event_retention_days=90)
    assert purged["events"] >= 2
    assert [e["data"]["entity"]["name"] for e in await all_events(gql)] == ["new"]
    assert await all_events(other_gql) == []
    # Within the retention, nothing goes.
    assert await events_uc.purge_old_events(db, 90) == 0
    assert len(await all_events(gql)) == 1


# -- the cost ------------------------------------------------------------------------------

# SQL statements per mutation before events existed (X-Statement-Count: the rate limit,
# the key, then the mutation's own). Events ride in the mutations' statements.
STATEMENTS_WITHOUT_EVENTS = {
    "createDocument": 4, "updateDocument": 5, "updateDocument with a folder": 6,
    "verifyDocument": 3, "expireDocument": 3, "rejectDocument": 3, "createContact": 3,
    "updateContact": 3, "createEntity": 3, "linkDocument": 3, "linkDocument again": 3,
    "unlinkDocument": 3, "deleteDocument": 4, "POST /v1/documents": 4,
    "PATCH /v1/documents": 5, "POST /v1/contacts": 3, "PATCH /v1/contacts": 3,
    "POST link": 3, "DELETE link": 3, "DELETE /v1/documents": 4,
}


async def test_events_cost_no_extra_statement(db, gql, api, tenant):
    counts: dict[str, int] = {}

    async def mutate(name: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        r = await gql.post(query, variables)
        assert r.status_code == 200 and "errors" not in r.json(), r.text
        counts[name] = int(r.headers["x-statement-count"])
        return r.json()["data"]

    async def call(name: str, method: str, path: str, **kwargs: Any) -> Any:
        r = await api.client.request(method, path, headers=tenant.headers(), **kwargs)
        assert r.status_code < 300, r.text
        counts[name] = int(r.headers["x-statement-count"])
        return r.json()["data"]

    ticket = await gql.upload(b"%PDF-1.4 counted", file_name="a.pdf")
    doc = (await mutate("createDocument", CREATE_DOCUMENT, {"input": {
        "name": "a.pdf", "mimeType": "application/pdf",
        "storagePath": ticket["storagePath"]}}))["createDocument"]["id"]
    await mutate("updateDocument", UPDATE, {"id": doc, "input": {"name": "b.pdf"}})
    await mutate("updateDocument with a folder", UPDATE, {"id": doc, "input": {"folder": "/f"}})
    await mutate("verifyDocument", VERIFY, {"id": doc})
    await mutate("expireDocument", EXPIRE, {"id": doc})
    await mutate("rejectDocument", REJECT, {"id": (await gql.create_document())["id"],
                                            "r": "no"})
    contact = (await mutate("createContact", CREATE_CONTACT, {"input": {"name": "A"}}))[
        "createContact"]["id"]
    await mutate("updateContact", UPDATE_CONTACT, {"id": contact, "input": {"name": "B"}})
    await mutate("createEntity", CREATE_ENTITY, {"input": {"entityType": "DEAL"}})
    link = """mutation($d: ID!, $e: ID!) { linkDocument(documentId: $d, entityType: CONTACT,
        entityId: $e) { created } }"""
    await mutate("linkDocument", link, {"d": doc, "e": contact})
    await mutate("linkDocument again", link, {"d": doc, "e": contact})
    await mutate("unlinkDocument", UNLINK, {"d": doc, "t": "CONTACT", "e": contact})
    await mutate("deleteDocument", DELETE, {"id": doc})
    upload = await api.upload(b"%PDF-1.4 counted too", file_name="b.pdf")
    rest_doc = (await call("POST /v1/documents", "POST", "/v1/documents", json={
        "name": "b.pdf", "mime_type": "application/pdf",
        "storage_path": upload["storage_path"]}))["id"]
    await call("PATCH /v1/documents", "PATCH", f"/v1/documents/{rest_doc}", json={"name": "c"})
    rest_contact = (await call("POST /v1/contacts", "POST", "/v1/contacts",
                               json={"name": "C"}))["id"]
    await call("PATCH /v1/contacts", "PATCH", f"/v1/contacts/{rest_contact}",
               json={"name": "D"})
    await call("POST link", "POST", f"/v1/documents/{rest_doc}/link",
               json={"entity_type": "contact", "entity_id": rest_contact})
    await call("DELETE link", "DELETE", f"/v1/documents/{rest_doc}/link?entity_type=contact"
                                        f"&entity_id={rest_contact}")
    await call("DELETE /v1/documents", "DELETE", f"/v1/documents/{rest_doc}")

    assert counts == STATEMENTS_WITHOUT_EVENTS
    assert len(await recorded(db, tenant.id)) == 20  # and every one made its event(s)


async def test_documents_record_their_event_through_the_db_layer_too(db, tenant):
    """The db layer's statements carry the event themselves: whoever calls them."""
    row = await db.fetchrow("insert into uploads (workspace_id, id, storage_path, size_bytes, "
                            "mime_type, file_name, expires_at) values ($1, gen_random_uuid(), "
                            "$2, 3, 'text/plain', 'a.txt', now() + interval '1 hour') "
                            "returning storage_path", tenant.id, f"workspaces/{tenant.id}/u")
    document = await documents_db.insert_uploaded_document(
        db, tenant.id, uuid.uuid4(), name="a.txt", description=None, mime_type="text/plain",
        size_bytes=3, storage_path=row["storage_path"], folder=None, tags=[], type="other",
        user_data={}, created_by=None, actor="system")
    assert document is not None
    rows = await recorded(db, tenant.id)
    assert [(r["type"], r["actor"], r["document_id"]) for r in rows] == [
        ("document.created", "system", document["id"])]
