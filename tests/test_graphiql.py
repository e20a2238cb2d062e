"""GraphiQL at GET /graphql works offline: every asset comes from docgraph itself."""

import base64
import hashlib
import json
import re

import httpx

from docgraph.schema.graphiql import ASSETS, ASSETS_DIR

ATTRIBUTE = re.compile(r'\b(?:src|href)="([^"]*)"')
TAG = re.compile(r'\b(?:src|href)="([^"]*)" integrity="([^"]*)"')


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


async def test_the_page_is_served_without_a_key(client):
    r = await client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<title>docgraph GraphiQL</title>" in r.text
    assert "GraphiQL.createFetcher" in r.text


async def test_the_page_references_only_local_assets(client):
    page = (await client.get("/graphql", headers={"Accept": "text/html"})).text
    urls = ATTRIBUTE.findall(page)
    assets = [url for url in urls if url != "data:,"]  # the (empty) favicon
    assert sorted(assets) == sorted(asset.url for asset in ASSETS)
    assert all(url.startswith("/graphql/assets/") for url in assets)
    # Nothing else on the page reaches out: no CDN, no absolute URL at all.
    assert "unpkg" not in page and "jsdelivr" not in page
    assert "http://" not in page and "https://" not in page and "//" + "cdn" not in page


async def test_the_assets_are_served_without_a_key_and_match_their_integrity(client):
    page = (await client.get("/graphql", headers={"Accept": "text/html"})).text
    tags = TAG.findall(page)
    assert len(tags) == len(ASSETS)
    for url, integrity in tags:
        r = await client.get(url)
        assert r.status_code == 200, url
        assert sri(r.content) == integrity, url  # what the browser checks before running it
        local = ASSETS_DIR / url.removeprefix("/graphql/assets/")
        assert r.content == local.read_bytes()
        expected = "text/css" if url.endswith(".css") else "javascript"
        assert expected in r.headers["content-type"], url


async def test_the_vendored_files_are_the_pinned_versions():
    for asset in ASSETS:
        data = (ASSETS_DIR / asset.local_path).read_bytes()
        assert sri(data) == asset.integrity, asset.local_path


async def test_unknown_asset_paths_are_404(client):
    r = await client.get("/graphql/assets/nope.js")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    # An escape from the assets directory finds nothing.
    r = await client.get("/graphql/assets/%2e%2e/%2e%2e/app.py")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_graphiqls_introspection_fits_the_default_limits(gql):
    from graphql import get_introspection_query

    query = get_introspection_query(descriptions=True, specified_by_url=True,
                                    directive_is_repeatable=True, schema_description=True,
                                    input_value_deprecation=True)
    data = await gql(query)
    names = {t["name"] for t in data["__schema"]["types"]}
    assert {"Document", "Link", "Entity", "Contact", "Business", "SafeInt"} <= names


DEV_KEY = "wbk_" + "D" * 43
KEY_PATTERN = re.compile(r"wbk_[A-Za-z0-9_-]{43}")


def dev_key_on(page: str) -> list[str]:
    """The keys the page holds (the placeholder, wbk_your_api_key_here, is none)."""
    return KEY_PATTERN.findall(page)


async def test_the_serve_page_holds_no_key(client, tenant):
    r = await client.get("/graphql", headers={"Accept": "text/html", **tenant.headers()})
    assert dev_key_on(r.text) == [] and "wbk_your_api_key_here" in r.text
    assert "const DEV_HEADERS = /* docgraph:dev-headers */ null;" in r.text
    assert "cache-control" not in r.headers


async def test_the_dev_page_holds_the_key_for_this_machine_only(tmp_root, database_url):
    from docgraph.app import create_app
    from tests.conftest import LiveServer, make_settings

    settings = make_settings(tmp_root)
    live = LiveServer(create_app(settings, database_url, graphiql_dev_key=DEV_KEY),
                      settings.host, settings.port).start()
    try:
        port = settings.port
        async with httpx.AsyncClient(base_url=live.url) as http:
            async def page(**headers):
                r = await http.get("/graphql", headers={"Accept": "text/html", **headers})
                assert r.status_code == 200
                assert r.headers["cache-control"] == "no-store"
                assert r.headers["vary"] == "Host, Origin"
                return r.text

            # A browser on this machine, by any loopback name; a same-origin request.
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
                shown = await page(Host=host)
                assert dev_key_on(shown) == [DEV_KEY], host
                assert json.dumps({"Authorization": f"Bearer {DEV_KEY}"}, indent=2) in (
                    json.loads(re.search(r"const DEV_HEADERS = (\".*?\");", shown)[1]))
            assert dev_key_on(await page(Origin=live.url)) == [DEV_KEY]
            # Another origin's script (it could read the page with DOCGRAPH_CORS_ORIGINS),
            # a DNS name rebound to 127.0.0.1, a page asked for from another machine: none.
            for headers in ({"Origin": "https://evil.example"},
                            {"Origin": f"http://localhost:{port + 1}"},
                            {"Origin": "null"},
                            {"Host": f"evil.example:{port}"},
                            {"Host": f"192.168.1.20:{port}"},
                            {"Host": ""}):
                assert dev_key_on(await page(**headers)) == [], headers
    finally:
        live.stop()
