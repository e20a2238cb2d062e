"""GraphQL requests are charged by their root fields, aliases included."""

import uuid

import orjson
import pytest

from docgraph.config import Settings
from docgraph.resolvers import auth
from docgraph.schema.cost import request_cost, root_fields
from tests.conftest import TEST_ADDRESS_RATE_LIMIT
from tests.gql import uploaded_path
from tests.test_http import assert_error
from tests.test_rate_limits import limits


def post(query, operation_name=None):
    payload = {"query": query}
    if operation_name is not None:
        payload["operationName"] = operation_name
    return request_cost("POST", b"", orjson.dumps(payload))


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
def test_the_cost_of_a_document(query, cost):
    assert post(query) == cost


def test_the_operation_named_is_the_one_charged():
    document = "query A { a } query B { b c d }"
    assert post(document, "B") == 3
    assert post(document, "A") == 1
    assert root_fields(document, "C") == 0


def test_a_fragment_cycle_does_not_loop():
    assert post("{ ...A } fragment A on Query { a ...B } fragment B on Query { b ...A }") == 2


def test_batches_cost_the_sum_of_their_operations():
    body = orjson.dumps([{"query": "{ a b }"}, {"query": "{ c }"}, {"query": 7}])
    assert request_cost("POST", b"", body) == 4


def test_queries_over_get_and_bodies_that_are_not_json():
    assert request_cost("GET", b"query=%7B%20a%20b%20c%20%7D", b"") == 3
    assert request_cost("GET", b"", b"") == 1
    assert request_cost("POST", b"", b"not json") == 1
    assert request_cost("POST", b"", b'{"query": ["x"]}') == 1


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
    assert_error(r, 429, "rate_limited")
    assert r.json()["error"]["details"]["cost"] == 5
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


async def test_more_root_fields_than_allowed_is_refused_and_costs_one(client, db, tenant):
    cap = Settings().graphql_max_root_fields
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=100)
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(cap + 1)) + " }"
    r = await client.post("/graphql", json={"query": query}, headers=tenant.headers(key))
    error = assert_error(r, 400, "validation_error")
    assert error["details"] == {"root_fields": cap + 1, "max_root_fields": cap}
    assert limits(r)[:2] == (100, 99)


async def test_an_operation_costlier_than_the_whole_limit_is_refused(client, db, tenant):
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=3)
    r = await client.post("/graphql", json={"query": "{ a b c d }"},
                          headers=tenant.headers(key))
    error = assert_error(r, 400, "validation_error")
    assert error["details"] == {"root_fields": 4, "max_root_fields": 3}
    assert limits(r)[:2] == (3, 2)
