"""REST's objects, each declared once as a :class:`View` of the resources' fields.

A view lists the keys of one JSON object (each seed's own names, in its
order) and where each value comes from: an attribute path of the record it
shows, and a declared :class:`~docgraph.resolvers.fields.Field` that says
what the value is. From that one list come both the object
(:meth:`View.dump`) and its JSON Schema in the OpenAPI document
(:meth:`View.schema`): they cannot disagree.

A key may be present only under a condition on an earlier key (seed 004's
``verified_at`` only on verified documents), or left out while its value is
None (an image's size before it is measured); the schema says so too.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Sequence
from typing import Any

from docgraph.resolvers.fields import Field, Schema, closed_object, output_schema

Getter = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class When:
    """The condition on an earlier key of the same object: ``key`` equals ``value``
    (or, with ``equal=False``, does not)."""

    key: str
    value: Any
    equal: bool = True

    def holds(self, shaped: dict[str, Any]) -> bool:
        return (shaped.get(self.key) == self.value) is self.equal

    def schema(self) -> Schema:
        condition: Schema = {"properties": {self.key: {"const": self.value}}}
        return condition if self.equal else {"not": condition}


@dataclasses.dataclass(frozen=True, eq=False)
class Key:
    """One key of a view.

    ``path``: where the value is read (dotted attributes of the shown record,
    ``""`` for the record itself; default: the field's name); the value is
    written as the field's kind writes it. ``view``: the value is an object
    (or with ``many``, a list of objects) of another view. ``when``: the key
    is present exactly when the condition holds. ``omit_none``: the key is
    left out while its value is None.
    """

    name: str
    field: Field | None = None
    path: str | None = None
    view: View | None = None
    many: bool = False
    when: When | None = None
    omit_none: bool = False

    def value_schema(self) -> Schema:
        if self.view is not None:
            ref: Schema = {"$ref": f"#/components/schemas/{self.view.name}"}
            return {"type": "array", "items": ref} if self.many else ref
        assert self.field is not None, self.name
        field = self.field
        if self.when is not None or self.omit_none:  # present only with a value
            field = dataclasses.replace(field, nullable=False)
        return output_schema(field)


def key(field: Field, name: str | None = None, **options: Any) -> Key:
    """The key ``name`` (default: the field's own name) showing ``field``."""
    return Key(name or field.name, field, **options)


class View:
    """A JSON object of the REST shim: its keys, from which its dump and schema come."""

    def __init__(self, name: str, description: str | None, keys: Sequence[Key], *,
                 mapping: bool = False) -> None:
        """``mapping``: :meth:`dump` reads its values from a mapping's items (an
        envelope's parts), not from a record's attributes."""
        self.name = name
        self.description = description
        self.keys = tuple(keys)
        self._plan = [(k.name, _getter(k, mapping), _writer(k), k.when, k.omit_none)
                      for k in self.keys]

    def dump(self, record: Any) -> dict[str, Any]:
        """``record`` as this view shows it."""
        shaped: dict[str, Any] = {}
        for name, get, write, when, omit_none in self._plan:
            if when is not None and not when.holds(shaped):
                continue
            value = get(record)
            if value is None:
                if omit_none:
                    continue
                shaped[name] = None
            else:
                shaped[name] = value if write is None else write(value)
        return shaped

    def dump_many(self, records: Sequence[Any]) -> list[dict[str, Any]]:
        return [self.dump(record) for record in records]

    def schema(self) -> Schema:
        """The JSON Schema of what :meth:`dump` writes."""
        properties = {k.name: k.value_schema() for k in self.keys}
        required = [k.name for k in self.keys if k.when is None and not k.omit_none]
        conditions: list[Schema] = []
        for k in self.keys:
            if k.when is None:
                continue
            absent = {"not": {"required": [k.name]}}
            if k.omit_none:  # may be there only when the condition holds
                conditions.append({"if": {"not": k.when.schema()}, "then": absent})
            else:  # there exactly when the condition holds
                conditions.append({"if": k.when.schema(), "then": {"required": [k.name]},
                                   "else": absent})
        extra = {"allOf": conditions} if conditions else {}
        return closed_object(properties, required=required, description=self.description,
                             **extra)

    def schemas(self) -> dict[str, Schema]:
        """This view's schema and those of the views it nests, by name."""
        found = {self.name: self.schema()}
        for k in self.keys:
            if k.view is not None:
                found.update(k.view.schemas())
        return found


def _getter(k: Key, mapping: bool) -> Getter:
    if mapping:
        return operator.itemgetter(k.name)
    if k.path == "":  # the record itself
        return _itself
    return operator.attrgetter(k.path or (k.field.name if k.field is not None else k.name))


def _itself(record: Any) -> Any:
    return record


def _writer(k: Key) -> Callable[[Any], Any] | None:
    if k.view is not None:
        view = k.view
        return view.dump_many if k.many else view.dump
    return k.field.kind.json if k.field is not None else None
