"""Hybrid retrieval: BM25 + dense, reciprocal-rank fusion, outlet/date filters, no duplicate passages."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from rag.config import Settings
from rag.errors import BadDateError
from rag.lexical import LexicalIndex, synced
from rag.store import Store, open_store
from rag.text import idf_overlap, key_terms, sentence_spans


@dataclass(frozen=True)
class Filters:
    """Which articles may be retrieved; None means any."""

    source: tuple[str, ...] | None = None
    published_after: str | None = None  # inclusive ISO date
    published_before: str | None = None  # inclusive ISO date

    @classmethod
    def of(cls, source: str | list[str] | None = None, published_after: str | date | None = None,
           published_before: str | date | None = None) -> Filters:
        sources = (source,) if isinstance(source, str) else tuple(source) if source else None
        after, before = _iso(published_after), _iso(published_before)
        if after and before and after > before:
            raise BadDateError(f"Expected the first date on or before the last. Got published after {after} and "
                               f"before {before}: no article can match; swap them")
        return cls(sources, after, before)

    def describe(self) -> str:
        """The filters in words, as a refusal names them ("" when there are none)."""
        after, before = self.published_after, self.published_before
        dates = " ".join(filter(None, [f"from {after}" if after else "", f"to {before}" if before else ""]))
        return "; ".join(filter(None, [f"outlet {' or '.join(self.source)}" if self.source else "",
                                       f"published {dates}" if dates else ""]))

    def where(self) -> dict[str, Any] | None:
        """The same filters as a Chroma `where` clause."""
        parts: list[dict[str, Any]] = []
        if self.source:
            parts.append({"source": {"$in": list(self.source)}})
        if self.published_after:
            parts.append({"published_int": {"$gte": _int(self.published_after)}})
        if self.published_before:
            parts.append({"published_int": {"$lte": _int(self.published_before)}})
        return None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}

    def lexical(self, index: LexicalIndex, query: str, n: int) -> list[tuple[str, float]]:
        """The `n` best BM25 matches in `index` that these filters allow."""
        after, before = (_int(d) if d else None for d in (self.published_after, self.published_before))
        return index.search(query, n, sources=self.source, after=after, before=before)


def _iso(value: str | date | None) -> str | None:
    if value is None or value == "":
        return None
    text = value.isoformat() if isinstance(value, date) else str(value)
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError as e:
        raise BadDateError(f"Expected a date like 2025-01-31. Got {value!r}") from e


def _int(iso: str) -> int:
    return int(iso.replace("-", ""))


RECENT_RE = re.compile(r"\b(this|last|past) (week|month)\b|\b(latest|recent(ly)?|newest|today|yesterday|"
                       r"currently|so far)\b", re.I)
NEWS_WEEK_DAYS = 7


@dataclass(frozen=True)
class NewsWeek:
    """The days whose articles a question favours: the week up to the date it is asked (both ends inclusive)."""

    first: str
    last: str

    @classmethod
    def ending(cls, day: date) -> NewsWeek:
        return cls((day - timedelta(days=NEWS_WEEK_DAYS)).isoformat(), day.isoformat())

    def holds(self, meta: dict[str, Any]) -> bool:
        """True when the chunk metadata `meta` says its article was published in this week."""
        return _int(self.first) <= int(meta.get("published_int") or 0) <= _int(self.last)


def news_query(question: str, settings: Settings, *, as_of: str | date | None = None,
               source: str | list[str] | None = None, published_after: str | date | None = None,
               published_before: str | date | None = None) -> tuple[Filters, NewsWeek | None]:
    """Filters for a question, and the news week whose articles it favours (or None).

    A question asked `as_of` a date favours the articles of the week up to that date, and sees no later ones when
    settings.hide_after_as_of is on. Without `as_of`, only a question about "this week", "the latest", ... favours
    a week: the one up to today."""
    iso = _iso(as_of)
    day = date.fromisoformat(iso) if iso else None
    filters = Filters.of(source, published_after, published_before)  # the caller's own dates are checked
    if day and settings.hide_after_as_of:
        filters = replace(filters, published_before=min(filter(None, [filters.published_before, day.isoformat()])))
    week = None
    if day or RECENT_RE.search(question):
        week = NewsWeek.ending(day or date.today())
    return filters, week


class HybridRetriever(BaseRetriever):
    """Top-k passages for a query from BM25 and dense search fused by weighted reciprocal rank."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    store: Store
    settings: Settings
    filters: Filters = Filters()
    _lexical: LexicalIndex | None = PrivateAttr(None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)  # eager: two threads never make two

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return self.search(query, self.filters)

    def search(self, query: str, filters: Filters | None = None, *, k: int | None = None,
               week: NewsWeek | None = None) -> list[Document]:
        """Top-k passages; `week` favours the articles published in it."""
        filters = filters or self.filters
        n = self.settings.candidates
        dense = self.store.dense(query, n, filters.where())
        lexical = self.lexical()
        lex = filters.lexical(lexical, query, n)
        boost = self._recency(dense, lex, lexical, week) if week and self.settings.recency_weight else {}
        return self._fuse(query, dense, lex, k or self.settings.k, boost)

    def _recency(self, dense: list[tuple[Document, float]], lex: list[tuple[str, float]], lexical: LexicalIndex,
                 week: NewsWeek) -> dict[str, float]:
        """A fusion bonus for every candidate published in `week`."""
        bonus = self.settings.recency_weight / (self.settings.rrf_k + 1)
        metas: dict[str, dict[str, Any]] = {cid: {"published_int": day}
                                            for cid, day in lexical.published([cid for cid, _ in lex]).items()}
        metas.update({d.id or "": d.metadata for d, _ in dense})
        return {cid: bonus for cid, m in metas.items() if week.holds(m)}

    def lexical(self) -> LexicalIndex:
        """The BM25 index file, read in place: an ingest by any process that shares it changes it article by
        article. Rebuilt from the collection only when it is out of step (rag.lexical.synced)."""
        with self._lock:
            self._lexical = synced(self.store, self._lexical)
            return self._lexical

    def unseen(self, words: list[str]) -> list[str]:
        """The words no article of the store mentions (LexicalIndex.unseen)."""
        return self.lexical().unseen(words)

    def refresh(self) -> None:
        """Nothing to reload since 0.8 (every search reads the index file as it is now); kept for callers."""

    def _fuse(self, query: str, dense: list[tuple[Document, float]], lex: list[tuple[str, float]], k: int,
              boost: dict[str, float]) -> list[Document]:
        s = self.settings
        scores: dict[str, float] = {}
        for rank, (doc, _) in enumerate(dense):
            scores[doc.id or ""] = s.dense_weight / (s.rrf_k + rank + 1)
        for rank, (cid, _) in enumerate(lex):
            scores[cid] = scores.get(cid, 0.0) + s.lexical_weight / (s.rrf_k + rank + 1)
        for cid in scores:
            scores[cid] += boost.get(cid, 0.0)
        docs = {d.id: d for d, _ in dense}
        sims = {d.id: sim for d, sim in dense}
        ranked = sorted(scores, key=lambda cid: -scores[cid])
        missing = [cid for cid in ranked[: max(k * 3, s.sentence_pool)] if cid not in docs]
        docs.update({d.id: d for d in self.store.get(missing)})
        ranked = [c for c in ranked if c in docs]
        final = _best_sentence_rerank(query, [docs[c] for c in ranked], s.sentence_pool, s.sentence_weight, s.rrf_k)
        out = _diverse([docs[c] for c in sorted(final, key=lambda c: -final[c])], k, s.max_per_article)
        for d in out:
            d.metadata["score"] = round(final[d.id or ""], 6)
            d.metadata["dense_similarity"] = round(float(sims.get(d.id, 0.0)), 4)
        return out


def _best_sentence_rerank(query: str, ranked: list[Document], pool: int, weight: float,
                          rrf_k: int) -> dict[str, float]:
    """Final scores by reciprocal rank: each passage's fused rank, plus for the first `pool` passages the rank of
    their best sentence, i.e. the one holding most of the query's key terms (idf-weighted among the pool's
    sentences). A passage whose terms sit together in one sentence answers more often than one that scatters them
    (dev: hit@5 0.769 -> 0.802, MRR@10 0.639 -> 0.668, hit@10 unchanged)."""
    final = {d.id or "": 1 / (rrf_k + r + 1) for r, d in enumerate(ranked)}
    terms = set(key_terms(query))
    head = ranked[:pool]
    if not terms or weight <= 0 or not head:
        return final
    sentences = [[set(key_terms(d.page_content[a:b])) for a, b in sentence_spans(d.page_content)] for d in head]
    overlap = iter(idf_overlap(terms, [t for ts in sentences for t in ts]))
    best = [max((next(overlap) for _ in ts), default=0.0) for ts in sentences]
    for r, i in enumerate(sorted(range(len(head)), key=lambda i: -best[i])):
        final[head[i].id or ""] += weight / (rrf_k + r + 1)
    return final


def _diverse(docs: list[Document], k: int, per_article: int) -> list[Document]:
    """The first k passages, skipping any whose text repeats one already taken and any beyond `per_article` from
    one article."""
    seen: set[str] = set()
    taken: dict[str, int] = {}
    out: list[Document] = []
    for d in docs:
        key = " ".join(d.page_content.lower().split())[:300]
        article = str(d.metadata.get("article_id", d.id))
        if key in seen or taken.get(article, 0) >= per_article:
            continue
        seen.add(key)
        taken[article] = taken.get(article, 0) + 1
        out.append(d)
        if len(out) == k:
            break
    return out


def build_retriever(settings: Settings | None = None, *, source: str | list[str] | None = None,
                    published_after: str | date | None = None, published_before: str | date | None = None,
                    k: int | None = None) -> HybridRetriever:
    """A retriever over the store: `build_retriever().invoke("question")` -> ranked list[Document]."""
    settings = settings or Settings()
    if k is not None:
        settings = settings.model_copy(update={"k": k})
    store = open_store(settings)
    filters = Filters.of(source, published_after, published_before)
    return HybridRetriever(store=store, settings=settings, filters=filters)
