"""Chunks -> store: upsert by id, skip unchanged articles, replace changed ones, prune removed ones."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document
from tqdm import tqdm

from ingest.load import Article, Skip, iter_articles
from ingest.split import split_article
from ingest.stories import keep_first_copies
from rag.config import Settings
from rag.corpus import CORPUS, ArticleInfo, Tally, article_info, load_tally
from rag.errors import NothingToPruneError
from rag.lexical import LexicalIndex, synced
from rag.store import GENERATION, Store, embed_text, new_generation, open_store

BATCH_CHUNKS = 256  # chunks embedded and written together; a batch holds whole articles only


@dataclass
class Summary:
    """What one ingest run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    seconds: float = 0.0
    skipped: list[Skip] = field(default_factory=list)
    copies: dict[str, str] = field(default_factory=dict)  # article not stored -> id of the story it copies
    written: list[str] = field(default_factory=list)  # ids of the articles this run wrote
    stopped: bool = False  # asked to stop before everything was written
    notes: list[str] = field(default_factory=list)  # what else the user should know (uploads: ids, file names)

    def line(self) -> str:
        copies = f", {len(self.copies)} near-copies of stored stories" if self.copies else ""
        return (f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed, "
                f"{len(self.skipped)} skipped{copies}; {self.chunks} chunks embedded in {self.seconds:.1f} s")


@dataclass
class _Existing:
    """What the store holds of one article."""

    content_hash: str = ""
    n_chunks: int = 0
    ids: list[str] = field(default_factory=list)
    consistent: bool = True
    info: ArticleInfo = ArticleInfo("", "", "")

    def complete(self, content_hash: str) -> bool:
        return self.consistent and self.content_hash == content_hash and len(self.ids) == self.n_chunks


def ingest_paths(paths: Iterable[Path], settings: Settings, *, prune: bool = False, reindex: bool = False,
                 progress: bool = True, store: Store | None = None) -> Summary:
    """Index every article under `paths` into the store named by `settings`; safe to re-run or interrupt."""
    started = time.perf_counter()
    paths = list(paths)
    missing = [str(p) for p in paths if not p.exists()]
    if prune and missing:  # a mistyped folder would otherwise remove every article from the store
        raise NothingToPruneError(f"not pruning: {', '.join(missing)} does not exist, so every article under it "
                                  "would be removed. Nothing was changed.")
    summary = Summary()
    store = store or open_store(settings, reset=reindex)
    articles = list(iter_articles(paths, on_skip=summary.skipped.append))
    return ingest_articles(articles, settings, store=store, prune=prune, progress=progress, summary=summary,
                           started=started)


def ingest_articles(articles: Iterable[Article], settings: Settings, *, store: Store, prune: bool = False,
                    progress: bool = True, summary: Summary | None = None, started: float | None = None,
                    stop: Callable[[], bool] | None = None) -> Summary:
    """Index `articles` (from files, uploads or the web) with every guarantee of `ingest_paths`: unchanged ones
    cost nothing, changed ones replace their old chunks, near-copies of stored stories are not stored, and with
    `prune` the articles not among them are removed. Without `prune` only these articles' chunks are looked up.
    `stop()` is asked between batches of whole articles, and a run it stops leaves nothing half-written."""
    started = time.perf_counter() if started is None else started
    summary = summary or Summary()
    with store.write_lock:
        unique = _unique(articles, summary)
        existing = _existing(store, None if prune else [a.article_id for a in unique])
        todo = [a for a in unique if not (a.article_id in existing and existing[a.article_id].complete(a.content_hash))]
        summary.unchanged = len(unique) - len(todo)
        lexical = synced(store) if todo or prune else None  # an index out of step is rebuilt first, not patched
        seen = {a.article_id for a in unique}
        gone = [aid for aid in existing if aid not in seen] if prune else []
        if todo and lexical:  # a story about to be pruned is no longer stored: an article is not a copy of it
            todo, summary.copies = keep_first_copies(store, todo, existing, settings, lexical, ignore=set(gone))
        summary.updated = sum(a.article_id in existing for a in todo)
        summary.added = len(todo) - summary.updated
        summary.removed = len(gone)
        _apply(store, lexical, todo, gone, existing, settings, summary, progress=progress, stop=stop)
    summary.seconds = time.perf_counter() - started
    return summary


def _apply(store: Store, lexical: LexicalIndex | None, todo: list[Article], gone: list[str],
           existing: dict[str, _Existing], settings: Settings, summary: Summary, *, progress: bool,
           stop: Callable[[], bool] | None) -> None:
    """Write `todo` and delete `gone`, recording the change in the collection's metadata: a new generation, and
    the corpus tally updated article by article. The tally is removed before the first write, so a reader (or
    the next run, after a crash) counts again until it is back. The lexical index changes with each batch, just
    before the collection does, and announces each generation before it is stamped (rag.lexical.synced)."""
    tally, recorded = load_tally(store), store.metadata()
    if not (todo or gone) and GENERATION in recorded and CORPUS in recorded:
        return
    lexical = lexical or synced(store)
    _stamp(store, lexical, **{CORPUS: None})
    summary.chunks, summary.written = _write(store, lexical, todo, existing, settings, progress, tally, stop)
    summary.stopped = len(summary.written) < len(todo)
    lexical.replace(gone, [])
    store.delete([cid for aid in gone for cid in existing[aid].ids])
    for aid in gone:
        tally.remove(aid, existing[aid].info, len(existing[aid].ids))
    lexical.settle(str(store.collection.id), _stamp(store, lexical, **{CORPUS: tally.dumps()}))


def _stamp(store: Store, lexical: LexicalIndex, **values: str | None) -> str:
    generation = new_generation()
    lexical.expect(generation)
    return store.stamp(generation, **values)


def ingest_files(paths: Iterable[Path], settings: Settings, *, store: Store | None = None) -> Summary:
    """Files given by a caller: same guarantees as the CLI, no progress bar, never prunes."""
    return ingest_paths(paths, settings, progress=False, store=store)


def _existing(store: Store, article_ids: list[str] | None) -> dict[str, _Existing]:
    """What the store holds of these articles (of every article when `article_ids` is None)."""
    found: dict[str, _Existing] = defaultdict(_Existing)
    for cid, meta, _ in store.rows() if article_ids is None else store.rows_of(article_ids):
        ex = found[str(meta.get("article_id", cid.rsplit(":", 1)[0]))]
        if ex.ids and ex.content_hash != meta.get("content_hash"):
            ex.consistent = False
        ex.content_hash, ex.n_chunks = str(meta.get("content_hash", "")), int(meta.get("n_chunks", 0))
        ex.ids.append(cid)
        ex.info = article_info(meta)
    return dict(found)


def _unique(articles: Iterable[Article], summary: Summary) -> list[Article]:
    seen: dict[str, Article] = {}
    for a in articles:
        if a.article_id in seen:
            first = seen[a.article_id].origin
            summary.skipped.append(Skip(a.origin, f"{a.origin}: same id {a.article_id!r} as {first}"))
            continue
        seen[a.article_id] = a
    return list(seen.values())


def _write(store: Store, lexical: LexicalIndex, todo: list[Article], existing: dict[str, _Existing],
           settings: Settings, progress: bool, tally: Tally, stop: Callable[[], bool] | None = None
           ) -> tuple[int, list[str]]:
    """Embed batch after batch; each batch is written by a helper thread while the next one is embedded. The
    tally counts each article written out in its old version and in with its new one.

    Returns the chunks and the ids of the articles written; `stop()` ends it between batches."""
    chunked = [(a, split_article(a, max_tokens=settings.chunk_tokens)) for a in todo]
    total = sum(len(c) for _, c in chunked)
    written: list[str] = []
    with tqdm(total=total, unit="chunk", desc="embedding", disable=not progress or total == 0) as bar, \
            ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future[None] | None = None
        for batch in _batches(chunked):
            if stop is not None and stop():
                break
            stale = [cid for a, _ in batch if a.article_id in existing for cid in existing[a.article_id].ids]
            docs = [d for _, chunks in batch for d in chunks]
            _retally(tally, batch, existing)
            vectors = store.embeddings.embed_documents([embed_text(d) for d in docs])
            if pending is not None:
                pending.result()  # the previous write, re-raising its error
            pending = writer.submit(_replace, store, lexical, [a.article_id for a, _ in batch], stale, docs, vectors)
            pending.add_done_callback(_count(bar, len(docs)))
            written += [a.article_id for a, _ in batch]
        if pending is not None:
            pending.result()
    done = set(written)
    return sum(len(c) for a, c in chunked if a.article_id in done), written


def _retally(tally: Tally, batch: list[tuple[Article, list[Document]]], existing: dict[str, _Existing]) -> None:
    for article, chunks in batch:
        if article.article_id in existing:
            old = existing[article.article_id]
            tally.remove(article.article_id, old.info, len(old.ids))
        tally.add(article.article_id, article_info(chunks[0].metadata), len(chunks))


def _count(bar: tqdm, n: int) -> Callable[[Future[None]], None]:
    """A callback that advances the progress bar once a write has succeeded."""
    return lambda done: None if done.exception() else bar.update(n)


def _replace(store: Store, lexical: LexicalIndex, articles: list[str], stale: list[str], docs: list[Document],
             vectors: list[list[float]]) -> None:
    """Replace these articles' chunks: in the lexical index first, so that a crash in between leaves the
    collection behind, and the next run redoes the articles there (an article whose chunks the collection holds
    complete is never redone)."""
    lexical.replace(articles, docs)
    store.delete(stale)
    store.upsert(docs, [d.id or "" for d in docs], vectors)


def _batches(chunked: list[tuple[Article, list[Document]]]) -> Iterable[list[tuple[Article, list[Document]]]]:
    batch: list[tuple[Article, list[Document]]] = []
    size = 0
    for item in chunked:
        if batch and size + len(item[1]) > BATCH_CHUNKS:
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += len(item[1])
    if batch:
        yield batch

