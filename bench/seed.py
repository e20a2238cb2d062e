"""A deterministic benchmark dataset, written through the database layer.

At scale 1: one workspace, 10,000 contacts, 2,000 businesses, 200,000
documents and 400,000 links; every contact has 12-52 documents, the rest of
the links go to businesses. ``scale`` multiplies every count (scale 10 is the
2,000,000-document run). The same seed always gives the same rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import uuid

from docgraph.db import workspaces
from docgraph.db.database import Database
from docgraph.resolvers import auth

CONTACTS = 10_000
BUSINESSES = 2_000
DOCUMENTS = 200_000
LINKS = 400_000
DOCS_PER_CONTACT = (12, 52)

MIME_TYPES = [("application/pdf", ".pdf"), ("image/png", ".png"), ("image/jpeg", ".jpg"),
              ("text/plain", ".txt"),
              ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               ".docx")]
TYPES = ["identification", "bank_statement", "tax_form", "contract", "license", "other"]
STATUSES = ["pending", "verified", "rejected", "expired"]
FOLDERS = ["/clients/acme/ndas", "/clients/globex/contracts", "/hr/ids", "/finance/statements",
           "/legal/matters/2026", "/inbox"]
TAGS = ["nda", "confidential", "signed", "draft", "kyc", "invoice", "evidence", "2026"]
ROLES = ["signed", "draft", "evidence", "owner", None]
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@dataclasses.dataclass
class Dataset:
    workspace_id: uuid.UUID
    key: str
    contact_ids: list[uuid.UUID]
    business_ids: list[uuid.UUID]
    documents: int
    links: int


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


async def seed(db: Database, *, scale: float = 1, seed: int = 42) -> Dataset:
    rng = random.Random(seed)
    n_contacts, n_businesses = int(CONTACTS * scale), int(BUSINESSES * scale)
    n_documents, n_links = int(DOCUMENTS * scale), int(LINKS * scale)

    workspace = await workspaces.create_workspace(db, f"bench x{scale}",
                                                  quota_bytes=10**15)
    ws = workspace["id"]
    key, _ = await auth.create_key(db, ws, auth.SCOPES, name="bench", rate_limit=10**9)

    contact_ids = [_uuid(rng) for _ in range(n_contacts)]
    business_ids = [_uuid(rng) for _ in range(n_businesses)]
    now = EPOCH
    entity_rows = [
        (ws, cid, "contact", f"Contact {i}", now, now) for i, cid in enumerate(contact_ids)
    ] + [
        (ws, bid, "company", f"Business {i}", now, now) for i, bid in enumerate(business_ids)
    ]

    doc_ids = [_uuid(rng) for _ in range(n_documents)]
    span = 2 * 365 * 24 * 3600
    document_rows = []
    for i, doc_id in enumerate(doc_ids):
        mime, ext = MIME_TYPES[rng.randrange(len(MIME_TYPES))]
        status = STATUSES[rng.randrange(len(STATUSES))]
        created = EPOCH + dt.timedelta(seconds=rng.randrange(span))
        document_rows.append((
            ws, doc_id, f"document-{i}{ext}", None, mime, rng.randrange(1_000, 5_000_000),
            f"workspaces/{ws}/documents/{doc_id}", FOLDERS[rng.randrange(len(FOLDERS))],
            rng.sample(TAGS, rng.randrange(0, 3)), TYPES[rng.randrange(len(TYPES))], status,
            created + dt.timedelta(hours=1) if status == "verified" else None,
            "unreadable scan" if status == "rejected" else None,
            created, created,
        ))

    link_rows = []
    for cid in contact_ids:
        for doc_index in rng.sample(range(n_documents), rng.randint(*DOCS_PER_CONTACT)):
            link_rows.append((ws, _uuid(rng), doc_ids[doc_index], "contact", cid,
                              ROLES[rng.randrange(len(ROLES))],
                              document_rows[doc_index][13] + dt.timedelta(minutes=5),
                              document_rows[doc_index][13]))
    remaining = max(0, n_links - len(link_rows))
    per_business = remaining // n_businesses
    extra = remaining - per_business * n_businesses
    for b, bid in enumerate(business_ids):
        count = per_business + (1 if b < extra else 0)
        for doc_index in rng.sample(range(n_documents), count):
            link_rows.append((ws, _uuid(rng), doc_ids[doc_index], "company", bid,
                              ROLES[rng.randrange(len(ROLES))],
                              document_rows[doc_index][13] + dt.timedelta(minutes=5),
                              document_rows[doc_index][13]))

    # jsonb columns (attributes, user_data) keep their defaults: binary COPY cannot
    # encode them through the pool's text codec.
    async with db.transaction() as conn:
        raw = conn.raw
        # The rows are consistent by construction: skip the per-row foreign-key
        # triggers (the embedded cluster's user is a superuser), for speed.
        await conn.execute("set local session_replication_role = replica")
        await raw.copy_records_to_table(
            "entities", records=entity_rows,
            columns=["workspace_id", "id", "entity_type", "name", "created_at", "updated_at"])
        await raw.copy_records_to_table(
            "folders", records=[(ws, f) for f in FOLDERS], columns=["workspace_id", "path"])
        await raw.copy_records_to_table(
            "documents", records=document_rows,
            columns=["workspace_id", "id", "name", "description", "mime_type", "size_bytes",
                     "storage_path", "folder", "tags", "type", "status", "verified_at",
                     "rejection_reason", "created_at", "updated_at"])
        await raw.copy_records_to_table(
            "links", records=link_rows,
            columns=["workspace_id", "id", "document_id", "entity_type", "entity_id", "role",
                     "created_at", "document_created_at"])
    async with db.connection() as conn:
        # Vacuumed and analysed now, so autovacuum does not wake up on these tables in
        # the middle of a measurement (it did, after a 2,000,000-document seed).
        await conn.execute("vacuum (analyze)")
    return Dataset(ws, key, contact_ids, business_ids, len(document_rows), len(link_rows))
