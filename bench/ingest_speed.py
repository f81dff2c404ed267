"""Ingest throughput: the ingest users run against the raw embedder on the same chunks, in one process.

    python bench/ingest_speed.py --articles ../shared/data/realtimeqa-dev/articles.jsonl [--store EMPTY_DIR] [--limit N]

`--store` keeps the index it builds (an empty directory, so the run measures a full ingest) for the other
evaluations to reuse; by default the index goes into a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def measure_ingest(articles: list[Path], settings: Any, *, limit: int = 0, keep: Path | None = None) -> dict[str, Any]:
    """Articles/s and chunks/s of `python -m ingest`'s code path, and the raw embedder's chunks/s."""
    if keep and keep.exists() and any(keep.iterdir()):
        raise ValueError(f"{keep} is not empty: an incremental run would measure nothing")
    from ingest.index import ingest_paths
    from ingest.load import iter_articles
    from ingest.split import split_article
    from rag.models import get_embeddings
    from rag.store import embed_text

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
    return {"threads": settings.embed_threads, "articles": len(loaded), "chunks": summary.chunks,
            "pipeline_s": round(summary.seconds, 1), "articles_per_s": len(loaded) / summary.seconds,
            "chunks_per_s": pipeline_rate, "raw_embedder_chunks_per_s": raw_rate,
            "pipeline_vs_raw": pipeline_rate / raw_rate}


def _record(article: Any) -> str:
    return json.dumps({"id": article.article_id, "url": article.url, "title": article.title,
                       "source": article.source, "published": article.published or None, "text": article.text})


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(prog="python bench/ingest_speed.py", description=__doc__.split("\n", 1)[0])
    p.add_argument("--articles", type=Path, nargs="+", required=True, help="articles (any format ingest reads)")
    p.add_argument("--store", type=Path, help="an empty directory to build the index into, and keep")
    p.add_argument("--limit", type=int, default=0, help="only the first N articles")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    from rag.config import Settings

    try:
        figures = measure_ingest(args.articles, Settings(), limit=args.limit, keep=args.store)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(figures, indent=2) if args.json else "\n".join(f"{k:>26}  {v:.3f}" if isinstance(v, float)
                                                                    else f"{k:>26}  {v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
