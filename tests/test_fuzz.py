"""Fuzzing with schemathesis: the REST shim against its OpenAPI document, and GraphQL.

Every operation gets ``REST_EXAMPLES`` (REST) or ``GRAPHQL_EXAMPLES``
(GraphQL) generated requests in each of schemathesis' two modes: positive
(requests the document or schema allows) and negative (requests they
forbid). Half of the REST requests aim their path ids at real rows of the
fuzzing workspace, and GraphQL ids are drawn from the same rows, so the
fuzzer reaches the happy paths and not only the 400s and 404s.

REST must never answer 5xx, and every response must be documented: its
status for the operation, its content type, its headers (X-Request-ID) and
its body against the schema (which lists each seed's exact fields). A
request the document forbids must be refused with a 4xx. GraphQL must never
answer 5xx or carry an ``internal_error`` (a masked fault), and every
response must be a well-formed GraphQL response that keeps the schema's
non-null promises.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.graphql import nodes
from schemathesis.specs.graphql.scalars import CUSTOM_SCALARS
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from docgraph.resolvers import auth
from tests.conftest import Tenant, make_tenant
from tests.rest import RestAPI, png

ROOT = Path(__file__).resolve().parents[1]
REST_EXAMPLES = 25
GRAPHQL_EXAMPLES = 25
REST_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_headers_conformance, response_schema_conformance,
               negative_data_rejection]
SERVER_ERROR_CODES = {"internal_error", "unavailable"}
SETTINGS = {"deadline": None, "database": None,
            "suppress_health_check": list(HealthCheck)}


@dataclasses.dataclass
class FuzzWorld:
    """A workspace with a little of everything, and ids the fuzzer may aim at."""

    tenant: Tenant
    contact: str
    business: str
    deal: str
    documents: list[str]

    def ids(self) -> list[str]:
        return [self.contact, self.business, self.deal, *self.documents]

    def path_parameters(self, path: str, method: str) -> dict[str, str] | None:
        """Real ids for the operation's path; deletions get their own document."""
        if path.startswith("/contacts/v4/attachments/"):
            return {"contactId": self.contact}
        if "{id}" not in path:
            return None
        if path.startswith("/v1/documents/"):
            doomed = method == "DELETE" and path.endswith("{id}")
            return {"id": self.documents[-1] if doomed else self.documents[0]}
        collection = path.split("/")[2]
        if collection.startswith("webhook"):
            return None  # the fuzzing key cannot manage webhooks: any id will do
        return {"id": {"contacts": self.contact, "businesses": self.business,
                       "entities": self.deal}[collection]}


FUZZ_RATE_LIMIT = 1_000_000  # the fuzzer's own keys are not what it tests


@pytest.fixture(scope="session")
async def fuzz_world(db, server) -> FuzzWorld:
    tenant = await make_tenant(db, "Fuzzing")
    # Not manage:webhooks: an endpoint the fuzzer registered at a public address would
    # have the test servers resolve (and with deliveries on, call) hosts off this machine.
    # Without it, webhook operations answer 403 (or 400/404), as documented.
    tenant.key, _ = await auth.create_key(db, tenant.id, auth.DEFAULT_SCOPES, name="fuzzing",
                                          rate_limit=FUZZ_RATE_LIMIT)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = RestAPI(client, tenant)
        contact = await api.create_contact()
        business = await api.create_business()
        deal = await api.create_entity("deal", name="Renewal")
        documents = []
        for i, role in enumerate(["signed", "draft", None]):
            doc = await api.create_document(name=f"fuzz-{i}.pdf", folder="/fuzz",
                                            tags=["nda"], type="identification")
            await api.link(doc["id"], "contact", contact["id"], role)
            await api.link(doc["id"], "company", business["id"], "kyc")
            await api.link(doc["id"], "deal", deal["id"])
            documents.append(doc["id"])
        photo = await api.create_document(png(64, 48), name="photo.png", mime_type="image/png")
        await api.link(photo["id"], "contact", contact["id"], "photo")
        documents.append(photo["id"])
        doomed = await api.create_document(name="to-delete.pdf")
        documents.append(doomed["id"])
    return FuzzWorld(tenant, contact["id"], business["id"], deal["id"], documents)


class Tally:
    """What the fuzzer sent and got, to prove it reached more than error paths."""

    def __init__(self) -> None:
        self.requests = 0
        self.statuses: Counter[int] = Counter()
        self.error_codes: Counter[str] = Counter()
        self.with_data = 0
        self.not_http = 0

    def __str__(self) -> str:
        text = f"{self.requests} requests, statuses {dict(sorted(self.statuses.items()))}"
        if self.not_http:
            text += f" ({self.not_http} refused as malformed HTTP)"
        if self.error_codes:
            text += f", GraphQL error codes {dict(self.error_codes)}, {self.with_data} with data"
        return text


def refused_as_malformed_http(response: requests.Response) -> bool:
    """The answer to a request that is not valid HTTP (negative mode can send a header
    such as ``Content-Length: :(<#t?a``): the error body, from the HTTP protocol itself
    (``docgraph.http.protocol``). The request never reached the application, so nothing
    counted it: it has no rate-limit headers, and the operation's documented responses
    do not apply to it."""
    if response.status_code != 400 or "x-ratelimit-limit" in response.headers:
        return False
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return (error["code"] == "validation_error"
            and error["message"].startswith("The request is not valid HTTP/1.1")
            and error["request_id"] == response.headers.get("x-request-id"))


def operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_rest(server, fuzz_world, mode):
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
    headers = fuzz_world.tenant.headers()
    tally = Tally()
    ops = list(operations(schema))
    documented = {(m.upper(), p) for p, item in schema.raw_schema["paths"].items() for m in item}
    # Every operation but the document itself (schemathesis leaves its own source out).
    assert {(op.method.upper(), op.path) for op in ops} == documented - {
        ("GET", "/v1/openapi.json")}
    with requests.Session() as session:
        for op in ops:
            strategy = op.as_strategy(generation_mode=mode)
            real = fuzz_world.path_parameters(op.path, op.method.upper())
            if real is not None:
                strategy = st.one_of(strategy, op.as_strategy(generation_mode=mode,
                                                              path_parameters=real))

            @given(case=strategy)
            @settings(max_examples=REST_EXAMPLES, **SETTINGS)
            def fuzz(case: Any) -> None:
                # A negative case may leave the required Authorization header out: it
                # is sent without one (and must be refused), not with the tenant's key,
                # which would make the case valid and its acceptance look like a fault.
                keep_out = mode is GenerationMode.NEGATIVE and not any(
                    name.lower() == "authorization" for name in (case.headers or {}))
                response = case.call(base_url=server.url, session=session,
                                     headers=None if keep_out else headers)
                tally.requests += 1
                tally.statuses[response.status_code] += 1
                if refused_as_malformed_http(response):
                    tally.not_http += 1
                    return
                case.validate_response(response, checks=REST_CHECKS)

            fuzz()
    print(f"REST {mode}: {tally}")
    assert not any(status >= 500 for status in tally.statuses)
    assert tally.not_http <= tally.requests // 10  # the odd malformed request, not the norm
    if mode is GenerationMode.POSITIVE:
        assert tally.not_http == 0
        assert tally.statuses[200] + tally.statuses[201] >= len(ops)


def json_node(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal (for the JSON scalar)."""
    if isinstance(value, dict):
        return nodes.Object([graphql.ObjectFieldNode(name=graphql.NameNode(value=k),
                                                     value=json_node(v))
                             for k, v in value.items()])
    if isinstance(value, list):
        return nodes.List([json_node(v) for v in value])
    if value is None:
        return nodes.Null
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    return nodes.String(value)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), inner,
                      max_size=3),
    max_leaves=8)


@pytest.fixture
def graphql_scalars(fuzz_world, monkeypatch):
    """Strategies for GraphQL's ID (mostly real ids and UUIDs), Int (half of them page
    sizes and offsets that are valid) and docgraph's own scalars."""
    ids = st.sampled_from(fuzz_world.ids()) | st.uuids().map(str) | st.text(max_size=40)
    monkeypatch.setitem(CUSTOM_SCALARS, "ID", ids.map(nodes.String))
    monkeypatch.setitem(CUSTOM_SCALARS, "Int", (st.integers(0, 100) | st.integers(-(2**31),
                                                                              2**31 - 1))
                        .map(nodes.Int))
    monkeypatch.setitem(CUSTOM_SCALARS, "SafeInt",
                        st.integers(-(2**53) + 1, 2**53 - 1).map(nodes.Int))
    monkeypatch.setitem(CUSTOM_SCALARS, "JSON",
                        st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)
                        .map(json_node)
                        | JSON_VALUES.map(json_node))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_graphql(server, fuzz_world, graphql_scalars, mode):
    headers = fuzz_world.tenant.headers()
    schema = schemathesis.graphql.from_url(f"{server.url}/graphql", headers=headers)
    tally = Tally()
    ops = list(operations(schema))
    sdl = graphql.build_schema((ROOT / "schema.graphql").read_text())
    assert sdl.query_type and sdl.mutation_type
    assert {op.label for op in ops} == \
        {f"Query.{name}" for name in sdl.query_type.fields} | \
        {f"Mutation.{name}" for name in sdl.mutation_type.fields}
    with requests.Session() as session:
        for op in ops:

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=GRAPHQL_EXAMPLES, **SETTINGS)
            def fuzz(case: Any) -> None:
                # A negative case may leave the required Authorization header out: it
                # is sent without one (and must be refused), not with the tenant's key,
                # which would make the case valid and its acceptance look like a fault.
                keep_out = mode is GenerationMode.NEGATIVE and not any(
                    name.lower() == "authorization" for name in (case.headers or {}))
                response = case.call(base_url=server.url, session=session,
                                     headers=None if keep_out else headers)
                tally.requests += 1
                tally.statuses[response.status_code] += 1
                assert response.status_code < 500, response.text
                body = response.json()
                errors = body.get("errors") or []
                for error in errors:
                    code = error["extensions"]["code"]
                    tally.error_codes[code] += 1
                    assert code not in SERVER_ERROR_CODES, (case.body, body)
                if body.get("data") and not errors:
                    tally.with_data += 1
                case.validate_response(response, checks=[response_schema_conformance])

            fuzz()
    print(f"GraphQL {mode}: {tally}")
    if mode is GenerationMode.POSITIVE:
        assert tally.with_data >= len(ops)
