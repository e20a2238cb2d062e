"""Full-text search: the workspace's documents that match a query, best first.

A query uses PostgreSQL's ``websearch_to_tsquery`` syntax: words (all must be
there, stemmed in the workspace's text search configuration), ``"quoted
phrases"``, ``-word`` or ``-"a phrase"`` to exclude, ``or`` between
alternatives. Each document's vector weighs its name most, then its tags and
folder, its description, and the text extracted from its bytes. When the words
are found nowhere, names that resemble each of the query's words of three
letters or more (a misspelling, a part of a word: trigrams) are matches
instead, ranked by how close they are, unless the document holds an excluded
word. Every
filter of ``documents(filter)`` combines with the query; the workspace is
always the caller's.

Results come best first (rank, then newest, then id), each with a snippet of
where the words were found: HTML, the text escaped, each match in
``<mark>…</mark>``.
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from docgraph.db import search as search_db
from docgraph.errors import ValidationError
from docgraph.resolvers import validation as v
from docgraph.resolvers.auth import READ_DOCUMENTS
from docgraph.resolvers.documents import document_filters
from docgraph.resolvers.pagination import (
    PageRequest,
    decode_after,
    decode_token,
    encode_token,
    parse_time,
)
from docgraph.resolvers.records import DocumentRecord, Page, PageInfo

if TYPE_CHECKING:
    from docgraph.resolvers.context import RequestContext

# Snippets are cut from the name, the description and this many characters of the
# text around the first match (db.search): ts_headline parses and stems every word
# it is given (50 µs for 600 characters), for each of a page's results. 300
# characters hold the fragment of at most 30 words around the first match; a
# snippet is one fragment.
SNIPPET_SCAN_CHARS = 300
_START, _STOP = "\x02", "\x03"  # never in a stored text (control characters are not kept)
SNIPPET_OPTIONS = (f'StartSel="{_START}", StopSel="{_STOP}", MaxWords=30, MinWords=12, '
                   'MaxFragments=1')

# websearch_to_tsquery's tokens: an optionally excluded "quoted phrase", or a word.
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_CURSOR_VERSION = "s1"


# Words shorter than this resemble too many names to count in trigram matching.
NAME_WORD_MIN = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Terms:
    """A query's words to look for and the words it excludes (as one websearch query of
    alternatives), if any."""

    wanted: list[str]
    excluded: str | None

    @property
    def name_words(self) -> list[str] | None:
        """The wanted words a name must each resemble to match by trigrams, longest
        first (the first one is looked up in the index); None when there are none."""
        words = sorted({w.lower() for text in self.wanted for w in re.split(r"\s+", text)
                        if len(w) >= NAME_WORD_MIN}, key=lambda w: (-len(w), w))
        return words or None


def split_query(query: str) -> Terms:
    """The wanted and the excluded parts of a websearch query (``or`` dropped)."""
    wanted: list[str] = []
    excluded: list[str] = []
    for match in _TOKEN.finditer(query):
        minus, phrase, word = match.groups()
        if phrase is not None:
            phrase = phrase.strip()
            if phrase:
                (excluded if minus else wanted).append(phrase)
        elif word.lower() == "or":
            continue
        elif word.startswith("-"):
            if word.strip("-"):
                excluded.append(word.lstrip("-"))
        else:
            wanted.append(word)
    return Terms(wanted, " or ".join(f'"{e}"' for e in excluded) if excluded else None)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchCursor:
    """Where a page of results starts after: the rank, time and id of the last result."""

    rank: float
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return encode_token(_CURSOR_VERSION, repr(self.rank), self.created_at.isoformat(),
                            str(self.id))

    @classmethod
    def decode(cls, token: Any) -> SearchCursor:
        try:
            version, rank, stamp, ident = decode_token(token)
            value = float(rank)
            if version != _CURSOR_VERSION or not math.isfinite(value) or abs(value) > 1e30:
                raise ValueError(version)
            return cls(value, parse_time(stamp), uuid.UUID(ident))
        except (ValueError, OverflowError):
            raise v.Invalid("must be a cursor returned by searchDocuments") from None


@dataclasses.dataclass(frozen=True, slots=True)
class SearchPage:
    """``limit`` results, after ``offset`` results or after the ``after`` cursor."""

    limit: int
    offset: int = 0
    after: SearchCursor | None = None

    @classmethod
    def parse(cls, first: Any = None, after: Any = None, offset: Any = None, *,
              default_limit: int = 25, names: Mapping[str, str] | None = None) -> SearchPage:
        names = {"first": "first", "after": "after", "offset": "offset", **(names or {})}
        problems: dict[str, str] = {}
        page = PageRequest()
        try:
            page = PageRequest.parse(first, None, offset, default_limit=default_limit,
                                     names=names)
        except ValidationError as exc:
            problems.update(exc.details["fields"])
        cursor = decode_after(after, offset, SearchCursor.decode, names, problems)
        if problems:
            raise v.fail(problems)
        return cls(limit=page.limit, offset=page.offset, after=cursor)


@dataclasses.dataclass(slots=True, eq=False)
class SearchEdge:
    """A document found, how well it matched, and where."""

    node: DocumentRecord
    rank: float
    snippet: str | None

    @property
    def cursor(self) -> str:
        return SearchCursor(self.rank, self.node.created_at, self.node.id).encode()


def highlight(snippet: str | None) -> str | None:
    """ts_headline's fragment as HTML: the text escaped, each match in <mark>."""
    if snippet is None:
        return None
    escaped = html.escape(" ".join(snippet.split()), quote=False)
    return escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")


async def search_documents(ctx: RequestContext, query: Any, filters: Mapping[str, Any] | None,
                           page: SearchPage, *, with_total: bool = True,
                           with_snippet: bool = True) -> Page[SearchEdge]:
    """One page of the workspace's live documents matching ``query`` and ``filters``,
    best first (see the module). ``with_total`` and ``with_snippet`` spare the work
    nobody will read: counting every match, and cutting snippets."""
    ctx.principal.require(READ_DOCUMENTS)
    problems: dict[str, str] = {}
    text = ""
    try:
        text = v.query_text(query)
    except v.Invalid as exc:
        problems["query"] = exc.message
    terms = split_query(text)
    if text and not terms.wanted:
        problems["query"] = "must contain a word to look for (not only exclusions)"
    try:
        filters_given = document_filters(filters)
    except ValidationError as exc:
        problems.update((exc.details or {}).get("fields") or {"filter": exc.message})
    if problems:
        raise v.fail(problems)
    after = page.after
    rows = await search_db.search_documents(
        ctx.db, ctx.workspace_id, query=text, name_like=terms.name_words,
        excluded=terms.excluded,
        filters=filters_given,
        after=(after.rank, after.created_at, after.id) if after is not None else None,
        offset=page.offset, limit=page.limit, with_total=with_total,
        with_snippet=with_snippet, snippet_chars=SNIPPET_SCAN_CHARS,
        snippet_options=SNIPPET_OPTIONS)
    edges = []
    for row in rows:
        if row["id"] is None:
            continue
        document = DocumentRecord.from_row(row)
        ctx.document_by_id.prime(document.id, document)
        edges.append(SearchEdge(document, float(row["rank"]), highlight(row["snippet"])))
    has_next = len(edges) > page.limit
    edges = edges[:page.limit]
    return Page(
        edges=edges, total_count=rows[0]["total_count"],
        offset=None if after is not None else page.offset, limit=page.limit,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=bool(rows[0]["has_preceding"]) if after is not None
            else page.offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None))
