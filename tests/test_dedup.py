"""Each story once: MinHash signatures, the copy rule (Jaccard and date window), and file ingest storing a
syndicated copy once with `also_reported_by` — also in a store built before signatures existed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import WriteArticle
from test_feeds import BRIDGE, FLOOD

import rag
from ingest.articles import Article
from ingest.dedup import NearDuplicates, Signature, signature
from ingest.index import ingest_paths
from ingest.split import split_article
from ingest.stories import merge_outlets
from rag.store import open_store

STORY = " ".join(BRIDGE + FLOOD)


def test_signatures_estimate_jaccard_and_survive_storage() -> None:
    sig = signature(STORY)
    assert sig.jaccard(signature(STORY)) == 1.0
    assert sig.jaccard(signature(STORY.upper().replace(".", " !"))) == 1.0  # case and punctuation do not count
    copy = signature(STORY + " This story was distributed by the Nordic Wire agency.")
    assert 0.8 < sig.jaccard(copy) < 1.0
    assert sig.jaccard(signature(" ".join(FLOOD))) < 0.6  # half the story is not a copy of it
    decoded = Signature.decode(sig.encode())
    assert decoded is not None and decoded.size == sig.size and (decoded.mins == sig.mins).all()
    assert Signature.decode("12:not base64!") is None and Signature.decode("") is None


def test_a_copy_must_be_similar_and_published_near_in_time() -> None:
    index = NearDuplicates(0.75, days=30)
    index.add("bridge", signature(STORY), "2025-01-07")
    copy = signature(STORY + " Reporting by the Nordic Wire agency.")
    found = index.match(copy, "2025-01-08")
    assert found is not None and found[0] == "bridge" and found[1] >= 0.75
    assert index.match(copy, "") is not None  # an undated copy counts
    assert index.match(copy, "2026-01-07") is None  # a year later it is a new edition
    assert index.match(signature(" ".join(FLOOD)), "2025-01-07") is None
    assert index.match(copy, "2025-01-08", exclude="bridge") is None
    with pytest.raises(ValueError, match="Expected a near-duplicate threshold"):
        NearDuplicates(0)


def test_merge_outlets_keeps_each_other_outlet_once() -> None:
    assert merge_outlets("", ["B", "A", "B", ""], own="A") == "B"
    assert merge_outlets("B, C", ["C", "D"], own="A") == "B, C, D"


def copies(folder: Path, write_article: WriteArticle) -> Path:
    write_article(folder / "post.md", title="Norhaven bridge reopens", text=STORY, source="Norhaven Post",
                  published="2025-01-07", url="https://post.example/bridge")
    write_article(folder / "herald.md", title="Bridge open again", source="Coast Herald", published="2025-01-08",
                  text=STORY + " This story was distributed by the Nordic Wire agency.")
    write_article(folder / "fjord.md", title="Norhaven bridge", text=STORY, source="Daily Fjord",
                  published="2025-01-07")
    return folder


def test_file_ingest_stores_a_syndicated_story_once(tmp_path: Path, settings: rag.Settings,
                                                    write_article: WriteArticle) -> None:
    folder = copies(tmp_path / "articles", write_article)
    summary = ingest_paths([folder], settings, progress=False)
    assert (summary.added, len(summary.copies)) == (1, 2) and "2 near-copies of stored stories" in summary.line()
    rows = [m for _, m, _ in open_store(settings).rows()]
    assert {m["source"] for m in rows} == {"Daily Fjord"}  # the first in path order (fjord.md) is the story kept
    assert {m["also_reported_by"] for m in rows} == {"Coast Herald, Norhaven Post"}
    again = ingest_paths([folder], settings, progress=False)  # re-run: nothing written, nothing changed
    assert (again.added, again.unchanged, again.chunks, len(again.copies)) == (0, 1, 0, 2)
    assert [m for _, m, _ in open_store(settings).rows()] == rows


def test_prune_stores_the_copy_whose_kept_story_it_removes(tmp_path: Path, settings: rag.Settings,
                                                           write_article: WriteArticle) -> None:
    """The story kept was fjord.md's; once that file is gone, --prune removes it and stores a copy still there,
    rather than counting the copy against the story it removes."""
    folder = copies(tmp_path / "articles", write_article)
    ingest_paths([folder], settings, progress=False)
    (folder / "fjord.md").unlink()
    summary = ingest_paths([folder], settings, progress=False, prune=True)
    assert (summary.added, summary.removed, len(summary.copies)) == (1, 1, 1)
    rows = [m for _, m, _ in open_store(settings).rows()]
    assert {m["source"] for m in rows} == {"Coast Herald"}  # herald.md comes before post.md now
    again = ingest_paths([folder], settings, progress=False, prune=True)
    assert (again.added, again.removed, again.unchanged) == (0, 0, 1)


def test_dedup_threshold_zero_stores_every_copy(tmp_path: Path, settings: rag.Settings,
                                                write_article: WriteArticle) -> None:
    summary = ingest_paths([copies(tmp_path / "a", write_article)], settings.model_copy(
        update={"dedup_threshold": 0.0}), progress=False)
    assert (summary.added, summary.copies) == (3, {})


def test_a_store_built_before_signatures_is_signed_on_the_next_ingest(tmp_path: Path, settings: rag.Settings,
                                                                      write_article: WriteArticle) -> None:
    store = open_store(settings)
    old = Article("old-bridge", "Norhaven bridge reopens", STORY, "Norhaven Post", published="2025-01-07")
    chunks = split_article(old, max_tokens=settings.chunk_tokens)  # no signature, as before 0.8
    store.upsert(chunks, [d.id or "" for d in chunks])
    assert not any("minhash" in m for _, m, _ in store.rows())
    write_article(tmp_path / "new" / "herald.md", title="Bridge open", text=STORY + " Wire copy.",
                  source="Coast Herald", published="2025-01-08")
    summary = ingest_paths([tmp_path / "new"], settings, progress=False)
    assert summary.added == 0 and list(summary.copies.values()) == ["old-bridge"]
    first = next(m for _, m, _ in open_store(settings).rows() if m["chunk_index"] == 0)
    assert first["minhash"] and first["also_reported_by"] == "Coast Herald"
