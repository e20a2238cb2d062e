"""A request's objects are freed when it ends, not left to the cyclic collector.

A reference cycle through a request's context (graphql-core's executor held
its own bound methods, and the context with its loaders and every row they
cached) left each request's rows to the cyclic garbage collector, whose passes
over them cost more CPU than the rest of the request. The server runs in this
process (tests.conftest), so its garbage is visible here.
"""

import gc
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.test_graphql_statements import WITH_ENTITY_DOCUMENTS, contact_with_documents


@pytest.fixture
def collector_saving_all() -> Iterator[None]:
    """Cyclic collection off, and what it would have freed kept in ``gc.garbage``."""
    gc.collect()
    gc.garbage.clear()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def docgraph_garbage() -> Counter[str]:
    """The app's objects that only the cyclic collector could free, by type."""
    gc.collect()
    return Counter(type(o).__qualname__ for o in gc.garbage
                   if getattr(type(o), "__module__", "").startswith("docgraph."))


async def test_graphql_requests_leave_no_cycles(gql, collector_saving_all):
    contact = await contact_with_documents(gql, 3)
    gc.collect()
    gc.garbage.clear()
    data = await gql(WITH_ENTITY_DOCUMENTS, {"id": contact})  # the compiled path
    assert len(data["contact"]["documents"]["edges"]) == 3
    # A resolver's error: graphql-core runs the operation again, and reports it.
    body = await gql.result("query($id: ID!) { contact(id: $id) { documents(first: 101) { "
                            "totalCount } } }", {"id": contact})
    assert body["errors"][0]["extensions"]["code"] == "validation_error", body
    created = await gql.create_document(name="after.pdf")  # a mutation, with its upload
    await gql.link(created["id"], "CONTACT", contact)
    assert docgraph_garbage() == Counter()


async def test_rest_requests_leave_no_cycles(gql, api, collector_saving_all):
    contact = await contact_with_documents(gql, 3)
    gc.collect()
    gc.garbage.clear()
    r = await api.get(f"/v1/contacts/{contact}/documents", params={"per_page": 25})
    assert r.status_code == 200 and len(r.json()["data"]["documents"]) == 3, r.text
    assert (await api.get("/v1/contacts/not-a-uuid/documents")).status_code == 400
    assert docgraph_garbage() == Counter()
