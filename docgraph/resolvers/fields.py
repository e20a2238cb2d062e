"""How a resource's shape is declared once, for both faces to derive theirs from.

A :class:`Kind` is what a value is: the rule that cleans it on the way in
(a validator of ``resolvers.validation``), its JSON Schema in and out, and
the GraphQL type it maps to (named by a :class:`GraphQLType`, so that this
layer knows nothing of Strawberry). A :class:`Field` is a named, described
kind. An :class:`Input` is what one operation accepts: some fields, each
required or optional, nullable or not; it cleans a caller's fields
(:meth:`Input.parse`, every bad field named at once) and describes itself
as JSON Schema. An :class:`Output` lists the fields one object shows.

``resolvers.resources`` declares the resources with these; GraphQL's types
(``schema.fields``), REST's shapes and the OpenAPI document
(``rest.views``, ``rest.openapi``) are derived from those declarations.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from docgraph.resolvers import validation as v

Schema = dict[str, Any]


class GraphQLType(enum.Enum):
    """The GraphQL scalar a kind maps to (``schema.fields`` knows their Strawberry types)."""

    ID = "ID"
    STRING = "String"
    INT = "Int"
    SAFE_INT = "SafeInt"
    BOOLEAN = "Boolean"
    JSON = "JSON"
    DATETIME = "DateTime"


@dataclasses.dataclass(frozen=True, eq=False)
class Kind:
    """What a value is.

    ``graphql`` is a :class:`GraphQLType`, an enum class (a GraphQL enum), the
    name of an object type, or an :class:`Input` (a nested input object);
    ``list_of`` makes it a list of that. ``validate`` cleans a caller's
    value (raising ``validation.Invalid``); kinds only ever shown have none.
    ``json`` writes a value as JSON shows it, when the encoder's own way
    (UUIDs, enums and numbers as they are) is not it.
    """

    graphql: GraphQLType | type[enum.Enum] | str | Input
    input_schema: Schema | None = None
    output_schema: Schema | None = None
    validate: v.Validator | None = None
    list_of: bool = False
    json: Callable[[Any], Any] | None = None

    def json_schema(self, *, output: bool) -> Schema:
        schema = self.output_schema if output else self.input_schema
        if schema is None:
            schema = self.input_schema if output else self.output_schema
        assert schema is not None, f"no JSON Schema for {self}"
        return dict(schema)


@dataclasses.dataclass(frozen=True, eq=False)
class Field:
    """A resource's field: its name as stored (snake_case), what it holds, what it means."""

    name: str
    kind: Kind
    description: str | None = None
    nullable: bool = False

    def described(self, description: str | None) -> Field:
        """The same field with another description (an operation's own words)."""
        return dataclasses.replace(self, description=description)


# Declarations compare (and hash) by identity: each is declared once.


class Default(enum.Enum):
    NONE = enum.auto()


NO_DEFAULT = Default.NONE


@dataclasses.dataclass(frozen=True, eq=False)
class Accepts:
    """One field of an :class:`Input`.

    ``nullable``: null is accepted (it clears the field, or does not filter).
    ``default``: the value an omitted field takes, shown as GraphQL's default.
    """

    field: Field
    required: bool = False
    nullable: bool = False
    default: Any = NO_DEFAULT
    description: str | None = None

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def about(self) -> str | None:
        return self.description or self.field.description

    def validator(self) -> v.Validator:
        validate = self.field.kind.validate
        assert validate is not None, f"{self.name} cannot be given"
        return v.nullable(validate) if self.nullable else validate


@dataclasses.dataclass(frozen=True, eq=False)
class Input:
    """What one operation accepts; unknown fields are refused."""

    name: str
    description: str | None
    fields: tuple[Accepts, ...]

    @functools.cached_property
    def validators(self) -> Mapping[str, v.Validator]:
        return {accepts.name: accepts.validator() for accepts in self.fields}

    @functools.cached_property
    def required(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.fields if a.required)

    def without(self, *names: str) -> Input:
        """The same input less some fields (given apart, by the path or an argument)."""
        return Input(self.name, self.description,
                     tuple(a for a in self.fields if a.name not in names))

    def parse(self, data: Any, *,
              validators: Mapping[str, v.Validator] | None = None) -> dict[str, Any]:
        """``data`` cleaned, or one ``ValidationError`` naming every bad field.

        ``validators`` replaces some fields' rules where they depend on the
        deployment (the largest upload, say).
        """
        rules = self.validators if validators is None else {**self.validators, **validators}
        return v.parse_fields(data, rules, required=self.required)

    def json_schema(self) -> Schema:
        properties = {}
        for accepts in self.fields:
            schema = _nested_schema(accepts.field.kind, output=False)
            if accepts.nullable:
                schema = nullable(schema)
            if accepts.about:
                schema["description"] = accepts.about
            properties[accepts.name] = schema
        return closed_object(properties, required=list(self.required),
                             description=self.description)


@dataclasses.dataclass(frozen=True, eq=False)
class Output:
    """The fields one object shows, in order."""

    name: str
    description: str | None
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"{self.name} has no field {name!r}")

    def only(self, *names: str) -> tuple[Field, ...]:
        """These fields, in this order."""
        return tuple(self.field(name) for name in names)


def accepts(fields: Iterable[Field], *, required: Iterable[str] = (),
            nullable: Iterable[str] = (), defaults: Mapping[str, Any] | None = None,
            descriptions: Mapping[str, str] | None = None) -> tuple[Accepts, ...]:
    """The :class:`Accepts` of ``fields``, those named in ``required`` etc. marked so."""
    required, nullable = set(required), set(nullable)
    defaults, descriptions = defaults or {}, descriptions or {}
    return tuple(Accepts(f, required=f.name in required, nullable=f.name in nullable,
                         default=defaults.get(f.name, NO_DEFAULT),
                         description=descriptions.get(f.name)) for f in fields)


# -- JSON Schema ------------------------------------------------------------------------


def closed_object(properties: Mapping[str, Schema], *, required: list[str] | None = None,
                  description: str | None = None, **extra: Any) -> Schema:
    """An object with exactly these properties (all required unless told otherwise)."""
    schema: Schema = {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    schema.update(extra)
    return schema


def nullable(schema: Schema) -> Schema:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _nested_schema(kind: Kind, *, output: bool) -> Schema:
    if isinstance(kind.graphql, Input) and kind.input_schema is None:
        return kind.graphql.json_schema()
    return kind.json_schema(output=output)


def output_schema(field: Field) -> Schema:
    """The JSON Schema of ``field``'s value as REST shows it."""
    schema = field.kind.json_schema(output=True)
    if field.nullable:
        schema = nullable(schema)
    if field.description:
        schema["description"] = field.description
    return schema

