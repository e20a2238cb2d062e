"""Numbers in JSON fields (attributes, userData) are kept exactly, or refused.

Integers within ±(2^53 - 1) (I-JSON, RFC 7493) and fractions a 64-bit float
holds as written are kept; any other number is a validation_error naming
the field, on REST and GraphQL (literals and variables) alike, never a
silently changed value.
"""

import json

import pytest

from docgraph.resolvers import json_text

# Written as JSON and GraphQL both spell them.
REFUSED = [
    "18446744073709551616",        # 2^64: orjson reads it as a float
    "-18446744073709551617",
    "1180591620717411303424",      # 2^70
    "9223372036854775807",         # 2^63 - 1: fits 64 bits, not a JavaScript number
    "9007199254740992",            # 2^53
    "-9007199254740992",
    "1" + "0" * 400,               # beyond any float
    "1" + "0" * 5000,              # beyond Python's int() of text, too
    "1e400",
    "-1e400",
    "1e20",                        # a float, but beyond the range
    "9007199254740992.0",
    "1.0000000000000001",          # more digits than a float keeps
    "0.12345678901234567890",
    "3.141592653589793238462643383279",
    "1e-400",                      # underflows to 0
]
KEPT = [
    "9007199254740991", "-9007199254740991", "0", "-0", "42", "0.1", "-2.5", "1.5e-10",
    "2.5E3", "123.456", "9007199254740991.0", "0.30000000000000004", "5e-324",
]


def exact(text: str):
    """The number as written (Python's json keeps integers exact)."""
    return json.loads(text)


def body(template: str, number: str) -> bytes:
    return template.replace("NUMBER", number).encode()


async def rest_create_contact(api, number):
    return await api.post("/v1/contacts", content=body(
        '{"name": "Ada", "attributes": {"n": NUMBER, "list": [1, {"deep": NUMBER}]}}', number),
        headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("number", REFUSED)
async def test_rest_refuses_numbers_it_would_not_keep(api, gql, number):
    r = await rest_create_contact(api, number)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]["fields"]) == ["attributes"]
    assert "must not contain numbers" in error["details"]["fields"]["attributes"]
    # user_data alike.
    document = await gql.create_document()
    r = await api.patch(f"/v1/documents/{document['id']}", content=body(
        '{"user_data": {"n": NUMBER}}', number), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert list(r.json()["error"]["details"]["fields"]) == ["user_data"]


@pytest.mark.parametrize("number", KEPT)
async def test_rest_keeps_numbers_exactly(api, number):
    r = await rest_create_contact(api, number)
    assert r.status_code == 201, r.text
    contact = r.json()["data"]
    assert contact["attributes"] == {"n": exact(number), "list": [1, {"deep": exact(number)}]}
    again = (await api.ok("GET", f"/v1/contacts/{contact['id']}"))["data"]
    assert again["attributes"] == contact["attributes"]


LITERAL = "mutation { createEntity(input: {entityType: DEAL, attributes: {n: NUMBER, " \
          "list: [1, {deep: NUMBER}]}}) { id attributes } }"
VARIABLE = '{"query": "mutation($a: JSON!) { createEntity(input: {entityType: DEAL, ' \
           'attributes: $a}) { id attributes } }", "variables": {"a": {"n": NUMBER}}}'
USER_DATA = '{"query": "mutation($id: ID!, $u: JSON!) { updateDocument(id: $id, ' \
            'input: {userData: $u}) { userData } }", "variables": {"id": "DOCID", ' \
            '"u": {"n": NUMBER}}}'


async def post_raw(gql, raw: bytes):
    r = await gql.client.post("/graphql", content=raw, headers={
        **gql.tenant.headers(), "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def refused(result, field):
    assert result.get("data") is None, result
    [error] = result["errors"]
    assert error["extensions"]["code"] == "validation_error", error
    fields = error["extensions"]["details"]["fields"]
    assert list(fields) == [field]
    assert "must not contain numbers" in fields[field]


@pytest.mark.parametrize("number", REFUSED)
async def test_graphql_refuses_numbers_it_would_not_keep(gql, number):
    refused(await gql.result(body(LITERAL, number).decode()), "attributes")
    refused(await post_raw(gql, body(VARIABLE, number)), "attributes")
    document = await gql.create_document()
    refused(await post_raw(gql, body(USER_DATA.replace("DOCID", document["id"]), number)),
            "userData")


@pytest.mark.parametrize("number", KEPT)
async def test_graphql_keeps_numbers_exactly(gql, number):
    data = await gql(body(LITERAL, number).decode())
    assert data["createEntity"]["attributes"] == {"n": exact(number),
                                                  "list": [1, {"deep": exact(number)}]}
    result = await post_raw(gql, body(VARIABLE, number))
    assert result["data"]["createEntity"]["attributes"] == {"n": exact(number)}, result
    entity = result["data"]["createEntity"]["id"]
    again = await gql("query($id: ID!) { entity(id: $id) { attributes } }", {"id": entity})
    assert again["entity"]["attributes"] == {"n": exact(number)}
    document = await gql.create_document()
    result = await post_raw(gql, body(USER_DATA.replace("DOCID", document["id"]), number))
    assert result["data"]["updateDocument"]["userData"] == {"n": exact(number)}, result


async def test_numbers_elsewhere_in_a_body_do_not_matter(api, gql):
    # Only JSON fields are held to the range; the rest of the body parses as before.
    r = await api.post("/v1/contacts", content=b'{"name": "Ada", "attributes": {"n": 0.5}}',
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    # Invalid JSON stays invalid JSON.
    r = await api.post("/v1/contacts", content=b'{"name": "Ada", "attributes": {"n": NaN}}',
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"
    assert "fields" not in (r.json()["error"]["details"] or {})


@pytest.mark.parametrize("text", [
    '{"n": 1e400, "s": "\\ud800"}',      # orjson stops at the number; the rest is checked
    '{"n": 1e400, "m": NaN}',
    '{"n": 1e400',
    '{"n": 1.5, "m": Infinity}',
    "[" * 1020 + "1.5" + "]" * 1020,      # orjson reads it, Python's json would recurse
    '{"n": 01.5}',
])
def test_what_is_not_json_stays_refused(text):
    with pytest.raises(json.JSONDecodeError):
        json_text.loads(text.encode())


def test_numbers_are_read_exactly():
    value = json_text.loads(b'{"a": 18446744073709551616, "b": 0.1, "c": 1e400, '
                            b'"d": 1.0000000000000001, "e": "9e9 1.5", "f": 7}')
    assert value["a"] > 2**53  # out of range: only its size matters
    assert value["b"] == 0.1 and type(value["b"]) is float
    assert value["c"] == float("inf")
    assert isinstance(value["d"], json_text.UnkeptNumber)
    assert value["e"] == "9e9 1.5" and value["f"] == 7
