import uuid

import pytest

from docgraph.db import api_keys
from docgraph.errors import InvalidKey, ValidationError
from docgraph.resolvers import auth
from docgraph.resolvers.auth import KeyVerifier


def test_keys_are_wbk_and_at_least_32_random_bytes():
    keys = {auth.generate_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert key.startswith("wbk_")
        assert len(key) == 4 + 43  # 32 bytes, base64url without padding


async def test_only_the_hash_is_stored(db, tenant):
    key, record = await auth.create_key(db, tenant.id, [auth.READ_DOCUMENTS], name="ci")
    row = await db.fetchrow("select * from api_keys where workspace_id = $1 and id = $2",
                            tenant.id, record["id"])
    assert row["key_hash"] == auth.hash_key(key)
    stored = " ".join(str(v) for v in row.values())
    assert key not in stored
    assert key[4:] not in stored
    assert row["prefix"] == key[:12]
    assert row["scopes"] == ["read:documents"]


async def test_verify_returns_the_principal(db, tenant):
    key, record = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=10)
    principal = await KeyVerifier(db, 0).verify(key)
    assert principal.workspace_id == tenant.id
    assert principal.key_id == record["id"]
    assert principal.scopes == {"read:documents", "write:documents", "manage:webhooks"}
    assert principal.rate_limit == 10


async def test_unknown_and_revoked_keys_are_refused(db, tenant):
    verifier = KeyVerifier(db, 0)
    with pytest.raises(InvalidKey):
        await verifier.verify(auth.generate_key())
    key, record = await auth.create_key(db, tenant.id, auth.SCOPES)
    await verifier.verify(key)
    revoked = await api_keys.revoke_key(db, record["id"])
    assert revoked["revoked_at"] is not None
    with pytest.raises(InvalidKey):
        await verifier.verify(key)


async def test_a_cached_key_is_revoked_once_the_cache_expires(db, tenant, monkeypatch):
    key, record = await auth.create_key(db, tenant.id, auth.SCOPES)
    verifier = KeyVerifier(db, ttl_seconds=60)
    await verifier.verify(key)
    await api_keys.revoke_key(db, record["id"])
    await verifier.verify(key)  # still cached
    now = auth.time.monotonic()
    monkeypatch.setattr(auth.time, "monotonic", lambda: now + 61)
    with pytest.raises(InvalidKey):
        await verifier.verify(key)


def test_scopes_are_validated():
    assert auth.parse_scopes(["write:documents,read:documents"]) == [
        "read:documents", "write:documents"]
    with pytest.raises(ValidationError, match="unknown scope"):
        auth.parse_scopes(["read:documents", "delete:everything"])
    with pytest.raises(ValidationError):
        auth.parse_scopes([])


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer wbk_short", "Bearer sk_" + "a" * 43,
    "Bearer wbk_" + "a" * 42 + "!",
])
def test_malformed_authorization_headers(header):
    with pytest.raises(InvalidKey):
        auth.bearer_token(header)


async def test_revoking_an_unknown_key_finds_nothing(db):
    assert await api_keys.revoke_key(db, uuid.uuid4()) is None
