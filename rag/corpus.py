"""Corpus statistics: how many articles and chunks the store holds, from which outlets and dates."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rag.store import Store

RECENT = 5


@dataclass(frozen=True)
class ArticleInfo:
    """One article as the corpus panel lists it."""

    title: str
    source: str
    published: str  # YYYY-MM-DD or ""


@dataclass(frozen=True)
class CorpusStats:
    """What the store holds; `outlets` maps outlet -> number of articles, most articles first."""

    articles: int = 0
    chunks: int = 0
    outlets: dict[str, int] = field(default_factory=dict)
    earliest: str = ""
    latest: str = ""
    recent: list[ArticleInfo] = field(default_factory=list)  # newest first, undated ones last


def corpus_stats(store: Store) -> CorpusStats:
    """Count articles, chunks, outlets and dates by reading every chunk's metadata once."""
    articles: dict[str, ArticleInfo] = {}
    chunks = 0
    for cid, meta, _ in store.rows():
        chunks += 1
        aid = str(meta.get("article_id") or cid.rsplit(":", 1)[0])
        if aid not in articles:
            articles[aid] = _info(meta)
    return _summarise(list(articles.values()), chunks)


def _info(meta: dict[str, Any]) -> ArticleInfo:
    return ArticleInfo(str(meta.get("title") or "Untitled"), str(meta.get("source") or ""),
                       str(meta.get("published") or ""))


def _summarise(articles: list[ArticleInfo], chunks: int) -> CorpusStats:
    outlets = Counter(a.source for a in articles if a.source)
    dates = sorted(a.published for a in articles if a.published)
    recent = sorted((a for a in articles if a.published), key=lambda a: (a.published, a.title), reverse=True)
    recent += sorted((a for a in articles if not a.published), key=lambda a: a.title)  # undated last
    return CorpusStats(
        articles=len(articles), chunks=chunks,
        outlets=dict(sorted(outlets.items(), key=lambda kv: (-kv[1], kv[0]))),
        earliest=dates[0] if dates else "", latest=dates[-1] if dates else "",
        recent=recent[:RECENT],
    )
