"""Idempotency-Key through HTTP: replay, 422, 409, 400, leases and expiry."""

import asyncio
import time
import uuid

import asyncpg
import httpx
import orjson
import pytest

from docgraph.db import idempotency
from docgraph.db.database import Database
from docgraph.http.idempotency import fingerprint, not_kept
from docgraph.resolvers import auth
from docgraph.resolvers.maintenance import purge_expired
from tests.conftest import key_id, make_tenant
from tests.gql import assert_graphql_error, uploaded_path
from tests.instances import fresh_database, serving
from tests.test_http import assert_error
from tests.test_rate_limits import limits

# A POST every build of the app answers without side effects (405: the route
# only reads); what matters here is the layer in front of it.
PATH = "/v1/workspace"


def new_key() -> str:
    return str(uuid.uuid4())


async def post(client, tenant, key, body=b'{"name": "x"}', path=PATH, **headers):
    return await client.post(path, content=body,
                             headers={**tenant.headers(), "Idempotency-Key": key,
                                      "Content-Type": "application/json", **headers})


def assert_replay_of(replay, first):
    assert replay.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert replay.status_code == first.status_code
    assert replay.content == first.content  # byte for byte, its request_id included
    assert replay.headers["content-type"] == first.headers["content-type"]
    assert replay.headers["x-request-id"] != first.headers["x-request-id"]


async def record(db, tenant, key):
    return await db.fetchrow(
        "select * from idempotency_records where workspace_id = $1 and key = $2",
        tenant.id, key)


async def test_a_retry_replays_the_first_response_byte_for_byte(client, db, tenant):
    key = new_key()
    first = await post(client, tenant, key)
    assert_error(first, 405, "method_not_allowed")
    replay = await post(client, tenant, key)
    assert_replay_of(replay, first)
    # The replay is a request of its own: its own id and rate-limit count.
    assert limits(replay)[1] == limits(first)[1] - 1
    stored = await record(db, tenant, key)
    assert stored["status"] == 405
    assert bytes(stored["body"]) == first.content
    assert stored["locked_until"] is None


async def test_the_same_key_with_another_request_is_422(client, tenant):
    key = new_key()
    first = await post(client, tenant, key, body=b'{"name": "a"}')
    for changed in ({"body": b'{"name": "b"}'}, {"path": PATH + "?x=1"}):
        r = await post(client, tenant, key, **changed)
        error = assert_error(r, 422, "idempotency_key_reused")
        assert error["details"] == {"idempotency_key": key}
    # At /graphql the refusal is a GraphQL response.
    r = await post(client, tenant, key, path="/graphql")
    error = assert_graphql_error(r, 422, "idempotency_key_reused")
    assert error["extensions"]["details"] == {"idempotencyKey": key}
    # The first request's record is untouched.
    assert_replay_of(await post(client, tenant, key, body=b'{"name": "a"}'), first)


async def test_keys_belong_to_a_workspace(client, tenant, other_tenant):
    key = new_key()
    first = await post(client, tenant, key, body=b"1")
    other = await post(client, other_tenant, key, body=b"2")
    assert "idempotent-replayed" not in other.headers
    assert other.json()["error"]["request_id"] != first.json()["error"]["request_id"]


async def test_a_key_held_by_a_running_request_is_409_until_its_lease_ends(
        client, db, tenant):
    key, body = new_key(), b'{"name": "slow"}'
    # Another instance is running this very request: it holds the key.
    scope = {"method": "POST", "path": PATH, "raw_path": PATH.encode(), "query_string": b""}
    assert await idempotency.claim(db, tenant.id, await key_id(db, tenant.key), key,
                                   fingerprint(scope, body), uuid.uuid4(),
                                   lease_seconds=60, retention_seconds=3600)
    r = await post(client, tenant, key, body=body)
    error = assert_error(r, 409, "idempotency_in_progress")
    assert error["details"] == {"idempotency_key": key}
    assert r.headers["retry-after"] == "1"
    # A different request with the held key is still a misuse of the key.
    assert_error(await post(client, tenant, key, body=b"{}"), 422, "idempotency_key_reused")
    # That instance died: once the lease runs out, a retry runs the request.
    await db.execute("update idempotency_records set locked_until = now() "
                     "where workspace_id = $1 and key = $2", tenant.id, key)
    assert_error(await post(client, tenant, key, body=b"{}"), 422, "idempotency_key_reused")
    r = await post(client, tenant, key, body=body)
    assert_error(r, 405, "method_not_allowed")
    assert "idempotent-replayed" not in r.headers
    assert_replay_of(await post(client, tenant, key, body=body), r)


@pytest.mark.parametrize("value", ["", "x" * 256, "tab\there", "naïve", "with space", "a, b"])
async def test_a_malformed_key_is_400(client, db, tenant, value):
    r = await client.post(PATH, content=b"{}", headers=[
        ("Authorization", tenant.headers()["Authorization"]),
        ("Idempotency-Key", value.encode())])
    error = assert_error(r, 400, "validation_error")
    assert error["details"] == {"header": "Idempotency-Key"}
    assert limits(r)[0] > 0


async def test_the_key_sent_twice_is_400(client, tenant):
    r = await client.post(PATH, content=b"{}", headers=[
        ("Authorization", tenant.headers()["Authorization"]),
        ("Idempotency-Key", "a"), ("Idempotency-Key", "a")])
    assert_error(r, 400, "validation_error")


async def test_keys_of_255_characters_are_fine(client, tenant):
    key = uuid.uuid4().hex + "k" * 223
    first = await post(client, tenant, key)
    assert_replay_of(await post(client, tenant, key), first)


async def test_only_authenticated_posts_outside_storage_are_concerned(client, db, tenant):
    # Other methods ignore the header, malformed or not.
    r = await client.get(PATH, headers={**tenant.headers(), "Idempotency-Key": ""})
    assert r.status_code == 200
    # Without a valid key the request is refused before the header matters.
    key = new_key()
    r = await client.post(PATH, headers={"Idempotency-Key": key})
    assert_error(r, 401, "invalid_key")
    assert await db.fetchval("select count(*) from idempotency_records where key = $1",
                             key) == 0
    # Signed storage URLs authenticate by signature and keep no records.
    r = await client.post("/storage/x", headers={"Idempotency-Key": ""})
    assert r.json()["error"]["code"] != "validation_error"


async def test_an_expired_record_frees_its_key_and_is_purged(client, db, tenant):
    key = new_key()
    await post(client, tenant, key, body=b"1")
    kept = new_key()
    await post(client, tenant, kept, body=b"1")
    await db.execute("update idempotency_records set expires_at = now() "
                     "where workspace_id = $1 and key = $2", tenant.id, key)
    # After the retention period the key may carry a new request.
    r = await post(client, tenant, key, body=b"2")
    assert "idempotent-replayed" not in r.headers
    await db.execute("update idempotency_records set expires_at = now() "
                     "where workspace_id = $1 and key = $2", tenant.id, key)
    purged = await purge_expired(db)
    assert purged["idempotency_records"] >= 1
    assert await record(db, tenant, key) is None
    assert await record(db, tenant, kept) is not None


def test_responses_reporting_a_server_failure_are_not_kept():
    json = [["content-type", "application/json"]]
    assert not_kept(503, json, b"{}")
    assert not_kept(500, json, b"{}")
    assert not not_kept(409, json, b'{"error": {"code": "storage_conflict"}}')
    graphql = {"data": None, "errors": [{"message": "x", "extensions": {"code": "unavailable"}}]}
    assert not_kept(200, json, orjson.dumps(graphql))
    graphql["errors"][0]["extensions"]["code"] = "internal_error"
    assert not_kept(200, json, orjson.dumps(graphql))
    graphql["errors"][0]["extensions"]["code"] = "not_found"
    assert not not_kept(200, json, orjson.dumps(graphql))
    assert not not_kept(200, [["content-type", "text/plain"]], b'"errors" unavailable')
    assert not not_kept(200, json, b'{"errors": "unavailable"}')
    # Nor is an answer asking for the request again, with the query's text (APQ).
    apq = {"errors": [{"message": "PersistedQueryNotFound",
                       "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
    assert not_kept(200, json, orjson.dumps(apq))


async def test_each_instance_purges_on_its_own(tmp_root, cluster):
    url = await fresh_database(cluster, "purge")
    database = await Database.connect(url, min_size=1, max_size=2)
    try:
        tenant = await make_tenant(database)
        await database.execute(
            "insert into idempotency_records (workspace_id, api_key_id, key, fingerprint, "
            "attempt, status, headers, body, expires_at) values "
            "($1, $4, 'old', $2, $3, 200, '[]', '', now() - interval '1 second'), "
            "($1, $4, 'new', $2, $3, 200, '[]', '', now() + interval '1 hour')",
            tenant.id, b"\0" * 32, uuid.uuid4(), await key_id(database, tenant.key))
        await database.execute(
            "insert into rate_limit_windows (bucket, window_end, hits, allowed) values "
            "('a:ended', now() - interval '2 minutes', 1, true), "
            "('a:current', now() + interval '1 minute', 1, true)")
        with serving(tmp_root, url, purge_interval_seconds=1.0):
            deadline = time.monotonic() + 30
            while await database.fetchval(
                    "select (select count(*) from idempotency_records where key = 'old') + "
                    "(select count(*) from rate_limit_windows where bucket = 'a:ended')"):
                assert time.monotonic() < deadline, "the instance never purged"
                await asyncio.sleep(0.1)
        assert await database.fetchval(
            "select array_agg(key) from idempotency_records") == ["new"]
        assert await database.fetchval(
            "select array_agg(bucket) from rate_limit_windows") == ["a:current"]
    finally:
        await database.close()


CREATE = ("mutation($input: CreateDocumentInput!) { createDocument(input: $input) "
          "{ id name storagePath createdAt } }")


def create_body(storage_path, name="contract.pdf"):
    return orjson.dumps({"query": CREATE, "variables": {"input": {
        "name": name, "mimeType": "application/pdf", "storagePath": storage_path}}})


async def documents_at(db, tenant, storage_path):
    return await db.fetchval("select count(*) from documents where workspace_id = $1 "
                             "and storage_path = $2", tenant.id, storage_path)


async def test_a_retried_mutation_replays_its_response_and_creates_one_document(
        client, db, tenant):
    key, path = new_key(), await uploaded_path(client, tenant.headers())
    first = await post(client, tenant, key, body=create_body(path), path="/graphql")
    assert first.status_code == 200, first.text
    created = first.json()["data"]["createDocument"]
    for _ in range(3):
        assert_replay_of(await post(client, tenant, key, body=create_body(path),
                                    path="/graphql"), first)
    assert await db.fetchval("select id from documents where workspace_id = $1 and "
                             "storage_path = $2", tenant.id, path) == uuid.UUID(created["id"])
    # The same key for another document is refused, and creates nothing.
    other = await uploaded_path(client, tenant.headers())
    r = await post(client, tenant, key, body=create_body(other), path="/graphql")
    assert_graphql_error(r, 422, "idempotency_key_reused")
    assert await documents_at(db, tenant, other) == 0
    # Another key runs the mutation (here: a conflict with the first document).
    r = await post(client, tenant, new_key(), body=create_body(path), path="/graphql")
    assert r.json()["errors"][0]["extensions"]["code"] == "storage_conflict"


async def test_an_error_response_is_replayed_not_run_again(client, db, tenant):
    path = await uploaded_path(client, tenant.headers())
    taken = await post(client, tenant, new_key(), body=create_body(path), path="/graphql")
    taken_id = taken.json()["data"]["createDocument"]["id"]
    key = new_key()
    first = await post(client, tenant, key, body=create_body(path), path="/graphql")
    assert first.json()["errors"][0]["extensions"]["code"] == "storage_conflict"
    # The conflict goes away, but a retry under the key gets the first answer.
    await db.execute("update documents set deleted_at = now() where workspace_id = $1 "
                     "and id = $2", tenant.id, uuid.UUID(taken_id))
    assert_replay_of(await post(client, tenant, key, body=create_body(path),
                                path="/graphql"), first)
    assert await db.fetchval("select count(*) from documents where workspace_id = $1 and "
                             "storage_path = $2 and deleted_at is null", tenant.id, path) == 0


async def test_a_server_failure_is_not_kept_so_the_retry_runs(tmp_root, database_url, db,
                                                               tenant):
    key = new_key()
    with serving(tmp_root, database_url, db_statement_timeout_ms=300) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as slow:
            path = await uploaded_path(slow, tenant.headers())
            conn = await asyncpg.connect(database_url)
            try:
                async with conn.transaction():
                    await conn.execute("lock table documents in access exclusive mode")
                    failed = await post(slow, tenant, key, body=create_body(path),
                                        path="/graphql")
            finally:
                await conn.close()
            assert failed.status_code == 200, failed.text
            assert [e["extensions"]["code"] for e in failed.json()["errors"]] == ["unavailable"]
            assert await record(db, tenant, key) is None
            retried = await post(slow, tenant, key, body=create_body(path), path="/graphql")
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["data"]["createDocument"]["storagePath"] == path
    assert await documents_at(db, tenant, path) == 1


async def graphql(client, key, idempotency_key, body):
    return await client.post("/graphql", json=body, headers={
        "Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key})


async def test_a_response_is_replayed_only_to_the_key_that_made_it(client, db, gql, tenant):
    document = await gql.create_document(userData={"secret": "s3cr3t"})
    read = {"query": "query($id: ID!) { document(id: $id) { id userData } }",
            "variables": {"id": document["id"]}}
    key = new_key()
    first = await graphql(client, tenant.read_key, key, read)
    assert first.json()["data"]["document"]["userData"] == {"secret": "s3cr3t"}
    assert_replay_of(await graphql(client, tenant.read_key, key, read), first)
    # A key of the same workspace without read:documents resends it: no data.
    r = await graphql(client, tenant.write_key, key, read)
    assert "idempotent-replayed" not in r.headers
    assert "s3cr3t" not in r.text
    assert r.json()["errors"][0]["extensions"]["code"] == "insufficient_permissions"
    assert_replay_of(await graphql(client, tenant.write_key, key, read), r)
    # Nor does a key without write:documents get a mutation's stored answer.
    contact = await gql.create_entity("CONTACT")
    link = {"query": "mutation($d: ID!, $e: ID!) { linkDocument(documentId: $d, "
                     "entityType: CONTACT, entityId: $e) { created link { id } } }",
            "variables": {"d": document["id"], "e": contact}}
    key = new_key()
    first = await graphql(client, tenant.write_key, key, link)
    assert first.json()["data"]["linkDocument"]["created"] is True
    r = await graphql(client, tenant.read_key, key, link)
    assert "idempotent-replayed" not in r.headers
    assert r.json()["errors"][0]["extensions"]["code"] == "insufficient_permissions"
    # Over REST too.
    rest_key = new_key()
    path = f"/v1/documents/{document['id']}/link"
    body = orjson.dumps({"entity_type": "contact", "entity_id": contact, "role": "signed"})
    first = await post(client, tenant, rest_key, body=body, path=path)
    assert first.status_code in (200, 201), first.text
    r = await client.post(path, content=body, headers={
        **tenant.headers(tenant.read_key), "Idempotency-Key": rest_key,
        "Content-Type": "application/json"})
    assert "idempotent-replayed" not in r.headers
    assert_error(r, 403, "insufficient_permissions")


async def test_another_key_with_the_same_idempotency_key_makes_its_own_request(
        client, db, gql, tenant):
    other_key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, name="other")
    create = {"query": "mutation { createEntity(input: {entityType: MATTER, name: \"m\"}) "
                       "{ id } }"}
    key = new_key()
    first = await graphql(client, tenant.key, key, create)
    other = await graphql(client, other_key, key, create)
    assert "idempotent-replayed" not in other.headers
    made = {first.json()["data"]["createEntity"]["id"],
            other.json()["data"]["createEntity"]["id"]}
    assert len(made) == 2
    # Each key's retry replays its own first response.
    assert_replay_of(await graphql(client, tenant.key, key, create), first)
    assert_replay_of(await graphql(client, other_key, key, create), other)
    # A different request under the key is still 422, for each key on its own.
    changed = {"query": create["query"].replace('"m"', '"n"')}
    assert_graphql_error(await graphql(client, other_key, key, changed), 422,
                         "idempotency_key_reused")
