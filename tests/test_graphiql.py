"""GraphiQL at GET /graphql works offline: every asset comes from docgraph itself."""

import base64
import hashlib
import re

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
