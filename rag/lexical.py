"""The BM25 index beside the collection: SQLite FTS5 over the same tokens as before 0.8 (English stopwords, Snowball
stems), changed article by article by ingest and read in place by every process that opens the same file."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from rag import fingerprints
from rag.store import LEXICAL_FILE, Store, embed_text

COMMON = 0.1  # a query term in more than this share of the passages is left out of the query (see _informative)
SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks(n INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, article_id TEXT NOT NULL,
                                  source TEXT NOT NULL, published_int INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(tokens, tokenize='unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS terms_vocab USING fts5vocab(terms, 'row');
"""


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased words of two or more characters, English stopwords out, Snowball-stemmed (bm25s, PyStemmer)."""
    import bm25s
    import Stemmer

    return list(bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english").stemWords,
                               return_ids=False, show_progress=False))


class LexicalIndex:
    """BM25 over every chunk of a collection, and each story's MinHash by LSH band (ingest finds near-copies with
    it), in one SQLite file. Each thread reads through its own connection; a write is one transaction, so a reader
    sees an article's chunks all old or all new."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LEXICAL_FILE
        self._local = threading.local()
        directory.mkdir(parents=True, exist_ok=True)
        self._db().executescript(SCHEMA + fingerprints.SCHEMA)  # executescript commits statement by statement

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer, nor it for them
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def search(self, query: str, n: int, *, sources: tuple[str, ...] | None = None, after: int | None = None,
               before: int | None = None) -> list[tuple[str, float]]:
        """The `n` best chunks for `query` by BM25 (higher is better), among those the filters allow."""
        terms = self._informative(sorted(set(tokenize([query])[0])))
        if not terms:
            return []
        match, db = " OR ".join(f'"{t}"' for t in terms), self._db()
        where, params = _filters(sources, after, before)
        if where:
            sql = ("SELECT c.id, -bm25(terms) FROM terms JOIN chunks c ON c.n = terms.rowid WHERE terms MATCH ? "
                   f"AND {where} ORDER BY bm25(terms) LIMIT ?")
            return [(cid, float(score)) for cid, score in db.execute(sql, [match, *params, n])]
        ranked = db.execute("SELECT rowid, -bm25(terms) FROM terms WHERE terms MATCH ? ORDER BY bm25(terms) LIMIT ?",
                            (match, n)).fetchall()  # ids after the ranking: joining first costs a lookup per match
        ids = dict(db.execute(f"SELECT n, id FROM chunks WHERE n IN ({','.join('?' * len(ranked))})",
                              [r for r, _ in ranked]))
        return [(ids[r], float(score)) for r, score in ranked if r in ids]

    def unseen(self, words: list[str]) -> list[str]:
        """The words of which no passage holds a single token (stemmed as the index stems them): what the articles
        never mention. A word of stopwords alone is not among them."""
        tokens = tokenize(words) if words else []
        seen = self._doc_freq(sorted({t for ts in tokens for t in ts}))
        return [w for w, ts in zip(words, tokens, strict=True) if ts and not seen.keys() & set(ts)]

    def _doc_freq(self, terms: list[str]) -> dict[str, int]:
        """How many passages hold each of `terms` (stemmed tokens); terms no passage holds are left out."""
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        return dict(self._db().execute(f"SELECT term, doc FROM terms_vocab WHERE term IN ({marks})", terms))

    def _informative(self, terms: list[str]) -> list[str]:
        """The query terms that occur in at most COMMON of the passages (of at least 10,000). A term in more weighs
        next to nothing in BM25 (idf <= ln 10) but makes SQLite score nearly every passage ("have", "from", "what"
        are not English stopwords to bm25s); a query of nothing else keeps its rarest term."""
        if not terms:
            return []
        df = self._doc_freq(terms)
        found = [t for t in terms if df.get(t)]
        kept = [t for t in found if df[t] <= COMMON * max(self._count(self._db()), 10_000)]
        return kept or sorted(found, key=lambda t: df[t])[:1]

    def _count(self, db: sqlite3.Connection) -> int:
        """Passages in the index, counted again only after a commit (by any connection) changed it."""
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if getattr(self._local, "version", None) != version:
            self._local.version, self._local.count = version, self.count()
        return int(self._local.count)

    def published(self, ids: list[str]) -> dict[str, int]:
        """Publication day (YYYYMMDD, 0 if undated) of these chunks."""
        rows = self._db().execute(f"SELECT id, published_int FROM chunks WHERE id IN ({','.join('?' * len(ids))})",
                                  ids)
        return dict(rows)

    def ids(self) -> set[str]:
        return {cid for (cid,) in self._db().execute("SELECT id FROM chunks")}

    def count(self) -> int:
        return int(self._db().execute("SELECT count(*) FROM chunks").fetchone()[0])

    def stories_like(self, minhashes: list[str]) -> dict[str, tuple[str, str]]:
        """Stored stories sharing an LSH band with one of these MinHashes: id -> (minhash, published)."""
        return fingerprints.like(self._db(), minhashes)

    def unsigned(self) -> list[str]:
        return fingerprints.unsigned(self._db())

    def sign(self, article_id: str, minhash: str, published: str = "") -> None:
        with self._write() as db:
            fingerprints.sign(db, article_id, minhash, published)

    def replace(self, article_ids: Iterable[str], docs: list[Document]) -> None:
        """Remove every chunk of these articles, then add `docs` (chunks with their metadata), in one transaction."""
        with self._write() as db:
            _remove(db, list(article_ids))
            _insert(db, docs)

    def state(self) -> dict[str, Any]:
        """What the index is in step with: the collection's id, the generation it was last settled at, and the
        generations ingest announced since (see `synced`)."""
        stored = dict(self._db().execute("SELECT key, value FROM meta"))
        return {"collection": stored.get("collection", ""), "generation": stored.get("generation"),
                "expected": json.loads(stored.get("expected", "[]"))}

    def expect(self, generation: str) -> None:
        """Announce a generation an ingest is about to stamp: readers seeing it keep using the index meanwhile."""
        with self._write() as db:
            expected = self.state()["expected"][-7:] + [generation]
            db.execute("INSERT OR REPLACE INTO meta VALUES ('expected', ?)", (json.dumps(expected),))

    def settle(self, collection: str, generation: str) -> None:
        """Record that the index holds exactly the collection `collection` at `generation`."""
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                           [("collection", collection), ("generation", generation), ("expected", "[]")])

    def rebuild(self, store: Store, collection: str, generation: str) -> None:
        """Replace the whole index by the collection's chunks in one transaction (readers keep the old one until it
        commits), unless another thread or process did so while this one waited for the write lock."""
        with self._write() as db:
            if _in_step(self, store, collection, generation):
                return
            for table in ("chunks", "terms", "stories", "bands"):
                db.execute(f"DELETE FROM {table}")
            batch: list[Document] = []
            for cid, meta, text in store.rows(documents=True):
                batch.append(Document(page_content=text, metadata=meta, id=cid))
                if len(batch) == 2000:
                    _insert(db, batch)
                    batch = []
            _insert(db, batch)
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                           [("collection", collection), ("generation", generation), ("expected", "[]")])


def _filters(sources: tuple[str, ...] | None, after: int | None, before: int | None) -> tuple[str, list[Any]]:
    """A WHERE clause over `chunks c` for outlet and date filters ("" for none), and its parameters."""
    where: list[str] = []
    params: list[Any] = list(sources or ())
    if sources:
        where.append(f"c.source IN ({','.join('?' * len(sources))})")
    for op, value in ((">=", after), ("<=", before)):
        if value is not None:
            where.append(f"c.published_int {op} ?")
            params.append(value)
    return " AND ".join(where), params


def _row(d: Document) -> tuple[str, str, str, int]:
    m = d.metadata
    return (d.id or "", str(m.get("article_id") or (d.id or "").rsplit(":", 1)[0]), str(m.get("source") or ""),
            int(m.get("published_int") or 0))


def _insert(db: sqlite3.Connection, docs: list[Document]) -> None:
    for d, tokens in zip(docs, tokenize([embed_text(d) for d in docs]) if docs else [], strict=True):
        n = db.execute("INSERT INTO chunks(id, article_id, source, published_int) VALUES (?, ?, ?, ?)",
                       _row(d)).lastrowid
        db.execute("INSERT INTO terms(rowid, tokens) VALUES (?, ?)", (n, " ".join(tokens)))
    fingerprints.add(db, docs)


def _remove(db: sqlite3.Connection, article_ids: list[str]) -> None:
    for i in range(0, len(article_ids), 500):
        part = article_ids[i : i + 500]
        marks = ",".join("?" * len(part))
        db.execute(f"DELETE FROM terms WHERE rowid IN (SELECT n FROM chunks WHERE article_id IN ({marks}))", part)
        db.execute(f"DELETE FROM chunks WHERE article_id IN ({marks})", part)
        fingerprints.remove(db, part)


def synced(store: Store, index: LexicalIndex | None = None) -> LexicalIndex:
    """The store's lexical index, rebuilt from the collection only when it is not in step with it: built for
    another collection (a re-index), at a generation no ingest announced (a store from before 0.8, an index file
    deleted, another machine's ingest), or, for a collection ingest never stamped, holding another count."""
    index = index or LexicalIndex(store.lexical_dir)
    generation, collection = store.generation(), str(store.collection.id)
    if not _in_step(index, store, collection, generation):
        index.rebuild(store, collection, generation)
    return index


def _in_step(index: LexicalIndex, store: Store, collection: str, generation: str) -> bool:
    state = index.state()
    if state["collection"] != collection:
        return False
    if not generation:
        return index.count() == store.count()
    return generation == state["generation"] or generation in state["expected"]


def load_lexical(store: Store) -> LexicalIndex:
    """The store's lexical index, in step with the collection (see `synced`)."""
    return synced(store)
