"""The BM25 index beside the Chroma collection: rebuilt from the collection itself, cached on disk by fingerprint."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.store import Store, embed_text


@dataclass
class LexicalIndex:
    """BM25 over every chunk of a store; `ids[i]` and `metas[i]` describe document i."""

    ids: list[str]
    metas: list[dict[str, Any]]
    fingerprint: str
    bm25: Any

    @cached_property
    def published_ints(self) -> np.ndarray:
        return np.array([int(m.get("published_int") or 0) for m in self.metas], dtype=np.int64)

    @cached_property
    def sources(self) -> np.ndarray:
        return np.array([str(m.get("source", "")) for m in self.metas], dtype=object)

    @cached_property
    def meta_by_id(self) -> dict[str, dict[str, Any]]:
        return dict(zip(self.ids, self.metas, strict=True))

    def search(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        if not self.ids:
            return []
        tokens = _tokenize([query])
        n = min(n, len(self.ids))
        docs, scores = self.bm25.retrieve(tokens, k=n, show_progress=False, weight_mask=mask, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


def _tokenize(texts: list[str]) -> Any:
    import bm25s
    import Stemmer

    return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english").stemWords, show_progress=False)


def fingerprint(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """Identifies the collection's content: every chunk id with its article's content hash."""
    h = hashlib.sha1()
    for cid, meta in sorted(rows, key=lambda r: r[0]):
        h.update(f"{cid}\x1f{meta.get('content_hash', '')}\n".encode())
    return h.hexdigest()


def load_lexical(store: Store) -> LexicalIndex:
    """The store's BM25 index: from the disk cache when it matches the collection, else rebuilt and saved."""
    rows = [(cid, meta) for cid, meta, _ in store.rows()]
    fp = fingerprint(rows)
    cached = _load(store.lexical_dir, fp)
    if cached is None:
        return rebuild_lexical(store)
    bm25, ids = cached
    metas = dict(rows)
    return LexicalIndex(ids, [metas[i] for i in ids], fp, bm25)


def rebuild_lexical(store: Store) -> LexicalIndex:
    """Index every chunk of the store and save the index with its fingerprint."""
    import bm25s
    from langchain_core.documents import Document

    full = list(store.rows(documents=True))
    texts = [embed_text(Document(page_content=t, metadata=m)) for _, m, t in full]
    bm25 = bm25s.BM25()
    if texts:
        bm25.index(_tokenize(texts), show_progress=False)
    rows = [(cid, meta) for cid, meta, _ in full]
    index = LexicalIndex([r[0] for r in rows], [r[1] for r in rows], fingerprint(rows), bm25)
    _save(store.lexical_dir, index)
    return index


def _save(directory: Path, index: LexicalIndex) -> None:
    if not index.ids:
        return
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    index.bm25.save(str(tmp))
    (tmp / "newsdesk.json").write_text(json.dumps({"fingerprint": index.fingerprint, "ids": index.ids}))
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)


def _load(directory: Path, fp: str) -> tuple[Any, list[str]] | None:
    import bm25s

    try:
        saved = json.loads((directory / "newsdesk.json").read_text())
    except (OSError, ValueError):
        return None
    if saved.get("fingerprint") != fp:
        return None
    return bm25s.BM25.load(str(directory)), saved["ids"]
