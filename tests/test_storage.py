"""The object-store interface, on both backends: the local one served by the test
server, the s3 one against moto's S3 server. Uploads and downloads go through an
ordinary HTTP client, as a user's would."""

import asyncio
import datetime as dt
import hashlib
import os
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from minio import Minio

from docgraph.errors import NotFound, Unavailable, ValidationError
from docgraph.http.paths import STORAGE_PREFIX
from docgraph.ops.embedded import free_port
from docgraph.storage import sigv4
from docgraph.storage.factory import build_store
from docgraph.storage.keys import deleted_document_of, deleted_key, validate_key

from .conftest import s3_settings


def new_key(ext: str = "bin") -> str:
    return f"workspaces/{uuid.uuid4()}/uploads/{uuid.uuid4().hex}.{ext}"


async def send(method: str, url: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.request(method, url, **kwargs)


async def upload(presigned, body: bytes, **headers) -> httpx.Response:
    return await send(presigned.method, presigned.url, content=body,
                      headers={**presigned.headers, **headers})


async def test_the_whole_flow_presign_put_stat_download(store):
    data = os.urandom(600_000)  # more than one read chunk
    key = new_key("pdf")
    before = dt.datetime.now(dt.UTC)
    presigned = store.presign_upload(key, content_type="application/pdf", size=len(data))
    assert presigned.method == "PUT"
    assert presigned.headers == {"Content-Type": "application/pdf", "If-None-Match": "*"}
    assert before < presigned.expires_at <= before + dt.timedelta(seconds=901)
    assert await store.stat(key) is None

    r = await upload(presigned, data)
    assert r.status_code == 200, r.text

    info = await store.stat(key)
    assert info is not None
    assert (info.key, info.size, info.content_type) == (key, len(data), "application/pdf")
    assert await store.checksum_sha256(key) == hashlib.sha256(data).digest()
    assert b"".join([chunk async for chunk in store.read(key)]) == data

    download = store.presign_download(key, file_name="Contrat signé.pdf")
    r = await send("GET", download.url)
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Contrat%20sign%C3%A9.pdf" in r.headers["content-disposition"]
    plain = await send("GET", store.presign_download(key).url)
    assert plain.content == data
    assert "content-disposition" not in plain.headers


async def test_an_upload_url_is_write_once(store):
    key = new_key()
    presigned = store.presign_upload(key, content_type="text/plain", size=5)
    assert (await upload(presigned, b"first")).status_code == 200
    again = await upload(presigned, b"other")
    assert again.status_code == 412
    assert b"".join([c async for c in store.read(key)]) == b"first"


async def test_write_replaces_and_delete_removes(store):
    key = new_key("jpg")
    await store.write(key, b"one", content_type="image/jpeg")
    await store.write(key, b"second", content_type="image/png")
    info = await store.stat(key)
    assert info is not None and (info.size, info.content_type) == (6, "image/png")
    assert b"".join([c async for c in store.read(key)]) == b"second"
    await store.delete(key)
    assert await store.stat(key) is None
    await store.delete(key)  # deleting nothing is not an error


async def test_move_takes_the_object_and_its_type_away_from_its_key(store):
    key, target = new_key("png"), new_key()
    await store.write(key, b"the bytes", content_type="image/png")
    url = store.presign_download(key).url
    assert (await send("GET", url)).status_code == 200

    await store.move(key, target)

    assert await store.stat(key) is None
    assert (await send("GET", url)).status_code == 404
    info = await store.stat(target)
    assert info is not None and (info.size, info.content_type) == (9, "image/png")
    assert b"".join([c async for c in store.read(target)]) == b"the bytes"
    # Repeating it, or moving nothing, changes nothing and is no error.
    await store.move(key, target)
    await store.move(new_key(), new_key())
    assert b"".join([c async for c in store.read(target)]) == b"the bytes"


async def test_a_local_move_cut_short_after_the_rename_is_finished(local_store):
    key, target = new_key("pdf"), new_key()
    await local_store.write(key, b"%PDF", content_type="application/pdf")
    source, meta = local_store.path_of(key), local_store.meta_path(local_store.path_of(key))
    stale_meta = meta.read_bytes()
    await local_store.move(key, target)
    meta.write_bytes(stale_meta)  # as if the process died before removing it
    await local_store.move(key, target)
    assert not meta.exists() and not source.exists()
    info = await local_store.stat(target)
    assert info is not None and info.content_type == "application/pdf"


def test_deleted_keys_name_their_workspace_and_document():
    workspace_id, document_id = uuid.uuid4(), uuid.uuid4()
    for preview in (False, True):
        key = deleted_key(workspace_id, document_id, preview=preview)
        assert validate_key(key) == key
        assert key.startswith(f"workspaces/{workspace_id}/deleted/")
        assert deleted_document_of(key) == (workspace_id, document_id)
    for other in (f"workspaces/{workspace_id}/uploads/{document_id.hex}",
                  f"workspaces/{workspace_id}/deleted/{document_id.hex.upper()}",
                  f"workspaces/{workspace_id}/deleted/{document_id}",
                  f"workspaces/{workspace_id}/deleted/x/{document_id.hex}",
                  f"workspaces/nope/deleted/{document_id.hex}"):
        assert deleted_document_of(other) is None


async def test_missing_objects(store):
    key = new_key()
    assert await store.stat(key) is None
    assert await store.checksum_sha256(key) is None
    with pytest.raises(NotFound):
        async for _ in store.read(key):
            pass


async def test_listing_by_prefix_and_age(store):
    prefix = f"workspaces/{uuid.uuid4()}/"
    keys = sorted(f"{prefix}uploads/{n}.txt" for n in ("a", "b", "c"))
    for key in keys:
        await store.write(key, b"x", content_type="text/plain")
    await store.write(f"workspaces/{uuid.uuid4()}/uploads/other.txt", b"y",
                      content_type="text/plain")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    listed = [info async for info in store.list_older_than(prefix, later)]
    assert sorted(info.key for info in listed) == keys
    assert all(info.size == 1 for info in listed)
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert [info async for info in store.list_older_than(prefix, earlier)] == []


@pytest.mark.parametrize("key", [
    "", "/workspaces/x", "workspaces/../x", "..", "a//b", "a/./b", "a\\b", "a\x00b",
    ".hidden", "a/.meta", "a/b/", "a b", "é", "x" * 1025,
])
async def test_malformed_keys_are_refused_everywhere(store, key):
    with pytest.raises(ValidationError):
        store.presign_upload(key, content_type="text/plain", size=1)
    with pytest.raises(ValidationError):
        store.presign_download(key)
    with pytest.raises(ValidationError):
        await store.stat(key)
    with pytest.raises(ValidationError):
        await store.write(key, b"x", content_type="text/plain")
    with pytest.raises(ValidationError):
        await store.delete(key)


def test_well_formed_keys_pass():
    for key in ["workspaces/0b6c/uploads/1f.pdf", "a", "a-b_c~d/e.f.g", "x/" * 10 + "y"]:
        assert validate_key(key) == key


def test_url_lifetimes_stay_within_the_configured_limits(store):
    key = new_key()
    with pytest.raises(ValidationError, match="download URL"):
        store.presign_download(key, expires_in=store.limits.download_url_max_seconds + 1)
    with pytest.raises(ValidationError):
        store.presign_download(key, expires_in=0)
    with pytest.raises(ValidationError, match="upload URL"):
        store.presign_upload(key, content_type="text/plain", size=1,
                             expires_in=store.limits.upload_url_seconds + 1)
    with pytest.raises(ValidationError, match="size"):
        store.presign_upload(key, content_type="text/plain",
                             size=store.limits.max_object_bytes + 1)
    now = dt.datetime.now(dt.UTC)
    short = store.presign_download(key, expires_in=60)
    assert now < short.expires_at <= now + dt.timedelta(seconds=61)


# -- the s3 backend ---------------------------------------------------------------

async def test_s3_upload_urls_sign_the_size_type_and_write_once_headers(s3_store):
    presigned = s3_store.presign_upload("workspaces/w/uploads/u.pdf",
                                        content_type="application/pdf", size=42)
    assert presigned.headers == {"Content-Type": "application/pdf", "If-None-Match": "*"}
    query = parse_qs(urlsplit(presigned.url).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host;if-none-match"]
    assert query["X-Amz-Expires"] == ["900"]


def test_sigv4_matches_botocore_with_signed_headers():
    headers = {"Content-Type": "application/pdf", "Content-Length": "42",
               "If-None-Match": "*"}
    request = AWSRequest(method="PUT", url="http://127.0.0.1:9000/bucket/a/b-1.txt",
                         headers=headers)
    S3SigV4QueryAuth(Credentials("AKID", "SECRET"), "s3", "eu-west-3",
                     expires=900).add_auth(request)
    expected = parse_qs(urlsplit(request.url).query)
    now = dt.datetime.strptime(expected["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.UTC)
    ours = sigv4.presign(method="PUT", base_url="http://127.0.0.1:9000", bucket="bucket",
                         key="a/b-1.txt", region="eu-west-3", access_key="AKID",
                         secret_key="SECRET", expires=900, now=now, headers=headers)
    assert urlsplit(ours).path == "/bucket/a/b-1.txt"
    assert parse_qs(urlsplit(ours).query) == expected


def test_sigv4_matches_the_minio_sdk_for_downloads():
    now = dt.datetime(2026, 4, 17, 10, 45, tzinfo=dt.UTC)
    disposition = "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf"
    client = Minio("minio.example:9000", access_key="AKID", secret_key="SECRET",
                   secure=True, region="us-east-1")
    expected = client.presigned_get_object(
        "bucket", "workspaces/w/x.pdf", expires=dt.timedelta(seconds=3600), request_date=now,
        response_headers={"response-content-disposition": disposition})
    ours = sigv4.presign(method="GET", base_url="https://minio.example:9000", bucket="bucket",
                         key="workspaces/w/x.pdf", region="us-east-1", access_key="AKID",
                         secret_key="SECRET", expires=3600, now=now,
                         query={"response-content-disposition": disposition})
    assert urlsplit(ours)[:3] == urlsplit(expected)[:3]
    assert parse_qs(urlsplit(ours).query) == parse_qs(urlsplit(expected).query)


async def test_s3_uses_the_public_url_for_signed_urls(tmp_root, moto_server):
    store = build_store(s3_settings(tmp_root, moto_server,
                                    s3_public_url="https://files.example.com"),
                                        local_route=STORAGE_PREFIX)
    try:
        url = store.presign_download("workspaces/w/x.pdf").url
        assert url.startswith("https://files.example.com/docgraph-test/workspaces/w/x.pdf?")
    finally:
        await store.close()


async def test_s3_creates_its_bucket_when_missing(tmp_root, moto_server):
    bucket = f"created-{uuid.uuid4().hex[:12]}"
    store = build_store(s3_settings(tmp_root, moto_server, s3_bucket=bucket),
        local_route=STORAGE_PREFIX)
    try:
        await store.ready()
        await store.ready()  # and finds it the second time
        await store.write("workspaces/w/a.txt", b"a", content_type="text/plain")
        assert (await store.stat("workspaces/w/a.txt")).size == 1
    finally:
        await store.close()


async def test_s3_unreachable_answers_unavailable_and_never_hangs(tmp_root):
    closed_port = free_port()  # nothing listens there
    store = build_store(s3_settings(tmp_root, f"127.0.0.1:{closed_port}",
                                    storage_timeout=0.5), local_route=STORAGE_PREFIX)
    try:
        with pytest.raises(Unavailable) as info:
            await store.stat("workspaces/w/a.txt")
        assert info.value.status == 503
        assert info.value.headers["Retry-After"]
        for attempt in (store.ready(), store.checksum_sha256("workspaces/w/a.txt"),
                        store.write("workspaces/w/a.txt", b"a", content_type="text/plain"),
                        store.delete("workspaces/w/a.txt")):
            with pytest.raises(Unavailable):
                await attempt
        with pytest.raises(Unavailable):
            async for _ in store.list_older_than("workspaces/", dt.datetime.now(dt.UTC)):
                pass
        # Signing needs no network, so URLs are still handed out.
        assert store.presign_download("workspaces/w/a.txt").url
    finally:
        await store.close()


async def test_concurrent_s3_calls_share_one_client(s3_store):
    keys = [new_key() for _ in range(20)]
    await asyncio.gather(*(s3_store.write(k, k.encode(), content_type="text/plain")
                           for k in keys))
    infos = await asyncio.gather(*(s3_store.stat(k) for k in keys))
    assert [i.size for i in infos] == [len(k) for k in keys]


async def test_an_app_on_s3_serves_no_storage_paths_and_starts_while_s3_is_down(
        tmp_root, database_url, tenant):
    from docgraph.app import create_app

    from .conftest import LiveServer
    from .test_http import assert_error

    settings = s3_settings(tmp_root, f"127.0.0.1:{free_port()}", storage_timeout=0.5)
    live = LiveServer(create_app(settings, database_url), settings.host, settings.port).start()
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            # Metadata keeps working while the object store is unreachable.
            r = await http.get("/v1/workspace", headers=tenant.headers())
            assert r.status_code == 200
            assert (await http.get("/readyz")).status_code == 200
            # /storage/ belongs to the local backend only.
            assert_error(await http.get("/storage/workspaces/x/y.pdf?expires=1&signature=x"),
                         404, "not_found")
            assert_error(await http.put("/storage/workspaces/x/y.pdf", content=b"x"),
                         404, "not_found")
    finally:
        live.stop()
