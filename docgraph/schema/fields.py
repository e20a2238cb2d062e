"""GraphQL's side of the resources declared in ``resolvers.resources``.

:func:`object_fields` puts an :class:`~docgraph.resolvers.fields.Output`'s
plain fields (type, nullability, description) at the head of an object type
or interface; the class adds its resolvers. :func:`input_type` makes an
input object of an :class:`~docgraph.resolvers.fields.Input`. GraphQL spells
the names in camelCase; the Python names (and the records' attributes, which
the plain fields are read from) stay the declarations' snake_case.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ForwardRef, NewType, Optional, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from docgraph.resolvers.fields import NO_DEFAULT, Field, GraphQLType, Input, Kind, Output
from docgraph.resolvers.records import (
    AttachmentType,
    AttemptStatus,
    DeliveryStatus,
    DocumentStatus,
    DocumentType,
    EntityType,
    LinkedDocumentOrder,
    ScanStatus,
    TextStatus,
)

SafeInt = NewType("SafeInt", int)
"""An integer exact in JavaScript (|n| <= 2^53 - 1); byte sizes exceed GraphQL's Int."""

SCALARS: dict[GraphQLType, Any] = {
    GraphQLType.ID: strawberry.ID,
    GraphQLType.STRING: str,
    GraphQLType.INT: int,
    GraphQLType.SAFE_INT: SafeInt,
    GraphQLType.BOOLEAN: bool,
    GraphQLType.JSON: JSON,
    GraphQLType.DATETIME: datetime,
}

C = TypeVar("C", bound=type)

# The records' enums, registered as GraphQL enums (values in UPPER_CASE) before any
# type uses them.
strawberry.enum(EntityType, description="What a link points at. GraphQL calls a company a "
                                        "Business.")
strawberry.enum(DocumentType, description="What kind of document it is.")
strawberry.enum(DocumentStatus, description="Verification status: PENDING -> VERIFIED or "
                                            "REJECTED; VERIFIED -> EXPIRED.")
strawberry.enum(ScanStatus, description="Whether a virus scanner found the bytes clean: "
                                        "PENDING -> CLEAN, INFECTED or FAILED; NOT_SCANNED "
                                        "where no scanner is configured.")
strawberry.enum(LinkedDocumentOrder, description="How an entity's documents are ordered, "
                                                "newest first.")
strawberry.enum(TextStatus, description="Where a document's text extraction stands: PENDING, "
                                        "then DONE, FAILED or SKIPPED.")
strawberry.enum(DeliveryStatus, description="A webhook delivery: PENDING until an attempt "
                                           "succeeds (SUCCEEDED) or its retries run out "
                                           "(FAILED).")
strawberry.enum(AttemptStatus, description="One attempt at a webhook delivery.")
strawberry.enum(AttachmentType, description="IMAGE for image/* types, UNKNOWN for "
                                            "application/octet-stream, OTHER for the rest.")

# Input types made so far, by GraphQL name: a nested input is made once.
_inputs: dict[str, type] = {}


_NAME = re.compile(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`")


def graphql_text(description: str | None) -> str | None:
    """A declaration's description as GraphQL shows it: `field_name`s in camelCase."""
    if description is None:
        return None
    return _NAME.sub(lambda m: "`" + to_camel_case(m.group(1)) + "`", description)


def annotation(kind: Kind, *, nullable: bool) -> Any:
    """The Python type Strawberry turns into ``kind``'s GraphQL type."""
    graphql = kind.graphql
    base: Any
    if isinstance(graphql, GraphQLType):
        base = SCALARS[graphql]
    elif isinstance(graphql, Input):
        base = input_type(graphql)
    elif isinstance(graphql, str):
        base = ForwardRef(graphql)  # an object type of this schema, by name
    else:
        assert issubclass(graphql, enum.Enum)
        base = graphql
    if kind.list_of:
        base = list[base]  # type: ignore[valid-type]
    return Optional[base] if nullable else base  # noqa: UP045 - base may be a ForwardRef


def _prepend(cls: type, fields: dict[str, tuple[Any, Any]]) -> None:
    """Put ``fields`` (name: (annotation, strawberry field)) before the class's own.

    A field the class declares itself keeps the class's declaration: an
    annotation (to narrow its type), or a resolver, which then takes the
    declared field's place (and its description, unless it has its own).
    """
    own = dict(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063 - this class's only
    annotations = {}
    for name, (kind, field) in fields.items():
        if name in own:
            continue
        resolver = cls.__dict__.get(name)
        if isinstance(resolver, StrawberryField) and resolver.base_resolver is not None:
            annotations[name] = resolver.base_resolver.type_annotation
            if resolver.description is None:
                resolver.description = field.description
            continue
        annotations[name] = kind
        setattr(cls, name, field)
    annotations.update(own)
    cls.__annotations__ = annotations


def object_fields(output: Output, names: Iterable[str] | None = None) -> Callable[[C], C]:
    """Give an object type (or interface) ``output``'s fields, or only ``names``, first.

    Apply it under ``@strawberry.type``; a field the class declares itself
    (to narrow its type, say) keeps the class's declaration.
    """
    chosen: tuple[Field, ...] = output.fields if names is None else output.only(*names)

    def apply(cls: C) -> C:
        _prepend(cls, {f.name: (annotation(f.kind, nullable=f.nullable),
                                strawberry.field(description=graphql_text(f.description)))
                       for f in chosen})
        return cls

    return apply


def input_type(shape: Input) -> type:
    """The input object of ``shape`` under its own name (made once): nested inputs."""
    made = _inputs.get(shape.name)
    if made is None:
        made = _make_input(type(shape.name, (), {"__module__": __name__}), shape)
    return made


def input_of(shape: Input) -> Callable[[C], C]:
    """Make the class the input object of ``shape``, under the class's name.

    The class's docstring, if any, is its description; otherwise the shape's.
    """
    def apply(cls: C) -> C:
        return _make_input(cls, shape)  # type: ignore[return-value]

    return apply


def _make_input(cls: type, shape: Input) -> type:
    """A required field is non-null; one with a default is non-null with that default;
    any other is optional (nullable, and left out of the input when omitted)."""
    name = cls.__name__
    if name in _inputs:
        raise TypeError(f"two input types are named {name}")
    fields: dict[str, tuple[Any, Any]] = {}
    for accepts in shape.fields:
        kind = accepts.field.kind
        if accepts.required:
            field = strawberry.field(description=graphql_text(accepts.about))
            nullable = False
        elif accepts.default is not NO_DEFAULT:
            default = accepts.default
            about = graphql_text(accepts.about)
            field = (strawberry.field(default_factory=lambda d=default: list(d),
                                      description=about)
                     if isinstance(default, list)
                     else strawberry.field(default=default, description=about))
            nullable = False
        else:
            field = strawberry.field(default=strawberry.UNSET,
                                     description=graphql_text(accepts.about))
            nullable = True
        fields[accepts.name] = (annotation(kind, nullable=nullable), field)
    _prepend(cls, fields)
    description = (cls.__doc__ or "").strip() or shape.description
    made = strawberry.input(cls, name=name, description=graphql_text(description))
    _inputs[name] = made
    return made
