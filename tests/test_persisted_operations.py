"""Persisted operations: automatic persisted queries (Apollo's protocol) and trusted documents.

A request names its document by the SHA-256 of its text (``extensions.persistedQuery``
or ``documentId``) and runs as if it had sent the text. Unknown hashes are answered
as Apollo's clients expect; a text sent with its hash registers it (here and, with
the shared table, on every instance); with a manifest of trusted documents nothing
else runs.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from docgraph.app import create_app
from docgraph.config import ConfigError
from docgraph.resolvers import auth
from docgraph.schema import build_schema
from docgraph.schema import documents as parsing
from docgraph.schema.documents import OperationDocuments
from docgraph.schema.persisted import manifest
from tests.conftest import make_settings
from tests.gql import GRAPHQL_RESPONSE_JSON, assert_graphql_error
from tests.instances import serving
from tests.test_cli import docgraph
from tests.test_rate_limits import limits

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOT_FOUND = {"errors": [{"message": "PersistedQueryNotFound",
                         "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
NOT_SUPPORTED_CODE = "PERSISTED_QUERY_NOT_SUPPORTED"
DOCUMENTS = "query Docs { documents(first: 5) { totalCount nodes { id name sizeBytes } } }"
CREATE_CONTACT = "mutation New($name: String!) { createContact(input: {name: $name}) { id name } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fresh(query: str) -> str:
    """``query`` with a comment no other test's text has: a hash nobody registered yet."""
    return f"# {uuid.uuid4()}\n{query}"


def apq(sha256: str, version: Any = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256}}


async def post(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any],
               **extra: str) -> httpx.Response:
    return await client.post("/graphql", json=body, headers={**headers, **extra})


async def get(client: httpx.AsyncClient, headers: dict[str, str],
              **params: Any) -> httpx.Response:
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return await client.get("/graphql", params=encoded, headers=headers)


def statements(r: httpx.Response) -> int:
    return int(r.headers["x-statement-count"])


# -- automatic persisted queries ----------------------------------------------------------

@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_an_unknown_hash_is_answered_as_the_protocol_says(client, tenant, accept):
    r = await post(client, tenant.headers(), {"extensions": apq(sha(fresh("{ a }")))},
                   Accept=accept)
    # Apollo's answer, word for word: 200 (clients then send the text), never cached.
    assert r.status_code == 200
    assert r.json() == NOT_FOUND
    assert r.headers["content-type"].startswith(accept)
    assert r.headers["cache-control"] == "private, no-cache, must-revalidate"
    assert r.headers["x-request-id"] and r.headers["x-ratelimit-remaining"]


async def test_a_text_sent_with_its_hash_is_registered_for_the_hash_alone(client, db, tenant,
                                                                         gql):
    await gql.create_document(name="registered.pdf")
    query = fresh(DOCUMENTS)
    registering = await post(client, tenant.headers(),
                             {"query": query, "extensions": apq(sha(query))})
    assert registering.status_code == 200
    data = registering.json()["data"]
    assert data["documents"]["totalCount"] == 1
    # Kept for every instance: the shared table holds the text under its hash.
    assert await db.fetchval("select source from persisted_operations where sha256 = $1",
                             sha(query)) == query

    alone = await post(client, tenant.headers(), {"extensions": apq(sha(query))})
    assert alone.status_code == 200
    assert alone.json() == {"data": data}
    # The hash as the GraphQL-over-HTTP draft's documentId, prefixed or not.
    for document_id in (f"sha256:{sha(query)}", sha(query), sha(query).upper()):
        r = await post(client, tenant.headers(), {"documentId": document_id})
        assert r.json() == {"data": data}, document_id


async def test_a_hash_answers_byte_for_byte_what_its_text_does(client, tenant, gql):
    await gql.create_document(name="bytes.pdf", tags=["a", "b"])
    query = fresh(DOCUMENTS)
    await post(client, tenant.headers(), {"query": query, "extensions": apq(sha(query))})
    for accept in ("application/json", GRAPHQL_RESPONSE_JSON):
        text = await post(client, tenant.headers(), {"query": query}, Accept=accept)
        alone = await post(client, tenant.headers(), {"extensions": apq(sha(query))},
                           Accept=accept)
        assert alone.status_code == text.status_code == 200
        assert alone.content == text.content
        assert alone.headers["content-type"] == text.headers["content-type"]
        # Same SQL too: a hash this process holds costs no statement.
        assert statements(alone) == statements(text)


async def test_graphql_cores_executor_answers_a_hash_alike(tmp_root, database_url, tenant,
                                                           gql):
    await gql.create_document(name="slow-path.pdf")
    query = fresh(DOCUMENTS)
    with serving(tmp_root, database_url, graphql_compiled=False) as live:
        async with httpx.AsyncClient(base_url=live.url) as c:
            registering = await post(c, tenant.headers(),
                                     {"query": query, "extensions": apq(sha(query))})
            alone = await post(c, tenant.headers(), {"extensions": apq(sha(query))})
            text = await post(c, tenant.headers(), {"query": query})
    assert registering.json()["data"]["documents"]["totalCount"] == 1
    assert alone.content == text.content == registering.content


async def test_a_known_hash_skips_parsing_and_validation(client, tenant, monkeypatch):
    query = fresh("{ documents(first: 2) { totalCount nodes { id } } }")
    await post(client, tenant.headers(), {"query": query, "extensions": apq(sha(query))})
    parsed: list[str] = []
    real_parse = parsing.parse
    monkeypatch.setattr(parsing, "parse", lambda text, **kw: parsed.append(text)
                        or real_parse(text, **kw))
    validations = OperationDocuments.misses
    for _ in range(3):
        r = await post(client, tenant.headers(), {"extensions": apq(sha(query))})
        assert r.status_code == 200 and "data" in r.json(), r.text
    assert parsed == []
    assert OperationDocuments.misses == validations


async def test_a_hash_is_priced_as_its_document(client, db, tenant):
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=20)
    headers = tenant.headers(key)
    query = fresh("{ a: __typename b: documents(first: 1) { totalCount } c: __typename }")
    r = await post(client, headers, {"query": query, "extensions": apq(sha(query))})
    assert limits(r)[:2] == (20, 17)
    r = await post(client, headers, {"extensions": apq(sha(query))})
    assert r.status_code == 200 and "data" in r.json()
    assert limits(r)[:2] == (20, 14)
    r = await get(client, headers, extensions=apq(sha(query)))
    assert limits(r)[:2] == (20, 11)
    # Too many root fields for what is left: refused, as its text would be.
    wide = fresh("{ " + " ".join(f"f{i}: __typename" for i in range(12)) + " }")
    r = await post(client, headers, {"query": wide, "extensions": apq(sha(wide))})
    assert_graphql_error(r, 429, "rate_limited")
    # An unknown hash runs nothing and costs 1.
    r = await post(client, headers, {"extensions": apq(sha(fresh("{ a b c }")))})
    assert r.json() == NOT_FOUND
    assert limits(r)[:2] == (20, 10)


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_a_hash_that_is_not_the_texts_is_400(client, db, tenant, accept):
    query = fresh("{ __typename }")
    other = sha(fresh("{ __typename }"))
    for body in ({"query": query, "extensions": apq(other)},
                 {"query": query, "documentId": f"sha256:{other}"}):
        r = await post(client, tenant.headers(), body, Accept=accept)
        error = assert_graphql_error(r, 400, "validation_error")
        assert error["message"] == "provided sha does not match query"
        assert "extensions" in error["extensions"]["details"]["fields"]
    # Nothing was registered under either hash.
    assert await db.fetchval("select count(*) from persisted_operations where sha256 in ($1, $2)",
                             other, sha(query)) == 0
    r = await post(client, tenant.headers(), {"extensions": apq(other)})
    assert r.json() == NOT_FOUND


HASH = "a" * 64


@pytest.mark.parametrize(("extensions", "field"), [
    ({"persistedQuery": "x"}, "extensions.persistedQuery"),
    ({"persistedQuery": [HASH]}, "extensions.persistedQuery"),
    ({"persistedQuery": 1}, "extensions.persistedQuery"),
    ({"persistedQuery": True}, "extensions.persistedQuery"),
    ({"persistedQuery": {"sha256Hash": HASH}}, "extensions.persistedQuery.version"),
    (apq(HASH, version="1"), "extensions.persistedQuery.version"),
    (apq(HASH, version=1.5), "extensions.persistedQuery.version"),
    (apq(HASH, version=True), "extensions.persistedQuery.version"),
    (apq(HASH, version=None), "extensions.persistedQuery.version"),
    (apq(HASH, version=[1]), "extensions.persistedQuery.version"),
    ({"persistedQuery": {"version": 1}}, "extensions.persistedQuery.sha256Hash"),
    (apq(None), "extensions.persistedQuery.sha256Hash"),
    (apq(12345), "extensions.persistedQuery.sha256Hash"),
    (apq({"h": HASH}), "extensions.persistedQuery.sha256Hash"),
    (apq("abc"), "extensions.persistedQuery.sha256Hash"),
    (apq("a" * 63), "extensions.persistedQuery.sha256Hash"),
    (apq("a" * 65), "extensions.persistedQuery.sha256Hash"),
    (apq("g" * 64), "extensions.persistedQuery.sha256Hash"),
    (apq(" " + "a" * 63), "extensions.persistedQuery.sha256Hash"),
    (apq("a" * 64 + "\n"), "extensions.persistedQuery.sha256Hash"),
    (apq("ä" * 64), "extensions.persistedQuery.sha256Hash"),
    (apq("a" * 500_000), "extensions.persistedQuery.sha256Hash"),
])
@pytest.mark.parametrize("with_query", [False, True])
async def test_a_malformed_persisted_query_is_a_clear_400(client, tenant, extensions, field,
                                                          with_query):
    body: dict[str, Any] = {"extensions": extensions}
    if with_query:
        body["query"] = "{ __typename }"
    r = await post(client, tenant.headers(), body)
    error = assert_graphql_error(r, 400, "validation_error")
    assert set(error["extensions"]["details"]["fields"]) == {field}
    assert field in error["message"]


@pytest.mark.parametrize("document_id", [
    "", "x", "sha256:", "sha256:abc", "md5:" + "a" * 32, "sha256:" + "a" * 63,
    "sha256:" + "g" * 64, "sha256 :" + "a" * 64, "SHA256:" + "a" * 64, "a" * 65,
    "sha256:" + "a" * 100_000, 5, True, ["sha256:" + "a" * 64], {"sha256": "a" * 64},
])
async def test_a_malformed_document_id_is_a_clear_400(client, tenant, document_id):
    r = await post(client, tenant.headers(), {"documentId": document_id})
    error = assert_graphql_error(r, 400, "validation_error")
    assert set(error["extensions"]["details"]["fields"]) == {"documentId"}


async def test_a_document_id_and_a_persisted_query_must_agree(client, tenant):
    r = await post(client, tenant.headers(), {"documentId": "a" * 64,
                                              "extensions": apq("b" * 64)})
    error = assert_graphql_error(r, 400, "validation_error")
    assert set(error["extensions"]["details"]["fields"]) == {"documentId"}


@pytest.mark.parametrize("version", [0, 2, -1, 2**53])
async def test_another_protocol_version_is_not_supported(client, tenant, version):
    for body in ({"extensions": apq(HASH, version)},
                 {"query": "{ __typename }", "extensions": apq(HASH, version)}):
        r = await post(client, tenant.headers(), body)
        assert r.status_code == 200
        error = assert_graphql_error(r, 200, NOT_SUPPORTED_CODE)
        assert error["message"] == "PersistedQueryNotSupported"
        assert error["extensions"]["details"] == {"supportedVersions": [1]}


async def test_other_extensions_go_on_to_the_operation(client, tenant):
    query = fresh("{ __typename }")
    r = await post(client, tenant.headers(), {
        "query": query, "extensions": {**apq(sha(query)), "tracing": {"on": False}}})
    assert r.json() == {"data": {"__typename": "Query"}}
    r = await post(client, tenant.headers(), {"extensions": {**apq(sha(query)), "x": 1}})
    assert r.json() == {"data": {"__typename": "Query"}}


async def test_garbage_is_never_registered(client, db, tenant):
    for query in (fresh("{ nope }"), fresh("{ workspace { id "), fresh("query A { a } {")):
        r = await post(client, tenant.headers(), {"query": query, "extensions": apq(sha(query))})
        assert "data" not in r.json()  # refused as its text alone would be
        assert await db.fetchval("select count(*) from persisted_operations where sha256 = $1",
                                 sha(query)) == 0
        r = await post(client, tenant.headers(), {"extensions": apq(sha(query))})
        assert r.json() == NOT_FOUND


async def test_a_hash_is_no_way_into_another_workspace(client, tenant, other_tenant, gql,
                                                      other_gql):
    await gql.create_document(name="tenant-a.pdf")
    query = fresh(DOCUMENTS)
    r = await post(client, tenant.headers(), {"query": query, "extensions": apq(sha(query))})
    assert r.json()["data"]["documents"]["totalCount"] == 1
    # Hashes are no secret: B may run the same document, and sees its own workspace.
    r = await post(client, other_tenant.headers(), {"extensions": apq(sha(query))})
    assert r.json() == {"data": {"documents": {"totalCount": 0, "nodes": []}}}


async def test_a_hash_needs_a_key_like_a_query(client):
    query = fresh("{ __typename }")
    r = await client.post("/graphql", json={"extensions": apq(sha(query))})
    assert_graphql_error(r, 401, "invalid_key")
    # A GET naming a document asks to run it: no GraphiQL page, a key needed.
    for params in ({"extensions": json.dumps(apq(sha(query)))},
                   {"documentId": f"sha256:{sha(query)}"}):
        r = await client.get("/graphql", params=params, headers={"Accept": "text/html"})
        assert_graphql_error(r, 401, "invalid_key")


async def test_get_runs_a_query_by_its_hash_and_never_a_mutation(client, db, tenant):
    query = fresh("query Named($n: Int) { documents(first: $n) { totalCount } }")
    await post(client, tenant.headers(), {"query": query, "extensions": apq(sha(query)),
                                          "variables": {"n": 1}})
    expected = {"data": {"documents": {"totalCount": 0}}}
    r = await get(client, tenant.headers(), extensions=apq(sha(query)), variables={"n": 1})
    assert (r.status_code, r.json()) == (200, expected)
    r = await get(client, tenant.headers(), documentId=f"sha256:{sha(query)}",
                  variables={"n": 2}, operationName="Named")
    assert (r.status_code, r.json()) == (200, expected)
    r = await get(client, tenant.headers(), extensions=apq(sha(fresh("{ a }"))))
    assert (r.status_code, r.json()) == (200, NOT_FOUND)

    mutation = fresh(CREATE_CONTACT)
    name = f"apq-{uuid.uuid4()}"
    r = await post(client, tenant.headers(), {"query": mutation, "variables": {"name": name},
                                              "extensions": apq(sha(mutation))})
    assert r.json()["data"]["createContact"]["name"] == name
    other = f"apq-{uuid.uuid4()}"
    for params in ({"extensions": apq(sha(mutation))}, {"documentId": sha(mutation)}):
        r = await get(client, tenant.headers(), variables={"name": other}, **params)
        error = assert_graphql_error(r, 405, "method_not_allowed")
        assert r.headers["allow"] == "POST"
        assert "mutation" in error["message"]
    assert await db.fetchval("select count(*) from entities where name = $1", other) == 0


async def test_a_hash_for_a_mutation_runs_by_post(client, db, tenant):
    mutation = fresh(CREATE_CONTACT)
    await post(client, tenant.headers(), {"query": mutation, "variables": {"name": "first"},
                                          "extensions": apq(sha(mutation))})
    name = f"apq-{uuid.uuid4()}"
    r = await post(client, tenant.headers(), {"variables": {"name": name},
                                              "extensions": apq(sha(mutation))})
    assert r.json()["data"]["createContact"]["name"] == name
    assert await db.fetchval("select count(*) from entities where name = $1 and "
                             "workspace_id = $2", name, tenant.id) == 1


async def test_an_idempotency_key_survives_the_protocols_round_trip(client, db, tenant):
    mutation = fresh(CREATE_CONTACT)
    name = f"apq-{uuid.uuid4()}"
    headers = {**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())}
    # The client's first try (the hash alone) is not kept under the key...
    r = await post(client, headers, {"variables": {"name": name},
                                     "extensions": apq(sha(mutation))})
    assert r.json() == NOT_FOUND
    # ...so the text it sends next with the same key runs, and that answer is kept.
    full = {"query": mutation, "variables": {"name": name}, "extensions": apq(sha(mutation))}
    first = await post(client, headers, full)
    assert first.json()["data"]["createContact"]["name"] == name
    again = await post(client, headers, full)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert await db.fetchval("select count(*) from entities where name = $1", name) == 1


async def test_the_sql_a_hash_costs(tmp_root, database_url, tenant):
    """A hash a process holds costs nothing; one it lacks one SELECT; a registration one
    INSERT (the test servers cache no keys: every request also looks its key up)."""
    query = fresh("{ documents(first: 1) { totalCount } }")
    with serving(tmp_root, database_url) as a, serving(tmp_root, database_url) as b:
        async with httpx.AsyncClient(base_url=a.url) as ca, \
                httpx.AsyncClient(base_url=b.url) as cb:
            text = statements(await post(ca, tenant.headers(), {"query": query}))
            registering = await post(ca, tenant.headers(),
                                     {"query": query, "extensions": apq(sha(query))})
            assert statements(registering) == text + 1
            held = await post(ca, tenant.headers(), {"extensions": apq(sha(query))})
            assert statements(held) == text
            # Another instance learns the hash from the shared table, once.
            first = await post(cb, tenant.headers(), {"extensions": apq(sha(query))})
            assert first.json() == registering.json()
            assert statements(first) == text + 1
            second = await post(cb, tenant.headers(), {"extensions": apq(sha(query))})
            assert statements(second) == text
            unknown = await post(cb, tenant.headers(), {"extensions": apq(sha(fresh("{ a }")))})
            assert unknown.json() == NOT_FOUND
            assert statements(unknown) == 3  # the limit, the key, the lookup


async def test_memory_only_registrations_stay_in_their_process(tmp_root, database_url, tenant):
    query = fresh("{ __typename }")
    with serving(tmp_root, database_url, graphql_apq="memory") as a, \
            serving(tmp_root, database_url, graphql_apq="memory") as b:
        async with httpx.AsyncClient(base_url=a.url) as ca, \
                httpx.AsyncClient(base_url=b.url) as cb:
            registering = await post(ca, tenant.headers(),
                                     {"query": query, "extensions": apq(sha(query))})
            text = statements(await post(ca, tenant.headers(), {"query": query}))
            assert statements(registering) == text  # no INSERT
            r = await post(ca, tenant.headers(), {"extensions": apq(sha(query))})
            assert r.json() == {"data": {"__typename": "Query"}}
            r = await post(cb, tenant.headers(), {"extensions": apq(sha(query))})
            assert r.json() == NOT_FOUND
            assert statements(r) == 2  # the limit and the key: no lookup


async def test_the_lru_and_the_size_bound(tmp_root, database_url, db, tenant):
    with serving(tmp_root, database_url, graphql_apq="memory", graphql_apq_cache_size=2,
                 graphql_apq_max_document_bytes=256) as live:
        async with httpx.AsyncClient(base_url=live.url) as c:
            texts = [fresh("{ __typename }") for _ in range(3)]
            for text in texts:
                await post(c, tenant.headers(), {"query": text, "extensions": apq(sha(text))})
            # The least recently used went; the two last stay.
            r = await post(c, tenant.headers(), {"extensions": apq(sha(texts[0]))})
            assert r.json() == NOT_FOUND
            for text in texts[1:]:
                r = await post(c, tenant.headers(), {"extensions": apq(sha(text))})
                assert r.json() == {"data": {"__typename": "Query"}}
            # Over the size bound: it runs, but is never kept.
            large = fresh("{ __typename }") + " " * 300
            r = await post(c, tenant.headers(), {"query": large, "extensions": apq(sha(large))})
            assert r.json() == {"data": {"__typename": "Query"}}
            r = await post(c, tenant.headers(), {"extensions": apq(sha(large))})
            assert r.json() == NOT_FOUND


async def test_persisted_queries_can_be_turned_off(tmp_root, database_url, tenant):
    query = fresh("{ __typename }")
    with serving(tmp_root, database_url, graphql_apq="off") as live:
        async with httpx.AsyncClient(base_url=live.url) as c:
            for body in ({"extensions": apq(sha(query))},
                         {"query": query, "extensions": apq(sha(query))},
                         {"documentId": f"sha256:{sha(query)}"}):
                r = await post(c, tenant.headers(), body)
                error = assert_graphql_error(r, 200, NOT_SUPPORTED_CODE)
                assert error["message"] == "PersistedQueryNotSupported"
            r = await post(c, tenant.headers(), {"query": query})
            assert r.json() == {"data": {"__typename": "Query"}}


async def test_expired_registrations_are_purged(db):
    from docgraph.resolvers.maintenance import purge_expired

    text = fresh("{ __typename }")
    await db.execute("insert into persisted_operations (sha256, source, created_at) "
                     "values ($1, $2, now() - interval '2 days')", sha(text), text)
    kept = fresh("{ __typename }")
    await db.execute("insert into persisted_operations (sha256, source) values ($1, $2)",
                     sha(kept), kept)
    purged = await purge_expired(db, persisted_operations_seconds=86400)
    assert purged["persisted_operations"] >= 1
    assert await db.fetchval("select count(*) from persisted_operations where sha256 = $1",
                             sha(text)) == 0
    assert await db.fetchval("select count(*) from persisted_operations where sha256 = $1",
                             sha(kept)) == 1


# -- trusted documents --------------------------------------------------------------------

def example_operations() -> dict[str, str]:
    return json.loads((EXAMPLES / "operations.json").read_text())


@pytest.fixture(scope="module")
def trusted_manifest(tmp_path_factory) -> Path:
    """The example app's operations and DOCUMENTS, as `docgraph persisted-documents` has it."""
    path = tmp_path_factory.mktemp("trusted") / "manifest.json"
    texts = [*example_operations().values(), DOCUMENTS]
    path.write_bytes(orjson.dumps(manifest(texts, build_schema())))
    return path


@pytest.fixture(scope="module")
def trusted_server(tmp_root, database_url, trusted_manifest):
    with serving(tmp_root, database_url, trusted_documents=trusted_manifest) as live:
        yield live


@pytest.fixture
async def trusted_client(trusted_server):
    async with httpx.AsyncClient(base_url=trusted_server.url, timeout=30) as c:
        yield c


async def test_trusted_documents_run_by_hash_document_id_or_exact_text(trusted_client, tenant,
                                                                       gql):
    await gql.create_document(name="trusted.pdf")
    headers = tenant.headers()
    by_text = await post(trusted_client, headers, {"query": DOCUMENTS})
    assert by_text.status_code == 200
    assert by_text.json()["data"]["documents"]["totalCount"] == 1
    for body in ({"extensions": apq(sha(DOCUMENTS))},
                 {"documentId": f"sha256:{sha(DOCUMENTS)}"},
                 {"documentId": sha(DOCUMENTS)},
                 {"query": DOCUMENTS, "extensions": apq(sha(DOCUMENTS))}):
        r = await post(trusted_client, headers, body)
        assert r.content == by_text.content, body
        # No SQL to find a manifest's document.
        assert statements(r) == statements(by_text)
    r = await get(trusted_client, headers, documentId=f"sha256:{sha(DOCUMENTS)}")
    assert r.content == by_text.content
    # The example app's mutations, by hash.
    create = example_operations()["CreateContact"]
    r = await post(trusted_client, headers, {
        "extensions": apq(sha(create)), "variables": {"input": {"name": "Trusted Ada"}}})
    assert r.json()["data"]["createContact"]["name"] == "Trusted Ada"


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_trusted_mode_refuses_any_other_document(trusted_client, db, tenant, accept):
    headers = {**tenant.headers(), "Accept": accept}
    other = fresh("{ __typename }")
    for body in ({"query": "{ __typename }"},
                 {"query": DOCUMENTS + " "},  # not the exact text: another hash
                 {"query": other, "extensions": apq(sha(other))}):  # nor registered
        r = await post(trusted_client, headers, body)
        error = assert_graphql_error(r, 400, "persisted_query_required")
        assert "trusted documents" in error["message"]
    r = await post(trusted_client, headers, {"extensions": apq(sha(other))})
    assert (r.status_code, r.json()) == (200, NOT_FOUND)
    r = await post(trusted_client, headers, {"documentId": f"sha256:{sha(other)}"})
    assert (r.status_code, r.json()) == (200, NOT_FOUND)
    r = await get(trusted_client, tenant.headers(), query="{ __typename }")
    assert_graphql_error(r, 400, "persisted_query_required")
    assert await db.fetchval("select count(*) from persisted_operations where sha256 = $1",
                             sha(other)) == 0


async def test_trusted_mode_serves_no_graphiql(trusted_client, tenant):
    r = await trusted_client.get("/graphql", headers={"Accept": "text/html"})
    assert_graphql_error(r, 406, "not_acceptable")
    r = await trusted_client.get("/graphql/assets/react@18.2.0/umd/react.production.min.js")
    assert r.status_code == 404


def write(tmp_path: Path, content: bytes | str) -> Path:
    path = tmp_path / f"manifest-{uuid.uuid4().hex[:8]}.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


VALID = "{ documents(first: 1) { totalCount } }"


@pytest.mark.parametrize(("content", "says"), [
    (b"{not json", "is not JSON"),
    (b"", "is not JSON"),
    (b"[]", "must be a JSON object"),
    (b'["{ __typename }"]', "must be a JSON object"),
    (b"{}", "at least one"),
    (orjson.dumps({"abc": VALID}), "is not a SHA-256"),
    (orjson.dumps({"md5:" + "a" * 32: VALID}), "is not a SHA-256"),
    (orjson.dumps({sha(VALID): 5}), "is not a string"),
    (orjson.dumps({sha(VALID + " "): VALID}), f"is not the SHA-256 of its document (that is "
                                              f"{sha(VALID)})"),
    (orjson.dumps({sha("{ nope }"): "{ nope }"}), "Cannot query field 'nope'"),
    (orjson.dumps({sha("{ workspace { id "): "{ workspace { id "}), "Syntax Error"),
    (orjson.dumps({sha(VALID): VALID, sha("{ a }"): "{ a }", sha("{ b }"): "{ b }"}),
     "2 of 3 documents would be refused"),
])
def test_a_bad_manifest_stops_the_app_from_starting(tmp_path, database_url, content, says):
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        create_app(make_settings(tmp_path, trusted_documents=path), database_url)
    message = str(caught.value)
    assert message.startswith("DOCGRAPH_TRUSTED_DOCUMENTS: ")
    assert says in message


def test_a_missing_manifest_stops_the_app_from_starting(tmp_path, database_url):
    with pytest.raises(ConfigError, match=r"cannot read .*missing\.json: No such file"):
        create_app(make_settings(tmp_path, trusted_documents=tmp_path / "missing.json"),
                   database_url)


def test_a_manifest_is_checked_with_the_servers_own_limits(tmp_path, database_url):
    deep = "{ documents { nodes { links { entity { documents { nodes { id } } } } } } }"
    path = write(tmp_path, orjson.dumps({f"sha256:{sha(deep)}": deep}))
    create_app(make_settings(tmp_path, trusted_documents=path), database_url)  # fine
    with pytest.raises(ConfigError, match="exceeds maximum operation depth"):
        create_app(make_settings(tmp_path, trusted_documents=path, graphql_max_depth=3),
                   database_url)
    introspection = "{ __schema { types { name } } }"
    path = write(tmp_path, orjson.dumps({sha(introspection): introspection}))
    with pytest.raises(ConfigError, match="introspection"):
        create_app(make_settings(tmp_path, trusted_documents=path,
                                 graphql_introspection=False), database_url)


def test_the_cli_writes_the_manifest_the_server_takes(tmp_path, database_url):
    r = docgraph("persisted-documents", str(EXAMPLES / "operations.json"))
    documents = json.loads(r.stdout)
    assert sorted(documents.values()) == sorted(example_operations().values())
    assert all(key == sha(text) for key, text in documents.items())
    path = write(tmp_path, r.stdout)
    create_app(make_settings(tmp_path, trusted_documents=path), database_url)
    # A .graphql file is one document; a manifest may be read again.
    graphql = tmp_path / "one.graphql"
    graphql.write_text(VALID)
    r = docgraph("persisted-documents", str(graphql), str(path))
    assert json.loads(r.stdout) == {**documents, sha(VALID): VALID}
    # A document the schema refuses is named, and nothing is printed.
    graphql.write_text("query Broken { nope }")
    r = docgraph("persisted-documents", str(graphql), check=False)
    assert r.returncode == 2 and r.stdout == ""
    assert "query Broken" in r.stderr and "nope" in r.stderr


def test_serve_refuses_a_bad_manifest_before_starting(tmp_path, database_url):
    path = write(tmp_path, orjson.dumps({sha("{ nope }"): "{ nope }"}))
    r = docgraph("serve", env={"DOCGRAPH_DATABASE_URL": database_url,
                               "DOCGRAPH_STORAGE_SIGNING_SECRET": "s" * 40,
                               "DOCGRAPH_PORT": "1", "DOCGRAPH_TRUSTED_DOCUMENTS": str(path)},
                 check=False)
    assert r.returncode == 1  # a setting that cannot be used: a usage error
    assert r.stderr.startswith("docgraph: error: DOCGRAPH_TRUSTED_DOCUMENTS: ")
    assert "Cannot query field 'nope'" in r.stderr
