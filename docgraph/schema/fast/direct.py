"""Calling a strawberry resolver without strawberry's wrapper, where nothing is lost.

Strawberry wraps each resolver: it converts graphql-core's coerced arguments
into Python values (``convert_arguments``), renames them, runs field
extensions and exception handlers, builds the resolver's ``Info`` and, for an
async resolver, wraps the coroutine in one more. When a field has no
extension, permission class or exception handler, and each of its arguments
is a scalar or an enum (or a list of them), conversion is the identity (a list
is copied) and the wrapper reduces to a renaming: ``direct_resolver`` returns
that renaming, which calls the resolver itself. For a resolver with several
arguments the wrapper cost more than the resolver's own work. Any other field
keeps strawberry's wrapper (``None``), and so does a field whose ``resolve`` is
no longer strawberry's own: whoever wrapped it (the root resolvers' tracing
spans) is still called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLField, GraphQLResolveInfo, GraphQLSchema
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.schema_converter import GraphQLCoreConverter as _CONVERTER
from strawberry.types.base import StrawberryList, StrawberryMaybe, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField

# Where strawberry keeps a GraphQL field's own definition.
STRAWBERRY_DEFINITION = _CONVERTER.DEFINITION_BACKREF

# (GraphQL name, Python name, whether the value is a list to copy)
_Argument = tuple[str, str, bool]


def _strawberrys(resolve: Any) -> bool:
    """Whether ``resolve`` is the wrapper strawberry made, not wrapped since."""
    return (getattr(resolve, "__module__", None) == _CONVERTER.__module__
            and getattr(resolve, "__qualname__", "").startswith(
                f"{_CONVERTER.__qualname__}.from_resolver.<locals>."))


def _leaf(type_: Any, scalar_registry: Any) -> bool:
    """A scalar or an enum, which strawberry passes as graphql-core coerced it."""
    if isinstance(type_, StrawberryMaybe):  # wrapped in Some by strawberry
        return False
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    if type_ is GlobalID:  # decoded by strawberry
        return False
    return (is_scalar(type_, scalar_registry) or has_enum_definition(type_)
            or isinstance(type_, StrawberryEnumDefinition))


def _argument(argument: Any, graphql_name: str, scalar_registry: Any) -> _Argument | None:
    type_ = argument.type
    if isinstance(type_, StrawberryMaybe):  # wrapped in Some by strawberry
        return None
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    if isinstance(type_, StrawberryList):
        if not _leaf(type_.of_type, scalar_registry):
            return None
        return graphql_name, argument.python_name, True
    if not _leaf(type_, scalar_registry):
        return None
    return graphql_name, argument.python_name, False


def direct_resolver(field_def: GraphQLField,
                    schema: GraphQLSchema) -> Callable[..., Any] | None:
    """A resolver taking graphql-core's ``(source, info, **arguments)`` as strawberry's
    wrapper of ``field_def`` does, with the same result, or None if the field needs
    the wrapper."""
    definition = field_def.extensions.get(STRAWBERRY_DEFINITION)
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    if (not isinstance(definition, StrawberryField) or strawberry_schema is None
            or not _strawberrys(field_def.resolve)
            or definition.base_resolver is None or definition.extensions
            or definition.permission_classes or definition.is_subscription):
        return None
    converter = strawberry_schema.schema_converter
    if converter._get_field_exception_handlers(definition):
        return None
    config = strawberry_schema.config
    arguments: list[_Argument] = []
    for argument in definition.arguments:
        converted = _argument(argument, config.name_converter.from_argument(argument),
                              converter.scalar_registry)
        if converted is None:
            return None
        arguments.append(converted)
    resolver = definition.base_resolver
    function = resolver.wrapped_func
    if not callable(function):  # (strawberry raises for it, at each call)
        return None
    pass_self = resolver.self_parameter is not None
    sources = [p.name for p in (resolver.parent_parameter, resolver.root_parameter)
               if p is not None]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    info_class = config.info_class

    def resolve(source: Any, info: GraphQLResolveInfo, **values: Any) -> Any:
        kwargs: dict[str, Any] = {}
        for graphql_name, python_name, copy in arguments:
            if graphql_name in values:
                value = values[graphql_name]
                kwargs[python_name] = list(value) if copy and value is not None else value
        for name in sources:
            kwargs[name] = source
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=definition)
        return function(source, **kwargs) if pass_self else function(**kwargs)

    return resolve
