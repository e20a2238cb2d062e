"""The HTTP surface of the foundation: health, request ids, authentication."""

import asyncio
import json
import logging
import re

import pytest

from docgraph.db import api_keys
from docgraph.resolvers import auth


async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert re.fullmatch(r"req_[0-9a-f]{32}", r.headers["x-request-id"])


async def test_readyz_when_the_database_answers(client):
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"
    # Without a scanner it says so (tests/test_scanning.py: with one).
    assert r.json()["scanner"]["state"] == "not_configured"


async def test_a_sane_request_id_is_echoed_and_an_insane_one_replaced(client):
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-ID": "a b\tc" * 50})
    assert r.headers["x-request-id"].startswith("req_")


async def test_the_key_authenticates_and_names_its_workspace(client, tenant):
    r = await client.get("/v1/workspace", headers=tenant.headers())
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["id"] == str(tenant.id)
    assert data["name"] == "Tenant A"
    assert data["key"]["scopes"] == ["manage:webhooks", "read:documents", "write:documents"]


def assert_error(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"] == r.headers["x-request-id"]
    return body["error"]


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Token wbk_abc"},
    {"Authorization": "Bearer not-a-key"},
    {"Authorization": "Bearer " + auth.generate_key()},
])
async def test_missing_malformed_or_unknown_keys_get_401(client, headers):
    r = await client.get("/v1/workspace", headers=headers)
    assert_error(r, 401, "invalid_key")
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_a_revoked_key_gets_401(client, db, tenant):
    key, record = await auth.create_key(db, tenant.id, auth.SCOPES)
    assert (await client.get("/v1/workspace", headers=tenant.headers(key))).status_code == 200
    await api_keys.revoke_key(db, record["id"])
    assert_error(await client.get("/v1/workspace", headers=tenant.headers(key)), 401,
                 "invalid_key")


async def test_a_key_without_the_scope_gets_403(client, tenant):
    r = await client.get("/v1/workspace", headers=tenant.headers(tenant.write_key))
    error = assert_error(r, 403, "insufficient_permissions")
    assert error["details"] == {"required_scope": "read:documents"}
    r = await client.get("/v1/workspace", headers=tenant.headers(tenant.read_key))
    assert r.status_code == 200


async def test_unknown_paths_and_methods_use_the_error_body(client, tenant):
    assert_error(await client.get("/v1/nothing-here", headers=tenant.headers()), 404,
                 "not_found")
    assert_error(await client.delete("/v1/workspace", headers=tenant.headers()), 405,
                 "method_not_allowed")


async def test_one_json_log_line_per_request(client, tenant, caplog):
    with caplog.at_level(logging.INFO, logger="docgraph.access"):
        r = await client.get("/v1/workspace", headers=tenant.headers())
        # The line is written once the response is sent: wait for it.
        for _ in range(200):
            records = [rec for rec in caplog.records if rec.name == "docgraph.access"
                       and rec.request_id == r.headers["x-request-id"]]
            if records:
                break
            await asyncio.sleep(0.01)
    assert len(records) == 1
    from docgraph.logs import JsonFormatter

    line = json.loads(JsonFormatter().format(records[0]))
    assert line["method"] == "GET"
    assert line["path"] == "/v1/workspace"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["workspace_id"] == str(tenant.id)
    assert line["request_id"] == r.headers["x-request-id"]


async def test_statement_count_header_counts_what_the_request_sent(client, tenant):
    # /healthz sends nothing; /v1/workspace counts the request against the key's rate
    # limit, looks the key up (the test server caches no key) and reads the workspace.
    assert (await client.get("/healthz")).headers["x-statement-count"] == "0"
    r = await client.get("/v1/workspace", headers=tenant.headers())
    assert r.headers["x-statement-count"] == "3"
