"""CORS as a browser sees it: preflights, exposed headers, refused origins.

A browser accepts a preflight answered with any 2xx status and the
``Access-Control-Allow-*`` headers that cover the request; it refuses a
response without ``Access-Control-Allow-Origin``. Starlette answers a
preflight 200 ``OK`` and refuses one with 400 ``Disallowed CORS ...``.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from docgraph.app import create_app
from docgraph.resolvers import auth

from .conftest import LiveServer, make_settings, served
from .instances import serving

APP_ORIGIN = "http://app.example.test:5173"


@pytest.fixture(scope="module")
def cors_server(tmp_root, database_url) -> Iterator[LiveServer]:
    settings = make_settings(tmp_root, cors_origins=(APP_ORIGIN,))
    with served(settings, database_url) as live:
        yield live


@pytest.fixture
async def cors_client(cors_server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cors_server.url, timeout=30) as c:
        yield c


def allowed_headers(r: httpx.Response) -> set[str]:
    return {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}


def preflight_headers(origin=APP_ORIGIN, method="POST",
                      headers="authorization, content-type, idempotency-key"):
    return {"Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers}


@pytest.mark.parametrize(("path", "method"), [
    ("/graphql", "POST"), ("/v1/documents", "POST"), ("/v1/contacts/x/documents", "GET"),
    ("/storage/workspaces/w/documents/d", "PUT"), ("/storage/workspaces/w/documents/d", "GET"),
])
async def test_preflight_is_answered_without_a_key(cors_client, path, method):
    r = await cors_client.options(path, headers=preflight_headers(method=method))
    assert r.is_success
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    assert method in r.headers["access-control-allow-methods"]
    assert {"authorization", "content-type", "idempotency-key"} <= allowed_headers(r)
    assert r.headers["access-control-max-age"] == "600"
    assert "Origin" in r.headers["vary"]
    assert "access-control-allow-credentials" not in r.headers


async def test_actual_response_exposes_request_id_and_rate_limit_headers(cors_client, tenant):
    r = await cors_client.get("/v1/workspace",
                              headers={**tenant.headers(), "Origin": APP_ORIGIN})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining",
            "x-ratelimit-reset", "retry-after"} <= exposed


async def test_errors_carry_cors_headers_so_the_page_can_read_them(cors_client):
    r = await cors_client.get("/v1/workspace", headers={"Origin": APP_ORIGIN})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    assert r.json()["error"]["code"] == "invalid_key"


def assert_readable(r: httpx.Response) -> None:
    """The page may read this response and the headers that say when to retry."""
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after"} <= exposed


async def test_a_rate_limited_response_is_readable(cors_client, db, tenant):
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=1)
    headers = {**tenant.headers(key), "Origin": APP_ORIGIN}
    assert (await cors_client.get("/v1/workspace", headers=headers)).status_code == 200
    r = await cors_client.get("/v1/workspace", headers=headers)
    assert r.status_code == 429
    assert "retry-after" in r.headers
    assert_readable(r)


async def test_a_body_over_the_limit_is_readable(cors_client, tenant):
    r = await cors_client.post("/v1/documents", content=b"x" * (2 << 20),
                               headers={**tenant.headers(), "Origin": APP_ORIGIN,
                                        "Content-Type": "application/json"})
    assert r.status_code == 413
    assert_readable(r)


async def test_a_503_from_the_admission_queue_is_readable(tmp_root, database_url, tenant):
    with serving(tmp_root, database_url, cors_origins=(APP_ORIGIN,), max_active_requests=1,
                 queue_timeout_seconds=0.3) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as c:
            release = asyncio.Event()

            async def slow_body() -> AsyncIterator[bytes]:
                yield b'{"query": '
                await release.wait()
                yield b'"{ workspace { id } }"}'

            # This request holds the worker's only turn while its body trickles in...
            held = asyncio.create_task(c.post(
                "/graphql", content=slow_body(),
                headers={**tenant.headers(), "Content-Type": "application/json"}))
            await asyncio.sleep(0.2)
            # ...so this one waits in line and is answered 503.
            r = await c.get("/v1/workspace", headers={**tenant.headers(), "Origin": APP_ORIGIN})
            release.set()
            assert r.status_code == 503
            assert "retry-after" in r.headers
            assert_readable(r)
            assert (await held).status_code == 200


async def test_a_disallowed_origin_gets_no_cors_headers(cors_client, tenant):
    evil = "https://evil.example"
    r = await cors_client.options("/graphql", headers=preflight_headers(origin=evil))
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers
    r = await cors_client.get("/v1/workspace", headers={**tenant.headers(), "Origin": evil})
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-credentials" not in r.headers


async def test_a_preflight_asking_for_other_headers_or_methods_is_refused(cors_client):
    r = await cors_client.options("/graphql", headers=preflight_headers(headers="x-custom"))
    assert r.status_code == 400
    assert "x-custom" not in allowed_headers(r)
    r = await cors_client.options("/graphql", headers=preflight_headers(method="TRACE"))
    assert r.status_code == 400
    assert "TRACE" not in r.headers["access-control-allow-methods"]


async def test_without_configured_origins_no_cors_headers_are_sent(client, tenant):
    r = await client.options("/graphql", headers=preflight_headers())
    assert "access-control-allow-origin" not in r.headers
    r = await client.get("/v1/workspace", headers={**tenant.headers(), "Origin": APP_ORIGIN})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


async def test_a_wildcard_allows_any_origin(tmp_root, database_url):
    settings = make_settings(tmp_root, cors_origins=("*",))
    live = LiveServer(create_app(settings, database_url), settings.host, settings.port).start()
    try:
        async with httpx.AsyncClient(base_url=live.url) as c:
            origin = "http://localhost:3000"
            r = await c.options("/graphql", headers=preflight_headers(origin=origin))
            assert r.is_success
            assert r.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in r.headers
            r = await c.get("/v1/workspace", headers={"Origin": origin})
            assert r.status_code == 401
            assert r.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in r.headers
    finally:
        live.stop()


async def test_a_browser_may_put_to_a_signed_url_with_the_headers_it_was_given(cors_client):
    r = await cors_client.options(
        "/storage/workspaces/w/documents/d",
        headers=preflight_headers(method="PUT", headers="content-type, if-none-match"))
    assert r.is_success
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    assert {"content-type", "if-none-match"} <= allowed_headers(r)


async def test_a_page_may_put_and_get_through_signed_urls(cors_server):
    store = cors_server.app.state.store
    key = f"workspaces/{uuid.uuid4()}/uploads/{uuid.uuid4().hex}.txt"
    up = store.presign_upload(key, content_type="text/plain", size=5)
    async with httpx.AsyncClient(timeout=30) as c:
        r = await c.put(up.url, content=b"hello", headers={**up.headers, "Origin": APP_ORIGIN})
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == APP_ORIGIN
        r = await c.get(store.presign_download(key, file_name="hello.txt").url,
                        headers={"Origin": APP_ORIGIN})
        assert r.status_code == 200
        assert r.content == b"hello"
        assert r.headers["access-control-allow-origin"] == APP_ORIGIN
        exposed = {h.strip().lower()
                   for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"content-disposition", "content-length"} <= exposed
