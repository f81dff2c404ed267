"""Each story once: a new article that nearly copies a stored (or earlier) one is not stored; its outlet is noted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

from ingest.articles import Article
from ingest.dedup import NearDuplicates, Signature, signature
from rag.config import Settings
from rag.lexical import LexicalIndex
from rag.store import Store


@dataclass
class _Story:
    """A stored article as the near-duplicate check sees it: its chunk 0 metadata and every chunk's."""

    first: dict[str, Any] = field(default_factory=dict)
    chunks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def also(self) -> str:
        return str(self.first.get("also_reported_by") or "")


def keep_first_copies(store: Store, todo: list[Article], existing: Collection[str], settings: Settings,
                      lexical: LexicalIndex, *, ignore: Collection[str] = ()) -> tuple[list[Article], dict[str, str]]:
    """Sign every article of `todo`; drop each new one that copies a story stored or kept before it.

    Returns the articles to write (signed; a stored story's `also_reported_by` carried over) and, for each
    dropped article, the id of the story it copies. Outlets of dropped copies are added to that story's
    `also_reported_by`, in the store's metadata or on the article about to be written. Stored stories are found
    by their LSH bands in the lexical index's file: the cost follows `todo`, not the store. Stored stories in
    `ignore` (about to be removed) are not matched."""
    signed = [(a, signature(a.text)) for a in todo]
    stories = _stories(store, [a.article_id for a in todo])
    index = _index(store, lexical, [sig for _, sig in signed], settings, ignore)
    kept: dict[str, Article] = {}
    copies: dict[str, str] = {}
    outlets: dict[str, list[str]] = defaultdict(list)
    for article, sig in signed:
        old = stories.get(article.article_id)
        article = replace(article, minhash=sig.encode(), also_reported_by=old.also if old else "")
        found = None if index is None or article.article_id in existing else index.match(sig, article.published)
        if found:
            copies[article.article_id] = found[0]
            outlets[found[0]].append(article.source)
            continue
        if index is not None:
            index.add(article.article_id, sig, article.published)
        kept[article.article_id] = article
    _note_outlets(store, kept, _stories(store, [aid for aid in outlets if aid not in kept]), outlets)
    return list(kept.values()), copies


def _stories(store: Store, article_ids: list[str]) -> dict[str, _Story]:
    """These stored articles' chunks (looked up by article id, no scan)."""
    stories: dict[str, _Story] = defaultdict(_Story)
    for cid, meta, _ in store.rows_of(article_ids) if article_ids else []:
        story = stories[str(meta.get("article_id", cid.rsplit(":", 1)[0]))]
        story.chunks[cid] = meta
        if int(meta.get("chunk_index", -1)) == 0:
            story.first = meta
    return dict(stories)


def _index(store: Store, lexical: LexicalIndex, sigs: list[Signature], settings: Settings,
           ignore: Collection[str]) -> NearDuplicates | None:
    """An LSH index of the stored stories, but those in `ignore`, that share a band with one of `sigs` (stories
    stored before signatures existed are signed first)."""
    if settings.dedup_threshold <= 0:
        return None
    _backfill(store, lexical)
    index = NearDuplicates(settings.dedup_threshold, days=settings.dedup_days)
    for aid, (minhash, published) in lexical.stories_like([s.encode() for s in sigs]).items():
        decoded = Signature.decode(minhash)
        if decoded is not None and aid not in ignore:
            index.add(aid, decoded, published)
    return index


def _backfill(store: Store, lexical: LexicalIndex) -> None:
    """Sign the stories the index lists as unsigned from their stored chunks (in order), and save each signature
    on the story's chunk 0 and in the index."""
    for aid, story in _stories(store, lexical.unsigned()).items():
        if not story.first:
            continue
        docs = sorted(store.get(list(story.chunks)), key=lambda d: int(d.metadata.get("chunk_index", 0)))
        minhash = signature("\n".join(d.page_content for d in docs)).encode()
        first = next(cid for cid, m in story.chunks.items() if m is story.first)
        store.update_metadata([first], [{**story.first, "minhash": minhash}])
        lexical.sign(aid, minhash, str(story.first.get("published") or ""))


def _note_outlets(store: Store, kept: dict[str, Article], stories: dict[str, _Story],
                  outlets: dict[str, list[str]]) -> None:
    for aid, names in outlets.items():
        if aid in kept:
            article = kept[aid]
            kept[aid] = replace(article, also_reported_by=merge_outlets(article.also_reported_by, names,
                                                                        own=article.source))
            continue
        story = stories[aid]
        also = merge_outlets(story.also, names, own=str(story.first.get("source", "")))
        if also != story.also:
            ids = list(story.chunks)
            store.update_metadata(ids, [{**story.chunks[c], "also_reported_by": also} for c in ids])


def merge_outlets(also: str, names: list[str], *, own: str) -> str:
    """`also` (comma-separated) with `names` added, each outlet once, never the story's own outlet."""
    merged = [o.strip() for o in also.split(",") if o.strip()]
    for name in names:
        if name and name != own and name not in merged:
            merged.append(name)
    return ", ".join(merged)
