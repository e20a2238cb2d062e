"""The search scenario's data: extracted text for every document, and the queries.

Each document gets a text of a few hundred words (``SENTENCES_PER_DOCUMENT``
sentences of 10-20 words), as if extracted from its file: sentences drawn from a
pool made of a pseudo-English vocabulary whose words occur with Zipf's law
frequencies (a few very common, most rare, as in real prose), plus a client's
name and the document's reference. The text goes where the extraction job
puts it (``document_texts``, and the vector made from it in the workspace's
configuration by PostgreSQL itself), so searching it costs what searching
extracted text costs.

The queries mix what people type: a document's reference, a client and a word,
two words, one rare word, a quoted phrase from a document, and a misspelt word
(found nowhere: the names that resemble it are looked up instead). Clients and
references grow with the dataset (a firm with ten times the documents has about
ten times the clients); a word's share of the documents stays what it is, so a
word query finds ten times as many documents in a dataset ten times larger.
Everything is deterministic.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import random
import uuid
from collections.abc import Sequence
from pathlib import Path

from docgraph.db.database import Database

VOCABULARY = 20_000
SENTENCES = 50_000
SENTENCES_PER_DOCUMENT = 20  # about 300 words
DOCUMENTS_PER_CLIENT = 100  # clients grow with the dataset, as a firm's do
QUERIES = 2_000
BATCH = 5_000
ZIPF_EXPONENT = 1.05

_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
           "w", "z", "br", "ch", "cl", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th",
           "tr", "qu"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
_CODAS = ["", "", "n", "r", "s", "t", "l", "m", "nd", "rt", "st", "ck", "ng"]
_ENDINGS = ["", "", "", "s", "ed", "ing", "er", "ion", "ly", "ment", "ness", "al"]

SELECT_DOCUMENTS = """
select id from documents where workspace_id = $1 and deleted_at is null order by id
"""
# As the extraction job records a text (db.texts.SET_TEXT), a batch at a time: the
# trigger puts the metadata's vector in front of the text's.
RECORD_TEXTS = """
with given as (
    select * from unnest($2::uuid[], $3::text[]) as g (id, content)
), texts as (
    insert into document_texts (workspace_id, document_id, content)
    select $1, id, content from given
    on conflict (workspace_id, document_id) do update set content = excluded.content
)
update documents d
set text_status = 'done', text_length = char_length(g.content), text_status_reason = null,
    search_vector = setweight(to_tsvector(w.text_search_config::regconfig, g.content), 'D')
from given g, workspaces w
where w.id = $1 and d.workspace_id = $1 and d.id = g.id
"""


SEARCH_INDEX = "documents_search_keys"
INDEX_DEFINITION = "select pg_get_indexdef(to_regclass($1))"


# The most frequent words of English prose (stop words: PostgreSQL does not index them).
STOP_WORDS = [
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has",
    "there", "been", "if", "more", "when", "will", "would", "who", "so", "no"]


def _word(rng: random.Random) -> str:
    syllables = rng.choice((1, 2, 2, 2, 3))
    stem = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                   for _ in range(syllables))
    return stem + rng.choice(_ENDINGS)


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """``size`` distinct words, most frequent first: English's stop words, then
    pseudo-words, shorter ones more frequent (as in any language)."""
    words: dict[str, None] = dict.fromkeys(STOP_WORDS)
    while len(words) < size:
        word = _word(rng)
        if len(word) >= 3:
            words.setdefault(word, None)
    invented = sorted(list(words)[len(STOP_WORDS):], key=len)
    return [*STOP_WORDS, *invented]


class Corpus:
    """The vocabulary, the pool of sentences and the clients, made from one seed."""

    def __init__(self, documents: int, seed: int = 19) -> None:
        rng = random.Random(seed)
        self.words = vocabulary(rng, VOCABULARY)
        weights = [1 / (rank ** ZIPF_EXPONENT) for rank in range(1, VOCABULARY + 1)]
        self.cumulative = list(itertools.accumulate(weights))
        self.sentences = [self.sentence(rng) for _ in range(SENTENCES)]
        known = set(self.words)
        clients = (w for w in vocabulary(random.Random(seed + 1), VOCABULARY * 2)
                   if len(w) >= 6 and w not in known)
        count = max(10, documents // DOCUMENTS_PER_CLIENT)
        self.clients = [c.capitalize() for c in itertools.islice(clients, count)]
        self.documents = documents

    def pick(self, rng: random.Random) -> str:
        return self.words[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]

    def sentence(self, rng: random.Random) -> str:
        words = [self.pick(rng) for _ in range(rng.randint(10, 20))]
        return " ".join(words).capitalize() + "."

    def text(self, rng: random.Random, index: int) -> str:
        client = self.clients[rng.randrange(len(self.clients))]
        body = " ".join(rng.choice(self.sentences) for _ in range(SENTENCES_PER_DOCUMENT))
        return f"{client} reference {index:07d}.\n{body}\nSigned for {client}."

    def queries(self, rng: random.Random, count: int = QUERIES) -> list[str]:
        """What people search for, in the proportions of a day's searches."""
        queries = []
        rank = {word: index for index, word in enumerate(self.words)}
        for _ in range(count):
            kind = rng.random()
            if kind < 0.25:  # a document's reference
                query = f"reference {rng.randrange(self.documents):07d}"
            elif kind < 0.50:  # a client, and a word
                query = f"{rng.choice(self.clients)} {self.words[rng.randrange(50, 2_000)]}"
            elif kind < 0.70:  # two words
                query = " ".join(self.words[rng.randrange(300, VOCABULARY)] for _ in range(2))
            elif kind < 0.85:  # one rare word
                query = self.words[rng.randrange(5_000, VOCABULARY)]
            elif kind < 0.95:  # a phrase of a document: two words past the commonest
                pairs: list[tuple[str, str]] = []
                while not pairs:
                    words = rng.choice(self.sentences).rstrip(".").lower().split()
                    pairs = [(a, b) for a, b in itertools.pairwise(words)
                             if rank.get(a, 0) >= 300 and rank.get(b, 0) >= 300]
                a, b = rng.choice(pairs)
                query = f'"{a} {b}"'
            else:  # a misspelt word: found nowhere
                word = self.words[rng.randrange(100, VOCABULARY)]
                cut = rng.randrange(1, len(word))
                query = word[:cut] + word[cut + 1:] + "x"
            queries.append(query)
        return queries


async def seed_texts(db: Database, workspace_id: uuid.UUID, *, seed: int = 19,
                     connections: int = 2) -> int:
    """Give every live document of the workspace its text, recorded as extracted; returns
    how many. Batches run on ``connections`` connections at once."""
    ids: Sequence[uuid.UUID] = [row["id"] for row in await db.fetch(SELECT_DOCUMENTS,
                                                                    workspace_id)]
    corpus = Corpus(len(ids), seed)
    batches = asyncio.Queue[tuple[int, int]]()
    for start in range(0, len(ids), BATCH):
        batches.put_nowait((start, min(start + BATCH, len(ids))))

    async def worker() -> None:
        while not batches.empty():
            start, end = batches.get_nowait()
            # Made batch by batch (2,000,000 texts at once would not fit in memory),
            # each batch from its own seed: the same texts whatever the order.
            rng = random.Random(seed * 1_000_003 + start)
            texts = [corpus.text(rng, index) for index in range(start, end)]
            await db.execute(RECORD_TEXTS, workspace_id, list(ids[start:end]), texts)

    # Entered one by one, each text's hundreds of words would each be a GIN insert:
    # the search index is built again afterwards, in one pass (as CREATE INDEX does).
    async with db.connection() as conn:
        definition = await conn.fetchval(INDEX_DEFINITION, SEARCH_INDEX)
        await conn.execute(f"drop index {SEARCH_INDEX}")
    await asyncio.gather(*(worker() for _ in range(connections)))
    async with db.connection() as conn:
        await conn.execute("set maintenance_work_mem = '1GB'")
        # Every row was written again: compacted, so that the other scenarios read a
        # table as dense as before the texts came.
        await conn.execute("vacuum (full, analyze) documents")
        await conn.execute(definition)
        await conn.execute("analyze documents")
        await conn.execute("vacuum (analyze) document_texts")
    return len(ids)


def write_queries(path: Path, documents: int, *, seed: int = 19,
                  count: int = QUERIES) -> list[str]:
    """The scenario's queries over a dataset of ``documents``, one per line, each as it
    goes inside a JSON string."""
    queries = Corpus(documents, seed).queries(random.Random(seed + 2), count)
    path.write_text("\n".join(json.dumps(q)[1:-1] for q in queries) + "\n")
    return queries
