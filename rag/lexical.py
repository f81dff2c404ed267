"""The BM25 index beside the Chroma collection: rebuilt from the collection itself, cached on disk by generation."""

from __future__ import annotations

import json
import shutil
import tempfile
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
    generation: str  # the collection's generation it was built at ("" for a store ingest never stamped)
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


def load_lexical(store: Store) -> LexicalIndex:
    """The store's BM25 index: from the disk cache when it was built at the collection's current generation (as
    stamped by ingest), else rebuilt from the collection and cached."""
    generation = store.generation()
    return (_load(store.lexical_dir, generation) if generation else None) or rebuild_lexical(store, generation)


def rebuild_lexical(store: Store, generation: str | None = None) -> LexicalIndex:
    """Index every chunk of the store and cache the index under `generation` (read from the store if not given)."""
    import bm25s
    from langchain_core.documents import Document

    generation = store.generation() if generation is None else generation
    full = list(store.rows(documents=True))
    texts = [embed_text(Document(page_content=t, metadata=m)) for _, m, t in full]
    bm25 = bm25s.BM25()
    if texts:
        bm25.index(_tokenize(texts), show_progress=False)
    index = LexicalIndex([r[0] for r in full], [r[1] for r in full], generation, bm25)
    if generation and texts:
        _save(store.lexical_dir, index)
    return index


def _save(directory: Path, index: LexicalIndex) -> None:
    """Write the index beside a temporary name, then swap it in; best effort (another process may be saving)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=directory.name + ".tmp-"))
    try:
        index.bm25.save(str(tmp))
        saved = {"generation": index.generation, "ids": index.ids, "metas": index.metas}
        (tmp / "newsdesk.json").write_text(json.dumps(saved))
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load(directory: Path, generation: str) -> LexicalIndex | None:
    import bm25s

    try:
        saved = json.loads((directory / "newsdesk.json").read_text())
        if saved.get("generation") != generation:
            return None
        return LexicalIndex(saved["ids"], saved["metas"], generation, bm25s.BM25.load(str(directory)))
    except (OSError, ValueError, KeyError):
        return None
