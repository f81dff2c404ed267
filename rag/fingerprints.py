"""Stored stories' MinHash fingerprints by LSH band, kept in the lexical index's file: ingest finds a new
article's near-copies by looking up its bands, not by reading every stored story."""

from __future__ import annotations

import base64
import sqlite3

from langchain_core.documents import Document

SCHEMA = """
CREATE TABLE IF NOT EXISTS stories(article_id TEXT PRIMARY KEY, minhash TEXT NOT NULL, published TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bands(key BLOB NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS bands_key ON bands(key);
CREATE INDEX IF NOT EXISTS bands_article ON bands(article_id);
"""
BANDS = 32  # a story's MinHash (chunk 0's `minhash`: "size:base64 of 128 uint32") is found by any of 32 bands


def band_keys(minhash: str) -> list[bytes]:
    """The LSH keys of a MinHash as ingest.dedup encodes it: band number + its 4 minimums (none for an empty text)."""
    size, _, data = minhash.partition(":")
    try:
        raw = base64.b64decode(data)
    except ValueError:
        return []
    if not size.isdigit() or int(size) == 0 or not raw or len(raw) % BANDS:
        return []
    step = len(raw) // BANDS
    return [bytes([b]) + raw[b * step : (b + 1) * step] for b in range(BANDS)]


def add(db: sqlite3.Connection, docs: list[Document]) -> None:
    """Record the story of every chunk 0 among `docs` (its fingerprint, "" when it has none yet)."""
    for d in docs:
        if int(d.metadata.get("chunk_index", -1)) == 0:
            aid = str(d.metadata.get("article_id") or (d.id or "").rsplit(":", 1)[0])
            minhash = str(d.metadata.get("minhash") or "")
            db.execute("INSERT OR REPLACE INTO stories VALUES (?, ?, ?)",
                       (aid, minhash, str(d.metadata.get("published") or "")))
            db.execute("DELETE FROM bands WHERE article_id = ?", (aid,))
            db.executemany("INSERT INTO bands VALUES (?, ?)", [(k, aid) for k in band_keys(minhash)])


def remove(db: sqlite3.Connection, article_ids: list[str]) -> None:
    marks = ",".join("?" * len(article_ids))
    db.execute(f"DELETE FROM stories WHERE article_id IN ({marks})", article_ids)
    db.execute(f"DELETE FROM bands WHERE article_id IN ({marks})", article_ids)


def like(db: sqlite3.Connection, minhashes: list[str]) -> dict[str, tuple[str, str]]:
    """Stored stories sharing an LSH band with any of these MinHashes: article id -> (minhash, published)."""
    keys = list({k for m in minhashes for k in band_keys(m)})
    found: dict[str, tuple[str, str]] = {}
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        found.update((aid, (m, p)) for aid, m, p in db.execute(
            "SELECT article_id, minhash, published FROM stories WHERE article_id IN (SELECT article_id FROM bands "
            f"WHERE key IN ({','.join('?' * len(part))}))", part))
    return found


def unsigned(db: sqlite3.Connection) -> list[str]:
    """Stored stories without a fingerprint (indexed before Newsdesk signed stories)."""
    return [aid for (aid,) in db.execute("SELECT article_id FROM stories WHERE minhash = ''")]


def sign(db: sqlite3.Connection, article_id: str, minhash: str, published: str = "") -> None:
    add(db, [Document(page_content="", metadata={"chunk_index": 0, "article_id": article_id, "minhash": minhash,
                                                 "published": published})])
