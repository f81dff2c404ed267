"""Corpus statistics: how many articles and chunks the store holds, from which outlets and dates. Ingest keeps
them up to date in the collection's metadata; reading them costs no scan of the chunks."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rag.store import Store

RECENT = 5  # articles the corpus panel lists
KEEP = 20  # most recent articles the tally remembers, so that removing a few still leaves RECENT
CORPUS = "corpus"  # collection metadata key


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


@dataclass
class Tally:
    """The running counts behind CorpusStats, which ingest updates article by article."""

    articles: int = 0
    chunks: int = 0
    outlets: Counter[str] = field(default_factory=Counter)
    days: Counter[str] = field(default_factory=Counter)  # publication date -> articles
    recent: list[tuple[str, ArticleInfo]] = field(default_factory=list)  # (article id, info), newest first
    exact: bool = True  # False once removals left too few recent articles: the next reader counts again

    def add(self, article_id: str, info: ArticleInfo, chunks: int) -> None:
        before = self.articles
        self._count(info, chunks, +1)
        ranked = _newest_first([*self.recent, (article_id, info)])
        if ranked.index((article_id, info)) < len(self.recent) or len(self.recent) == before:
            self.recent = ranked[:KEEP]  # else it ranks below what the list knows: some unknown article may lead it

    def remove(self, article_id: str, info: ArticleInfo, chunks: int) -> None:
        self._count(info, chunks, -1)
        self.recent = [r for r in self.recent if r[0] != article_id]
        self.exact = self.exact and (len(self.recent) >= RECENT or len(self.recent) == self.articles)

    def _count(self, info: ArticleInfo, chunks: int, sign: int) -> None:
        self.articles += sign
        self.chunks += sign * chunks
        for counter, key in ((self.outlets, info.source), (self.days, info.published)):
            if key:
                counter[key] += sign
                if counter[key] <= 0:
                    del counter[key]

    def stats(self) -> CorpusStats:
        dates = sorted(self.days)
        outlets = dict(sorted(self.outlets.items(), key=lambda kv: (-kv[1], kv[0])))
        return CorpusStats(self.articles, self.chunks, outlets, dates[0] if dates else "", dates[-1] if dates else "",
                           [info for _, info in self.recent[:RECENT]])

    def dumps(self) -> str | None:
        """The tally as stored in the collection metadata (None when it is no longer exact)."""
        if not self.exact:
            return None
        recent = [[aid, i.title, i.source, i.published] for aid, i in self.recent]
        return json.dumps({"articles": self.articles, "chunks": self.chunks, "outlets": self.outlets,
                           "days": self.days, "recent": recent})


def _newest_first(items: list[tuple[str, ArticleInfo]]) -> list[tuple[str, ArticleInfo]]:
    dated = sorted((r for r in items if r[1].published), key=lambda r: (r[1].published, r[1].title), reverse=True)
    return dated + sorted((r for r in items if not r[1].published), key=lambda r: r[1].title)  # undated last


def article_info(meta: dict[str, Any]) -> ArticleInfo:
    """An article as a chunk's metadata describes it."""
    return ArticleInfo(str(meta.get("title") or "Untitled"), str(meta.get("source") or ""),
                       str(meta.get("published") or ""))


def load_tally(store: Store) -> Tally:
    """The tally ingest recorded, or (for a store it never recorded one in) one counted from every chunk."""
    stored = store.metadata().get(CORPUS)
    if stored:
        data = json.loads(stored)
        recent = [(aid, ArticleInfo(t, s, p)) for aid, t, s, p in data["recent"]]
        return Tally(data["articles"], data["chunks"], Counter(data["outlets"]), Counter(data["days"]), recent)
    return count_tally(store)


def count_tally(store: Store) -> Tally:
    """Count articles, chunks, outlets and dates by reading every chunk's metadata once."""
    articles: dict[str, tuple[ArticleInfo, int]] = {}
    for cid, meta, _ in store.rows():
        aid = str(meta.get("article_id") or cid.rsplit(":", 1)[0])
        info, n = articles.get(aid, (article_info(meta), 0))
        articles[aid] = (info, n + 1)
    tally = Tally()
    for info, n in articles.values():
        tally._count(info, n, +1)
    tally.recent = _newest_first([(aid, info) for aid, (info, _) in articles.items()])[:KEEP]
    return tally


def corpus_stats(store: Store) -> CorpusStats:
    """What the store holds, as ingest last recorded it."""
    return load_tally(store).stats()
