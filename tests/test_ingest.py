"""ingest.index and `python -m ingest`: counts, idempotence, updates, pruning, chunk metadata and size, guards."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from conftest import REPO, WriteArticle, make_settings
from langchain_core.documents import Document

import rag
from ingest.index import Summary, ingest_paths
from ingest.load import Article, iter_articles
from ingest.split import count_tokens, split_article
from rag.corpus import CORPUS, ArticleInfo, CorpusStats, Tally, corpus_stats, count_tally
from rag.errors import NothingToPruneError
from rag.lexical import load_lexical
from rag.store import Store, embed_text, open_store

REALTIMEQA = Path(__file__).resolve().parents[2] / "shared" / "data" / "realtimeqa-mini" / "articles.jsonl"
CHUNK_KEYS = ("title", "source", "url", "published", "article_id", "chunk_index", "start_index")
SUMMARY_RE = (r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) removed, (\d+) skipped; "
              r"(\d+) chunks embedded in [\d.]+ s")


def paragraph(topic: str, n: int) -> str:
    """`n` distinct sentences about `topic`."""
    return " ".join(f"Sentence {i} of the report says that the {topic} story developed further on day {i}."
                    for i in range(1, n + 1))


def rows(store: Store) -> list[tuple[str, dict[str, Any], str]]:
    return list(store.rows(documents=True))


def ids_of(store: Store, article_id: str | None = None) -> list[str]:
    return sorted(cid for cid, meta, _ in store.rows() if article_id is None or meta["article_id"] == article_id)


def assert_lexical_in_sync(store: Store) -> None:
    ids = [cid for cid, _, _ in store.rows()]
    assert len(ids) == len(set(ids))
    assert load_lexical(store).ids() == set(ids)


@pytest.fixture
def corpus(tmp_path: Path, write_article: WriteArticle) -> Path:
    folder = tmp_path / "articles"
    write_article(folder / "bridge.md", title="Bridge reopens after repairs", source="citynews.example",
                  published="2024-03-01", url="https://citynews.example/bridge", text=paragraph("bridge", 3))
    write_article(folder / "storm.md", title="Storm floods the harbour", source="coastpost.example",
                  published="2024-04-12", text=paragraph("storm", 40))
    write_article(folder / "sub" / "vote.txt", title="Council vote on budget", source="citynews.example",
                  published="2024-05-20", text=paragraph("budget vote", 2))
    return folder


def ingest(paths: list[Path], settings: rag.Settings, *, prune: bool = False,
           reindex: bool = False) -> tuple[Summary, Store]:
    summary = ingest_paths(paths, settings, progress=False, prune=prune, reindex=reindex)
    return summary, open_store(settings)


# --- counts, idempotence, updates, pruning ----------------------------------------------------


def test_first_run_adds_every_article(corpus: Path, settings: rag.Settings) -> None:
    summary, store = ingest([corpus], settings)
    assert (summary.added, summary.updated, summary.unchanged, summary.removed) == (3, 0, 0, 0)
    assert summary.skipped == []
    assert summary.chunks == store.count() > 3  # the storm article needs several chunks
    assert re.fullmatch(SUMMARY_RE, summary.line())
    assert_lexical_in_sync(store)


def test_second_run_changes_nothing(corpus: Path, settings: rag.Settings) -> None:
    _, store = ingest([corpus], settings)
    before = rows(store)
    summary, store = ingest([corpus], settings)
    assert (summary.added, summary.updated, summary.unchanged, summary.removed, summary.chunks) == (0, 0, 3, 0, 0)
    assert rows(store) == before
    assert_lexical_in_sync(store)


def test_changed_article_is_replaced(corpus: Path, settings: rag.Settings, write_article: WriteArticle) -> None:
    _, store = ingest([corpus], settings)
    storm_id = next(meta["article_id"] for _, meta, _ in store.rows() if meta["title"] == "Storm floods the harbour")
    old_ids = ids_of(store, storm_id)
    others = [r for r in rows(store) if r[1]["article_id"] != storm_id]
    assert len(old_ids) > 1

    new_text = "The harbour storm has passed and the water receded overnight."
    write_article(corpus / "storm.md", title="Storm floods the harbour", source="coastpost.example",
                  published="2024-04-13", text=new_text)
    summary, store = ingest([corpus], settings)

    assert (summary.added, summary.updated, summary.unchanged, summary.chunks) == (0, 1, 2, 1)
    assert ids_of(store, storm_id) == [f"{storm_id}:0"]
    (new,) = store.get([f"{storm_id}:0"])
    assert new.page_content == new_text
    assert new.metadata["published"] == "2024-04-13"
    assert not any("storm story developed" in text for _, _, text in store.rows(documents=True))
    assert [r for r in rows(store) if r[1]["article_id"] != storm_id] == others
    assert store.count() == len(others) + 1
    assert_lexical_in_sync(store)


def test_prune_removes_deleted_files(corpus: Path, settings: rag.Settings) -> None:
    _, store = ingest([corpus], settings)
    bridge_id = next(meta["article_id"] for _, meta, _ in store.rows() if meta["title"].startswith("Bridge"))
    total = store.count()
    (corpus / "bridge.md").unlink()

    summary, store = ingest([corpus], settings)  # without --prune the article stays
    assert (summary.unchanged, summary.removed) == (2, 0)
    assert ids_of(store, bridge_id) == [f"{bridge_id}:0"]

    summary, store = ingest([corpus], settings, prune=True)
    assert (summary.added, summary.updated, summary.unchanged, summary.removed) == (0, 0, 2, 1)
    assert ids_of(store, bridge_id) == []
    assert store.count() == total - 1
    assert_lexical_in_sync(store)


def test_prune_refuses_a_path_that_does_not_exist(corpus: Path, settings: rag.Settings, tmp_path: Path) -> None:
    """A mistyped folder with --prune would remove every article; nothing is changed and the error says why."""
    _, store = ingest([corpus], settings)
    before = rows(store)
    with pytest.raises(NothingToPruneError, match="not pruning: .*typo does not exist"):
        ingest([tmp_path / "typo"], settings, prune=True)
    assert rows(open_store(settings)) == before
    summary, _ = ingest([tmp_path / "typo"], settings)  # without --prune it is a skip like any other
    assert summary.skipped and summary.removed == 0


def test_reindex_rebuilds_from_scratch(corpus: Path, settings: rag.Settings) -> None:
    _, store = ingest([corpus], settings)
    before = rows(store)
    summary, store = ingest([corpus / "bridge.md"], settings, reindex=True)
    assert (summary.added, summary.unchanged) == (1, 0)
    assert [r[0] for r in rows(store)] == [r[0] for r in before if r[1]["title"].startswith("Bridge")]
    assert_lexical_in_sync(store)


def test_duplicate_article_ids_are_skipped(tmp_path: Path, settings: rag.Settings) -> None:
    records = [{"id": "same", "title": "First", "text": "The first version of the story."},
               {"id": "same", "title": "Second", "text": "The second version of the story."}]
    path = tmp_path / "dupes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    summary, store = ingest([path], settings)
    assert summary.added == 1
    (skip,) = summary.skipped
    assert skip.origin == f"{path}:2" and "same id 'same'" in skip.reason
    assert [d.page_content for d in store.get(["same:0"])] == ["The first version of the story."]


def test_ingest_keeps_the_corpus_statistics_in_the_collection(corpus: Path, settings: rag.Settings,
                                                               write_article: WriteArticle) -> None:
    """After each kind of run the statistics ingest recorded (read without a scan) match a count of every chunk."""
    def recorded(store: Store) -> CorpusStats:
        assert CORPUS in store.metadata()
        stats = corpus_stats(store)
        assert stats == count_tally(store).stats()
        return stats

    _, store = ingest([corpus], settings)
    first = recorded(store)
    assert (first.articles, first.outlets) == (3, {"citynews.example": 2, "coastpost.example": 1})
    write_article(corpus / "storm.md", title="Storm floods the harbour", source="harbourwatch.example",
                  published="2024-06-30", text="The harbour storm has passed.")
    _, store = ingest([corpus], settings)
    changed = recorded(store)
    assert (changed.chunks, changed.latest, changed.recent[0].source) == (3, "2024-06-30", "harbourwatch.example")
    (corpus / "bridge.md").unlink()
    _, store = ingest([corpus], settings, prune=True)
    assert recorded(store).outlets == {"citynews.example": 1, "harbourwatch.example": 1}


def test_the_tally_keeps_the_most_recent_articles_through_removals() -> None:
    tally = Tally()
    for day in range(1, 26):
        tally.add(f"a{day}", ArticleInfo(f"Day {day}", "x.example", f"2024-01-{day:02d}"), 1)
    assert [a.title for a in tally.stats().recent] == ["Day 25", "Day 24", "Day 23", "Day 22", "Day 21"]
    for day in range(25, 9, -1):  # the 16 newest go: the tally remembered 20, so 4 are left of the 9 still indexed
        tally.remove(f"a{day}", ArticleInfo(f"Day {day}", "x.example", f"2024-01-{day:02d}"), 1)
    assert tally.dumps() is None  # too few left to be sure of the newest five: the next reader counts again
    tally = Tally()
    tally.add("old", ArticleInfo("Old", "", "2023-01-01"), 2)
    tally.add("new", ArticleInfo("New", "", "2024-01-01"), 1)
    tally.remove("new", ArticleInfo("New", "", "2024-01-01"), 1)
    assert tally.stats() == CorpusStats(1, 2, {}, "2023-01-01", "2023-01-01", [ArticleInfo("Old", "", "2023-01-01")])


# --- chunks -----------------------------------------------------------------------------------


def test_chunks_carry_metadata_and_exact_offsets(corpus: Path, settings: rag.Settings) -> None:
    _, store = ingest([corpus], settings)
    skips: list[object] = []
    articles = {a.article_id: a for a in iter_articles([corpus], on_skip=skips.append)}
    assert skips == []
    by_article: dict[str, list[dict[str, Any]]] = {}
    for cid, meta, text in rows(store):
        assert set(CHUNK_KEYS) <= set(meta)
        article = articles[str(meta["article_id"])]
        start = int(meta["start_index"])
        assert text == article.text[start:start + len(text)]
        assert cid == f"{article.article_id}:{meta['chunk_index']}"
        assert (meta["title"], meta["source"], meta["url"], meta["published"]) == (
            article.title, article.source, article.url, article.published)
        by_article.setdefault(article.article_id, []).append(meta)
    assert set(by_article) == set(articles)
    for metas in by_article.values():
        assert sorted(int(m["chunk_index"]) for m in metas) == list(range(len(metas)))
    bridge = next(m for ms in by_article.values() for m in ms if m["title"] == "Bridge reopens after repairs")
    assert (bridge["source"], bridge["url"], bridge["published"]) == (
        "citynews.example", "https://citynews.example/bridge", "2024-03-01")


def test_missing_metadata_is_defaulted_to_empty_strings(tmp_path: Path, settings: rag.Settings) -> None:
    path = tmp_path / "bare.txt"
    path.write_text("A bare headline\nJust some text about a bare article.\n", encoding="utf-8")
    _, store = ingest([path], settings)
    ((_, meta, _),) = rows(store)
    assert {k: meta[k] for k in CHUNK_KEYS} == {
        "title": "A bare headline", "source": "", "url": "", "published": "",
        "article_id": meta["article_id"], "chunk_index": 0, "start_index": 0}


def _real_articles(n: int) -> list[Article]:
    lines = REALTIMEQA.read_text(encoding="utf-8").splitlines()[:n]
    path_records = [json.loads(line) for line in lines]
    return [Article(r["id"], r["title"], r["text"], r["source"], r["url"], r.get("published") or "")
            for r in path_records]


def _token_dense_article() -> Article:
    rnd = random.Random(7)
    scores = " ".join(f"{rnd.randint(0, 99)}-{rnd.randint(0, 99)}," for _ in range(600))  # one "sentence"
    cyrillic = "Москва " * 400
    return Article("dense", "Results table", f"{scores}\n{cyrillic}\nThe end.", "sport.example", "", "2024-01-01")


@pytest.mark.parametrize("max_tokens", [200, 256])
def test_chunks_fit_minilm_with_their_header(max_tokens: int) -> None:
    for article in [*_real_articles(3), _token_dense_article()]:
        chunks = split_article(article, max_tokens=max_tokens)
        sizes = count_tokens([embed_text(d) for d in chunks])
        assert max(sizes) <= max_tokens <= 256, (article.article_id, sizes)
        covered = "".join(d.page_content for d in chunks)
        assert "".join(covered.split()) == "".join(article.text.split())  # nothing lost between chunks
        for d in chunks:
            start = d.metadata["start_index"]
            assert article.text[start:start + len(d.page_content)] == d.page_content


def test_stored_chunks_fit_the_configured_budget(corpus: Path, settings: rag.Settings) -> None:
    _, store = ingest([corpus], settings)
    texts = [embed_text(Document(page_content=t, metadata=m)) for _, m, t in rows(store)]
    assert max(count_tokens(texts)) <= settings.chunk_tokens


# --- guards -----------------------------------------------------------------------------------


def test_store_built_with_another_embedding_model_is_refused(tmp_path: Path, settings: rag.Settings,
                                                              write_article: WriteArticle) -> None:
    ingest([write_article(tmp_path / "a.md", title="A", text="Some text.")], settings)
    client = chromadb.PersistentClient(path=str(settings.store_dir),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_collection(settings.collection)
    collection.modify(metadata={"embedding_model": "BAAI/bge-small-en-v1.5", "embedding_dim": 384})
    with pytest.raises(rag.EmbeddingModelMismatchError) as info:
        open_store(settings)
    assert "BAAI/bge-small-en-v1.5" in str(info.value)
    assert "python -m ingest --reindex" in str(info.value)
    with pytest.raises(rag.EmbeddingModelMismatchError):
        ingest_paths([tmp_path / "a.md"], settings, progress=False)
    summary = ingest_paths([tmp_path / "a.md"], settings, progress=False, reindex=True)  # the advertised fix
    assert summary.added == 1
    assert open_store(settings).count() == 1


def test_empty_store_says_how_to_build_it(settings: rag.Settings) -> None:
    with pytest.raises(rag.IndexNotBuiltError, match="python -m ingest"):
        open_store(settings).require_articles()


# --- the command line -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    folder = tmp_path_factory.mktemp("cli")
    (folder / "good.md").write_text("---\ntitle: Ferry strike ends\nsource: port.example\npublished: 2024-06-01\n"
                                    "---\nFerry workers ended their strike on Saturday.\n", encoding="utf-8")
    (folder / "empty.txt").write_text("   \n", encoding="utf-8")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("NEWSDESK_")}
    store = tmp_path_factory.mktemp("cli-store")
    result = subprocess.run([sys.executable, "-m", "ingest", "--store", str(store), str(folder)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return result, folder, store


def test_cli_prints_the_summary_line(cli_run: tuple[subprocess.CompletedProcess[str], Path, Path]) -> None:
    result, _, store = cli_run
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(SUMMARY_RE + "\n", result.stdout)
    assert result.stdout.startswith("1 added, 0 updated, 0 unchanged, 0 removed, 2 skipped; 1 chunks embedded in ")
    assert open_store(make_settings(store.parent).model_copy(update={"store_dir": store})).count() == 1


def test_cli_warns_about_skipped_files_on_stderr(cli_run: tuple[subprocess.CompletedProcess[str], Path, Path]) -> None:
    result, folder, _ = cli_run
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [  # the reason names the file, once
        f"warning: skipped {folder / 'empty.txt'}: empty file",
        f"warning: skipped {folder / 'notes.docx'}: unsupported file type '.docx'",
    ]
    assert "warning" not in result.stdout


def test_cli_fails_when_nothing_given_could_be_read(settings: rag.Settings, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped path is not a quiet success: exit 1 when every input was skipped (2 for --prune, which refuses)."""
    from ingest.__main__ import main

    store = ["--store", str(settings.store_dir), "--quiet"]
    assert main([*store, str(tmp_path / "typo")]) == 1
    assert f"warning: skipped {tmp_path / 'typo'}: no such file or directory" in capsys.readouterr().err
    assert main([*store, "--prune", str(tmp_path / "typo")]) == 2
    assert "error: not pruning:" in capsys.readouterr().err
    (tmp_path / "a.txt").write_text("Title\nBody.\n")
    assert main([*store, str(tmp_path / "a.txt"), str(tmp_path / "typo")]) == 0  # one file read: the run counts
