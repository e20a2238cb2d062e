"""REST documents (seed 002): create, read, change, delete; the record's exact fields."""

import uuid

import pytest

from tests.rest import DOCUMENT_RECORD_FIELDS, TIMESTAMP, assert_error, bad_fields

SEED_BODY = {
    "name": "Acme-NDA-2026.pdf",
    "mime_type": "application/pdf",
    "storage_path": "workspaces/ws_123/documents/new-upload.pdf",
    "size_bytes": 183204,
    "folder": "/clients/acme/ndas",
    "tags": ["nda", "confidentiality"],
}


async def test_create_answers_201_with_exactly_the_seed_record(api, tenant):
    ticket = await api.upload(b"%PDF" + b"x" * (SEED_BODY["size_bytes"] - 4),
                              file_name="Acme-NDA-2026.pdf")
    body = {**SEED_BODY, "storage_path": ticket["storage_path"]}
    r = await api.post("/v1/documents", json=body)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/json"
    envelope = r.json()
    assert set(envelope) == {"data"}
    doc = envelope["data"]
    assert set(doc) == DOCUMENT_RECORD_FIELDS
    assert uuid.UUID(doc["id"])
    assert {k: doc[k] for k in body} == body
    assert doc["description"] is None
    assert uuid.UUID(doc["created_by"])  # the key that recorded it
    assert TIMESTAMP.match(doc["created_at"]) and doc["updated_at"] == doc["created_at"]


async def test_get_returns_the_same_shape(api):
    created = await api.create_document(description="Mutual NDA", tags=["nda"])
    got = await api.ok("GET", f"/v1/documents/{created['id']}")
    assert got == {"data": created}
    # Every spelling of a UUID names the same document.
    upper = await api.ok("GET", f"/v1/documents/{created['id'].upper()}")
    urn = await api.ok("GET", f"/v1/documents/urn:uuid:{created['id']}")
    assert upper == urn == got


async def test_patch_changes_only_the_given_fields(api):
    created = await api.create_document(description="old", folder="/a", tags=["x"])
    r = await api.patch(f"/v1/documents/{created['id']}",
                        json={"name": "renamed.pdf", "description": None, "tags": ["y", "z"]})
    assert r.status_code == 200, r.text
    doc = r.json()["data"]
    assert set(doc) == DOCUMENT_RECORD_FIELDS
    assert (doc["name"], doc["description"], doc["tags"], doc["folder"]) == \
        ("renamed.pdf", None, ["y", "z"], "/a")
    assert doc["updated_at"] >= created["updated_at"]
    assert doc["storage_path"] == created["storage_path"]
    again = await api.ok("GET", f"/v1/documents/{created['id']}")
    assert again["data"] == doc


async def test_patch_with_an_empty_object_changes_nothing(api):
    created = await api.create_document()
    assert (await api.ok("PATCH", f"/v1/documents/{created['id']}", json={}))["data"] == created


async def test_patch_refuses_fields_that_cannot_change(api):
    created = await api.create_document()
    r = await api.patch(f"/v1/documents/{created['id']}",
                        json={"storage_path": "elsewhere.pdf", "size_bytes": 1, "name": ""})
    assert set(bad_fields(r)) == {"storage_path", "size_bytes", "name"}


async def test_delete_removes_the_document_from_every_read(api):
    created = await api.create_document()
    r = await api.delete(f"/v1/documents/{created['id']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["id"] == created["id"]
    assert set(body["data"]) == {"id", "deleted_at"} and TIMESTAMP.match(body["data"]["deleted_at"])
    assert_error(await api.get(f"/v1/documents/{created['id']}"), 404, "not_found")
    assert_error(await api.delete(f"/v1/documents/{created['id']}"), 404, "not_found")
    assert_error(await api.patch(f"/v1/documents/{created['id']}", json={"name": "x"}),
                 404, "not_found")


async def test_a_live_document_at_the_same_storage_path_is_409(api):
    first = await api.create_document()
    r = await api.post("/v1/documents", json={"name": "b.pdf", "mime_type": "application/pdf",
                                              "storage_path": first["storage_path"]})
    error = assert_error(r, 409, "storage_conflict")
    assert error["details"] == {"storage_path": first["storage_path"]}


async def test_missing_required_fields_are_named(api):
    r = await api.post("/v1/documents", json={"size_bytes": 5})
    assert bad_fields(r) == {"name": "is required", "mime_type": "is required",
                             "storage_path": "is required"}


@pytest.mark.parametrize(("field", "value"), [
    ("name", ""),
    ("name", "x" * 256),
    ("name", 42),
    ("mime_type", "pdf"),
    ("mime_type", "application/pdf; charset=x"),
    ("mime_type", ["application/pdf"]),
    ("storage_path", "/absolute/path"),
    ("storage_path", "a/../b"),
    ("size_bytes", -1),
    ("size_bytes", "183204"),
    ("size_bytes", 1.5),
    ("size_bytes", True),
    ("size_bytes", 2**53),
    ("description", 7),
    ("folder", "relative/folder"),
    ("tags", "nda"),
    ("tags", [1, 2]),
    ("tags", ["ok"] * 51),
    ("type", "passport"),
    ("user_data", [1]),
    ("user_data", "text"),
    ("created_by", "usr_01HW0"),
    ("id", str(uuid.uuid4())),
])
async def test_bad_fields_are_400(api, field, value):
    body = {"name": "a.pdf", "mime_type": "application/pdf",
            "storage_path": f"uploads/{uuid.uuid4().hex}", field: value}
    assert set(bad_fields(await api.post("/v1/documents", json=body))) == {field}


async def test_optional_seed_004_fields_are_accepted(api, gql):
    doc = await api.create_document(type="identification", user_data={"purpose": "KYC"})
    data = await gql("query($id: ID!) { document(id: $id) { type userData } }",
                     {"id": doc["id"]})
    assert data["document"] == {"type": "IDENTIFICATION", "userData": {"purpose": "KYC"}}


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("bad_id", ["doc_01HY1", "123", "123e4567-e89b-12d3-a456-42661417400",
                                    "%00", "x" * 100])
async def test_a_malformed_document_id_is_400(api, method, bad_id):
    kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}
    r = await api.request(method, f"/v1/documents/{bad_id}", **kwargs)
    assert bad_fields(r) == {"id": "must be a UUID"}


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_an_unknown_document_is_404(api, method):
    kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}
    r = await api.request(method, f"/v1/documents/{uuid.uuid4()}", **kwargs)
    assert assert_error(r, 404, "not_found")["message"] == "No such document."


async def test_another_workspaces_document_is_404_exactly_like_a_missing_one(api, other_api):
    theirs = await other_api.create_document()
    missing = await api.get(f"/v1/documents/{uuid.uuid4()}")
    for method, kwargs in [("GET", {}), ("PATCH", {"json": {"name": "mine"}}), ("DELETE", {})]:
        r = await api.request(method, f"/v1/documents/{theirs['id']}", **kwargs)
        error = assert_error(r, 404, "not_found")
        assert (error["message"], error["details"]) == \
            (missing.json()["error"]["message"], missing.json()["error"]["details"])
    # Untouched: still there, with its name.
    assert (await other_api.ok("GET", f"/v1/documents/{theirs['id']}"))["data"] == theirs


async def test_another_workspaces_upload_cannot_be_recorded(api, other_api):
    theirs = await other_api.upload(b"%PDF-1.4 theirs")
    never = f"{theirs['storage_path'].rsplit('/', 1)[0]}/{uuid.uuid4().hex}.pdf"
    answers = []
    for path in (theirs["storage_path"], never):
        r = await api.post("/v1/documents", json={"name": "mine.pdf",
                                                  "mime_type": "application/pdf",
                                                  "storage_path": path})
        answers.append(bad_fields(r))
    assert answers[0] == answers[1]  # exactly the answer of a path nobody used
    assert set(answers[0]) == {"storage_path"}
    # Theirs is still theirs to record.
    await other_api.create_document(storage_path=theirs["storage_path"])


async def test_scopes(api, tenant):
    doc = await api.create_document()
    r = await api.post("/v1/documents", key=tenant.read_key, json=SEED_BODY)
    error = assert_error(r, 403, "insufficient_permissions")
    assert error["details"] == {"required_scope": "write:documents"}
    for method, kwargs in [("PATCH", {"json": {"name": "x"}}), ("DELETE", {})]:
        r = await api.request(method, f"/v1/documents/{doc['id']}", key=tenant.read_key,
                              **kwargs)
        assert_error(r, 403, "insufficient_permissions")
    r = await api.get(f"/v1/documents/{doc['id']}", key=tenant.write_key)
    assert assert_error(r, 403, "insufficient_permissions")["details"] == \
        {"required_scope": "read:documents"}
    assert (await api.ok("GET", f"/v1/documents/{doc['id']}", key=tenant.read_key))["data"] \
        == doc


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/v1/documents"),
    ("GET", f"/v1/documents/{uuid.uuid4()}"),
    ("PATCH", f"/v1/documents/{uuid.uuid4()}"),
    ("DELETE", f"/v1/documents/{uuid.uuid4()}"),
])
@pytest.mark.parametrize("authorization", [None, "Bearer wbk_not_a_real_key", "Basic abc"])
async def test_without_a_valid_key_every_endpoint_is_401(client, method, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    r = await client.request(method, path, headers=headers, json=SEED_BODY)
    assert_error(r, 401, "invalid_key")
    assert r.headers["www-authenticate"].startswith("Bearer")
