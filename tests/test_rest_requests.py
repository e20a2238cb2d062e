"""What every REST endpoint does with bad requests, and the generic entities endpoints."""

import uuid

import pytest

from tests.rest import ENTITY_FIELDS, assert_error, bad_fields

DOC = str(uuid.uuid4())
# Every endpoint that reads a JSON body, with a path that exists.
BODY_ENDPOINTS = [
    ("POST", "/v1/documents"),
    ("PATCH", f"/v1/documents/{DOC}"),
    ("POST", f"/v1/documents/{DOC}/link"),
    ("POST", "/v1/contacts"),
    ("PATCH", f"/v1/contacts/{DOC}"),
    ("POST", "/v1/businesses"),
    ("PATCH", f"/v1/businesses/{DOC}"),
    ("POST", "/v1/entities"),
    ("PATCH", f"/v1/entities/{DOC}"),
    ("POST", "/v1/documents/upload-url"),
    ("GET", "/contacts/v4/attachments"),
]
# Every endpoint, with a path that exists.
ALL_ENDPOINTS = [*BODY_ENDPOINTS,
                 ("GET", f"/v1/documents/{DOC}"),
                 ("DELETE", f"/v1/documents/{DOC}"),
                 ("DELETE", f"/v1/documents/{DOC}/link"),
                 ("GET", f"/v1/documents/{DOC}/links"),
                 ("GET", f"/v1/contacts/{DOC}"),
                 ("GET", f"/v1/contacts/{DOC}/documents"),
                 ("GET", f"/v1/businesses/{DOC}"),
                 ("GET", f"/v1/businesses/{DOC}/documents"),
                 ("GET", f"/v1/entities/{DOC}"),
                 ("GET", f"/v1/documents/{DOC}/download-url"),
                 ("GET", f"/contacts/v4/attachments/{DOC}")]


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
@pytest.mark.parametrize(("body", "message"), [
    (b"", "The request body must be a JSON object; it is empty."),
    (b"{", "The request body is not valid JSON."),
    (b"{'name': 'x'}", "The request body is not valid JSON."),
    (b'{"name": NaN}', "The request body is not valid JSON."),
    (b'{"a": 1}{"b": 2}', "The request body is not valid JSON."),
    (b"\xff\xfe{}", "The request body is not valid JSON."),
    (b"[]", "The request body must be a JSON object."),
    (b'"name"', "The request body must be a JSON object."),
    (b"null", "The request body must be a JSON object."),
    (b"42", "The request body must be a JSON object."),
])
async def test_bodies_that_are_not_a_json_object_are_400(api, method, path, body, message):
    r = await api.request(method, path, content=body,
                          headers={"Content-Type": "application/json"})
    assert assert_error(r, 400, "validation_error")["message"] == message


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
async def test_a_number_beyond_a_float_is_json_and_refused_by_its_field(api, method, path):
    # Valid JSON (RFC 8259 sets numbers no limit): refused by field, not as bad JSON.
    r = await api.request(method, path, content=b'{"size_bytes": 1e999999}',
                          headers={"Content-Type": "application/json"})
    fields = bad_fields(r)
    assert "size_bytes" in fields or fields == {"entity_type": "is required"}


async def test_json_is_read_whatever_the_content_type(api):
    r = await api.post("/v1/contacts", content=b'{"name": "Plain"}',
                       headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(("method", "path"), ALL_ENDPOINTS)
async def test_unknown_query_parameters_are_400_everywhere(api, method, path):
    kwargs = {"json": {}} if (method, path) in BODY_ENDPOINTS else {}
    r = await api.request(method, path, params={"verbose": "1"}, **kwargs)
    assert "verbose" in bad_fields(r)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p in ALL_ENDPOINTS if DOC in p])
async def test_malformed_ids_are_400_everywhere(api, method, path):
    kwargs = {"json": {}} if (method, path) in BODY_ENDPOINTS else {}
    r = await api.request(method, path.replace(DOC, "doc_01HY1"), **kwargs)
    fields = bad_fields(r)
    # The link endpoints name the path's id as the link's document_id; seed 003 calls
    # it contactId.
    name = "document_id" if path.endswith("/link") else \
        "contactId" if path.startswith("/contacts/v4/") else "id"
    assert fields[name] == "must be a UUID"


@pytest.mark.parametrize(("method", "path"), ALL_ENDPOINTS)
async def test_every_endpoint_needs_a_key(client, method, path):
    r = await client.request(method, path)
    assert_error(r, 401, "invalid_key")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/v1/documents", "POST"),
    ("GET", "/v1/documents", "POST"),
    ("POST", f"/v1/documents/{DOC}", "DELETE, GET, HEAD, PATCH"),
    ("GET", f"/v1/documents/{DOC}/link", "DELETE, POST"),
    ("DELETE", f"/v1/contacts/{DOC}", "GET, HEAD, PATCH"),
    ("POST", "/v1/openapi.json", "GET, HEAD"),
])
async def test_other_methods_are_405_with_allow(api, method, path, allow):
    r = await api.request(method, path)
    assert_error(r, 405, "method_not_allowed")
    assert sorted(r.headers["allow"].split(", ")) == allow.split(", ")


async def test_unknown_paths_are_404(api):
    error = assert_error(await api.get("/v1/documents/a/b/c"), 404, "not_found")
    assert error["message"] == "No such path."
    assert_error(await api.get("/v2/documents"), 404, "not_found")


async def test_head_is_answered_like_get(api):
    doc = await api.create_document()
    r = await api.request("HEAD", f"/v1/documents/{doc['id']}")
    assert r.status_code == 200 and r.content == b""


async def test_a_sane_request_id_is_echoed_on_errors_too(api):
    r = await api.get("/v1/documents/nope", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    assert assert_error(r, 400, "validation_error")["request_id"] == "trace-42"


# -- /v1/entities ------------------------------------------------------------------------


@pytest.mark.parametrize("entity_type", ["contact", "company", "deal", "event", "matter",
                                         "task"])
async def test_entities_of_every_type(api, entity_type):
    r = await api.post("/v1/entities", json={"entity_type": entity_type, "name": "Kick-off",
                                             "attributes": {"n": 1}})
    assert r.status_code == 201, r.text
    entity = r.json()["data"]
    assert set(entity) == ENTITY_FIELDS
    assert (entity["entity_type"], entity["name"]) == (entity_type, "Kick-off")
    assert await api.ok("GET", f"/v1/entities/{entity['id']}") == {"data": entity}
    changed = await api.ok("PATCH", f"/v1/entities/{entity['id']}", json={"name": "Renamed"})
    assert changed["data"]["name"] == "Renamed"


async def test_deals_events_matters_and_tasks_may_go_without_a_name(api):
    for entity_type in ("deal", "event", "matter", "task"):
        assert (await api.create_entity(entity_type))["name"] is None
    for entity_type in ("contact", "company"):
        r = await api.post("/v1/entities", json={"entity_type": entity_type})
        assert bad_fields(r) == {"name": "is required for contacts and companies"}


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"entity_type"}),
    ({"entity_type": "person"}, {"entity_type"}),
    ({"entity_type": None}, {"entity_type"}),
    ({"entity_type": "deal", "id": 5}, {"id"}),
    ({"entity_type": "deal", "attributes": "x"}, {"attributes"}),
    ({"entity_type": "deal", "stage": "won"}, {"stage"}),
])
async def test_bad_entities_are_400(api, body, fields):
    assert set(bad_fields(await api.post("/v1/entities", json=body))) == fields


async def test_entities_of_other_workspaces_are_404(api, other_api):
    theirs = await other_api.create_entity("deal", name="Big deal")
    assert_error(await api.get(f"/v1/entities/{theirs['id']}"), 404, "not_found")
    assert_error(await api.patch(f"/v1/entities/{theirs['id']}", json={"name": "Mine"}),
                 404, "not_found")
    assert (await other_api.ok("GET", f"/v1/entities/{theirs['id']}"))["data"]["name"] == \
        "Big deal"
