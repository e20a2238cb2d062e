"""/graphql over HTTP: keys, methods, bodies, limits, caches, errors and their logs.

(The GraphQL-over-HTTP specification's media types and status codes, and its
audit suite: tests/test_graphql_over_http.py.)"""

import asyncio
import logging
import uuid

import httpx
import pytest

from docgraph.schema.documents import OperationDocuments, parse_document
from tests.conftest import make_settings, served
from tests.gql import assert_graphql_error

CYCLE = ["documents", "edges", "node", "links", "entity"]
LEAF = {"entity(id: $id)": "id", "documents": "totalCount", "edges": "cursor", "node": "id",
        "links": "id", "entity": "id"}


def nested(depth: int) -> str:
    """A query ``depth`` fields deep: entity > documents > edges > node > links > entity..."""
    path = ["entity(id: $id)"] + [CYCLE[i % len(CYCLE)] for i in range(depth - 1)]
    selection = LEAF[path[-1]]
    for field in reversed(path):
        selection = f"{field} {{ {selection} }}"
    return "query($id: ID!) { " + selection + " }"


async def test_operations_need_a_key(client):
    r = await client.post("/graphql", json={"query": "{ __typename }"})
    assert_graphql_error(r, 401, "invalid_key")
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = await client.get("/graphql", params={"query": "{ __typename }"})
    assert_graphql_error(r, 401, "invalid_key")
    # However its name is spelled in the URL, a query parameter asks to run something.
    r = await client.get("/graphql?%71uery=%7B__typename%7D", headers={"Accept": "text/html"})
    assert_graphql_error(r, 401, "invalid_key")


async def test_responses_carry_the_request_id(gql):
    r = await gql.client.post("/graphql", json={"query": "{ __typename }"},
                              headers={**gql.tenant.headers(), "X-Request-ID": "trace-42"})
    assert r.status_code == 200
    assert r.json() == {"data": {"__typename": "Query"}}
    assert r.headers["x-request-id"] == "trace-42"


@pytest.mark.parametrize(("content", "content_type", "says"), [
    (b"{not json", "application/json", "Unable to parse request body as JSON"),
    (b"", "application/json", "Unable to parse request body as JSON"),
    (b'[{"query": "{ __typename }"}, {"query": "{ __typename }"}]', "application/json",
     "Batching is not enabled"),
    (b"{}", "application/json", "No GraphQL query found in the request"),
    (b'{"query": ""}', "application/json", "No GraphQL query found in the request"),
    (b'{"query": 5}', "application/json", "query"),
    (b'{"query": "{ __typename }", "variables": [1]}', "application/json", "variables"),
    (b'{"query": "{ __typename }", "operationName": 1}', "application/json", "operationName"),
    (b'{"query": "{ __typename }", "extensions": "x"}', "application/json", "extensions"),
    (b'{"query": "{ __typename }"}', "application/json; charset=latin-1", "UTF-8"),
    # No content type a cross-site page may send without a preflight runs anything.
    (b'{"query": "{ __typename }"}', "text/plain", "Unsupported content type"),
    (b"query=%7B__typename%7D", "application/x-www-form-urlencoded",
     "Unsupported content type"),
    (b'--b\r\nContent-Disposition: form-data; name="query"\r\n\r\n{ __typename }\r\n--b--',
     "multipart/form-data; boundary=b", "Unsupported content type"),
])
@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_malformed_requests_are_400(client, tenant, content, content_type, says, accept):
    r = await client.post("/graphql", content=content, headers={
        **tenant.headers(), "Content-Type": content_type, "Accept": accept})
    error = assert_graphql_error(r, 400, "validation_error")
    assert says in error["message"]
    assert r.headers["content-type"].startswith(accept)


@pytest.mark.parametrize("body", [b"null", b'"x"', b"1", b"true", b"false", b"-2.5"])
@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_a_body_that_is_not_a_json_object_is_a_request_error(client, tenant, body,
                                                                   accept):
    """Issue 15, hole 4: these were 500s."""
    r = await client.post("/graphql", content=body, headers={
        **tenant.headers(), "Content-Type": "application/json", "Accept": accept})
    error = assert_graphql_error(r, 400, "validation_error")
    assert "must be a JSON object" in error["message"]


async def test_queries_run_over_get(gql):
    doc = await gql.create_document(name="over-get.pdf")
    query = "query One($id: ID!) { document(id: $id) { name } } query Other { __typename }"
    params = {"query": query, "operationName": "One", "variables": f'{{"id": "{doc["id"]}"}}'}
    r = await gql.client.get("/graphql", params=params, headers=gql.tenant.headers())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"data": {"document": {"name": "over-get.pdf"}}}
    # The same answer as a POST of the same parameters, byte for byte.
    posted = await gql.client.post("/graphql", headers=gql.tenant.headers(), json={
        "query": query, "operationName": "One", "variables": {"id": doc["id"]}})
    assert posted.content == r.content
    # The empty string is no value (GET's rule); a parameter given twice is refused.
    r = await gql.client.get("/graphql", params={"query": "{ __typename }", "variables": "",
                                                 "operationName": ""},
                             headers=gql.tenant.headers())
    assert r.json() == {"data": {"__typename": "Query"}}
    r = await gql.client.get("/graphql?query=%7B__typename%7D&query=%7Bworkspace%7Bid%7D%7D",
                             headers=gql.tenant.headers())
    assert_graphql_error(r, 400, "validation_error")
    r = await gql.client.get("/graphql", params={"query": "{ __typename }", "variables": "[1"},
                             headers=gql.tenant.headers())
    assert "variables" in assert_graphql_error(r, 400, "validation_error")["message"]


async def test_mutations_are_never_run_over_get(gql):
    name = f"get-{uuid.uuid4().hex[:8]}"
    mutation = ("mutation { createEntity(input: {entityType: CONTACT, name: "
                f'"{name}"}}) {{ id }} }}')
    for accept in ("application/json", "application/graphql-response+json"):
        r = await gql.client.get("/graphql", params={"query": mutation},
                                 headers={**gql.tenant.headers(), "Accept": accept})
        assert_graphql_error(r, 405, "method_not_allowed")
        assert r.headers["allow"] == "POST"
    # Named among queries, too; and nothing was created.
    r = await gql.client.get("/graphql", headers=gql.tenant.headers(), params={
        "query": mutation.replace("mutation", "mutation M") + " query Q { __typename }",
        "operationName": "M"})
    assert_graphql_error(r, 405, "method_not_allowed")
    data = await gql("{ entities(type: CONTACT) { nodes { name } } }")
    assert name not in {node["name"] for node in data["entities"]["nodes"]}


async def test_a_get_without_a_query_is_graphiql_or_a_request_error(client, tenant):
    r = await client.get("/graphql", headers={"Accept": "text/html"})
    assert r.headers["content-type"].startswith("text/html")
    # GraphiQL's own share links (?q=) are the page too, and need no key.
    r = await client.get("/graphql", params={"q": "{ __typename }"},
                         headers={"Accept": "text/html"})
    assert r.headers["content-type"].startswith("text/html")
    r = await client.get("/graphql", headers={"Accept": "application/json"})
    error = assert_graphql_error(r, 400, "validation_error")
    assert "No GraphQL query found" in error["message"]


async def test_other_methods_are_405(client, tenant):
    r = await client.put("/graphql", json={"query": "{ __typename }"}, headers=tenant.headers())
    assert_graphql_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, POST"
    # And without a key they do not even get that far.
    r = await client.delete("/graphql")
    assert_graphql_error(r, 401, "invalid_key")


async def test_a_body_over_the_limit_is_413(client, tenant):
    padding = " " * (1 << 20)
    r = await client.post("/graphql", json={"query": "{ __typename }" + padding},
                          headers=tenant.headers())
    error = assert_graphql_error(r, 413, "payload_too_large")
    assert error["extensions"]["details"] == {"maxBytes": 1 << 20}

    async def chunks():  # no Content-Length: the limit holds while reading
        yield b'{"query": "{ __typename }'
        for _ in range(17):
            yield b" " * 65536
        yield b'"}'

    r = await client.post("/graphql", content=chunks(),
                          headers={**tenant.headers(), "Content-Type": "application/json"})
    assert_graphql_error(r, 413, "payload_too_large")
    # Just under the limit is fine.
    r = await client.post("/graphql", json={"query": "{ __typename }" + " " * 1000},
                          headers=tenant.headers())
    assert r.json() == {"data": {"__typename": "Query"}}


async def test_depth_aliases_and_tokens_are_limited(gql):
    contact = await gql.create_entity("CONTACT")
    assert "errors" not in await gql.result(nested(10), {"id": contact})
    error = await gql.error(nested(11), {"id": contact}, code="validation_error")
    assert error["message"] == "'anonymous' exceeds maximum operation depth of 10"

    # (Aliases at the root are also root fields, capped lower by the rate limiter:
    # see test_graphql_cost.py. These are nested.)
    aliases = " ".join(f"a{i}: id" for i in range(31))
    error = await gql.error("{ documents(first: 1) { nodes { " + aliases + " } } }",
                            code="validation_error")
    assert error["message"] == "31 aliases found. Allowed: 30"
    assert "errors" not in await gql.result(
        "{ documents(first: 1) { nodes { " + aliases.rsplit(" a30", 1)[0] + " } } }")

    many = " ".join("__typename" for _ in range(5001))
    error = await gql.error("{ " + many + " }", code="validation_error")
    assert error["message"] == "Syntax Error: Document contains more than 5000 tokens. " \
                               "Parsing aborted."


async def test_graphql_document_errors_keep_graphqls_messages(gql):
    error = await gql.error("{ documents { totalCont } }", code="validation_error")
    assert error["message"] == "Cannot query field 'totalCont' on type 'DocumentConnection'. " \
                               "Did you mean 'totalCount'?"
    error = await gql.error("{ documents(", code="validation_error")
    assert error["message"].startswith("Syntax Error:")
    error = await gql.error("query($id: ID!) { document(id: $id) { id } }",
                            code="validation_error")
    assert error["message"].startswith("Variable '$id' ")


async def test_introspection_answers_by_default(gql):
    data = await gql("{ __schema { queryType { name } mutationType { name } } }")
    assert data == {"__schema": {"queryType": {"name": "Query"},
                                 "mutationType": {"name": "Mutation"}}}


async def test_documents_are_parsed_and_validated_once(gql):
    query = f"query CacheProbe{uuid.uuid4().hex} {{ documents(first: 1) {{ totalCount }} }}"
    await gql(query)
    before = parse_document.cache_info().hits, OperationDocuments.hits
    misses = parse_document.cache_info().misses, OperationDocuments.misses
    await gql(query)
    # Parsed text found by the pricing and by the view; validation found by the view.
    assert (parse_document.cache_info().hits, OperationDocuments.hits) == \
        (before[0] + 2, before[1] + 1)
    assert (parse_document.cache_info().misses, OperationDocuments.misses) == misses


async def test_both_paths_validate_with_the_same_rules(gql):
    """A query validated on the prepared path is found validated by strawberry's path
    (taken here for its ``extensions`` key): both use one rule set, so one cache entry."""
    query = f"query RulesProbe{uuid.uuid4().hex} {{ documents(first: 1) {{ totalCount }} }}"
    await gql(query)  # the prepared path: parsed and validated
    hits, misses = OperationDocuments.hits, OperationDocuments.misses
    r = await gql.client.post("/graphql", json={"query": query, "extensions": {}},
                              headers=gql.tenant.headers())
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert (OperationDocuments.hits, OperationDocuments.misses) == (hits + 1, misses)


async def test_unexpected_errors_are_masked_and_logged(gql, db, tenant, caplog):
    # A contact without a name: the API never makes one, so reading it is a server fault.
    broken = uuid.uuid4()
    await db.execute("insert into entities (workspace_id, id, entity_type) "
                     "values ($1, $2, 'contact')", tenant.id, broken)
    query = "query($id: ID!) { contact(id: $id) { id name } }"
    with caplog.at_level(logging.ERROR, logger="docgraph.graphql"):
        r = await gql.post(query, {"id": str(broken)})
        for _ in range(200):
            records = [rec for rec in caplog.records if rec.name == "docgraph.graphql"
                       and getattr(rec, "request_id", None) == r.headers["x-request-id"]]
            if records:
                break
            await asyncio.sleep(0.01)
    assert r.status_code == 200
    body = r.json()
    assert body["data"] == {"contact": None}
    assert body["errors"] == [{
        "message": "Internal server error.",
        "locations": [{"line": 1, "column": query.index("name") + 1}],
        "path": ["contact", "name"],
        "extensions": {"code": "internal_error"},
    }]
    assert len(records) == 1
    assert "Contact.name" in records[0].getMessage()
    assert records[0].graphql_path == "contact.name"


async def test_expected_errors_are_not_logged_as_failures(gql, caplog):
    with caplog.at_level(logging.ERROR, logger="docgraph.graphql"):
        await gql.error("query($id: ID!) { document(id: $id) { id } }", {"id": "bad"},
                        code="validation_error")
        await gql.error("mutation($id: ID!) { verifyDocument(id: $id) { id } }",
                        {"id": str(uuid.uuid4())}, code="not_found")
    assert [rec for rec in caplog.records if rec.name == "docgraph.graphql"] == []


@pytest.fixture(scope="module")
def strict_server(tmp_root, database_url):
    """A production-like server: no introspection, no GraphiQL, tight limits."""
    settings = make_settings(tmp_root, graphql_introspection=False, graphql_graphiql=False,
                             graphql_max_depth=3, graphql_max_aliases=1,
                             graphql_max_tokens=200, graphql_max_body_bytes=4096)
    with served(settings, database_url) as live:
        yield live


@pytest.fixture
async def strict_client(strict_server):
    async with httpx.AsyncClient(base_url=strict_server.url, timeout=30) as c:
        yield c


async def test_introspection_and_graphiql_can_be_switched_off(strict_client, tenant):
    headers = tenant.headers()
    r = await strict_client.post("/graphql", json={"query": "{ __schema { types { name } } }"},
                                 headers=headers)
    body = r.json()
    assert "data" not in body  # a request error: nothing ran
    assert {e["extensions"]["code"] for e in body["errors"]} == {"validation_error"}
    assert all("introspection" in e["message"].lower() for e in body["errors"])
    r = await strict_client.post("/graphql", json={"query": "{ documents { totalCont } }"},
                                 headers=headers)
    (error,) = r.json()["errors"]
    assert "Did you mean" not in error["message"]  # no hints about the schema either
    r = await strict_client.get("/graphql", headers={"Accept": "text/html"})
    assert_graphql_error(r, 406, "not_acceptable")  # no page: nothing HTML to answer
    for key_headers in ({}, headers):
        r = await strict_client.get("/graphql/assets/react@18.2.0/umd/react.production.min.js",
                                    headers=key_headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"  # not /graphql: the REST body
    # Operations work as ever.
    r = await strict_client.post("/graphql", json={"query": "{ documents { totalCount } }"},
                                 headers=headers)
    assert r.json() == {"data": {"documents": {"totalCount": 0}}}


async def test_limits_come_from_the_configuration(strict_client, tenant):
    headers = tenant.headers()

    async def first_error(query):
        r = await strict_client.post("/graphql", json={"query": query}, headers=headers)
        assert r.status_code == 200
        return r.json()["errors"][0]["message"]

    ok = await strict_client.post("/graphql", json={
        "query": "{ documents { nodes { id } } }"}, headers=headers)
    assert "errors" not in ok.json()
    assert await first_error("{ documents { nodes { links { entity { id } } } } }") == \
        "'anonymous' exceeds maximum operation depth of 3"
    assert await first_error("{ a: __typename b: __typename }") == \
        "2 aliases found. Allowed: 1"
    assert "more than 200 tokens" in await first_error(
        "{ " + " ".join(["__typename"] * 201) + " }")
    r = await strict_client.post("/graphql", json={"query": "{ __typename }" + " " * 5000},
                                 headers=headers)
    assert_graphql_error(r, 413, "payload_too_large")
