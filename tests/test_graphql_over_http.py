"""/graphql follows the GraphQL-over-HTTP specification: graphql-http's audit suite,
and the media types, status codes and error shape the README describes."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from docgraph.http.graphql import negotiate
from docgraph.resolvers import auth
from tests.gql import GRAPHQL_RESPONSE_JSON, assert_graphql_error
from tests.npm import npm_ci

AUDIT_JS = Path(__file__).resolve().parent / "graphql_http_audit"


@pytest.fixture(scope="session")
def audit_dir() -> Path:
    """graphql-http (and graphql, its peer), installed with ``npm ci`` once per lockfile."""
    return npm_ci(AUDIT_JS, "graphql-http-audit", installed="graphql-http")


async def run_audit(audit_dir: Path, url: str, key: str) -> dict:
    done = await asyncio.to_thread(
        subprocess.run, ["node", "audit.mjs", url, key], cwd=audit_dir,
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_every_graphql_over_http_audit_passes(server, tenant, audit_dir):
    report = await run_audit(audit_dir, f"{server.url}/graphql", tenant.key)
    results = report["results"]
    failed = [r for r in results if r["status"] != "ok"]
    assert failed == [], json.dumps(failed, indent=1)
    assert len(results) == report["audits"] > 0
    assert sum(r["status"] == "ok" for r in results) == report["audits"]


@pytest.mark.parametrize(("accept", "chosen"), [
    ("", "application/json"),
    ("*/*", "application/json"),
    ("application/*", "application/json"),
    ("application/json", "application/json"),
    ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
    ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
    ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
    ("application/json, application/graphql-response+json;q=0.5", "application/json"),
    ("application/graphql-response+json, */*", GRAPHQL_RESPONSE_JSON),
    ("application/json, */*", "application/json"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json"),
    ("APPLICATION/GRAPHQL-RESPONSE+JSON; charset=utf-8", GRAPHQL_RESPONSE_JSON),
    ("text/html", None),
    ("application/json;q=0", None),
    ("application/graphql-response+json;q=0, */*", "application/json"),
])
def test_the_media_type_is_negotiated(accept, chosen):
    assert negotiate(accept) == chosen


async def test_responses_come_in_the_media_type_asked_for(gql):
    query = {"query": "{ __typename }"}
    for accept, content_type in [
        ("application/graphql-response+json", "application/graphql-response+json; "
                                              "charset=utf-8"),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
    ]:
        r = await gql.client.post("/graphql", json=query,
                                  headers={**gql.tenant.headers(), "Accept": accept})
        assert r.status_code == 200
        assert r.headers["content-type"] == content_type
        assert r.json() == {"data": {"__typename": "Query"}}
    r = await gql.client.post("/graphql", json=query,
                              headers={**gql.tenant.headers(), "Accept": "text/html"})
    error = assert_graphql_error(r, 406, "not_acceptable")
    assert GRAPHQL_RESPONSE_JSON in error["message"]


@pytest.mark.parametrize(("query", "says"), [
    ("{ documents(", "Syntax Error"),
    ("{ documents { totalCont } }", "Cannot query field"),
    ("query($id: ID!) { document(id: $id) { id } }", "Variable '$id'"),
    ("query A { __typename } query B { __typename }", "Must provide operation name"),
])
async def test_request_errors_have_no_data_and_a_status_per_media_type(gql, query, says):
    for accept, status in (("application/json", 200), (GRAPHQL_RESPONSE_JSON, 400)):
        r = await gql.client.post("/graphql", json={"query": query},
                                  headers={**gql.tenant.headers(), "Accept": accept})
        error = assert_graphql_error(r, status, "validation_error")
        assert says in error["message"]
        assert r.headers["content-type"].startswith(accept)


async def test_field_errors_keep_their_data_and_200(gql):
    """An operation that ran: 200 and its data, even null (a non-null root field failed)."""
    missing = "00000000-0000-0000-0000-000000000000"
    for accept in ("application/json", GRAPHQL_RESPONSE_JSON):
        r = await gql.client.post("/graphql", headers={**gql.tenant.headers(), "Accept": accept},
                                  json={"query": f'mutation {{ verifyDocument(id: "{missing}") '
                                                 "{ id } }"})
        assert r.status_code == 200
        body = r.json()
        assert "data" in body and body["data"] is None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "not_found"
        assert error["path"] == ["verifyDocument"]


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_refusals_of_the_http_layers_are_graphql_responses(client, db, tenant, accept):
    """401, 429 and 413 keep their status (and headers) in either media type."""
    r = await client.post("/graphql", json={"query": "{ __typename }"},
                          headers={"Accept": accept, "Authorization": "Bearer wbk_nope"})
    error = assert_graphql_error(r, 401, "invalid_key")
    assert r.headers["content-type"].startswith(accept)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "x-ratelimit-limit" in r.headers
    assert error == {"message": error["message"], "extensions": {"code": "invalid_key"}}

    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=1)
    headers = {**tenant.headers(key), "Accept": accept}
    assert (await client.get("/graphql", params={"query": "{ __typename }"},
                             headers=headers)).status_code == 200
    r = await client.get("/graphql", params={"query": "{ __typename }"}, headers=headers)
    error = assert_graphql_error(r, 429, "rate_limited")
    assert error["extensions"]["retryAfter"] == int(r.headers["retry-after"])
    assert r.headers["content-type"].startswith(accept)

    r = await client.post("/graphql", content=b'{"query": "' + b" " * (1 << 20) + b'"}',
                          headers={**tenant.headers(), "Accept": accept,
                                   "Content-Type": "application/json"})
    assert assert_graphql_error(r, 413, "payload_too_large")["extensions"]["details"] == \
        {"maxBytes": 1 << 20}
