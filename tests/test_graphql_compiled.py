"""The compiled execution path answers exactly as graphql-core's executor does.

Every query below runs against two live servers on the same database: one
with the compiled path (the default) and one with DOCGRAPH_GRAPHQL_COMPILED
off. The response bodies must be identical, byte for byte, errors included.
The compiled server also takes valid queries past strawberry's ``Schema.execute``
(the fast path's prepared queries, ``schema.fast.prepared``); every shape of
request (bodies, GET, both media types) must get the answer strawberry gives it.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import orjson
import pytest
from graphql import execute, parse

from docgraph.schema import build_schema
from docgraph.schema.fast import FastPath
from docgraph.schema.relations import RELATION_ATTRIBUTE

from .gql import GraphQL

DOCUMENT = """
    id name description mimeType sizeBytes storagePath folder tags type status userData
    verifiedAt rejectionReason createdBy createdAt updatedAt attachmentType
"""

QUERIES = {
    "contact page with links and entities": f"""
        query($id: ID!) {{
          contact(id: $id) {{
            __typename id name attributes createdAt
            documents(first: 25) {{
              totalCount
              pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
              edges {{
                cursor role linkedAt
                link {{ id role }}
                node {{ {DOCUMENT} links {{ id entityType entityId role createdAt
                                           entity {{ __typename id name }} }} }}
              }}
            }}
          }}
        }}""",
    "aliases, fragments and inline fragments": """
        fragment Doc on Document { id name tags }
        query($id: ID!) {
          person: contact(id: $id) {
            first: documents(first: 2) { nodes { ...Doc } }
            rest: documents(first: 3, offset: 2) { totalCount nodes { ...Doc mime: mimeType } }
          }
          again: contact(id: $id) { name }
        }""",
    "abstract entities with type conditions": """
        query($id: ID!) {
          contact(id: $id) {
            documents(first: 5) {
              nodes {
                links {
                  entity {
                    __typename id
                    ... on Contact { name }
                    ... on Deal { dealName: name attributes }
                    ... on Business { documents(first: 2) { totalCount nodes { id } } }
                  }
                }
              }
            }
          }
        }""",
    "a business filtered by type and status": """
        query($business: ID!) {
          business(id: $business) {
            documents(first: 10, type: CONTRACT, status: PENDING) {
              totalCount nodes { id type status verifiedAt rejectionReason }
            }
          }
        }""",
    "every argument of an entity's documents, from variables": """
        query($id: ID!, $role: String, $kind: DocumentType, $state: DocumentStatus,
              $scan: ScanStatus, $order: LinkedDocumentOrder!, $size: Int, $skip: Int) {
          contact(id: $id) {
            signed: documents(role: $role, type: $kind, status: $state, scanStatus: $scan,
                              orderBy: $order, first: $size, offset: $skip) {
              totalCount nodes { id name }
            }
            defaults: documents { totalCount nodes { id } }
            literals: documents(role: "signed", type: CONTRACT, status: PENDING,
                                orderBy: LINKED_AT, first: 2, offset: 1) {
              totalCount edges { role node { id } }
            }
          }
        }""",
    "entities by type and name, as literals and variables": """
        query($kind: EntityType, $name: String) {
          deals: entities(type: DEAL, nameContains: "Deal", first: 3) {
            totalCount nodes { __typename id name }
          }
          some: entities(type: $kind, nameContains: $name, offset: 1) { totalCount }
        }""",
    "the workspace's documents with a filter": """
        { documents(first: 10, filter: {tags: ["nda"]}) {
            totalCount edges { cursor node { id name folder } } } }""",
    "unknown ids are nulls": """
        query($missing: ID!) {
          contact(id: $missing) { id }
          document(id: $missing) { id name }
        }""",
    "a nested document through a link": """
        query($id: ID!) {
          contact(id: $id) {
            documents(first: 3) { edges { link { document { id name } entity { id } } } }
          }
        }""",
    "an error is reported by graphql-core": """
        query($id: ID!) { contact(id: $id) { documents(first: 101) { totalCount } } }""",
    "a malformed id": """{ document(id: "not-a-uuid") { id } }""",
    "a written page, then an error: graphql-core runs it all again": """
        query($id: ID!) {
          contact(id: $id) { documents(first: 2) { totalCount nodes { id name } } }
          bad: document(id: "not-a-uuid") { id }
        }""",
    "directives take graphql-core's path": """
        query($id: ID!, $with: Boolean!) {
          contact(id: $id) { id name @include(if: $with) }
        }""",
    "introspection takes graphql-core's path": """
        { __type(name: "Document") { name fields { name } } __typename }""",
}


async def graph(gql: GraphQL) -> dict[str, str]:
    contact = await gql.create_entity("CONTACT", name="Ada", attributes={"email": "a@x.test"})
    business = await gql.create_entity("COMPANY", name="Acme")
    for i in range(7):
        doc = await gql.create_document(name=f"doc-{i}.pdf", folder="/clients/acme",
                                        tags=["nda", f"t{i}"], type="CONTRACT",
                                        userData={"i": i})
        await gql.link(doc["id"], "CONTACT", contact, "signed" if i % 2 else None)
        await gql.link(doc["id"], "DEAL", await gql.create_entity(
            "DEAL", name=f"Deal {i}", attributes={"n": i}))
        await gql.link(doc["id"], "COMPANY", business, "client")
    return {"id": contact, "business": business, "missing": str(uuid.uuid4()),
            "with": True, "role": "signed", "kind": None, "state": "PENDING", "scan": None,
            "order": "LINKED_AT", "size": 2, "skip": 1, "name": "deal"}


@pytest.mark.parametrize("name", list(QUERIES))
async def test_compiled_and_graphql_core_answer_alike(gql, uncompiled_gql, executions, name):
    variables = await graph(gql)
    query = QUERIES[name]
    used = {k: v for k, v in variables.items() if f"${k}" in query}
    before = dict(executions)
    compiled = await gql.post(query, used)
    path = next(k for k in executions if executions[k] != before[k])
    reference = await uncompiled_gql.post(query, used)
    assert compiled.status_code == reference.status_code == 200
    assert compiled.content == reference.content
    body = compiled.json()
    if "error" in name or "malformed" in name:
        assert body["errors"]
        assert path == "fell_back"
    else:
        assert "errors" not in body, body
        assert body["data"]
        assert path == ("graphql_core" if "graphql-core's path" in name else "compiled")


WRITE_ONLY_LINK = """
    mutation($d: ID!, $e: ID!) {
      linkDocument(documentId: $d, entityType: CONTACT, entityId: $e) {
        created
        link { id role document { id links { id } } entity { id ... on Contact {
          documents(first: 5) { nodes { id name } } } } }
      }
    }"""


@pytest.mark.parametrize("name", [*QUERIES, "a mutation's traversals"])
async def test_a_write_only_key_gets_the_same_errors_from_both(gql, uncompiled_gql, name,
                                                               tenant):
    """A key without read:documents: refused alike, field by field, by both executors."""
    variables = await graph(gql)
    if name in QUERIES:
        query = QUERIES[name]
        used = {k: v for k, v in variables.items() if f"${k}" in query}
    else:
        query = WRITE_ONLY_LINK
        document = await gql.create_document()
        await gql.link(document["id"], "CONTACT", variables["id"])  # linking again: unchanged
        used = {"d": document["id"], "e": variables["id"]}
    compiled = await gql.post(query, used, key=tenant.write_key)
    reference = await uncompiled_gql.post(query, used, key=tenant.write_key)
    assert compiled.status_code == reference.status_code == 200
    assert compiled.content == reference.content
    errors = compiled.json().get("errors")
    if "introspection" not in name:
        assert errors and {e["extensions"]["code"] for e in errors} == {
            "insufficient_permissions"}, errors


NAMED = """
query Named($id: ID!) { contact(id: $id) { name } }
mutation Other { deleteDocument(id: "00000000-0000-0000-0000-000000000000") { id } }
"""
MANY_ROOT_FIELDS = ("query A { " + " ".join(f"a{i}: __typename" for i in range(25))
                    + " } query B { __typename }")


class Get(dict):
    """A request sent with GET: its URL parameters."""


REQUESTS = {
    "a named query among operations": {"query": NAMED, "operationName": "Named",
                                       "variables": {"id": "__ID__"}},
    "no name among several operations": {"query": NAMED, "variables": {"id": "__ID__"}},
    "no name among several queries": {"query": MANY_ROOT_FIELDS},
    "the small one of several queries": {"query": MANY_ROOT_FIELDS, "operationName": "B"},
    "an unknown operation name": {"query": NAMED, "operationName": "Missing"},
    "no operation at all": {"query": "fragment F on Query { __typename }"},
    "an operation name that is not a string": {"query": NAMED, "operationName": 7},
    "a variable of the wrong type": {"query": NAMED, "operationName": "Named",
                                     "variables": {"id": 5}},
    "a missing variable": {"query": NAMED, "operationName": "Named"},
    "variables null": {"query": "{ __typename }", "variables": None},
    "variables that are not an object": {"query": "{ __typename }", "variables": [1]},
    "extensions": {"query": "{ __typename }", "extensions": {"trace": True}},
    "extensions null": {"query": "{ __typename }", "extensions": None},
    "an unknown key": {"query": "{ __typename }", "other": 1},
    "a syntax error": {"query": "{ contact("},
    "a validation error": {"query": "{ contact { nope } }"},
    "no query": {"variables": {}},
    "a query that is not a string": {"query": 5},
    "a batch": [{"query": "{ __typename }"}],
    "a string": "{ __typename }",
    "null": None,
    "a number": 1,
    "true": True,
    "GET a query": Get(query="query Named($id: ID!) { contact(id: $id) { name } }",
                       variables='{"id": "__ID__"}'),
    "GET a named query among operations": Get(query=NAMED, operationName="Named",
                                              variables='{"id": "__ID__"}'),
    "GET no name among several operations": Get(query=NAMED),
    "GET a mutation": Get(query=NAMED, operationName="Other"),
    "GET a syntax error": Get(query="{ contact("),
    "GET variables that are not JSON": Get(query="{ __typename }", variables="{"),
    "GET no query": Get(variables="{}"),
}


@pytest.mark.parametrize("name", list(REQUESTS))
@pytest.mark.parametrize("headers", [
    {"Content-Type": "application/json"},
    {"Content-Type": "application/json; charset=utf-8",
     "Accept": "application/graphql-response+json"},
], ids=["json", "graphql-response+json"])
async def test_every_request_gets_strawberrys_answer(gql, uncompiled_gql, name, headers):
    """Both paths answer every request alike: status, media type and body, byte for byte."""
    contact = await gql.create_entity("CONTACT", name="Ada")
    request = REQUESTS[name]
    answers = []
    for client in (gql, uncompiled_gql):
        if isinstance(request, Get):
            params = {k: v.replace("__ID__", contact) for k, v in request.items()}
            answers.append(await client.client.get("/graphql", params=params, headers={
                **client.tenant.headers(), "Accept": headers.get("Accept", "application/json")}))
        else:
            body = orjson.dumps(request).replace(b"__ID__", contact.encode())
            answers.append(await client.client.post("/graphql", content=body, headers={
                **client.tenant.headers(), **headers}))
    prepared, reference = answers
    assert prepared.status_code == reference.status_code, (prepared.text, reference.text)
    assert prepared.content == reference.content
    assert prepared.headers["content-type"] == reference.headers["content-type"]
    assert prepared.headers.get("allow") == reference.headers.get("allow")
    assert "retry-after" not in prepared.headers
    body = prepared.json()
    assert "errors" in body or "data" in body
    if "data" not in body:  # nothing ran: a request error, or a refusal of the request
        assert prepared.status_code >= 400 or "Accept" not in headers


def test_every_declared_relation_is_what_its_resolver_does():
    """``@loads(loader, key)`` must describe the resolver's body exactly."""

    class Loader:
        def __init__(self, name):
            self.name = name

        def load(self, key):
            return (self.name, key)

    schema = build_schema()
    declared = 0
    for graphql_type in schema._schema.type_map.values():
        for field in getattr(graphql_type, "fields", {}).values():
            definition = field.extensions.get("strawberry-definition") if hasattr(
                field, "extensions") and field.extensions else None
            resolver = getattr(definition, "base_resolver", None)
            relation = getattr(getattr(resolver, "wrapped_func", None), RELATION_ATTRIBUTE, None)
            if relation is None:
                continue
            declared += 1
            loader, key = relation
            source = SimpleNamespace(**{key: uuid.uuid4()})
            context = SimpleNamespace(**{loader: Loader(loader)})
            info = SimpleNamespace(context=context)
            assert resolver.wrapped_func(source, info) == (loader, getattr(source, key))
    assert declared >= 3


async def test_the_plan_cache_keeps_the_most_recent_operations():
    fast = FastPath(plan_cache_size=2)
    schema = build_schema(execution_context_class=fast.execution_context_class)
    documents = [parse(f"{{ a{i}: __typename }}") for i in range(3)]
    for i in (0, 1, 0, 2, 0):  # 1 is the least recently used when 2 comes
        result = await execute(schema._schema, documents[i],
                               executor_class=fast.execution_context_class)
        assert result == ({f"a{i}": "Query"}, None)
    assert len(fast.plans) == 2
    assert [key[1] for key in fast.plans._plans] == [id(documents[2].definitions[0]),
                                                     id(documents[0].definitions[0])]
    assert fast.executions == {"compiled": 5, "fell_back": 0, "graphql_core": 0, "rendered": 0}


async def test_a_plan_keeps_literal_arguments_and_reads_variables_at_each_run(gql, executions):
    """A plan coerces arguments written as literals once; a variable's value is each
    request's own."""
    first = await graph(gql)
    second = await graph(gql)
    query = """
        query($id: ID!) {
          contact(id: $id) { name documents(first: 2, role: "signed") { totalCount nodes { id } } }
          documents(first: 1, filter: {tags: ["nda"]}) { totalCount }
        }"""
    before = executions["compiled"]
    answers = [await gql.result(query, {"id": ids["id"]}) for ids in (first, second, first)]
    assert executions["compiled"] == before + 3
    assert answers[0] == answers[2] != answers[1]
    for answer in answers:
        assert answer["data"]["contact"]["documents"]["totalCount"] == 3  # 3 of 7 signed
        assert answer["data"]["documents"]["totalCount"] >= 7
