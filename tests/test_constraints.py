"""The data model's invariants hold in the database itself."""

import uuid

import asyncpg
import pytest

from docgraph.db.database import Database

INSERT_ENTITY = """
insert into entities (workspace_id, id, entity_type, name) values ($1, $2, $3, $4)
"""
INSERT_DOCUMENT = """
insert into documents (workspace_id, id, name, mime_type, storage_path, folder, tags, type,
                       status, verified_at, rejection_reason)
values ($1, $2, $3, $4, $5, $6, coalesce($7, '{}'::text[]), coalesce($8, 'other'),
        coalesce($9, 'pending'), $10, $11)
"""
INSERT_LINK = """
insert into links (workspace_id, id, document_id, entity_type, entity_id, role)
values ($1, $2, $3, $4, $5, $6)
"""


async def insert_document(db: Database, ws: uuid.UUID, *, name="a.pdf",
                          mime_type="application/pdf", storage_path=None, folder=None,
                          tags=None, type=None, status=None, verified_at=None,
                          rejection_reason=None) -> uuid.UUID:
    doc_id = uuid.uuid4()
    await db.execute(INSERT_DOCUMENT, ws, doc_id, name, mime_type,
                     storage_path or f"workspaces/{ws}/{doc_id}", folder, tags, type, status,
                     verified_at, rejection_reason)
    return doc_id


async def insert_entity(db: Database, ws: uuid.UUID, entity_type="contact") -> uuid.UUID:
    entity_id = uuid.uuid4()
    await db.execute(INSERT_ENTITY, ws, entity_id, entity_type, "Ada")
    return entity_id


async def test_one_link_per_document_and_entity(db, tenant):
    doc = await insert_document(db, tenant.id)
    contact = await insert_entity(db, tenant.id)
    await db.execute(INSERT_LINK, tenant.id, uuid.uuid4(), doc, "contact", contact, "signed")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(INSERT_LINK, tenant.id, uuid.uuid4(), doc, "contact", contact, "draft")


async def test_link_entity_type_must_match_the_entity(db, tenant):
    doc = await insert_document(db, tenant.id)
    contact = await insert_entity(db, tenant.id, "contact")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(INSERT_LINK, tenant.id, uuid.uuid4(), doc, "deal", contact, None)


async def test_links_never_cross_workspaces(db, tenant, other_tenant):
    doc = await insert_document(db, tenant.id)
    foreign_contact = await insert_entity(db, other_tenant.id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(INSERT_LINK, tenant.id, uuid.uuid4(), doc, "contact",
                         foreign_contact, None)


async def test_role_at_most_64_characters(db, tenant):
    doc = await insert_document(db, tenant.id)
    contact = await insert_entity(db, tenant.id)
    await db.execute(INSERT_LINK, tenant.id, uuid.uuid4(), doc, "contact", contact, "r" * 64)
    other = await insert_entity(db, tenant.id)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(INSERT_LINK, tenant.id, uuid.uuid4(), doc, "contact", other, "r" * 65)


async def test_one_live_document_per_storage_path(db, tenant, other_tenant):
    path = f"workspaces/{tenant.id}/shared.pdf"
    first = await insert_document(db, tenant.id, storage_path=path)
    with pytest.raises(asyncpg.UniqueViolationError) as info:
        await insert_document(db, tenant.id, storage_path=path)
    assert info.value.constraint_name == "documents_live_storage_path"
    # Another workspace may use the same key; a soft-deleted document frees the path.
    await insert_document(db, other_tenant.id, storage_path=path)
    await db.execute("update documents set deleted_at = now() where workspace_id = $1 "
                     "and id = $2", tenant.id, first)
    await insert_document(db, tenant.id, storage_path=path)


@pytest.mark.parametrize("name", ["", "x" * 256])
async def test_name_between_1_and_255_characters(db, tenant, name):
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_document(db, tenant.id, name=name)


async def test_name_of_255_characters_is_accepted(db, tenant):
    await insert_document(db, tenant.id, name="x" * 255)


@pytest.mark.parametrize(("column", "value"), [
    ("type", "passport"), ("status", "approved"), ("mime_type", "not a mime type"),
])
async def test_enumerations_are_checked(db, tenant, column, value):
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_document(db, tenant.id, **{column: value})


async def test_entity_type_is_checked(db, tenant):
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_entity(db, tenant.id, "invoice")


async def test_verified_at_only_on_verified_documents(db, tenant):
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_document(db, tenant.id, status="verified")
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_document(db, tenant.id, status="pending",
                              verified_at=await db.fetchval("select now()"))
    await insert_document(db, tenant.id, status="verified",
                          verified_at=await db.fetchval("select now()"))


async def test_rejection_reason_only_on_rejected_documents(db, tenant):
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_document(db, tenant.id, status="rejected")
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_document(db, tenant.id, status="pending", rejection_reason="blurry")
    await insert_document(db, tenant.id, status="rejected", rejection_reason="blurry")


async def test_folder_must_exist_and_be_an_absolute_path(db, tenant):
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await insert_document(db, tenant.id, folder="/clients/acme")
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("insert into folders (workspace_id, path) values ($1, $2)",
                         tenant.id, "clients/acme")
    await db.execute("insert into folders (workspace_id, path) values ($1, $2)",
                     tenant.id, "/clients/acme")
    await insert_document(db, tenant.id, folder="/clients/acme")


async def test_tags_cannot_hold_null(db, tenant):
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_document(db, tenant.id, tags=["nda", None])


async def test_api_key_scopes_are_checked(db, tenant):
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "insert into api_keys (workspace_id, id, key_hash, prefix, scopes) "
            "values ($1, $2, $3, 'wbk_abcd', $4)",
            tenant.id, uuid.uuid4(), b"\x00" * 32, ["admin:everything"])
