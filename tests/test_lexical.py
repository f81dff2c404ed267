"""The incremental lexical index: an ingest reads and writes only its own articles (no scan of the collection), a
running retriever reads the index in place, and an index out of step with the collection is rebuilt."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, WriteArticle
from modelserver import ModelServer

import rag
from ingest.index import ingest_paths
from rag.lexical import LexicalIndex, load_lexical
from rag.store import LEXICAL_FILE, Store, open_store

ARTICLES = 120


class CountingCollection:
    """The real Chroma collection, counting the rows its `get` calls return (Chroma's edge, not Newsdesk's)."""

    def __init__(self, real: Any) -> None:
        self.real, self.rows = real, 0

    def get(self, *args: Any, **kwargs: Any) -> Any:
        got = self.real.get(*args, **kwargs)
        self.rows += len(got["ids"])
        return got

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    with ModelServer() as srv:
        yield srv


@pytest.fixture
def settings(tmp_path: Path, server: ModelServer) -> rag.Settings:
    """A store of 120 articles, embedded by the test's embedding server (fast)."""
    settings = rag.Settings(store_dir=tmp_path / "chroma", data_dir=tmp_path / "data", llm="smollm2",
                            embedder="openai:embed", openai_base_url=server.openai_url)
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(ARTICLES):
        (folder / f"a{i}.md").write_text(f"---\ntitle: Harbour report {i}\nsource: s{i % 7}.example\n---\n"
                                         f"Ferry route {i} carried {i * 37} passengers past lighthouse {i}.\n")
    ingest_paths([folder], settings, progress=False)
    return settings


def counted(settings: rag.Settings) -> tuple[Store, CountingCollection]:
    store = open_store(settings)
    store.collection = counter = CountingCollection(store.collection)
    return store, counter


def test_adding_an_article_reads_only_its_own_rows(settings: rag.Settings, tmp_path: Path,
                                                   write_article: WriteArticle) -> None:
    store, counter = counted(settings)
    path = write_article(tmp_path / "new.md", title="Owls return to the park", text="Barn owls nest again.")
    summary = ingest_paths([path], settings, progress=False, store=store)
    assert summary.added == 1
    assert counter.rows == 0  # not one row of the 120 articles was read: no scan, no rebuild
    assert load_lexical(store).search("owls", 5)[0][0] == summary.written[0] + ":0"
    assert load_lexical(store).count() == ARTICLES + 1


def test_a_running_retriever_reads_an_ingest_by_another_process_in_place(settings: rag.Settings,
                                                                          tmp_path: Path) -> None:
    retriever = rag.build_retriever(settings)
    retriever.lexical()
    retriever.store.collection = counter = CountingCollection(retriever.store.collection)
    (tmp_path / "kestrels.md").write_text("---\ntitle: Kestrels return to the park\n---\nKestrels nest again.\n")
    env = {**os.environ, "NEWSDESK_STORE_DIR": str(settings.store_dir), "NEWSDESK_EMBEDDER": settings.embedder,
           "NEWSDESK_OPENAI_BASE_URL": str(settings.openai_base_url), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "ingest", "--quiet", str(tmp_path / "kestrels.md")], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith("1 added"), done.stderr
    (hit,) = retriever.lexical().search("kestrels", 5)
    assert "Kestrels return to the park" in [d.metadata["title"] for d in retriever.search("kestrels")]
    assert counter.rows <= 3 * retriever.settings.k  # the passages it returns, not the collection
    assert retriever.store.get([hit[0]])[0].metadata["title"] == "Kestrels return to the park"


def test_an_index_out_of_step_is_rebuilt_from_the_collection(settings: rag.Settings) -> None:
    """A store from before 0.8 (no index file) or whose index was deleted, and a store re-indexed while another
    process holds the old index open: each reads a complete index again."""
    store = open_store(settings)
    index = LexicalIndex(store.lexical_dir)
    assert index.count() == ARTICLES
    (store.lexical_dir / LEXICAL_FILE).unlink()
    assert load_lexical(open_store(settings)).count() == ARTICLES
    held = LexicalIndex(store.lexical_dir)  # another process's open connection to the index file
    assert held.count() == ARTICLES
    ingest_paths([Path(settings.store_dir).parent / "corpus" / "a1.md"], settings, reindex=True, progress=False)
    (only,) = open_store(settings).rows()
    assert [cid for cid, _ in held.search("lighthouse", 10)] == [only[0]]  # the same file, rebuilt in place


def test_stale_bm25s_files_of_an_older_version_are_removed_on_reindex(settings: rag.Settings) -> None:
    store = open_store(settings)
    (store.lexical_dir / "newsdesk.json").write_text("{}")
    open_store(settings, reset=True)
    assert [p.name for p in store.lexical_dir.iterdir() if not p.name.startswith(LEXICAL_FILE)] == []


def test_a_query_leaves_out_terms_most_passages_hold(tmp_path: Path) -> None:
    """In an index of 12,000 passages, "have" (in every one) would make BM25 score them all for next to nothing:
    the query keeps the terms that tell passages apart, and a query of common terms only keeps its rarest."""
    from langchain_core.documents import Document

    index = LexicalIndex(tmp_path / "lexical")
    meta = {"title": "T", "source": "s", "published": "2025-01-01"}
    docs = [Document(page_content=f"We have {'owls' if i == 7 else 'news'} number {i}.", id=f"a{i}:0",
                     metadata={**meta, "article_id": f"a{i}", "chunk_index": 0}) for i in range(12_000)]
    index.replace([], docs)
    assert index.search("Have you seen owls?", 100) == index.search("owls", 100)
    assert [cid for cid, _ in index.search("Have you seen owls?", 100)] == ["a7:0"]
    assert len(index.search("have news", 100)) == 100  # "news" (11,999) is rarer than "have" (12,000)


def test_unseen_names_the_words_no_passage_holds(settings: rag.Settings) -> None:
    """Stemmed as the index stems ("Lighthouses" is "lighthouse"); a word of stopwords alone is never unseen."""
    index = load_lexical(open_store(settings))
    assert index.unseen(["Lighthouses", "Ferry", "Australia", "The", "Tokyo-Osaka"]) == ["Australia", "Tokyo-Osaka"]
    assert index.unseen(["Harbour-Tokyo"]) == []  # one of its words is in the articles
    assert index.unseen([]) == []

