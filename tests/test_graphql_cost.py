"""GraphQL requests are charged by their root fields, aliases included."""

import uuid

import orjson
import pytest

from docgraph.config import Settings
from docgraph.http.graphql import GraphQLRequest, read_request
from docgraph.resolvers import auth
from docgraph.schema.cost import request_cost, root_fields
from tests.conftest import TEST_ADDRESS_RATE_LIMIT
from tests.gql import GRAPHQL_RESPONSE_JSON, assert_graphql_error, uploaded_path
from tests.test_rate_limits import limits


async def cost(method="POST", body=b"", query_string=b"", content_type="application/json"):
    """What the rate limiter charges a request (as the pipeline hands it to the pricing)."""
    scope = {"method": method, "query_string": query_string, "state": {},
             "headers": [(b"content-type", content_type.encode())]}
    return await request_cost(scope, body)


async def post(query, operation_name=None):
    payload = {"query": query}
    if operation_name is not None:
        payload["operationName"] = operation_name
    return await cost(body=orjson.dumps(payload))


@pytest.mark.parametrize(("query", "cost"), [
    ("{ workspace { id } }", 1),
    ("{ a: workspace { id } b: workspace { id } c: workspace { name } }", 3),
    ("query { __typename workspace { id } }", 2),
    # Nested fields are not root fields.
    ("{ workspace { id name documents { id name } } }", 1),
    # Fields reached through fragments at the root count.
    ("query { ...F ... on Query { x: workspace { id } } } fragment F on Query "
     "{ a: workspace { id } b: workspace { id } }", 3),
    ("mutation { a: createDocument(input: {}) { id } b: createDocument(input: {}) { id } }", 2),
    # Documents GraphQL will refuse without executing anything cost 1.
    ("{ workspace { id ", 1),
    ("", 1),
    ("query A { a } query B { b c }", 1),  # two operations and no operationName
])
async def test_the_cost_of_a_document(query, cost):
    assert await post(query) == cost


async def test_the_operation_named_is_the_one_charged():
    document = "query A { a } query B { b c d }"
    assert await post(document, "B") == 3
    assert await post(document, "A") == 1
    assert root_fields(document, "C") == 0


async def test_a_fragment_cycle_does_not_loop():
    assert await post("{ ...A } fragment A on Query { a ...B } fragment B on Query { b ...A }") == 2


async def test_requests_that_are_refused_unread_cost_one():
    # Batches are refused (batching is off), so are bodies that are no GraphQL request.
    assert await cost(body=orjson.dumps([{"query": "{ a b }"}, {"query": "{ c }"}])) == 1
    for body in (b"not json", b'{"query": ["x"]}', b"null", b"1", b'"{ a b }"'):
        assert await cost(body=body) == 1
    # Only JSON bodies run: another content type is refused whatever it holds.
    assert await cost(body=b'{"query": "{ a b }"}', content_type="text/plain") == 1


async def test_queries_over_get():
    assert await cost("GET", query_string=b"query=%7B%20a%20b%20c%20%7D") == 3
    assert await cost("GET", query_string=b"query=%7B+a+b+%7D&operationName=") == 2
    assert await cost("GET", query_string=b"query=query+A+%7B+a+%7D+query+B+%7B+b+c+%7D"
                                     b"&operationName=B") == 2
    assert await cost("GET") == 1
    # The parameter twice: refused, so it costs 1 (never the cheaper of the two).
    assert await cost("GET", query_string=b"query=%7Ba%7D&query=%7Ba+b+c%7D") == 1


async def test_the_pricing_keeps_the_request_it_read_for_the_view():
    scope = {"method": "POST", "query_string": b"", "state": {},
             "headers": [(b"content-type", b"application/json")]}
    assert await request_cost(scope, b'{"query": "{ a b }", "operationName": null}') == 2
    assert read_request(scope) == GraphQLRequest("{ a b }")


async def test_an_aliased_request_is_charged_per_root_field(client, db, tenant):
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=10)
    ids = [str(uuid.uuid4()) for _ in range(4)]
    query = "{ " + " ".join(f'd{i}: document(id: "{id}") {{ id }}'
                            for i, id in enumerate(ids)) + " }"
    r = await client.post("/graphql", json={"query": query}, headers=tenant.headers(key))
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {f"d{i}": None for i in range(4)}}
    assert limits(r)[:2] == (10, 6)
    # A mutation creating two documents costs 2, and creates them.
    paths = [await uploaded_path(client, tenant.headers(), b"cost", file_name="n.txt",
                                 mime_type="text/plain") for _ in range(2)]
    mutation = "mutation { " + " ".join(
        f'c{i}: createDocument(input: {{name: "n{i}", mimeType: "text/plain", '
        f'storagePath: "{path}"}}) {{ id }}' for i, path in enumerate(paths)) + " }"
    r = await client.post("/graphql", json={"query": mutation}, headers=tenant.headers(key))
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert limits(r)[:2] == (10, 4)
    # More than what is left: refused whole, and nothing is spent or run.
    query5 = query.replace("d0:", 'extra: document(id: "x") { id } d0:')
    r = await client.post("/graphql", json={"query": query5}, headers=tenant.headers(key))
    error = assert_graphql_error(r, 429, "rate_limited")
    assert error["extensions"]["details"]["cost"] == 5
    assert error["extensions"]["retryAfter"] == int(r.headers["retry-after"])
    assert limits(r)[:2] == (10, 4)


async def test_fragments_at_the_root_are_charged_for_their_fields(client, db, tenant):
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=10)
    query = ('query Q { ...Two } fragment Two on Query { a: __typename '
             'b: documents(first: 1) { totalCount } }')
    r = await client.post("/graphql", json={"query": query, "operationName": "Q"},
                          headers=tenant.headers(key))
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert limits(r)[:2] == (10, 8)


async def test_the_graphiql_page_is_counted_against_the_address(client, tenant):
    r = await client.get("/graphql", headers={**tenant.headers(), "Accept": "text/html"})
    assert limits(r)[0] == TEST_ADDRESS_RATE_LIMIT


def aliases(count):
    return " ".join(f"a{i}: __typename" for i in range(count))


@pytest.mark.parametrize(("accept", "status"), [("application/json", 200),
                                                (GRAPHQL_RESPONSE_JSON, 400)])
async def test_more_root_fields_than_allowed_is_refused_and_costs_one(client, db, tenant,
                                                                     accept, status):
    """A request error, like a failed validation: 200 in application/json, 400 in
    application/graphql-response+json; no data, nothing run."""
    cap = Settings().graphql_max_root_fields
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=100)
    r = await client.post("/graphql", json={"query": "{ " + aliases(cap + 1) + " }"},
                          headers={**tenant.headers(key), "Accept": accept})
    error = assert_graphql_error(r, status, "validation_error")
    assert error["extensions"]["details"] == {"rootFields": cap + 1, "maxRootFields": cap}
    assert r.headers["content-type"].startswith(accept)
    assert limits(r)[:2] == (100, 99)
    # Over GET alike.
    r = await client.get("/graphql", params={"query": "{ " + aliases(cap + 1) + " }"},
                         headers={**tenant.headers(key), "Accept": accept})
    assert_graphql_error(r, status, "validation_error")
    assert limits(r)[:2] == (100, 98)


async def test_an_operation_costlier_than_the_whole_limit_is_refused(client, db, tenant):
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=3)
    r = await client.post("/graphql", json={"query": "{ a b c d }"},
                          headers=tenant.headers(key))
    error = assert_graphql_error(r, 200, "validation_error")
    assert error["extensions"]["details"] == {"rootFields": 4, "maxRootFields": 3}
    assert limits(r)[:2] == (3, 2)


async def test_the_operation_that_runs_is_the_one_counted_and_capped(client, db, tenant):
    """Issue 15, hole 1: a document of several operations and no operationName ran its
    first operation, charged 1 and never held to the root-field cap."""
    cap = Settings().graphql_max_root_fields
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=100)
    document = "query A { " + aliases(cap + 5) + " } query B { __typename }"
    for accept, status in (("application/json", 200), (GRAPHQL_RESPONSE_JSON, 400)):
        # No operationName: GraphQL's GetOperation cannot pick one, so nothing runs.
        r = await client.post("/graphql", json={"query": document},
                              headers={**tenant.headers(key), "Accept": accept})
        error = assert_graphql_error(r, status, "validation_error")
        assert error["message"] == ("Must provide operation name if query contains "
                                    "multiple operations.")
    assert limits(r)[:2] == (100, 98)
    # Naming A: its root fields are counted and capped, as in a document of its own.
    r = await client.post("/graphql", json={"query": document, "operationName": "A"},
                          headers=tenant.headers(key))
    error = assert_graphql_error(r, 200, "validation_error")
    assert error["extensions"]["details"] == {"rootFields": cap + 5, "maxRootFields": cap}
    assert limits(r)[:2] == (100, 97)
    # Naming B: B runs, and costs its one root field.
    r = await client.post("/graphql", json={"query": document, "operationName": "B"},
                          headers=tenant.headers(key))
    assert r.json() == {"data": {"__typename": "Query"}}
    assert limits(r)[:2] == (100, 96)
    # A name the document lacks: nothing runs, it costs 1.
    r = await client.post("/graphql", json={"query": document, "operationName": "C"},
                          headers=tenant.headers(key))
    error = assert_graphql_error(r, 200, "validation_error")
    assert error["message"] == "Unknown operation named 'C'."
    assert limits(r)[:2] == (100, 95)
