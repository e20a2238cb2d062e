"""The compiled executor calls resolvers past strawberry's wrapper only where the
wrapper changes nothing (``schema.fast.direct``): the resolver gets the very
arguments strawberry would give it, and any field the wrapper does work for
keeps the wrapper."""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from graphql import GraphQLResolveInfo, GraphQLSchema
from strawberry.relay import GlobalID
from strawberry.types import Info

from docgraph.schema import build_schema
from docgraph.schema.fast.direct import direct_resolver

SEEN: list[tuple[str, Any]] = []


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Filter:
    name: str


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def echo(self, info: Info, colour: Colour | None = None, tags: list[str] | None = None,
             count: int = 3, note: str | None = None) -> str:
        SEEN.append(("echo", (self.name, info.field_name, colour, tags, count, note)))
        return "ok"

    @strawberry.field
    async def later(self, first: int) -> int:
        return first * 2

    @strawberry.field
    def filtered(self, filter: Filter) -> str:
        return filter.name

    @strawberry.field
    def node(self, id: GlobalID) -> str:
        return id.node_id


@strawberry.type
class Query:
    @strawberry.field
    def item(self) -> Item:
        return Item(name="one")


def fields(schema: GraphQLSchema) -> dict[str, Any]:
    return schema.type_map["Item"].fields  # type: ignore[union-attr]


def info(name: str) -> GraphQLResolveInfo:
    blank = GraphQLResolveInfo(*[None] * len(GraphQLResolveInfo._fields))
    return blank._replace(field_name=name)


def test_the_resolver_gets_what_strawberrys_wrapper_would_give_it():
    schema = strawberry.Schema(query=Query)._schema
    field = fields(schema)["echo"]
    direct = direct_resolver(field, schema)
    assert direct is not None
    tags = ["a", "b"]
    arguments = {"colour": Colour.BLUE, "tags": tags, "count": 7}
    SEEN.clear()
    assert field.resolve(Item(name="x"), info("echo"), **arguments) == "ok"
    assert direct(Item(name="x"), info("echo"), **arguments) == "ok"
    assert SEEN[0] == SEEN[1] == ("echo", ("x", "echo", Colour.BLUE, ["a", "b"], 7, None))
    # A list is the resolver's own, as strawberry makes it: graphql-core gives every
    # request that omits a value the same default object.
    assert SEEN[1][1][3] is not tags and SEEN[0][1][3] is not tags


async def test_an_async_resolver_is_called_to_its_coroutine():
    schema = strawberry.Schema(query=Query)._schema
    direct = direct_resolver(fields(schema)["later"], schema)
    assert direct is not None
    assert await direct(Item(name="x"), info("later"), first=21) == 42


def test_fields_whose_arguments_strawberry_converts_keep_its_wrapper():
    schema = strawberry.Schema(query=Query)._schema
    assert direct_resolver(fields(schema)["filtered"], schema) is None  # an input object
    assert direct_resolver(fields(schema)["node"], schema) is None  # a GlobalID, decoded
    assert direct_resolver(fields(schema)["name"], schema) is None  # no resolver at all


def test_docgraphs_own_fields_take_the_direct_call_only_with_plain_arguments():
    schema = build_schema()._schema
    query = schema.query_type
    assert query is not None
    for name in ("documents", "searchDocuments", "events"):  # input objects: filter
        assert direct_resolver(query.fields[name], schema) is None, name
    for name in ("contact", "business", "entity", "entities", "document"):
        assert direct_resolver(query.fields[name], schema) is not None, name
    for entity in ("Contact", "Business", "Deal", "Event", "Matter", "Task"):
        documents = schema.type_map[entity].fields["documents"]  # type: ignore[union-attr]
        assert direct_resolver(documents, schema) is not None, entity


def test_a_resolver_wrapped_since_strawberry_made_it_keeps_its_wrapper():
    """The root resolvers' tracing spans wrap ``resolve``: the direct call would skip it."""
    schema = build_schema()._schema
    query = schema.query_type
    assert query is not None
    field = query.fields["contact"]
    made = field.resolve

    def wrapped(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        return made(source, info, **args)  # type: ignore[misc]

    field.resolve = wrapped
    assert direct_resolver(field, schema) is None
