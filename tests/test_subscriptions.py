"""GraphQL subscriptions over a real WebSocket (graphql-transport-ws): what they deliver,
to whom, from where on, and how every refusal is answered."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from websockets.exceptions import InvalidStatus

from docgraph.resolvers import auth
from docgraph.resolvers.events import purge_old_events
from docgraph.resolvers.persisted_operations import sha256_hex
from docgraph.schema import build_schema
from docgraph.schema.persisted import manifest
from tests.conftest import key_id, make_tenant
from tests.gql import GraphQL
from tests.instances import fresh_database, instances, serving
from tests.ws import DOCUMENT_EVENTS, EVENTS, Client, Closed

CREATE_CONTACT = """mutation($input: CreateContactInput!) {
    createContact(input: $input) { id } }"""
UPDATE_CONTACT = """mutation($id: ID!, $input: UpdateContactInput!) {
    updateContact(id: $id, input: $input) { id } }"""
UPDATE = """mutation($id: ID!, $input: UpdateDocumentInput!) {
    updateDocument(id: $id, input: $input) { id } }"""
VERIFY = "mutation($id: ID!) { verifyDocument(id: $id) { id } }"
DELETE = "mutation($id: ID!) { deleteDocument(id: $id) { id } }"
UNLINK = """mutation($d: ID!, $t: EntityType!, $e: ID!) {
    unlinkDocument(documentId: $d, entityType: $t, entityId: $e) { link { id } } }"""
AUDIT = """query($after: String) { events(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { id type occurredAt actor data } } }"""
# Before any event: a subscription with it replays the workspace's whole history.
BEGINNING = "evt_" + "0" * 32


async def contact(gql: GraphQL, name: str = "Ada", **fields: Any) -> str:
    data = await gql(CREATE_CONTACT, {"input": {"name": name, **fields}})
    return str(data["createContact"]["id"])


async def audit_trail(gql: GraphQL) -> list[dict[str, Any]]:
    """The workspace's events as the audit query answers them, oldest first."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await gql(AUDIT, {"after": after}))["events"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found[::-1]
        after = page["pageInfo"]["endCursor"]


async def healthy(url: str) -> None:
    """The server still answers (a refusal never took it down)."""
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/healthz")).status_code == 200


# -- what a subscription delivers --------------------------------------------------------


async def test_each_change_arrives_as_the_audit_trail_records_it(server, gql, tenant, db):
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(EVENTS)
        ada = await contact(gql)
        await gql(UPDATE_CONTACT, {"id": ada, "input": {"name": "Ada L."}})
        doc = await gql.create_document(tags=["live"])
        await gql.link(doc["id"], "CONTACT", ada, "signed")
        await gql(VERIFY, {"id": doc["id"]})
        await gql(DELETE, {"id": doc["id"]})
        recorded = await audit_trail(gql)
        assert [e["type"] for e in recorded] == [
            "entity.created", "entity.updated", "document.created", "document.linked",
            "document.verified", "document.deleted"]
        # Every event once, in id order, exactly as the audit query shows it.
        assert await client.events(op, len(recorded)) == recorded
        assert recorded[0]["actor"] == str(await key_id(db, tenant.key))


async def test_document_events_of_an_entity(server, gql, tenant):
    ada = await contact(gql)
    linked = await gql.create_document()
    other = await gql.create_document()
    async with await Client.ready(server.url, tenant.read_key) as client:
        op = await client.subscribe(DOCUMENT_EVENTS, {"entityId": ada})
        await gql.link(linked["id"], "CONTACT", ada)
        await gql(UPDATE, {"id": other["id"], "input": {"name": "not linked.pdf"}})
        await gql(UPDATE_CONTACT, {"id": ada, "input": {"name": "Ada L."}})  # not a document's
        await gql(UPDATE, {"id": linked["id"], "input": {"name": "linked.pdf"}})
        await gql(UNLINK, {"d": linked["id"], "t": "CONTACT", "e": ada})
        events = await client.events(op, 3)
    # In order, and nothing else: an event that matched would have come before the last.
    assert [(e["type"], list(e["data"])) for e in events] == [
        ("document.linked", ["link"]), ("document.updated", ["document"]),
        ("document.unlinked", ["link"])]
    assert events[1]["data"]["document"]["name"] == "linked.pdf"
    assert events[1]["data"]["document"]["links"][0]["entityId"] == ada


async def test_filters_by_type_and_by_document(server, gql, tenant):
    doc = await gql.create_document()
    async with await Client.ready(server.url, tenant.key) as client:
        by_type = await client.subscribe(
            EVENTS, {"types": ["document.verified", "entity.created", "entity.created"]})
        by_document = await client.subscribe(DOCUMENT_EVENTS, {"documentId": doc["id"]})
        await gql.create_document()  # neither
        ada = await contact(gql)  # by type
        await gql.link(doc["id"], "CONTACT", ada)  # by document
        await gql(VERIFY, {"id": doc["id"]})  # both
        received: dict[str, list[str]] = {by_type: [], by_document: []}
        while len(received[by_type]) < 2 or len(received[by_document]) < 2:
            message = await client.message()
            assert message["type"] == "next", message
            [event] = message["payload"]["data"].values()
            received[message["id"]].append(event["type"])
    assert received == {by_type: ["entity.created", "document.verified"],
                        by_document: ["document.linked", "document.verified"]}


async def test_a_reconnecting_subscriber_resumes_with_exactly_what_it_missed(server, gql, tenant):
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(EVENTS)
        first = await contact(gql, "first")
        [seen] = await client.events(op, 1)
    # Disconnected: three changes happen meanwhile.
    await gql(UPDATE_CONTACT, {"id": first, "input": {"name": "renamed"}})
    doc = await gql.create_document()
    await gql.link(doc["id"], "CONTACT", first)
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(EVENTS, {"after": seen["id"]})
        missed = await client.events(op, 3)
        await contact(gql, "live again")
        [live] = await client.events(op, 1)
    trail = await audit_trail(gql)
    assert trail[0] == seen
    assert missed == trail[1:4]
    assert live == trail[4] and live["type"] == "entity.created"
    ids = [e["id"] for e in [seen, *missed, live]]
    assert ids == sorted(ids) and len(set(ids)) == 5


async def test_from_the_beginning_replays_the_history_in_order(server, gql, tenant):
    await contact(gql, "one")
    await contact(gql, "two")
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(EVENTS, {"after": BEGINNING})
        assert await client.events(op, 2) == await audit_trail(gql)


async def test_resuming_after_events_the_retention_purged(server, gql, tenant, db):
    """The last id a subscriber saw may be older than the retention: it resumes with
    what is left."""
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(EVENTS)
        await contact(gql, "old")
        [seen] = await client.events(op, 1)
    await contact(gql, "old too")
    await contact(gql, "kept")
    # The first two events grow old, and the purge takes them.
    await db.execute("update events set occurred_at = occurred_at - interval '100 days' "
                     "where workspace_id = $1 and data->'entity'->>'name' like 'old%'",
                     tenant.id)
    await purge_old_events(db, 90)
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(EVENTS, {"after": seen["id"]})
        [kept] = await client.events(op, 1)
    assert kept["data"]["entity"]["name"] == "kept"


async def test_another_workspace_never_sees_its_events(server, gql, other_gql, tenant,
                                                       other_tenant):
    # The other workspace holds a contact with the very same id (ids are the client's).
    shared = str(uuid.uuid4())
    await contact(gql, "A's", id=shared)
    await contact(other_gql, "B's", id=shared)
    async with await Client.ready(server.url, other_tenant.key) as client:
        # From the beginning: the workspace's whole history, before anything new.
        everything = await client.subscribe(EVENTS, {"after": BEGINNING})
        of_shared = await client.subscribe(DOCUMENT_EVENTS,
                                           {"entityId": shared, "after": BEGINNING})
        [own] = await client.events(everything, 1)
        assert own["type"] == "entity.created" and own["data"]["entity"]["name"] == "B's"
        a_doc = await gql.create_document()
        await gql.link(a_doc["id"], "CONTACT", shared)
        await gql(VERIFY, {"id": a_doc["id"]})
        b_doc = await other_gql.create_document()
        await other_gql.link(b_doc["id"], "CONTACT", shared)
        got: list[tuple[str, str]] = []
        while len(got) < 3:
            message = await client.message()
            [event] = message["payload"]["data"].values()
            got.append((message["id"], event["type"]))
            assert a_doc["id"] not in orjson.dumps(event).decode()
    # Only B's own: A's events (earlier ids) would have come first.
    assert sorted(got) == sorted([(everything, "document.created"),
                                  (everything, "document.linked"),
                                  (of_shared, "document.linked")])


async def test_a_subscription_on_one_instance_gets_a_change_made_on_another(
        database_url, db, tmp_path):
    tenant = await make_tenant(db, "Two instances")
    with instances(database_url, tmp_path, count=2) as (first, second):
        async with await Client.ready(first.url, tenant.key) as on_first, \
                await Client.ready(second.url, tenant.key) as on_second, \
                httpx.AsyncClient(base_url=second.url, timeout=30) as http_second, \
                httpx.AsyncClient(base_url=first.url, timeout=30) as http_first:
            op_first = await on_first.subscribe(EVENTS)
            op_second = await on_second.subscribe(EVENTS)
            made_on_second = await GraphQL(http_second, tenant)(
                CREATE_CONTACT, {"input": {"name": "made on the second"}})
            made_on_first = await GraphQL(http_first, tenant)(
                CREATE_CONTACT, {"input": {"name": "made on the first"}})
            names = ["made on the second", "made on the first"]
            for client, op in ((on_first, op_first), (on_second, op_second)):
                events = await client.events(op, 2)
                assert [e["data"]["entity"]["name"] for e in events] == names
                assert [e["data"]["entity"]["id"] for e in events] == [
                    made_on_second["createContact"]["id"], made_on_first["createContact"]["id"]]


async def test_an_event_held_back_by_an_older_transaction_comes_when_it_ends(
        server, gql, tenant, database_url):
    """An event that committed while an older transaction still ran cannot be read yet,
    and that transaction's end notifies nobody: the subscription reads again itself."""
    conn = await asyncpg.connect(database_url)
    try:
        async with await Client.ready(server.url, tenant.key) as client:
            op = await client.subscribe(EVENTS)
            older = conn.transaction()
            await older.start()
            await conn.fetchval("select pg_current_xact_id()")  # takes a transaction id
            await contact(gql, "held back")
            await older.commit()  # writes no event: no notification
            [event] = await client.events(op, 1)
            assert event["data"]["entity"]["name"] == "held back"
    finally:
        await conn.close()


async def test_a_lost_listening_connection_is_replaced_and_nothing_is_missed(
        server, gql, tenant, database_url):
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(EVENTS)
        conn = await asyncpg.connect(database_url)
        try:
            killed = await conn.fetchval(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                "where application_name = 'docgraph-listener'")
            assert killed >= 1
            await contact(gql, "while it reconnects")
            [event] = await client.events(op, 1)
            assert event["data"]["entity"]["name"] == "while it reconnects"
            await contact(gql, "after")
            [event] = await client.events(op, 1)
            assert event["data"]["entity"]["name"] == "after"
            assert await conn.fetchval(
                "select count(*) from pg_stat_activity "
                "where application_name = 'docgraph-listener'") >= 1
        finally:
            await conn.close()


async def test_the_operation_name_picks_the_subscription(server, gql, tenant):
    document = ("subscription Ids { events { id } } "
                "subscription Types { events { type } } query Q { documents { totalCount } }")
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(document, operationName="Types")
        unknown = await client.subscribe(document, operationName="Nope")
        [error] = await client.error(unknown)
        assert error["message"] == "Unknown operation named 'Nope'."
        await contact(gql)
        message = await client.message()
        assert message == {"id": op, "type": "next",
                           "payload": {"data": {"events": {"type": "entity.created"}}}}


async def test_closed_connections_give_their_places_back(server, gql, tenant):
    hub = server.app.state.services.events
    before = hub.active
    async with await Client.ready(server.url, tenant.key) as client:
        for _ in range(3):
            await client.subscribe(EVENTS)
        completed = await client.subscribe(EVENTS)
        await client.send({"id": completed, "type": "complete"})
        await client.sync()
        assert hub.active == before + 3
    for _ in range(500):  # the server hears of the close shortly
        if hub.active == before:
            break
        await asyncio.sleep(0.01)
    assert hub.active == before


async def test_complete_ends_one_subscription_and_not_the_others(server, gql, tenant):
    async with await Client.ready(server.url, tenant.key) as client:
        ended = await client.subscribe(EVENTS)
        going = await client.subscribe(EVENTS)
        await client.send({"id": ended, "type": "complete"})
        await client.sync()
        await contact(gql)
        await client.events(going, 1)
        await client.sync()
        assert client.early == []
        # The id is free again.
        again = await client.subscribe(EVENTS, id=ended)
        await contact(gql)
        got = {(await client.message())["id"], (await client.message())["id"]}
        assert got == {going, again}


# -- authentication ----------------------------------------------------------------------


async def test_the_key_in_the_upgrade_request_or_in_any_case(server, gql, tenant):
    client = await Client.open(server.url, headers={"Authorization": f"Bearer {tenant.key}"})
    async with client:
        await client.init()
        op = await client.subscribe(EVENTS)
        await contact(gql)
        await client.events(op, 1)
    async with await Client.open(server.url) as client:
        await client.init({"authorization": f"Bearer {tenant.read_key}"})


@pytest.mark.parametrize("payload, reason", [
    (None, "invalid_key: Missing API key"),
    ({}, "invalid_key: Missing API key"),
    ({"Authorization": "Bearer wbk_nope"}, "invalid_key: Malformed API key"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_key: Malformed API key"),
    ({"Authorization": ["Bearer x"]}, "invalid_key: Malformed API key"),
    ({"Authorization": "Bearer wbk_" + "A" * 43}, "invalid_key: Invalid or revoked API key."),
])
async def test_a_missing_or_bad_key_is_forbidden(server, payload, reason):
    async with await Client.open(server.url) as client:
        await client.send({"type": "connection_init", **({} if payload is None
                                                          else {"payload": payload})})
        closed = await client.closed()
    assert (closed.code, closed.reason[:len(reason)]) == (4403, reason)
    await healthy(server.url)


async def test_a_key_without_read_scope_or_revoked_is_forbidden(server, db, tenant):
    async with await Client.open(server.url) as client:
        await client.send({"type": "connection_init",
                           "payload": {"Authorization": f"Bearer {tenant.write_key}"}})
        closed = await client.closed()
    assert closed.code == 4403
    assert closed.reason.startswith("insufficient_permissions: Missing read:documents")
    await auth.revoke_key(db, await key_id(db, tenant.read_key))
    async with await Client.open(server.url) as client:
        await client.send({"type": "connection_init",
                           "payload": {"Authorization": f"Bearer {tenant.read_key}"}})
        closed = await client.closed()
    assert (closed.code, closed.reason) == (4403, "invalid_key: Invalid or revoked API key.")


async def test_a_key_revoked_while_subscribed_closes_the_connection(server, db, gql, tenant):
    async with await Client.ready(server.url, tenant.read_key) as client:
        op = await client.subscribe(EVENTS)
        await contact(gql)
        await client.events(op, 1)
        await auth.revoke_key(db, await key_id(db, tenant.read_key))
        # Its next events (once the key is checked again, within a second) end it.
        closed = None
        for _ in range(300):
            await contact(gql)
            try:
                await asyncio.wait_for(client.message(), 0.3)
            except TimeoutError:
                continue
            except Closed as error:
                closed = error
                break
            await asyncio.sleep(0.05)
        assert closed is not None
        assert (closed.code, closed.reason) == (4403, "invalid_key: Invalid or revoked API key.")


async def test_a_page_of_another_origin_cannot_open_a_websocket(server, tenant):
    with pytest.raises(InvalidStatus) as refused:
        await Client.open(server.url, headers={"Origin": "https://evil.example"})
    assert refused.value.response.status_code == 403
    # docgraph's own pages (GraphiQL) can.
    client = await Client.open(server.url, headers={"Origin": server.url})
    async with client:
        await client.init({"Authorization": f"Bearer {tenant.key}"})


# -- the protocol's refusals -------------------------------------------------------------

INIT = {"type": "connection_init"}


def _init(key: str) -> dict[str, Any]:
    return {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}


SUBSCRIBE = {"id": "1", "type": "subscribe", "payload": {"query": "subscription { events { id } }"}}


@pytest.mark.parametrize("messages, code, reason", [
    # Before the acknowledgement.
    ([SUBSCRIBE], 4401, "Unauthorized"),
    ([{"id": "1", "type": "complete"}], 4401, "Unauthorized"),
    # Not the protocol's messages.
    (["{not json"], 4400, "Invalid message: not JSON"),
    (["[" * 5000 + "]" * 5000], 4400, "Invalid message: not JSON"),
    (['["connection_init"]'], 4400, "Invalid message: expected a JSON object"),
    (["null"], 4400, "Invalid message: expected a JSON object"),
    ([{"payload": {}}], 4400, "Invalid message: type must be a string"),
    ([{"type": 7}], 4400, "Invalid message: type must be a string"),
    ([{"type": "start"}], 4400, "Invalid message: unknown type 'start'"),
    ([{"type": "connection_ack"}], 4400, "Invalid message: unknown type 'connection_ack'"),
    ([b'{"type": "connection_init"}'], 4400, "Invalid message: send JSON text, not binary"),
    ([{"type": "connection_init", "payload": "Bearer x"}], 4400,
     "Invalid message: connection_init's payload must be an object"),
    # After the acknowledgement.
    (["INIT", INIT], 4429, "Too many initialisation requests"),
    (["INIT", {**SUBSCRIBE, "id": 1}], 4400, "Invalid message: id must be a string"),
    (["INIT", {**SUBSCRIBE, "id": ""}], 4400, "Invalid message: id must be a string"),
    (["INIT", {**SUBSCRIBE, "id": "x" * 257}], 4400, "Invalid message: id must be a string"),
    (["INIT", {"type": "subscribe", "payload": SUBSCRIBE["payload"]}], 4400,
     "Invalid message: id must be a string"),
    (["INIT", {**SUBSCRIBE, "payload": None}], 4400,
     "Invalid message: subscribe's payload must be an object"),
    (["INIT", {**SUBSCRIBE, "payload": ["subscription { events { id } }"]}], 4400,
     "Invalid message: subscribe's payload must be an object"),
    (["INIT", {**SUBSCRIBE, "payload": {"query": 5}}], 4400,
     "Invalid message: The GraphQL request's `query` must be a string."),
    (["INIT", {**SUBSCRIBE, "payload": {}}], 4400, "Invalid message: No GraphQL query found"),
    (["INIT", {**SUBSCRIBE, "payload": {**SUBSCRIBE["payload"], "variables": "{}"}}], 4400,
     "Invalid message: The GraphQL request's `variables` must be an object or null."),
    (["INIT", {**SUBSCRIBE, "payload": {**SUBSCRIBE["payload"], "operationName": 3}}], 4400,
     "Invalid message: The GraphQL request's `operationName` must be a string or null."),
    (["INIT", {**SUBSCRIBE, "payload": {**SUBSCRIBE["payload"], "extensions": [1]}}], 4400,
     "Invalid message: The GraphQL request's `extensions` must be an object or null."),
    (["INIT", {"id": 5, "type": "complete"}], 4400, "Invalid message: id must be a string"),
    (["INIT", SUBSCRIBE, SUBSCRIBE], 4409, "Subscriber for 1 already exists"),
])
async def test_messages_outside_the_protocol_close_the_connection(server, tenant, messages,
                                                                  code, reason):
    async with await Client.open(server.url) as client:
        for message in messages:
            await client.send(_init(tenant.key) if message == "INIT" else message)
        closed = await client.closed()
    assert (closed.code, closed.reason[:len(reason)]) == (code, reason)
    await healthy(server.url)


async def test_completing_an_unknown_id_changes_nothing(server, gql, tenant):
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(EVENTS)
        await client.send({"id": "never subscribed", "type": "complete"})
        await client.sync()
        await contact(gql)
        await client.events(op, 1)


async def test_a_client_without_the_subprotocol_is_closed(server):
    async with await Client.open(server.url, subprotocols=None) as client:
        closed = await client.closed()
    assert (closed.code, closed.reason) == (4406, "Subprotocol not acceptable")
    async with await Client.open(server.url, subprotocols=["graphql-ws"]) as client:
        closed = await client.closed()
    assert closed.code == 4406


async def test_an_oversized_message_is_refused(tmp_root, database_url, tenant):
    with serving(tmp_root, database_url, graphql_max_body_bytes=2048) as live:
        async with await Client.ready(live.url, tenant.key) as client:
            await client.send({**SUBSCRIBE, "payload": {
                "query": "subscription { events { id } }" + " " * 3000}})
            closed = await client.closed()
    assert closed.code == 1009


async def test_ping_is_answered_at_any_time(server, tenant):
    async with await Client.open(server.url) as client:
        await client.send({"type": "ping", "payload": {"n": 1}})
        assert await client.receive() == {"type": "pong"}
        await client.send({"type": "pong"})  # unsolicited pongs are fine
        await client.init({"Authorization": f"Bearer {tenant.key}"})
        await client.sync()


async def test_a_connection_that_never_initialises_is_closed(tmp_root, database_url):
    with serving(tmp_root, database_url, subscription_init_timeout_seconds=0.2) as live:
        async with await Client.open(live.url) as client:
            closed = await client.closed()
    assert (closed.code, closed.reason) == (4408, "Connection initialisation timeout")


async def test_idle_connections_are_pinged_and_silent_ones_let_go(tmp_root, database_url,
                                                                  gql, tenant):
    with serving(tmp_root, database_url, subscription_init_timeout_seconds=0.05,
                 subscription_ping_seconds=0.1) as live:
        async with await Client.ready(live.url, tenant.key) as answering:
            answering.answer_pings = False
            op = await answering.subscribe(EVENTS)
            for _ in range(10):  # a second of pings, each answered
                assert await answering.message() == {"type": "ping"}
                await answering.send({"type": "pong"})
            await contact(gql)
            while (message := await answering.message())["type"] == "ping":
                await answering.send({"type": "pong"})
            assert message["id"] == op and message["type"] == "next"
        async with await Client.ready(live.url, tenant.key) as silent:
            silent.answer_pings = False
            closed = await silent.closed()
    assert (closed.code, closed.reason) == (1001, "Keep-alive timeout: no pong")


# -- refusals of one subscription: an error message, and the connection goes on -----------


@pytest.mark.parametrize("query, variables, code, says", [
    ("subscription {", None, "validation_error", "Syntax Error"),
    ("subscription { nope }", None, "validation_error", "Cannot query field 'nope'"),
    ("subscription { events { id } documentEvents { id } }", None, "validation_error",
     "Anonymous Subscription must select only one top level field."),
    ("subscription($t: [String!]!) { events(types: $t) { id } }", None, "validation_error",
     "Variable '$t' has invalid value: Expected a value of non-null type"),
    ("subscription($t: [String!]) { events(types: $t) { id } }", {"t": 5}, "validation_error",
     "Variable '$t' has invalid value: String cannot represent a non string value: 5"),
    ("subscription A { events { id } } subscription B { events { type } }", None,
     "validation_error", "Must provide operation name if query contains multiple operations."),
    ("query { documents { totalCount } }", None, "validation_error",
     "Only subscriptions run over WebSocket: send query operations over HTTP"),
    ("mutation { createContact(input: {name: \"x\"}) { id } }", None, "validation_error",
     "Only subscriptions run over WebSocket: send mutation operations over HTTP"),
    (EVENTS, {"documentId": "not-a-uuid"}, "validation_error", "Invalid input: document_id."),
    (EVENTS, {"after": "evt_zz"}, "validation_error", "Invalid input: after."),
    (EVENTS, {"after": "evt_" + "f" * 32}, "validation_error", "Invalid input: after."),
    # Well formed, but of a transaction still to come: no id this service gave.
    (EVENTS, {"after": "evt_" + "7" + "f" * 31}, "validation_error", "Invalid input: after."),
    (EVENTS, {"after": "evt_00000000ffffffff0000000000000000"}, "validation_error",
     "Invalid input: after."),
    (EVENTS, {"types": ["document.exploded"]}, "validation_error", "Invalid input: types."),
    (EVENTS, {"types": []}, "validation_error", "Invalid input: types."),
    (EVENTS, {"types": ["document.created"] * 1000}, "validation_error",
     "Invalid input: types."),
    (DOCUMENT_EVENTS, {"types": ["entity.created"]}, "validation_error",
     "Invalid input: types."),
    ("subscription { events { id " + "id " * 5000 + "} }", None, "validation_error",
     "Syntax Error: Document contains more than 5000 tokens"),
])
async def test_a_refused_subscription_gets_an_error_and_the_connection_goes_on(
        server, gql, tenant, query, variables, code, says):
    async with await Client.ready(server.url, tenant.key) as client:
        op = await client.subscribe(query, variables)
        [error] = await client.error(op)
        assert error["extensions"]["code"] == code, error
        assert error["message"].startswith(says), error
        # The same id again, a good subscription this time.
        op = await client.subscribe(EVENTS, id=op)
        await contact(gql)
        await client.events(op, 1)


async def test_the_depth_and_alias_limits_apply(tmp_root, database_url, tenant):
    with serving(tmp_root, database_url, graphql_max_depth=1, graphql_max_aliases=0) as live:
        async with await Client.ready(live.url, tenant.key) as client:
            deep = await client.subscribe("subscription { events { id data { a { b } } } }")
            errors = await client.error(deep)
            assert any("exceeds maximum operation depth of 1" in e["message"] for e in errors)
            aliased = await client.subscribe("subscription { e: events { id } }")
            [error] = await client.error(aliased)
            assert error["message"] == ("1 aliases found. Allowed: 0"), error
            assert error["extensions"]["code"] == "validation_error"


async def test_persisted_and_trusted_documents(tmp_root, database_url, gql, tenant):
    trusted = "subscription Live { documentEvents { id type } }"
    path = tmp_root / "subscriptions-manifest.json"
    path.write_bytes(orjson.dumps(manifest([trusted], build_schema())))
    with serving(tmp_root, database_url, trusted_documents=path) as live:
        async with await Client.ready(live.url, tenant.key) as client:
            other = await client.subscribe("subscription { documentEvents { id } }")
            [error] = await client.error(other)
            assert error["extensions"]["code"] == "persisted_query_required"
            by_text = await client.subscribe(trusted)
            # The hash alone, as a persisted query.
            by_hash = await client.subscribe(None, id="by-hash", extensions={
                "persistedQuery": {"version": 1, "sha256Hash": sha256_hex(trusted)}})
            await gql.create_document()
            got = {(await client.message())["id"], (await client.message())["id"]}
            assert got == {by_text, by_hash}


async def test_an_unknown_persisted_hash_asks_for_the_text(server, tenant):
    async with await Client.ready(server.url, tenant.key) as client:
        await client.send({"id": "1", "type": "subscribe", "payload": {
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}}})
        [error] = await client.error("1")
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_subscribe_messages_count_against_the_rate_limit(tmp_root, database_url, db):
    tenant = await make_tenant(db, "Rate limited subscriber")
    with serving(tmp_root, database_url, rate_limit=3) as live:
        async with await Client.ready(live.url, tenant.key) as client:  # 1
            await client.subscribe(EVENTS)  # 2
            await client.subscribe(EVENTS)  # 3
            refused = await client.subscribe(EVENTS)
            [error] = await client.error(refused)
            assert error["extensions"]["code"] == "rate_limited"
            assert error["extensions"]["retryAfter"] >= 1
        async with await Client.open(live.url) as client:
            await client.send(_init(tenant.key))
            closed = await client.closed()
        assert closed.code == 4429 and closed.reason.startswith("rate_limited: ")


async def test_failed_authentications_count_against_the_address(tmp_root, cluster):
    url = await fresh_database(cluster, "ws_address_limit")
    with serving(tmp_root, url, address_rate_limit=2) as live:
        codes = []
        for _ in range(3):
            async with await Client.open(live.url) as client:
                await client.send({"type": "connection_init", "payload": {
                    "Authorization": "Bearer wbk_" + "B" * 43}})
                closed = await client.closed()
                codes.append((closed.code, closed.reason.split(":")[0]))
    assert codes == [(4403, "invalid_key"), (4403, "invalid_key"), (4429, "rate_limited")]


async def test_at_most_so_many_subscriptions_per_connection(tmp_root, database_url, gql,
                                                            tenant):
    with serving(tmp_root, database_url, subscriptions_per_connection=2) as live:
        async with await Client.ready(live.url, tenant.key) as client:
            first = await client.subscribe(EVENTS)
            await client.subscribe(EVENTS)
            third = await client.subscribe(EVENTS)
            [error] = await client.error(third)
            assert error["extensions"] == {"code": "too_many_subscriptions",
                                           "details": {"maxSubscriptions": 2}}
            await client.send({"id": first, "type": "complete"})
            fourth = await client.subscribe(EVENTS)
            await contact(gql)
            got = {(await client.message())["id"], (await client.message())["id"]}
            assert got == {"2", fourth}


async def test_at_most_so_many_subscriptions_per_process(tmp_root, database_url, gql, tenant):
    with serving(tmp_root, database_url, subscriptions_per_process=2) as live:
        async with await Client.ready(live.url, tenant.key) as one, \
                await Client.ready(live.url, tenant.key) as two:
            first = await one.subscribe(EVENTS)
            await one.subscribe(EVENTS)
            refused = await two.subscribe(EVENTS)
            [error] = await two.error(refused)
            assert error["extensions"]["code"] == "unavailable"
            assert error["extensions"]["retryAfter"] >= 1
            await one.send({"id": first, "type": "complete"})
            await one.sync()
            accepted = await two.subscribe(EVENTS)
            await contact(gql)
            [event] = await two.events(accepted, 1)
            assert event["type"] == "entity.created"


async def test_at_most_so_many_connections_per_process(tmp_root, database_url, tenant):
    with serving(tmp_root, database_url, subscriptions_per_process=1) as live:
        async with await Client.ready(live.url, tenant.key):
            async with await Client.open(live.url) as refused:
                closed = await refused.closed()
            assert closed.code == 1013 and closed.reason.startswith("Try again later")
        # Room again, once the server has seen both go (the client's close returns
        # when the close handshake is done, maybe before the server has done with it).
        for _ in range(600):  # bounded (30 s), generous for a loaded machine
            async with await Client.open(live.url) as client:
                try:
                    # The server may refuse before the init is even sent.
                    await client.send(_init(tenant.key))
                    assert (await client.receive())["type"] == "connection_ack"
                except Closed as closed:
                    assert closed.code == 1013
                    await asyncio.sleep(0.05)
                    continue
                await client.subscribe(EVENTS)
                break
        else:
            raise AssertionError("no room for a connection again")


async def test_subscriptions_can_be_turned_off(tmp_root, database_url):
    with serving(tmp_root, database_url, subscriptions_per_process=0) as live:
        with pytest.raises(InvalidStatus) as refused:
            await Client.open(live.url)
        assert refused.value.response.status_code == 403


async def test_over_http_a_subscription_is_refused_with_where_to_send_it(client, tenant):
    query = "subscription { events { id } }"
    for r in (await client.post("/graphql", json={"query": query}, headers=tenant.headers()),
              await client.get("/graphql", params={"query": query}, headers=tenant.headers())):
        assert r.status_code == 200, r.text
        [error] = r.json()["errors"]
        assert error["message"].startswith("Subscriptions run over WebSocket at /graphql")
        assert error["extensions"]["code"] == "validation_error"
