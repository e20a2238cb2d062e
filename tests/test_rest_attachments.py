"""Seed 003: a contact's attachments at /contacts/v4/attachments, Wix style."""

import asyncio
import io
import uuid

import httpx
import pytest
from PIL import Image

from tests.rest import TIMESTAMP, assert_error, bad_fields, png

ATTACHMENT_FIELDS = {"id", "fileName", "mimeType", "attachmentType"}
MEDIA_FIELDS = {"id", "url", "urlExpirationDate"}



async def attachments(api, contact_id: str, **params) -> dict:
    return await api.ok("GET", f"/contacts/v4/attachments/{contact_id}", params=params)


async def until_previewed(api, contact_id: str) -> dict:
    """The list once the background job measured the image and made its preview."""
    for _ in range(200):
        body = await attachments(api, contact_id)
        images = [a for a in body["attachments"] if a["attachmentType"] == "IMAGE"]
        if images and all("previewImage" in a and "width" in a["image"] for a in images):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("the image was never previewed")


async def test_images_documents_and_unknown_files(api):
    contact = await api.create_contact()
    photo = await api.create_document(png(800, 600), name="photo.png", mime_type="image/png")
    pdf = await api.create_document(name="contract.pdf")
    blob = await api.create_document(b"\x00\x01\x02", name="blob.bin",
                                     mime_type="application/octet-stream")
    for doc in (photo, pdf, blob):
        await api.link(doc["id"], "contact", contact["id"])
    body = await until_previewed(api, contact["id"])
    assert set(body) == {"attachments", "metadata"}
    assert body["metadata"] == {"count": 3, "offset": 0, "total": 3, "tooManyToCount": False}
    newest_first = body["attachments"]
    assert [a["id"] for a in newest_first] == [blob["id"], pdf["id"], photo["id"]]
    unknown, other, image = newest_first

    assert set(image) == ATTACHMENT_FIELDS | {"image", "previewImage"}
    assert (image["fileName"], image["mimeType"], image["attachmentType"]) == \
        ("photo.png", "image/png", "IMAGE")
    assert set(image["image"]) == MEDIA_FIELDS | {"height", "width"}
    assert (image["image"]["id"], image["image"]["width"], image["image"]["height"]) == \
        (photo["id"], 800, 600)
    preview = image["previewImage"]
    assert set(preview) == MEDIA_FIELDS | {"height", "width"}
    assert (preview["width"], preview["height"]) == (256, 192)
    assert TIMESTAMP.match(image["image"]["urlExpirationDate"])

    assert set(other) == ATTACHMENT_FIELDS | {"document"}
    assert (other["attachmentType"], other["mimeType"]) == ("OTHER", "application/pdf")
    assert set(other["document"]) == MEDIA_FIELDS
    assert set(unknown) == ATTACHMENT_FIELDS | {"document"}
    assert unknown["attachmentType"] == "UNKNOWN"

    async with httpx.AsyncClient() as anyone:  # signed URLs need no key
        got = await anyone.get(image["image"]["url"])
        assert got.status_code == 200 and got.content == png(800, 600)
        small = await anyone.get(preview["url"])
        assert small.status_code == 200
        assert Image.open(io.BytesIO(small.content)).size == (256, 192)
        assert (await anyone.get(other["document"]["url"])).content.startswith(b"%PDF")
        assert (await anyone.get(unknown["document"]["url"])).content == b"\x00\x01\x02"


async def test_an_image_docgraph_cannot_read_has_no_preview_and_no_size(api):
    contact = await api.create_contact()
    # Not an image after all: the job measures nothing and makes no preview.
    doc = await api.create_document(b"not really a png", name="fake.png",
                                    mime_type="image/png")
    await api.link(doc["id"], "contact", contact["id"])
    [item] = (await attachments(api, contact["id"]))["attachments"]
    assert set(item) == ATTACHMENT_FIELDS | {"image"}
    assert set(item["image"]) == MEDIA_FIELDS


async def test_paging_limit_defaults_to_100(api):
    contact = await api.create_contact()
    docs = [await api.create_document(name=f"{i:03}.pdf") for i in range(101)]
    await asyncio.gather(*[api.link(d["id"], "contact", contact["id"]) for d in docs])
    body = await attachments(api, contact["id"])
    assert len(body["attachments"]) == 100
    assert body["metadata"] == {"count": 100, "offset": 0, "total": 101,
                                "tooManyToCount": False}
    rest = await attachments(api, contact["id"], **{"paging.offset": 100})
    assert [a["fileName"] for a in rest["attachments"]] == ["000.pdf"]
    assert rest["metadata"] == {"count": 1, "offset": 100, "total": 101,
                                "tooManyToCount": False}
    page = await attachments(api, contact["id"], **{"paging.limit": 2, "paging.offset": 1})
    assert [a["fileName"] for a in page["attachments"]] == ["099.pdf", "098.pdf"]
    assert page["metadata"]["count"] == 2


async def test_the_body_form_of_the_seeds_example(api):
    contact = await api.create_contact()
    for i in range(3):
        doc = await api.create_document(name=f"{i}.pdf")
        await api.link(doc["id"], "contact", contact["id"])
    by_path = await attachments(api, contact["id"], **{"paging.limit": 2, "paging.offset": 1})
    r = await api.request("GET", "/contacts/v4/attachments", json={
        "contactId": contact["id"], "paging": {"limit": 2, "offset": 1}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [a["id"] for a in body["attachments"]] == [a["id"] for a in by_path["attachments"]]
    assert body["metadata"] == by_path["metadata"]


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"contactId"}),
    ({"contactId": "nope"}, {"contactId"}),
    ({"contactId": str(uuid.uuid4()), "paging": {"limit": 101}}, {"paging.limit"}),
    ({"contactId": str(uuid.uuid4()), "paging": {"limit": "10"}}, {"paging.limit"}),
    ({"contactId": str(uuid.uuid4()), "paging": {"size": 1}}, {"paging"}),
    ({"contactId": str(uuid.uuid4()), "paging": [1]}, {"paging"}),
    ({"contactId": str(uuid.uuid4()), "sort": "name"}, {"sort"}),
])
async def test_bad_bodies_are_400(api, body, fields):
    r = await api.request("GET", "/contacts/v4/attachments", json=body)
    assert set(bad_fields(r)) == fields


@pytest.mark.parametrize(("params", "fields"), [
    ({"paging.limit": "101"}, {"paging.limit"}),
    ({"paging.limit": "-1"}, {"paging.limit"}),
    ({"paging.limit": "all"}, {"paging.limit"}),
    ({"paging.offset": "-1"}, {"paging.offset"}),
    ({"limit": "10"}, {"limit"}),
    ({"paging": "10"}, {"paging"}),
])
async def test_bad_query_parameters_are_400(api, params, fields):
    contact = await api.create_contact()
    r = await api.get(f"/contacts/v4/attachments/{contact['id']}", params=params)
    assert set(bad_fields(r)) == fields


async def test_unknown_malformed_foreign_and_other_entities(api, other_api, tenant):
    assert bad_fields(await api.get("/contacts/v4/attachments/513c1bfc")) == \
        {"contactId": "must be a UUID"}
    assert_error(await api.get(f"/contacts/v4/attachments/{uuid.uuid4()}"), 404, "not_found")
    business = await api.create_business()
    assert_error(await api.get(f"/contacts/v4/attachments/{business['id']}"), 404,
                 "not_found")
    theirs = await other_api.create_contact()
    assert_error(await api.get(f"/contacts/v4/attachments/{theirs['id']}"), 404, "not_found")
    mine = await api.create_contact()
    r = await api.get(f"/contacts/v4/attachments/{mine['id']}", key=tenant.write_key)
    assert_error(r, 403, "insufficient_permissions")
