"""Records built positionally from rows agree with the statements' column lists."""

from __future__ import annotations

import dataclasses
import re

from docgraph.db.documents import DOCUMENT_COLUMNS
from docgraph.db.links import LINK_COLUMNS
from docgraph.resolvers.records import DocumentRecord, LinkRecord


def _columns(sql: str) -> list[str]:
    return [re.sub(r"^\w+\.", "", column.strip()) for column in sql.split(",")]


def test_document_columns_are_the_record_fields_in_order() -> None:
    assert _columns(DOCUMENT_COLUMNS) == [f.name for f in dataclasses.fields(DocumentRecord)]


def test_link_columns_are_the_record_fields_in_order() -> None:
    assert _columns(LINK_COLUMNS) == [f.name for f in dataclasses.fields(LinkRecord)]
