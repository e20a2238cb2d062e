"""Webhooks: endpoints, deliveries signed as Standard Webhooks specifies (checked with the
``standardwebhooks`` package, not our code), retries, ordering, disabling, isolation.

Each test that delivers gets a database of its own (the instances on a database
deliver every workspace's deliveries: another test's server must not take
them), a real receiving HTTP server (``tests.receiver``), and a docgraph server
whose settings allow private addresses (the receiver is on 127.0.0.1) and retry
within fractions of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from docgraph.config import Settings
from docgraph.db import entities as entities_db
from docgraph.db.database import Database
from docgraph.ops.embedded import EmbeddedPostgres
from docgraph.resolvers import auth
from docgraph.resolvers import webhooks as webhooks_uc
from docgraph.resolvers.records import EVENT_TYPES, EventPosition
from docgraph.resolvers.webhook_delivery import retry_delay, schedule
from tests.conftest import Tenant, key_id, make_tenant
from tests.gql import GraphQL
from tests.instances import fresh_database, serving
from tests.receiver import Received, Receiver
from tests.rest import RestAPI, assert_error, bad_fields

# Test settings: the receiver is on 127.0.0.1, and retries come within a second.
FAST: dict[str, Any] = {
    "webhook_concurrency": 8,
    "webhook_allow_private_addresses": True,
    "webhook_poll_seconds": 0.2,
    "webhook_retry_seconds": 0.1,
    "webhook_retry_max_seconds": 0.4,
    "webhook_timeout_seconds": 5.0,
}

ENDPOINT_FIELDS = """id url eventTypes description enabled disabledAt disabledReason
    failingSince previousSecretExpiresAt createdAt updatedAt"""
CREATE = f"""mutation($input: CreateWebhookEndpointInput!) {{
    createWebhookEndpoint(input: $input) {{ secret endpoint {{ {ENDPOINT_FIELDS} }} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateWebhookEndpointInput!) {{
    updateWebhookEndpoint(id: $id, input: $input) {{ {ENDPOINT_FIELDS} }} }}"""
DELETE = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { id deletedAt } }"
ROTATE = f"""mutation($id: ID!) {{
    rotateWebhookSecret(id: $id) {{ secret endpoint {{ {ENDPOINT_FIELDS} }} }} }}"""
ATTEMPT_FIELDS = "number status startedAt durationMs responseStatus responseBody error"
DELIVERY_FIELDS = f"""id endpointId eventId eventType status attemptCount nextAttemptAt
    createdAt lastAttemptAt deliveredAt attempts {{ {ATTEMPT_FIELDS} }}"""
RETRY = f"mutation($id: ID!) {{ retryWebhookDelivery(id: $id) {{ {DELIVERY_FIELDS} }} }}"
ENDPOINTS = f"{{ webhookEndpoints {{ {ENDPOINT_FIELDS} }} }}"
ENDPOINT = f"""query($id: ID!, $status: DeliveryStatus) {{ webhookEndpoint(id: $id) {{
    {ENDPOINT_FIELDS}
    deliveries(status: $status, first: 100) {{ totalCount nodes {{ {DELIVERY_FIELDS} }} }}
}} }}"""
DELIVERY = f"query($id: ID!) {{ webhookDelivery(id: $id) {{ {DELIVERY_FIELDS} }} }}"
UPDATE_DOCUMENT = """mutation($id: ID!, $input: UpdateDocumentInput!) {
    updateDocument(id: $id, input: $input) { id } }"""
SELECT_EVENTS = """
select seq, txid::text::bigint as txid, type, occurred_at, actor, data
from events where workspace_id = $1 order by txid, seq
"""


@dataclasses.dataclass
class World:
    """A database of its own, two workspaces, and a server delivering their webhooks."""

    db: Database
    url: str
    server: Any
    client: httpx.AsyncClient
    a: Tenant
    b: Tenant
    gql: GraphQL
    other_gql: GraphQL
    api: RestAPI
    other_api: RestAPI


@contextlib.asynccontextmanager
async def world(cluster: EmbeddedPostgres, tmp_root: Path, **overrides: Any
                ) -> AsyncIterator[World]:
    url = await fresh_database(cluster, "webhooks")
    db = await Database.connect(url, min_size=1, max_size=4)
    try:
        a, b = await make_tenant(db, "Tenant A"), await make_tenant(db, "Tenant B")
        with serving(tmp_root, url, **{**FAST, **overrides}) as live:
            async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
                yield World(db, url, live, client, a, b, GraphQL(client, a),
                            GraphQL(client, b), RestAPI(client, a), RestAPI(client, b))
    finally:
        await db.close()


async def register(gql: GraphQL, url: str, **fields: Any) -> tuple[dict[str, Any], str]:
    """A new endpoint (GraphQL): the endpoint, and its secret."""
    created = (await gql(CREATE, {"input": {"url": url, **fields}}))["createWebhookEndpoint"]
    return created["endpoint"], created["secret"]


def verified(secret: str, request: Received) -> dict[str, Any]:
    """The request's payload, once the standardwebhooks package verified its signature."""
    return Webhook(secret).verify(request.body, request.headers)  # type: ignore[no-any-return]


async def stored_events(db: Database, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    return [dict(row) | {"id": EventPosition(row["txid"], row["seq"]).token}
            for row in await db.fetch(SELECT_EVENTS, workspace_id)]


async def deliveries(gql: GraphQL, endpoint_id: str, status: str | None = None
                     ) -> list[dict[str, Any]]:
    found = (await gql(ENDPOINT, {"id": endpoint_id, "status": status}))["webhookEndpoint"]
    return list(found["deliveries"]["nodes"])


async def eventually(check: Any, *, within: float = 30, every: float = 0.05) -> Any:
    """``await check()`` until it answers something true; that answer."""
    deadline = time.monotonic() + within
    while True:
        answer = await check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not so after {within} s: {answer!r}")
        await asyncio.sleep(every)


async def idle(seconds: float) -> None:
    """Let the background work run a while (to show that nothing more happens)."""
    await asyncio.sleep(seconds)


# -- delivery ----------------------------------------------------------------------------


async def test_every_event_type_arrives_once_with_a_valid_signature(cluster, tmp_root,
                                                                    request):
    try:
        clamd = request.getfixturevalue("clamd")
    except pytest.skip.Exception:
        clamd = None  # no scanner here: no document.scanned event
    scanning = ({"clamd_address": clamd.address, "scan_poll_seconds": 0.2,
                 "scan_retry_seconds": 0.1} if clamd else {})
    with Receiver() as receiver:
        async with world(cluster, tmp_root, **scanning) as w:
            endpoint, secret = await register(w.gql, receiver.url, description="all of them")
            assert secret.startswith("whsec_") and endpoint["eventTypes"] == []
            gql = w.gql
            contact = await gql.create_entity("CONTACT", "Ada")
            await gql("mutation($id: ID!, $input: UpdateEntityInput!) { updateEntity(id: $id, "
                      "input: $input) { id } }", {"id": contact, "input": {"name": "Ada L."}})
            doc = await gql.create_document()
            await gql(UPDATE_DOCUMENT, {"id": doc["id"], "input": {"tags": ["nda"]}})
            await gql.link(doc["id"], "CONTACT", contact, "signed")
            await gql("mutation($id: ID!) { verifyDocument(id: $id) { id } }", {"id": doc["id"]})
            await gql("mutation($id: ID!) { expireDocument(id: $id) { id } }", {"id": doc["id"]})
            other = await gql.create_document()
            await gql("mutation($id: ID!) { rejectDocument(id: $id, reason: \"blurry\") "
                      "{ id } }", {"id": other["id"]})
            await gql("mutation($d: ID!, $e: ID!) { unlinkDocument(documentId: $d, "
                      "entityType: CONTACT, entityId: $e) { link { id } } }",
                      {"d": doc["id"], "e": contact})
            await gql("mutation($id: ID!) { deleteDocument(id: $id) { id } }", {"id": doc["id"]})
            wanted = set(EVENT_TYPES) - ({"document.scanned"} if clamd is None else set())

            async def all_types() -> list[dict[str, Any]] | None:
                events = await stored_events(w.db, w.a.id)
                return events if wanted <= {e["type"] for e in events} else None

            events = await eventually(all_types)
            requests = await receiver.wait_for(
                lambda got: {r.id for r in got} >= {e["id"] for e in events})
            await idle(0.5)
            requests = receiver.received()
            events = await stored_events(w.db, w.a.id)
            actor = str(await key_id(w.db, w.a.key))
        # Each event exactly once, and nothing else.
        assert sorted(r.id for r in requests) == sorted(e["id"] for e in events)
        by_id = {e["id"]: e for e in events}
        for r in requests:
            body = verified(secret, r)
            event = by_id[r.id]
            assert body == {"id": event["id"], "type": event["type"],
                            "timestamp": event["occurred_at"].isoformat(),
                            "workspaceId": str(w.a.id), "actor": event["actor"],
                            "data": event["data"]}
            assert r.path == "/hooks"
            assert r.headers["content-type"] == "application/json"
            assert int(r.headers["webhook-timestamp"]) == pytest.approx(time.time(), abs=120)
            assert r.headers["webhook-signature"].startswith("v1,")
            assert " " not in r.headers["webhook-signature"]  # one secret, one signature
        assert {e["actor"] for e in events if e["type"] != "document.scanned"} <= {
            actor, "system"}
        # What arrived for one document came in the order its events happened.
        positions = [EventPosition(by_id[r.id]["txid"], by_id[r.id]["seq"]) for r in requests
                     if by_id[r.id]["data"].get("document", {}).get("id") == doc["id"]]
        assert positions == sorted(positions)


async def test_a_tampered_body_fails_verification(cluster, tmp_root):
    """The check is real: the package refuses a changed body or another secret."""
    with Receiver() as receiver:
        async with world(cluster, tmp_root) as w:
            _, secret = await register(w.gql, receiver.url)
            await w.gql.create_entity("DEAL", None)
            [request] = await receiver.wait_count(1)
    verified(secret, request)
    tampered = dataclasses.replace(request, body=request.body.replace(b"DEAL", b"TASK"))
    with pytest.raises(WebhookVerificationError):
        verified(secret, tampered)
    with pytest.raises(WebhookVerificationError):
        verified("whsec_" + "A" * 43 + "=", request)


async def test_only_the_event_types_an_endpoint_wants_reach_it(cluster, tmp_root):
    with Receiver() as documents, Receiver() as everything:
        async with world(cluster, tmp_root) as w:
            await register(w.gql, documents.url, eventTypes=["document.created",
                                                             "document.deleted"])
            await register(w.gql, everything.url)
            contact = await w.gql.create_entity("CONTACT", "Ada")
            doc = await w.gql.create_document()
            await w.gql.link(doc["id"], "CONTACT", contact)
            await w.gql("mutation($id: ID!) { deleteDocument(id: $id) { id } }",
                        {"id": doc["id"]})
            got = await everything.wait_count(4)
            await documents.wait_count(2)
            await idle(0.5)
    assert [r.json()["type"] for r in got] == [
        "entity.created", "document.created", "document.linked", "document.deleted"]
    assert [r.json()["type"] for r in documents.received()] == [
        "document.created", "document.deleted"]
    # The same event has the same webhook-id at every endpoint.
    assert {r.id for r in documents.received()} <= {r.id for r in got}


async def test_a_500_then_a_200_gets_the_event_on_retry(cluster, tmp_root):
    with Receiver() as receiver:
        seen: set[str] = set()

        def first_fails(r: Received) -> tuple[int, bytes]:
            if r.id in seen:
                return 200, b"thanks"
            seen.add(r.id)
            return 500, b"database on fire \x00 " + b"x" * 5000

        receiver.answer = first_fails
        async with world(cluster, tmp_root) as w:
            endpoint, secret = await register(w.gql, receiver.url)
            doc = await w.gql.create_document()
            first, second = await receiver.wait_count(2)

            async def delivered() -> list[dict[str, Any]] | None:
                found = await deliveries(w.gql, endpoint["id"])
                return found if found and found[0]["status"] == "SUCCEEDED" else None

            [delivery] = await eventually(delivered)
            listed = (await w.gql(ENDPOINTS))["webhookEndpoints"]
    # The same event, the same id, both signed; the payload's bytes unchanged.
    assert first.id == second.id == delivery["eventId"]
    assert verified(secret, first) == verified(secret, second)
    assert first.body == second.body
    assert verified(secret, second)["data"]["document"]["id"] == doc["id"]
    assert delivery["eventType"] == "document.created"
    assert delivery["attemptCount"] == 2 and delivery["deliveredAt"]
    assert delivery["nextAttemptAt"] is None
    failed, succeeded = delivery["attempts"]
    assert failed["number"] == 1 and failed["status"] == "FAILED"
    assert failed["responseStatus"] == 500 and failed["error"] is None
    # A bounded excerpt of the answer, as text.
    assert failed["responseBody"].startswith("database on fire")
    assert "\x00" not in failed["responseBody"] and len(failed["responseBody"]) <= 1024
    assert failed["durationMs"] >= 0
    assert succeeded == {**succeeded, "number": 2, "status": "SUCCEEDED",
                         "responseStatus": 200, "responseBody": "thanks", "error": None}
    # A success ends the failing streak.
    assert listed[0]["failingSince"] is None and listed[0]["enabled"] is True


async def test_a_receiver_down_for_a_while_gets_everything_in_order(cluster, tmp_root):
    receiver = Receiver()  # not started: connections are refused
    async with world(cluster, tmp_root) as w:
        endpoint, secret = await register(w.gql, receiver.url)
        docs = [await w.gql.create_document() for _ in range(3)]
        for round_ in range(3):
            for doc in docs:
                await w.gql(UPDATE_DOCUMENT, {"id": doc["id"],
                                              "input": {"tags": [f"round-{round_}"]}})

        async def failing() -> bool:
            found = await deliveries(w.gql, endpoint["id"])
            return any(d["attempts"] and d["attempts"][0]["status"] == "FAILED"
                       for d in found)

        await eventually(failing)
        failed = [d for d in await deliveries(w.gql, endpoint["id"]) if d["attempts"]]
        assert all("Connect" in d["attempts"][0]["error"] for d in failed), failed
        listed = (await w.gql(ENDPOINTS))["webhookEndpoints"][0]
        assert listed["failingSince"] is not None and listed["enabled"]
        with receiver:  # back up, on the same port
            requests = await receiver.wait_count(12)
            await idle(0.5)
            requests = receiver.received()
            events = await stored_events(w.db, w.a.id)
    assert sorted(r.id for r in requests) == sorted(e["id"] for e in events)
    assert len(events) == 12
    by_id = {e["id"]: e for e in events}
    for doc in docs:
        mine = [r for r in requests if verified(secret, r)["data"]["document"]["id"] == doc["id"]]
        assert [by_id[r.id]["type"] for r in mine] == ["document.created"] + [
            "document.updated"] * 3
        assert [verified(secret, r)["data"]["document"]["tags"] for r in mine] == [
            [], ["round-0"], ["round-1"], ["round-2"]]


async def test_a_rolled_back_change_makes_no_delivery(cluster, tmp_root):
    class Abort(Exception):
        pass

    with Receiver() as receiver:
        async with world(cluster, tmp_root) as w:
            await register(w.gql, receiver.url)
            doomed, kept = uuid.uuid4(), uuid.uuid4()
            with pytest.raises(Abort):
                async with w.db.transaction() as conn:
                    await entities_db.insert_entity(conn, w.a.id, doomed, entity_type="deal",
                                                    name=None, attributes={}, actor="system")
                    raise Abort
            await entities_db.insert_entity(w.db, w.a.id, kept, entity_type="deal", name=None,
                                            attributes={}, actor="system")
            [request] = await receiver.wait_count(1)
            await idle(1.0)
            assert len(receiver.received()) == 1
            count = await w.db.fetchval("select count(*) from webhook_deliveries")
    assert request.json()["data"]["entity"]["id"] == str(kept)
    assert count == 1


async def test_another_workspaces_endpoints_never_see_its_events(cluster, tmp_root):
    with Receiver() as mine, Receiver() as theirs:
        async with world(cluster, tmp_root) as w:
            endpoint, _ = await register(w.gql, mine.url)
            their_endpoint, _ = await register(w.other_gql, theirs.url)
            await w.gql.create_entity("CONTACT", "Ada")
            await w.gql.create_document()
            await mine.wait_count(2)
            delivery = (await deliveries(w.gql, endpoint["id"]))[0]
            await idle(0.5)
            assert theirs.received() == []
            # Nor can the other workspace reach A's endpoint or deliveries: not found.
            other = w.other_gql
            assert (await other(ENDPOINT, {"id": endpoint["id"]}))["webhookEndpoint"] is None
            assert (await other(DELIVERY, {"id": delivery["id"]}))["webhookDelivery"] is None
            assert [e["id"] for e in (await other(ENDPOINTS))["webhookEndpoints"]] == [
                their_endpoint["id"]]
            for query, variables in ((UPDATE, {"id": endpoint["id"],
                                               "input": {"enabled": False}}),
                                     (DELETE, {"id": endpoint["id"]}),
                                     (ROTATE, {"id": endpoint["id"]}),
                                     (RETRY, {"id": delivery["id"]})):
                await other.error(query, variables, code="not_found")
            api = w.other_api
            for method, path in (("GET", f"/v1/webhooks/{endpoint['id']}"),
                                 ("PATCH", f"/v1/webhooks/{endpoint['id']}"),
                                 ("DELETE", f"/v1/webhooks/{endpoint['id']}"),
                                 ("POST", f"/v1/webhooks/{endpoint['id']}/rotate-secret"),
                                 ("GET", f"/v1/webhooks/{endpoint['id']}/deliveries"),
                                 ("GET", f"/v1/webhook-deliveries/{delivery['id']}"),
                                 ("POST", f"/v1/webhook-deliveries/{delivery['id']}/retry")):
                kwargs = {"json": {"description": "mine now"}} if method == "PATCH" else {}
                assert_error(await api.request(method, path, **kwargs), 404, "not_found")
            still = (await w.gql(ENDPOINT, {"id": endpoint["id"]}))["webhookEndpoint"]
    assert still["enabled"] and still["description"] is None


# -- rotation, disabling, manual retries --------------------------------------------------


async def test_a_rotated_secret_and_the_previous_one_both_verify_during_the_overlap(
        cluster, tmp_root):
    with Receiver() as receiver:
        async with world(cluster, tmp_root, webhook_secret_overlap_seconds=3.0) as w:
            endpoint, old = await register(w.gql, receiver.url)
            rotated = (await w.gql(ROTATE, {"id": endpoint["id"]}))["rotateWebhookSecret"]
            new = rotated["secret"]
            assert new != old and new.startswith("whsec_")
            assert rotated["endpoint"]["previousSecretExpiresAt"] is not None
            await w.gql.create_entity("DEAL", None)
            [during] = await receiver.wait_count(1)
            await asyncio.sleep(3.2)  # the overlap is over
            listed = (await w.gql(ENDPOINTS))["webhookEndpoints"][0]
            await w.gql.create_entity("TASK", None)
            _, after = await receiver.wait_count(2)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verified(new, during) == verified(old, during)
    assert listed["previousSecretExpiresAt"] is None
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verified(new, after)["data"]["entity"]["entityType"] == "TASK"
    with pytest.raises(WebhookVerificationError):
        verified(old, after)


async def test_an_endpoint_that_keeps_failing_is_disabled_with_the_reason(cluster, tmp_root):
    with Receiver() as receiver:
        receiver.answer = lambda r: (500, b"nope")
        async with world(cluster, tmp_root, webhook_disable_after_seconds=1.0) as w:
            endpoint, _ = await register(w.gql, receiver.url)
            await w.gql.create_entity("DEAL", None)

            async def disabled() -> dict[str, Any] | None:
                found = (await w.gql(ENDPOINT, {"id": endpoint["id"]}))["webhookEndpoint"]
                return found if not found["enabled"] else None

            found = await eventually(disabled)
            tried = len(receiver.received())
            await w.gql.create_entity("TASK", None)
            await idle(1.0)
            # Disabled: no attempt, and no new delivery queued.
            assert len(receiver.received()) == tried
            [delivery] = found["deliveries"]["nodes"]
            assert delivery["status"] == "PENDING" and delivery["nextAttemptAt"] is None
            # Enabled again, with the receiver fixed: what waited arrives, then the rest.
            receiver.answer = lambda r: (204, b"")
            enabled = (await w.gql(UPDATE, {"id": endpoint["id"],
                                            "input": {"enabled": True}}))[
                "updateWebhookEndpoint"]
            got = await receiver.wait_for(
                lambda got: {"entity.created"} == {r.json()["type"] for r in got[tried:]}
                and len({r.id for r in got}) == 2)
    assert found["disabledAt"] is not None and found["failingSince"] is not None
    assert found["disabledReason"] == ("Every delivery attempt failed for more than 1 "
                                       "seconds; the last: HTTP 500.")
    assert enabled["enabled"] and enabled["disabledReason"] is None
    assert enabled["failingSince"] is None
    # (Two entities: no order between them.)
    assert sorted(r.json()["data"]["entity"]["entityType"] for r in got[tried:]
                  if r.id not in {x.id for x in got[:tried]}) == ["TASK"]
    assert {r.json()["data"]["entity"]["entityType"] for r in got[tried:]} == {"DEAL", "TASK"}


async def test_a_410_gone_disables_the_endpoint_at_once(cluster, tmp_root):
    with Receiver() as receiver:
        receiver.answer = lambda r: (410, b"")
        async with world(cluster, tmp_root) as w:
            endpoint, _ = await register(w.gql, receiver.url)
            await w.gql.create_entity("DEAL", None)

            async def disabled() -> dict[str, Any] | None:
                found = (await w.api.ok("GET", f"/v1/webhooks/{endpoint['id']}"))["data"]
                return found if not found["enabled"] else None

            found = await eventually(disabled)
            await idle(0.5)
    assert len(receiver.received()) == 1
    assert "410 Gone" in found["disabled_reason"]


async def test_a_client_disables_and_enables_an_endpoint(cluster, tmp_root):
    with Receiver() as receiver:
        async with world(cluster, tmp_root) as w:
            endpoint, _ = await register(w.gql, receiver.url)
            off = (await w.api.ok("PATCH", f"/v1/webhooks/{endpoint['id']}",
                                  json={"enabled": False}))["data"]
            await w.gql.create_entity("DEAL", None)
            await idle(1.0)
            assert receiver.received() == []
            on = (await w.api.ok("PATCH", f"/v1/webhooks/{endpoint['id']}",
                                 json={"enabled": True}))["data"]
            [request] = await receiver.wait_count(1)
            key = await key_id(w.db, w.a.key)
    assert off["enabled"] is False and off["disabled_reason"] == f"Disabled by API key {key}."
    assert on["enabled"] is True and on["disabled_at"] is None
    # Nothing is lost while it is disabled: the event made then arrives once it is enabled.
    assert request.json()["data"]["entity"]["entityType"] == "DEAL"


async def test_a_failed_delivery_can_be_retried_by_hand(cluster, tmp_root):
    with Receiver() as receiver:
        receiver.answer = lambda r: (503, b"later")
        async with world(cluster, tmp_root, webhook_retry_horizon_seconds=0.5) as w:
            endpoint, secret = await register(w.gql, receiver.url)
            await w.gql.create_entity("DEAL", None)

            async def failed() -> list[dict[str, Any]]:
                return await deliveries(w.gql, endpoint["id"], "FAILED")

            [delivery] = await eventually(failed)
            tried = len(receiver.received())
            assert delivery["attemptCount"] == tried >= 2
            assert delivery["nextAttemptAt"] is None
            await idle(0.5)
            assert len(receiver.received()) == tried  # given up: no more attempts
            receiver.answer = lambda r: (202, b"")
            retried = (await w.gql(RETRY, {"id": delivery["id"]}))["retryWebhookDelivery"]
            requests = await receiver.wait_count(tried + 1)

            async def succeeded() -> dict[str, Any] | None:
                found = (await w.api.ok("GET", f"/v1/webhook-deliveries/{delivery['id']}"))[
                    "data"]
                return found if found["status"] == "succeeded" else None

            done = await eventually(succeeded)
            # Retrying a delivery of a disabled endpoint is a conflict.
            await w.gql(UPDATE, {"id": endpoint["id"], "input": {"enabled": False}})
            await w.gql.error(RETRY, {"id": delivery["id"]}, code="conflict")
            assert_error(await w.api.post(f"/v1/webhook-deliveries/{delivery['id']}/retry"),
                         409, "conflict")
    assert retried["status"] == "PENDING" and retried["nextAttemptAt"] is not None
    assert requests[-1].id == delivery["eventId"]
    verified(secret, requests[-1])
    assert done["attempt_count"] == tried + 1
    assert [a["status"] for a in done["attempts"]] == ["failed"] * tried + ["succeeded"]
    assert done["attempts"][-1]["response_status"] == 202


async def test_a_refused_address_at_delivery_time_is_a_failed_attempt(cluster, tmp_root):
    """The check is made again before every attempt, after resolving: an endpoint that
    points at a private address by then gets nothing."""
    with Receiver() as receiver:
        async with world(cluster, tmp_root, webhook_allow_private_addresses=False) as w:
            permissive = Settings.from_env({}, webhook_allow_private_addresses=True)
            created = await webhooks_uc.register_endpoint(
                w.db, permissive, w.a.id, {"url": receiver.url.replace("127.0.0.1",
                                                                        "localhost")})
            await w.gql.create_entity("DEAL", None)

            async def attempted() -> list[dict[str, Any]] | None:
                found = await deliveries(w.gql, str(created.endpoint.id))
                return found if found and found[0]["attempts"] and all(
                    a["status"] != "IN_PROGRESS" for a in found[0]["attempts"]) else None

            [delivery] = await eventually(attempted)
    assert receiver.received() == []
    error = delivery["attempts"][0]["error"]
    assert delivery["attempts"][0]["status"] == "FAILED"
    assert error.startswith("Refused: it points at a loopback address: localhost"), error


# -- registering: what is refused -----------------------------------------------------------

PRIVATE_URLS = [
    "http://127.0.0.1/hooks",
    "http://127.0.0.1:8080/hooks",
    "http://10.1.2.3/hooks",
    "http://172.16.0.1/",
    "http://192.168.1.10/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[::1]/hooks",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://[::ffff:10.0.0.1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://localhost/hooks",
    "http://localhost:9000/hooks",
    "http://2130706433/",  # 127.0.0.1 spelled as one number
    "http://127.1/",
]
MALFORMED_URLS = [
    "ftp://example.com/hooks", "file:///etc/passwd", "gopher://example.com/",
    "http://user:secret@example.com/hooks", "http://:pw@example.com/", "not a url",
    "example.com/hooks", "http:///hooks", "http://example.com/hooks#frag",
    "https://exa mple.com/", "http://example.com:0/", "http://example.com:99999/",
    "http://ex\u00e4mple.com/", "", "http://" + "a" * 2050 + ".com/",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_urls_pointing_at_private_addresses_are_refused(gql, api, url):
    error = await gql.error(CREATE, {"input": {"url": url}}, code="validation_error")
    assert "url" in error["extensions"]["details"]["fields"]
    message = bad_fields(await api.post("/v1/webhooks", json={"url": url}))["url"]
    assert message.startswith("is refused: it points at "), message
    assert (await gql(ENDPOINTS))["webhookEndpoints"] == []


@pytest.mark.parametrize("url", MALFORMED_URLS)
async def test_malformed_urls_are_refused(gql, api, url):
    await gql.error(CREATE, {"input": {"url": url}}, code="validation_error")
    assert "url" in bad_fields(await api.post("/v1/webhooks", json={"url": url}))


async def test_a_change_to_a_private_url_is_refused(gql, api):
    # A name that does not resolve is refused too (nothing could be checked).
    message = bad_fields(await api.post("/v1/webhooks", json={
        "url": "https://no-such-host.invalid/hooks"}))["url"]
    assert "does not resolve" in message
    endpoint = await _public_endpoint(api)
    for url in ("http://127.0.0.1/", "http://[::1]/", "http://localhost/"):
        assert "url" in bad_fields(await api.patch(f"/v1/webhooks/{endpoint['id']}",
                                                   json={"url": url}))
    assert (await api.ok("GET", f"/v1/webhooks/{endpoint['id']}"))["data"]["url"] == \
        endpoint["url"]


async def _public_endpoint(api: RestAPI) -> dict[str, Any]:
    """An endpoint at a public address, written as one (resolving a public name would
    need a network these tests do not use). It never gets a delivery: the session's
    servers make none (``DOCGRAPH_WEBHOOK_CONCURRENCY`` 0 in the test settings)."""
    r = await api.post("/v1/webhooks", json={"url": "https://93.184.215.14/hooks",
                                             "event_types": ["document.deleted"]})
    assert r.status_code == 201, r.text
    return dict(r.json()["data"])


async def test_bad_inputs_are_validation_errors(gql, api):
    long = "x" * 1001
    cases = [
        ({"url": "https://93.184.215.14/", "event_types": ["document.exploded"]},
         "event_types"),
        ({"url": "https://93.184.215.14/", "event_types": "document.created"}, "event_types"),
        ({"url": "https://93.184.215.14/", "event_types": [1]}, "event_types"),
        ({"url": "https://93.184.215.14/", "event_types": list(EVENT_TYPES) * 2},
         "event_types"),
        ({"url": "https://93.184.215.14/", "description": long}, "description"),
        ({"url": "https://93.184.215.14/", "description": 7}, "description"),
        ({"url": 5}, "url"),
        ({"url": ["https://93.184.215.14/"]}, "url"),
        ({}, "url"),
        ({"url": "https://93.184.215.14/", "enabled": False}, "enabled"),
        ({"url": "https://93.184.215.14/", "secret": "whsec_mine"}, "secret"),
    ]
    for body, field in cases:
        assert field in bad_fields(await api.post("/v1/webhooks", json=body)), body
    assert_error(await api.post("/v1/webhooks", content=b"[1, 2]"), 400, "validation_error")
    await gql.error(CREATE, {"input": {"url": "https://93.184.215.14/",
                                       "eventTypes": ["nope"]}}, code="validation_error")
    endpoint = await _public_endpoint(api)
    path = f"/v1/webhooks/{endpoint['id']}"
    for body, field in (({"enabled": "yes"}, "enabled"), ({"description": long}, "description"),
                        ({"event_types": ["x.y"]}, "event_types"), ({"url": None}, "url"),
                        ({"id": str(uuid.uuid4())}, "id")):
        assert field in bad_fields(await api.patch(path, json=body)), body
    # Ids: malformed ones are 400, unknown ones 404.
    for bad in ("nope", "1" * 100):
        assert_error(await api.get(f"/v1/webhooks/{bad}"), 400, "validation_error")
        assert_error(await api.post(f"/v1/webhook-deliveries/{bad}/retry"), 400,
                     "validation_error")
        await gql.error(ENDPOINT, {"id": bad}, code="validation_error")
    missing = str(uuid.uuid4())
    assert_error(await api.get(f"/v1/webhooks/{missing}"), 404, "not_found")
    assert_error(await api.get(f"/v1/webhooks/{missing}/deliveries"), 404, "not_found")
    assert_error(await api.delete(f"/v1/webhooks/{missing}"), 404, "not_found")
    assert_error(await api.post(f"/v1/webhook-deliveries/{missing}/retry"), 404, "not_found")
    assert_error(await api.get(f"/v1/webhook-deliveries/{missing}"), 404, "not_found")
    assert (await gql(ENDPOINT, {"id": missing}))["webhookEndpoint"] is None
    assert (await gql(DELIVERY, {"id": missing}))["webhookDelivery"] is None
    await gql.error(RETRY, {"id": missing}, code="not_found")
    # Paging and filters.
    deliveries_path = f"{path}/deliveries"
    assert "status" in bad_fields(await api.get(deliveries_path, params={"status": "lost"}))
    assert "per_page" in bad_fields(await api.get(deliveries_path, params={"per_page": 101}))
    assert "after" in bad_fields(await api.get(deliveries_path, params={"after": "garbage"}))
    assert "since" in bad_fields(await api.get(deliveries_path, params={"since": "x"}))


async def test_the_scopes_webhooks_need(db, client, tenant):
    api = RestAPI(client, tenant)
    gql = GraphQL(client, tenant)
    manage_only, _ = await auth.create_key(db, tenant.id, [auth.MANAGE_WEBHOOKS])
    body = {"url": "https://93.184.215.14/hooks"}
    # Without manage:webhooks, nothing: not even with both document scopes.
    for key in (tenant.read_key, tenant.write_key):
        error = assert_error(await api.post("/v1/webhooks", json=body, key=key), 403,
                             "insufficient_permissions")
        assert error["details"] == {"required_scope": "manage:webhooks"}
        assert_error(await api.get("/v1/webhooks", key=key), 403, "insufficient_permissions")
        await gql.error(ENDPOINTS, key=key, code="insufficient_permissions")
    both, _ = await auth.create_key(db, tenant.id, [auth.READ_DOCUMENTS, auth.WRITE_DOCUMENTS])
    assert_error(await api.get("/v1/webhooks", key=both), 403, "insufficient_permissions")
    # manage:webhooks alone reads, deletes, rotates; but cannot send the workspace's data
    # anywhere new: registering and changing need read:documents too.
    error = assert_error(await api.post("/v1/webhooks", json=body, key=manage_only), 403,
                         "insufficient_permissions")
    assert error["details"] == {"required_scope": "read:documents"}
    endpoint = await _public_endpoint(api)
    path = f"/v1/webhooks/{endpoint['id']}"
    assert (await api.ok("GET", "/v1/webhooks", key=manage_only))["data"]["webhooks"]
    assert_error(await api.patch(path, json={"url": "https://93.184.215.15/"},
                                 key=manage_only), 403, "insufficient_permissions")
    await gql.error(UPDATE, {"id": endpoint["id"], "input": {"enabled": True}},
                    key=manage_only, code="insufficient_permissions")
    rotated = await api.ok("POST", f"{path}/rotate-secret", key=manage_only)
    assert rotated["data"]["secret"].startswith("whsec_")
    await api.ok("GET", f"{path}/deliveries", key=manage_only)
    await api.ok("DELETE", path, key=manage_only)


async def test_the_rest_shapes(api, tenant):
    created = (await api.ok("POST", "/v1/webhooks", 201, json={
        "url": "https://93.184.215.14/hooks?x=1",
        "event_types": ["document.created", "entity.updated", "document.created"],
        "description": "CRM sync"}))["data"]
    assert set(created) == {"id", "url", "event_types", "description", "enabled",
                            "disabled_at", "disabled_reason", "failing_since",
                            "previous_secret_expires_at", "created_at", "updated_at", "secret"}
    assert created["event_types"] == ["document.created", "entity.updated"]
    assert created["enabled"] is True and created["url"] == "https://93.184.215.14/hooks?x=1"
    path = f"/v1/webhooks/{created['id']}"
    got = (await api.ok("GET", path))["data"]
    assert got == {k: v for k, v in created.items() if k != "secret"}
    listed = (await api.ok("GET", "/v1/webhooks"))["data"]["webhooks"]
    assert got in listed
    changed = (await api.ok("PATCH", path, json={"event_types": [], "description": None}))[
        "data"]
    assert changed["event_types"] == [] and changed["description"] is None
    assert (await api.ok("PATCH", path, json={}))["data"] == changed
    page = await api.ok("GET", f"{path}/deliveries")
    assert page == {"data": {"deliveries": []},
                    "meta": {"per_page": 25, "has_more": False, "next_cursor": None}}
    deleted = (await api.ok("DELETE", path))["data"]
    assert deleted["id"] == created["id"] and deleted["deleted_at"]
    assert_error(await api.get(path), 404, "not_found")


async def test_a_workspace_has_at_most_50_endpoints(db):
    tenant = await make_tenant(db, "Many endpoints")
    settings = Settings.from_env({}, webhook_allow_private_addresses=True)
    for i in range(webhooks_uc.MAX_ENDPOINTS):
        await webhooks_uc.register_endpoint(db, settings, tenant.id,
                                            {"url": f"http://127.0.0.1:9/{i}"})
    from docgraph.errors import Conflict

    with pytest.raises(Conflict):
        await webhooks_uc.register_endpoint(db, settings, tenant.id,
                                            {"url": "http://127.0.0.1:9/one-more"})
    await db.execute("delete from webhook_endpoints where workspace_id = $1", tenant.id)


# -- the schedule --------------------------------------------------------------------------


def test_retries_last_at_least_24_hours_with_backoff_and_jitter():
    settings = Settings()
    times = schedule(settings)
    assert times[0] == 0 and times[1] == settings.webhook_retry_seconds
    assert times[-1] >= 24 * 3600
    assert times[-1] >= settings.webhook_retry_horizon_seconds
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == sorted(gaps)  # exponential, then capped
    assert max(gaps) == settings.webhook_retry_max_seconds
    delays = [retry_delay(settings, 3) for _ in range(200)]
    assert min(delays) >= 0.75 * 20 and max(delays) <= 1.25 * 20
    assert len(set(delays)) > 100  # jittered
    assert retry_delay(settings, 1, retry_after=600) >= 600  # Retry-After is honoured
    assert retry_delay(settings, 1, retry_after=10**9) <= settings.webhook_retry_max_seconds


# -- instances ---------------------------------------------------------------------------


async def test_an_instance_killed_mid_delivery_loses_nothing(cluster, tmp_path):
    """SIGKILL while the receiver holds the attempt open: the other instance makes the
    delivery once the claim's lease runs out, and the lost attempt shows interrupted."""
    from tests.instances import Instance

    url = await fresh_database(cluster, "webhooks_kill")
    db = await Database.connect(url, min_size=1, max_size=2)
    env = {"DOCGRAPH_WEBHOOK_CONCURRENCY": "4",
           "DOCGRAPH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
           "DOCGRAPH_WEBHOOK_POLL_SECONDS": "0.2",
           # Long enough that the held attempt is still open when the instance is
           # killed, even on a loaded machine; the lease: 2 x 12 + 10 s.
           "DOCGRAPH_WEBHOOK_TIMEOUT_SECONDS": "12",
           "DOCGRAPH_KEY_CACHE_SECONDS": "0"}
    first = Instance(url, tmp_path, **env)
    second = Instance(url, tmp_path, **env)
    try:
        tenant = await make_tenant(db, "Killed")
        first.start()
        with Receiver() as receiver:
            receiver.hold()  # the first request stays unanswered
            async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
                gql = GraphQL(client, tenant)
                # Only the creation: the document's background jobs (text, scan) make
                # events of their own, on whichever instance runs them, at any time.
                endpoint, secret = await register(gql, receiver.url,
                                                  eventTypes=["document.created"])
                doc = await gql.create_document()
            [held] = await receiver.wait_count(1)
            first.kill()
            receiver.release()
            second.start()
            requests = await receiver.wait_count(2, within=120)
            async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
                gql = GraphQL(client, tenant)

                async def delivered() -> list[dict[str, Any]] | None:
                    found = await deliveries(gql, endpoint["id"])
                    return found if found[0]["status"] == "SUCCEEDED" else None

                [delivery] = await eventually(delivered)
    finally:
        first.kill()
        second.stop()
        await db.close()
    assert held.id == requests[1].id == delivery["eventId"]
    assert verified(secret, requests[1])["data"]["document"]["id"] == doc["id"]
    assert [a["status"] for a in delivery["attempts"]] == ["INTERRUPTED", "SUCCEEDED"]
    assert "stopped before it finished" in delivery["attempts"][0]["error"]


# -- retention -----------------------------------------------------------------------------


async def test_deliveries_and_attempts_are_purged_with_the_events(db):
    from docgraph.resolvers.maintenance import purge_expired

    tenant = await make_tenant(db, "Retention")
    settings = Settings.from_env({}, webhook_allow_private_addresses=True)
    endpoint = (await webhooks_uc.register_endpoint(
        db, settings, tenant.id, {"url": "http://127.0.0.1:9/hooks"})).endpoint
    ids = {}
    for age, seq in (("91 days", 1), ("89 days", 2)):
        ids[age] = await db.fetchval(
            "insert into webhook_deliveries (workspace_id, endpoint_id, event_txid, event_seq,"
            " event_type, status, next_attempt_at, created_at) values ($1, $2, '1'::xid8, $3,"
            " 'document.created', 'failed', null, now() - $4::text::interval) returning id",
            tenant.id, endpoint.id, seq, age)
        await db.execute("insert into webhook_attempts (workspace_id, delivery_id, number, "
                         "status) values ($1, $2, 1, 'failed')", tenant.id, ids[age])
    purged = await purge_expired(db, event_retention_days=90)
    assert purged["webhook_deliveries"] >= 1
    left = await db.fetch("select id from webhook_deliveries where workspace_id = $1",
                          tenant.id)
    assert [row["id"] for row in left] == [ids["89 days"]]
    attempts = await db.fetch("select delivery_id from webhook_attempts where "
                              "workspace_id = $1", tenant.id)
    assert [row["delivery_id"] for row in attempts] == [ids["89 days"]]
    await db.execute("delete from webhook_endpoints where workspace_id = $1", tenant.id)
