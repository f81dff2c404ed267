"""Ingest throughput: the whole pipeline against the raw embedder on the same chunks, in one run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.models import get_embeddings
from rag.store import embed_text


def measure_ingest(articles: list[Path], settings: Settings, *, limit: int = 0,
                   keep: Path | None = None) -> dict[str, Any]:
    """Articles/s and chunks/s of `python -m ingest`'s code path, and the raw embedder's chunks/s.

    `keep` is an empty directory to build the store into (so it can be reused by the other evaluations);
    by default the store goes into a temporary directory.
    """
    if keep and keep.exists() and any(keep.iterdir()):
        raise ValueError(f"{keep} is not empty: an incremental run would measure nothing")
    from ingest.index import ingest_paths
    from ingest.load import iter_articles
    from ingest.split import split_article

    loaded = list(iter_articles(articles, on_skip=lambda s: None))[: limit or None]
    with tempfile.TemporaryDirectory(prefix="newsdesk-ingest-") as tmp:
        subset = Path(tmp) / "articles.jsonl"
        subset.write_text("\n".join(_record(a) for a in loaded) + "\n")
        chunks = [d for a in loaded for d in split_article(a, max_tokens=settings.chunk_tokens)]
        embedder = get_embeddings(settings)
        embedder.embed_documents([embed_text(d) for d in chunks[:32]])  # warm up
        started = time.perf_counter()
        embedder.embed_documents([embed_text(d) for d in chunks])
        raw = time.perf_counter() - started
        run = settings.model_copy(update={"store_dir": keep or Path(tmp) / "chroma"})
        summary = ingest_paths([subset], run, progress=True)
    pipeline_rate, raw_rate = summary.chunks / summary.seconds, len(chunks) / raw
    return {"embedder": settings.embedder, "threads": settings.embed_threads, "articles": len(loaded),
            "chunks": summary.chunks, "pipeline_s": round(summary.seconds, 1),
            "articles_per_s": len(loaded) / summary.seconds, "chunks_per_s": pipeline_rate,
            "raw_embedder_chunks_per_s": raw_rate, "pipeline_vs_raw": pipeline_rate / raw_rate}


def _record(article: Any) -> str:
    import json

    return json.dumps({"id": article.article_id, "url": article.url, "title": article.title,
                       "source": article.source, "published": article.published or None, "text": article.text})
