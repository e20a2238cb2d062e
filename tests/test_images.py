"""Image documents: real PNG, JPEG, GIF and WebP files made with Pillow get their
dimensions and a preview; files that only pretend to be images get neither, and
no error."""

import datetime as dt
import io
import logging
import struct
import uuid
import zlib

import httpx
import pytest
from PIL import Image

from docgraph.errors import Unavailable
from docgraph.http.paths import STORAGE_PREFIX
from docgraph.jobs.runner import BackgroundJobs
from docgraph.ops.embedded import free_port
from docgraph.resolvers.images import MAX_PIXELS, analyse_image, process_document_image
from docgraph.resolvers.sweeper import (
    IMAGE_MAX_ATTEMPTS,
    IMAGE_RETRY_AFTER,
    retry_unchecked_images,
)
from docgraph.storage.factory import build_store

from .conftest import s3_settings

EXIF_ORIENTATION = 0x0112


def image_bytes(fmt: str, size: tuple[int, int], mode: str = "RGB", **save) -> bytes:
    """An image whose left quarter differs: blue, or fully transparent when it has alpha."""
    color, quarter = {"RGB": ((200, 30, 30), (0, 0, 255)),
                      "RGBA": ((200, 30, 30, 255), (0, 0, 255, 0)),
                      "LA": ((200, 255), (0, 0))}[mode]
    im = Image.new(mode, size, color=color)
    im.paste(quarter, (0, 0, size[0] // 4, size[1]))
    out = io.BytesIO()
    im.save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_orientation(size: tuple[int, int], orientation: int) -> bytes:
    im = Image.new("RGB", size, (10, 200, 10))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims another size (a decompression bomb's header)."""
    data = bytearray(image_bytes("PNG", (1, 1)))
    ihdr = data[12:29]  # type + 13 bytes of IHDR data
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def analyse(data: bytes):
    return analyse_image(io.BytesIO(data))


@pytest.mark.parametrize(("fmt", "size", "preview_size"), [
    ("PNG", (600, 300), (256, 128)),
    ("JPEG", (300, 600), (128, 256)),
    ("GIF", (512, 512), (256, 256)),
    ("WEBP", (1000, 10), (256, 3)),
    ("PNG", (100, 40), (100, 40)),  # small images are not enlarged
])
def test_real_images_get_their_size_and_a_jpeg_preview(fmt, size, preview_size):
    result = analyse(image_bytes(fmt, size))
    assert result is not None
    assert (result.format, result.width, result.height) == (fmt, *size)
    preview = result.preview
    assert (preview.width, preview.height) == preview_size
    assert (preview.content_type, preview.extension) == ("image/jpeg", "jpg")
    with Image.open(io.BytesIO(preview.data)) as im:
        assert im.format == "JPEG"
        assert im.size == preview_size


@pytest.mark.parametrize(("fmt", "mode", "save"), [
    ("PNG", "RGBA", {}),
    ("PNG", "LA", {}),
    ("GIF", "RGBA", {}),  # saved as a palette image with a transparent index
    ("WEBP", "RGBA", {"lossless": True}),
])
def test_transparent_images_get_a_png_preview(fmt, mode, save):
    result = analyse(image_bytes(fmt, (400, 200), mode, **save))
    assert result.preview.content_type == "image/png"
    with Image.open(io.BytesIO(result.preview.data)) as im:
        assert im.format == "PNG" and im.mode == "RGBA"
        assert im.size == (256, 128)
        assert im.getpixel((5, 64))[3] == 0  # the transparent quarter stayed transparent
        assert im.getpixel((250, 64))[3] == 255


@pytest.mark.parametrize(("orientation", "shown"), [(1, (400, 200)), (3, (400, 200)),
                                                    (6, (200, 400)), (8, (200, 400))])
def test_exif_orientation_is_applied(orientation, shown):
    result = analyse(jpeg_with_orientation((400, 200), orientation))
    assert (result.width, result.height) == shown
    expected_preview = (256, 128) if shown[0] > shown[1] else (128, 256)
    assert (result.preview.width, result.preview.height) == expected_preview
    with Image.open(io.BytesIO(result.preview.data)) as im:
        assert im.size == expected_preview


@pytest.mark.parametrize("data", [
    b"this is not a PNG at all",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # the signature, then garbage
    image_bytes("PNG", (300, 300))[:200],  # truncated
    b"",
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    image_bytes("BMP", (10, 10)),  # an image, but not a format we preview
])
def test_files_that_are_not_usable_images_get_nothing(data):
    assert analyse(data) is None


def test_a_decompression_bomb_is_measured_but_never_decoded():
    side = int(MAX_PIXELS ** 0.5) + 100
    result = analyse(png_claiming(side, side))
    assert (result.width, result.height) == (side, side)
    assert result.preview is None
    # Far beyond Pillow's own limit: refused outright.
    assert analyse(png_claiming(100_000, 100_000)) is None


# -- the use case, against the database and both stores ------------------------------

INSERT_DOCUMENT = """
insert into documents (workspace_id, id, name, mime_type, size_bytes, storage_path)
values ($1, $2, $3, $4, $5, $6)
"""
SELECT_IMAGE = """
select image_width, image_height, preview_path, preview_width, preview_height
from documents where workspace_id = $1 and id = $2
"""


async def stored_document(db, store, tenant, data: bytes, mime_type: str,
                          ext: str) -> tuple[uuid.UUID, str]:
    document_id = uuid.uuid4()
    key = f"workspaces/{tenant.id}/uploads/{uuid.uuid4().hex}.{ext}"
    await store.write(key, data, content_type=mime_type)
    await db.execute(INSERT_DOCUMENT, tenant.id, document_id, f"photo.{ext}", mime_type,
                     len(data), key)
    return document_id, key


@pytest.mark.parametrize(("fmt", "mime_type", "ext"), [("PNG", "image/png", "png"),
                                                       ("JPEG", "image/jpeg", "jpg")])
async def test_an_image_document_gets_its_size_and_a_preview_beside_it(db, store, tenant, fmt,
                                                                      mime_type, ext):
    document_id, key = await stored_document(db, store, tenant,
                                             image_bytes(fmt, (1024, 768)), mime_type, ext)
    result = await process_document_image(db, store, tenant.id, document_id)
    assert (result.width, result.height) == (1024, 768)
    row = await db.fetchrow(SELECT_IMAGE, tenant.id, document_id)
    assert dict(row) == {"image_width": 1024, "image_height": 768,
                         "preview_path": f"{key}.preview.jpg", "preview_width": 256,
                         "preview_height": 192}
    info = await store.stat(row["preview_path"])
    assert info.content_type == "image/jpeg"
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.get(store.presign_download(row["preview_path"]).url)
    with Image.open(io.BytesIO(r.content)) as im:
        assert (im.format, im.size) == ("JPEG", (256, 192))


async def test_a_fake_png_gets_no_preview_and_no_error(db, store, tenant):
    document_id, key = await stored_document(db, store, tenant, b"<html>not a png</html>",
                                             "image/png", "png")
    assert await process_document_image(db, store, tenant.id, document_id) is None
    row = await db.fetchrow(SELECT_IMAGE, tenant.id, document_id)
    assert set(dict(row).values()) == {None}
    for ext in ("jpg", "png"):
        assert await store.stat(f"{key}.preview.{ext}") is None


async def test_documents_that_are_not_images_or_not_there_are_left_alone(db, local_store,
                                                                        tenant, other_tenant):
    pdf_id, key = await stored_document(db, local_store, tenant, image_bytes("PNG", (50, 50)),
                                        "application/pdf", "pdf")
    assert await process_document_image(db, local_store, tenant.id, pdf_id) is None
    assert await local_store.stat(f"{key}.preview.jpg") is None
    png_id, key = await stored_document(db, local_store, tenant, image_bytes("PNG", (50, 50)),
                                        "image/png", "png")
    # Another workspace's id, a deleted document, and bytes that are gone: nothing happens.
    assert await process_document_image(db, local_store, other_tenant.id, png_id) is None
    await local_store.delete(key)
    assert await process_document_image(db, local_store, tenant.id, png_id) is None
    await db.execute("update documents set deleted_at = now() where id = $1", png_id)
    assert await process_document_image(db, local_store, tenant.id, png_id) is None


async def test_previews_run_as_background_jobs_and_failures_are_logged(db, local_store, tenant,
                                                                      caplog):
    jobs = BackgroundJobs(concurrency=2)
    ids = []
    for _ in range(3):
        document_id, _ = await stored_document(db, local_store, tenant,
                                               image_bytes("PNG", (300, 300)), "image/png",
                                               "png")
        ids.append(document_id)
        jobs.spawn(f"preview {document_id}",
                   process_document_image(db, local_store, tenant.id, document_id))

    async def storage_down():
        raise Unavailable("object storage is unreachable")

    jobs.spawn("failing", storage_down())
    with caplog.at_level(logging.WARNING, logger="docgraph.jobs.runner"):
        await jobs.wait()
    widths = await db.fetch("select preview_width from documents where id = any($1)", ids)
    assert [r["preview_width"] for r in widths] == [256, 256, 256]
    assert any("failing" in r.getMessage() and "unavailable" in r.getMessage()
               for r in caplog.records)
    await jobs.aclose()


# -- previews lost to a crash or an outage are retried by the sweep -------------------

CHECKS = """
select image_checked_at is not null as checked, image_check_attempts as attempts,
       image_width, preview_width
from documents where id = $1
"""


async def recorded_long_ago(db, store, tenant, data: bytes, age_minutes: int = 20,
                            attempts: int = 0) -> uuid.UUID:
    document_id, _ = await stored_document(db, store, tenant, data, "image/png", "png")
    await db.execute("update documents set created_at = now() - $2::interval, "
                     "image_check_attempts = $3 where id = $1", document_id,
                     dt.timedelta(minutes=age_minutes), attempts)
    return document_id


async def test_images_no_job_looked_at_are_retried_a_bounded_number_of_times(db, local_store,
                                                                             tenant):
    real = await recorded_long_ago(db, local_store, tenant, image_bytes("PNG", (512, 256)))
    fake = await recorded_long_ago(db, local_store, tenant, b"not an image at all")
    given_up = await recorded_long_ago(db, local_store, tenant, image_bytes("PNG", (64, 64)),
                                       attempts=IMAGE_MAX_ATTEMPTS)
    recent = await recorded_long_ago(db, local_store, tenant, image_bytes("PNG", (64, 64)),
                                     age_minutes=0)
    cutoff = dt.datetime.now(dt.UTC) - IMAGE_RETRY_AFTER
    for _ in range(100):  # each pass looks at the oldest few; every one tried makes progress
        states = [await db.fetchrow(CHECKS, d) for d in (real, fake)]
        if all(s["checked"] for s in states):
            break
        assert await retry_unchecked_images(db, local_store, cutoff) > 0
    real_state, fake_state = [dict(await db.fetchrow(CHECKS, d)) for d in (real, fake)]
    assert real_state == {"checked": True, "attempts": 1, "image_width": 512,
                          "preview_width": 256}
    assert fake_state == {"checked": True, "attempts": 1, "image_width": None,
                          "preview_width": None}
    # Tried too often already, or recorded too recently (its own job may still run): left.
    assert dict(await db.fetchrow(CHECKS, given_up))["checked"] is False
    assert dict(await db.fetchrow(CHECKS, recent)) == {
        "checked": False, "attempts": 0, "image_width": None, "preview_width": None}


async def test_an_outage_during_a_retry_costs_no_attempt(db, tmp_root, local_store, tenant):
    document_id = await recorded_long_ago(db, local_store, tenant,
                                          image_bytes("PNG", (64, 64)), age_minutes=60 * 24 * 30)
    down = build_store(s3_settings(tmp_root, f"127.0.0.1:{free_port()}", storage_timeout=0.5),
        local_route=STORAGE_PREFIX)
    try:
        with pytest.raises(Unavailable):
            await retry_unchecked_images(db, down, dt.datetime.now(dt.UTC) - IMAGE_RETRY_AFTER)
    finally:
        await down.close()
    # The oldest candidate, this one, was tried and given its attempt back.
    assert dict(await db.fetchrow(CHECKS, document_id))["attempts"] == 0
    assert dict(await db.fetchrow(CHECKS, document_id))["checked"] is False
