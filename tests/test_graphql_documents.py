"""Documents over GraphQL: record, read, change, delete, verify (seeds 002 and 004)."""

import hashlib
import os
import uuid
from datetime import datetime

import pytest

from tests.gql import DOCUMENT_FIELDS, REQUEST_UPLOAD_URL

CREATE = f"""
mutation($input: CreateDocumentInput!) {{ createDocument(input: $input) {{ {DOCUMENT_FIELDS} }} }}
"""
GET = f"query($id: ID!) {{ document(id: $id) {{ {DOCUMENT_FIELDS} links {{ id }} }} }}"
UPDATE = f"""
mutation($id: ID!, $input: UpdateDocumentInput!) {{
  updateDocument(id: $id, input: $input) {{ {DOCUMENT_FIELDS} }}
}}
"""
DELETE = "mutation($id: ID!) { deleteDocument(id: $id) { id deletedAt } }"
VERIFY = "mutation($id: ID!) { verifyDocument(id: $id) { id status verifiedAt rejectionReason } }"
EXPIRE = "mutation($id: ID!) { expireDocument(id: $id) { id status verifiedAt rejectionReason } }"
REJECT = """
mutation($id: ID!, $reason: String!) {
  rejectDocument(id: $id, reason: $reason) { id status verifiedAt rejectionReason }
}
"""


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_create_document_records_every_field(gql, db, tenant):
    content = b"%PDF-1.7 signed NDA " + os.urandom(1000)
    digest = hashlib.sha256(content).hexdigest()
    ticket = await gql.upload(content, file_name="Acme-NDA-2026.pdf")
    path = ticket["storagePath"]
    data = await gql(CREATE, {"input": {
        "name": "Acme-NDA-2026.pdf", "mimeType": "Application/PDF", "storagePath": path,
        "sizeBytes": len(content), "sha256": digest.upper(), "description": "Signed NDA",
        "folder": "/clients/acme/ndas/", "tags": ["nda", "confidentiality", "nda"],
        "type": "CONTRACT",
        "userData": {"purpose": "Identity verification", "nested": {"n": [1, 2.5, None]}},
    }})
    doc = data["createDocument"]
    assert uuid.UUID(doc["id"])
    assert doc["name"] == "Acme-NDA-2026.pdf"
    assert doc["mimeType"] == "application/pdf"  # normalised to lower case
    assert doc["sizeBytes"] == len(content)
    assert doc["sha256"] == digest
    assert doc["storagePath"] == path
    assert doc["description"] == "Signed NDA"
    assert doc["folder"] == "/clients/acme/ndas"  # trailing slash dropped
    assert doc["tags"] == ["nda", "confidentiality"]  # repeats dropped, order kept
    assert doc["type"] == "CONTRACT"
    assert doc["status"] == "PENDING"
    assert doc["userData"] == {"purpose": "Identity verification", "nested": {"n": [1, 2.5, None]}}
    assert doc["verifiedAt"] is None and doc["rejectionReason"] is None
    assert doc["attachmentType"] == "OTHER"
    assert doc["image"] is None
    assert doc["createdAt"] == doc["updatedAt"]
    key_id = await db.fetchval("select id from api_keys where workspace_id = $1 and name = 'full'",
                               tenant.id)
    assert doc["createdBy"] == str(key_id)
    # The folder was created on demand, in the workspace.
    folders = await db.fetch("select path from folders where workspace_id = $1", tenant.id)
    assert [f["path"] for f in folders] == ["/clients/acme/ndas"]
    # And reading it back gives the same record.
    read = (await gql(GET, {"id": doc["id"]}))["document"]
    assert read == {**doc, "links": []}


async def test_sizes_beyond_32_bits_are_exact(gql, db, tenant):
    doc = await gql.create_document()
    await db.execute("update documents set size_bytes = 5000000000 where id = $1",
                     uuid.UUID(doc["id"]))
    assert (await gql(GET, {"id": doc["id"]}))["document"]["sizeBytes"] == 5_000_000_000
    # As input too: refused for being over the largest upload, not for being a big Int.
    error = await gql.error(REQUEST_UPLOAD_URL, {"input": {
        "fileName": "huge.iso", "mimeType": "application/octet-stream",
        "sizeBytes": 5_000_000_000}}, code="validation_error")
    assert list(error["extensions"]["details"]["fields"]) == ["sizeBytes"]


async def test_create_document_defaults(gql):
    ticket = await gql.upload(b"plain text", file_name="a.txt", mime_type="text/plain")
    data = await gql(CREATE, {"input": {"name": "a", "mimeType": "text/plain",
                                        "storagePath": ticket["storagePath"]}})
    doc = data["createDocument"]
    # sizeBytes, when omitted, is the uploaded object's size.
    assert (doc["sizeBytes"], doc["tags"], doc["type"], doc["userData"], doc["folder"],
            doc["description"], doc["sha256"]) == (10, [], "OTHER", {}, None, None, None)


@pytest.mark.parametrize(("mime_type", "attachment_type"), [
    ("image/png", "IMAGE"), ("image/svg+xml", "IMAGE"),
    ("application/octet-stream", "UNKNOWN"), ("application/pdf", "OTHER"),
    ("text/csv", "OTHER"),
])
async def test_attachment_type_follows_the_mime_type(gql, mime_type, attachment_type):
    doc = await gql.create_document(mimeType=mime_type)
    assert doc["attachmentType"] == attachment_type


async def test_an_upload_is_recorded_once(gql, other_gql):
    first = await gql.create_document()
    path = first["storagePath"]
    again = {"input": {"name": "b", "mimeType": "application/pdf", "storagePath": path}}
    error = await gql.error(CREATE, again, code="storage_conflict")
    assert error["extensions"]["details"] == {"storagePath": path}
    # Another workspace gets the answer of a path where nothing was ever uploaded.
    theirs = await other_gql.error(CREATE, again, code="validation_error")
    assert "no upload is pending" in theirs["message"]
    # Once deleted, the bytes are on their way out: they cannot be recorded again.
    await gql(DELETE, {"id": first["id"]})
    gone = await gql.error(CREATE, again, code="validation_error")
    assert "no upload is pending" in gone["message"]


async def test_folders_are_shared_not_duplicated(gql, db, tenant):
    await gql.create_document(folder="/a/b")
    await gql.create_document(folder="/a/b")
    await gql.create_document(folder="/")
    rows = await db.fetch("select path from folders where workspace_id = $1 order by path",
                          tenant.id)
    assert [r["path"] for r in rows] == ["/", "/a/b"]


LONG = "x" * 256


@pytest.mark.parametrize(("field", "value", "says"), [
    ("name", "", "1-255 characters"),
    ("name", LONG, "1-255 characters"),
    ("name", "   ", "blank"),
    ("name", "a\u0000b", "control characters"),
    ("mimeType", "pdf", "type/subtype"),
    ("mimeType", "foo/bar", "type/subtype"),
    ("mimeType", "application/pdf; charset=utf-8", "type/subtype"),
    ("mimeType", "application/", "type/subtype"),
    ("storagePath", "", "1-1024 characters"),
    ("storagePath", "/absolute/key", "relative object key"),
    ("storagePath", "a/../b", "relative object key"),
    ("storagePath", "a//b", "relative object key"),
    ("folder", "relative/path", "absolute path"),
    ("folder", "/a//b", "empty"),
    ("folder", "/a/../b", "'..'"),
    ("folder", "/a/./b", "'.'"),
    ("folder", "/a\u0000b", "control characters"),
    ("folder", "/" + "f" * 1024, "1-1024 characters"),
    ("description", "d" * 10_001, "at most 10000"),
    ("tags", [f"t{i}" for i in range(51)], "at most 50 tags"),
    ("tags", ["ok", "t" * 65], "item 1"),
    ("tags", [""], "item 0"),
    ("sizeBytes", -1, "between 0"),
    ("userData", [1, 2], "JSON object"),
    ("userData", "text", "JSON object"),
    ("userData", {"k": "a\u0000b"}, "NUL"),
    ("userData", {"k": "v" * 70_000}, "at most 65536 bytes"),
])
async def test_create_document_refuses_bad_fields(gql, field, value, says):
    values = {"name": "a.pdf", "mimeType": "application/pdf",
              "storagePath": f"u/{uuid.uuid4()}", field: value}
    error = await gql.error(CREATE, {"input": values}, code="validation_error")
    fields = error["extensions"]["details"]["fields"]
    assert list(fields) == [field]
    assert says in fields[field]
    assert error["path"] == ["createDocument"]


async def test_every_bad_field_is_named_at_once(gql):
    error = await gql.error(CREATE, {"input": {"name": "", "mimeType": "nope",
                                               "storagePath": "/x", "tags": [""]}},
                            code="validation_error")
    assert set(error["extensions"]["details"]["fields"]) == {"name", "mimeType", "storagePath",
                                                             "tags"}


@pytest.mark.parametrize("values", [
    {"name": 5, "mimeType": "application/pdf", "storagePath": "a"},  # wrong type
    {"mimeType": "application/pdf", "storagePath": "a"},  # name missing
    {"name": "a", "mimeType": "application/pdf", "storagePath": "a", "sizeBytes": 2**53},
    {"name": "a", "mimeType": "application/pdf", "storagePath": "a", "sizeBytes": 1.5},
    {"name": "a", "mimeType": "application/pdf", "storagePath": "a", "type": "PASSPORT"},
    {"name": "a", "mimeType": "application/pdf", "storagePath": "a", "tags": [1]},
    {"name": "a", "mimeType": "application/pdf", "storagePath": "a", "unknown": 1},
])
async def test_create_document_refuses_ill_typed_variables(gql, values):
    error = await gql.error(CREATE, {"input": values}, code="validation_error")
    assert "path" not in error  # refused before execution
    assert "$input" in error["message"]


async def test_document_by_id_answers_null_for_unknown_ids(gql):
    assert (await gql(GET, {"id": str(uuid.uuid4())}))["document"] is None


@pytest.mark.parametrize("bad_id", ["nope", "", "123", "1" * 100])
async def test_malformed_ids_are_validation_errors(gql, bad_id):
    error = await gql.error(GET, {"id": bad_id}, code="validation_error")
    assert error["extensions"]["details"] == {"fields": {"id": "must be a UUID"}}
    error = await gql.error(DELETE, {"id": bad_id}, code="validation_error")
    assert error["extensions"]["details"] == {"fields": {"id": "must be a UUID"}}


async def test_update_document_changes_only_what_is_given(gql, db, tenant):
    doc = await gql.create_document(description="old", folder="/old", tags=["a"],
                                    userData={"a": 1})
    data = await gql(UPDATE, {"id": doc["id"], "input": {"name": "new.pdf", "tags": ["b", "c"]}})
    updated = data["updateDocument"]
    assert updated["name"] == "new.pdf"
    assert updated["tags"] == ["b", "c"]
    assert (updated["description"], updated["folder"], updated["userData"]) == \
        ("old", "/old", {"a": 1})
    assert parse_time(updated["updatedAt"]) > parse_time(doc["updatedAt"])
    assert updated["createdAt"] == doc["createdAt"]
    # null clears nullable fields; a new folder is created on demand; userData is replaced.
    data = await gql(UPDATE, {"id": doc["id"], "input": {
        "description": None, "folder": "/new/place", "type": "LICENSE", "userData": {"b": 2}}})
    updated = data["updateDocument"]
    assert (updated["description"], updated["folder"], updated["type"], updated["userData"]) == \
        (None, "/new/place", "LICENSE", {"b": 2})
    assert await db.fetchval("select count(*) from folders where workspace_id = $1 and "
                             "path = '/new/place'", tenant.id) == 1
    data = await gql(UPDATE, {"id": doc["id"], "input": {"folder": None}})
    assert data["updateDocument"]["folder"] is None
    # The bytes' facts are untouched.
    assert (updated["storagePath"], updated["mimeType"], updated["sizeBytes"]) == \
        (doc["storagePath"], doc["mimeType"], doc["sizeBytes"])


async def test_an_empty_update_changes_nothing(gql):
    doc = await gql.create_document()
    data = await gql(UPDATE, {"id": doc["id"], "input": {}})
    assert data["updateDocument"] == doc


@pytest.mark.parametrize(("values", "field"), [
    ({"name": None}, "name"),
    ({"name": ""}, "name"),
    ({"tags": None}, "tags"),
    ({"type": None}, "type"),
    ({"userData": None}, "userData"),
    ({"userData": 3}, "userData"),
    ({"folder": "no-slash"}, "folder"),
])
async def test_update_document_refuses_bad_fields(gql, values, field):
    doc = await gql.create_document()
    error = await gql.error(UPDATE, {"id": doc["id"], "input": values}, code="validation_error")
    assert list(error["extensions"]["details"]["fields"]) == [field]


async def test_update_or_delete_an_unknown_document_is_not_found(gql):
    missing = str(uuid.uuid4())
    error = await gql.error(UPDATE, {"id": missing, "input": {"name": "x"}}, code="not_found")
    assert error["message"] == "No such document."
    await gql.error(UPDATE, {"id": missing, "input": {}}, code="not_found")
    await gql.error(DELETE, {"id": missing}, code="not_found")


async def test_status_machine_pending_verified_expired(gql):
    doc = await gql.create_document()
    verified = (await gql(VERIFY, {"id": doc["id"]}))["verifyDocument"]
    assert verified["status"] == "VERIFIED"
    assert parse_time(verified["verifiedAt"]) >= parse_time(doc["createdAt"])
    assert verified["rejectionReason"] is None
    read = (await gql(GET, {"id": doc["id"]}))["document"]
    assert (read["status"], read["verifiedAt"]) == ("VERIFIED", verified["verifiedAt"])

    error = await gql.error(VERIFY, {"id": doc["id"]}, code="conflict")
    assert error["message"] == \
        "A verified document cannot become verified; only pending documents can."
    assert error["extensions"]["details"] == {"status": "verified", "to": "verified",
                                              "allowedFrom": ["pending"]}
    await gql.error(REJECT, {"id": doc["id"], "reason": "blurry"}, code="conflict")

    expired = (await gql(EXPIRE, {"id": doc["id"]}))["expireDocument"]
    assert (expired["status"], expired["verifiedAt"], expired["rejectionReason"]) == \
        ("EXPIRED", None, None)
    for mutation, variables in [(VERIFY, {}), (EXPIRE, {}), (REJECT, {"reason": "late"})]:
        error = await gql.error(mutation, {"id": doc["id"], **variables}, code="conflict")
        assert "expired" in error["message"]


async def test_status_machine_pending_rejected(gql):
    doc = await gql.create_document()
    error = await gql.error(EXPIRE, {"id": doc["id"]}, code="conflict")
    assert error["message"] == \
        "A pending document cannot become expired; only verified documents can."
    rejected = (await gql(REJECT, {"id": doc["id"], "reason": "Blurry scan"}))["rejectDocument"]
    assert (rejected["status"], rejected["verifiedAt"], rejected["rejectionReason"]) == \
        ("REJECTED", None, "Blurry scan")
    await gql.error(VERIFY, {"id": doc["id"]}, code="conflict")
    await gql.error(EXPIRE, {"id": doc["id"]}, code="conflict")
    read = (await gql(GET, {"id": doc["id"]}))["document"]
    assert (read["status"], read["rejectionReason"]) == ("REJECTED", "Blurry scan")


@pytest.mark.parametrize("reason", ["", "   ", "r" * 1001])
async def test_a_rejection_needs_a_reason(gql, reason):
    doc = await gql.create_document()
    error = await gql.error(REJECT, {"id": doc["id"], "reason": reason}, code="validation_error")
    assert list(error["extensions"]["details"]["fields"]) == ["reason"]
    assert (await gql(GET, {"id": doc["id"]}))["document"]["status"] == "PENDING"


async def test_status_changes_of_unknown_documents_are_not_found(gql):
    missing = str(uuid.uuid4())
    for mutation, variables in [(VERIFY, {}), (EXPIRE, {}), (REJECT, {"reason": "x"})]:
        await gql.error(mutation, {"id": missing, **variables}, code="not_found")


async def test_a_key_needs_the_scope_of_the_operation(gql, tenant):
    doc = await gql.create_document()
    error = await gql.error(GET, {"id": doc["id"]}, code="insufficient_permissions",
                            key=tenant.write_key)
    assert error["extensions"]["details"] == {"requiredScope": "read:documents"}
    await gql.error(CREATE, {"input": {"name": "a", "mimeType": "text/plain",
                                       "storagePath": "x"}},
                    code="insufficient_permissions", key=tenant.read_key)
    for mutation, variables in [(VERIFY, {}), (EXPIRE, {}), (REJECT, {"reason": "x"}),
                                (DELETE, {}), (UPDATE, {"input": {"name": "n"}})]:
        await gql.error(mutation, {"id": doc["id"], **variables},
                        code="insufficient_permissions", key=tenant.read_key)
    # Nothing changed.
    assert (await gql(GET, {"id": doc["id"]}))["document"]["name"] == doc["name"]


async def test_a_write_only_key_reads_what_its_mutations_return(gql, tenant):
    doc = await gql.create_document(name="a", mimeType="text/plain", key=tenant.write_key)
    assert doc["name"] == "a"
    data = await gql(UPDATE, {"id": doc["id"], "input": {"name": "b"}}, key=tenant.write_key)
    assert data["updateDocument"] == {**doc, "name": "b",
                                      "updatedAt": data["updateDocument"]["updatedAt"]}
    await gql.error(UPDATE, {"id": str(uuid.uuid4()), "input": {"name": "b"}},
                    code="not_found", key=tenant.write_key)
    # An empty update would only read: it needs read:documents (tests/test_write_only_keys.py).
    await gql.error(UPDATE, {"id": doc["id"], "input": {}}, code="insufficient_permissions",
                    key=tenant.write_key)
