"""The web app's own parts: safe uploads, corpus statistics, escaping, access control, and the served app under
load, with bad input and filters, through gradio_client. Real store and embedder; only the LLM is fake."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REPO, make_settings
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel

import app
import rag
from ingest.index import ingest_paths
from ingest.upload import Upload, save_uploads
from rag import prompts
from rag.corpus import corpus_stats
from rag.store import open_store

QUESTION = "When did the Harbour Bridge reopen?"
ANSWER = "The Harbour Bridge reopened to traffic on Monday after six weeks of repairs [1]."
ALPHA = "Harbour bridge reopens after repairs"
BETA = "Bridge back in service"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(settings: rag.Settings, *answers: str) -> Iterator[str]:
    """The real app over `settings`' store, in this process, with a fake LLM giving `answers` in turn."""
    retriever = rag.build_retriever(settings)
    chain = rag.build_chain(settings, llm=FakeListChatModel(responses=list(answers)), retriever=retriever)
    demo = app.build_app(settings, chain, retriever=retriever)
    port = free_port()
    app.launch(demo, settings.model_copy(update={"port": port}))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


def write_bridge_corpus(folder: Path) -> Path:
    """Two outlets reporting the same event on different days."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alpha.md").write_text(
        f"---\ntitle: {ALPHA}\nsource: alpha.example\npublished: 2025-03-01\nurl: https://alpha.example/bridge\n"
        "---\nThe Harbour Bridge reopened to traffic on Monday after six weeks of repairs. City engineers replaced "
        "corroded cables on the northern span.\n", encoding="utf-8")
    (folder / "beta.md").write_text(
        f"---\ntitle: {BETA}\nsource: beta.example\npublished: 2025-03-05\nurl: https://beta.example/bridge\n"
        "---\nCommuters cheered as the Harbour Bridge reopened to traffic on Monday after six weeks of repairs, the "
        "transport ministry said. Tolls stay unchanged.\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def bridge_settings(tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    root = tmp_path_factory.mktemp("bridge")
    settings = make_settings(root)
    ingest_paths([write_bridge_corpus(root / "corpus")], settings, progress=False)
    return settings


@pytest.fixture(scope="module")
def bridge_url(bridge_settings: rag.Settings) -> Iterator[str]:
    with serving(bridge_settings, ANSWER) as url:
        yield url


def ask(url: str, question: str, outlets: list[str] | None = None, after: str = "", before: str = "") -> str:
    from gradio_client import Client

    return str(Client(url, verbose=False).predict(question, outlets or [], after, before, api_name="/respond"))


# --- uploads ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("client_name", "saved_as"), [
    ("../../etc/x.txt", "x.txt"), ("/etc/cron.d/job.md", "job.md"), ("..\\..\\windows\\win.HTML", "win.html"),
    ("a\x00b.txt", "ab.txt"), ("sub/dir/n.json", "n.json"), (".hidden.jsonl", "hidden.jsonl"),
    ("<script>.rss", "_script_.rss"),
])
def test_uploads_are_saved_under_a_safe_basename_only(settings: rag.Settings, tmp_path: Path, client_name: str,
                                                      saved_as: str) -> None:
    source = tmp_path / "incoming"
    source.write_text("Title\nBody text.\n")
    saved, skips = save_uploads([Upload(client_name, source)], settings)
    uploads = (settings.data_dir / "uploads").resolve()
    assert skips == []
    assert [p.resolve() for p in saved] == [uploads / saved_as]
    assert saved[0].read_text() == "Title\nBody text.\n"
    assert sorted(p.name for p in uploads.iterdir()) == [saved_as]  # no temp file left, nothing elsewhere


def test_refused_uploads_say_why(settings: rag.Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"max_upload_mb": 0.001})  # 1,048 bytes
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_text("Title\nBody.\n")
    big.write_text("x" * 2000)
    files = [Upload("evil.exe", small), Upload("../..", small), Upload("/", small), Upload("big.txt", big),
             Upload("a.txt", small), Upload("dir/a.txt", small), Upload("gone.txt", tmp_path / "missing")]
    saved, skips = save_uploads(files, settings)
    assert [p.name for p in saved] == ["a.txt"]
    reasons = [s.reason for s in skips]
    assert "unsupported file type; upload one of .txt, .md" in reasons[0]
    assert "no usable file name" in reasons[1] and "no usable file name" in reasons[2]
    assert "larger than 0.001 MB (NEWSDESK_MAX_UPLOAD_MB)" in reasons[3]
    assert "also named 'a.txt'; rename one" in reasons[4]
    assert "did not arrive" in reasons[5]
    assert sorted(p.name for p in (settings.data_dir / "uploads").iterdir()) == ["a.txt"]


def test_uploaded_article_is_answerable_at_once(settings: rag.Settings, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    article = write_bridge_corpus(tmp_path / "in") / "alpha.md"
    bad, empty = tmp_path / "in" / "notes.exe", tmp_path / "in" / "empty.txt"
    bad.write_text("nope")
    empty.write_text("")
    with serving(settings, ANSWER) as url:
        assert ask(url, QUESTION) == app.esc(prompts.NO_ARTICLES)
        status, panel, _ = Client(url, verbose=False).predict([handle_file(str(p)) for p in (article, bad, empty)],
                                                               api_name="/upload")
        reply = ask(url, QUESTION)
    assert status.startswith("Added 1, updated 0, unchanged 0, skipped 2.")
    assert "notes.exe&#39;: unsupported file type" in status and "- skipped empty.txt: empty file" in status
    assert str(settings.data_dir) not in status and "uploads" not in status
    assert "<strong>1</strong> article," in panel and "alpha.example (1)" in panel
    assert "Sources" in reply and ALPHA in reply


# --- corpus panel and rendering -----------------------------------------------------------------------------------


def test_corpus_stats_counts_articles_outlets_and_dates(bridge_settings: rag.Settings) -> None:
    stats = corpus_stats(open_store(bridge_settings))
    assert (stats.articles, stats.chunks) == (2, 2)
    assert stats.outlets == {"alpha.example": 1, "beta.example": 1}
    assert (stats.earliest, stats.latest) == ("2025-03-01", "2025-03-05")
    assert [(a.title, a.source, a.published) for a in stats.recent] == [
        (BETA, "beta.example", "2025-03-05"), (ALPHA, "alpha.example", "2025-03-01")]


def test_corpus_stats_of_an_empty_store(settings: rag.Settings) -> None:
    stats = corpus_stats(open_store(settings))
    assert (stats.articles, stats.chunks, stats.outlets, stats.recent) == (0, 0, {}, [])
    assert "python -m ingest corpus/" in app.format_corpus(stats)


def test_corpus_panel_lists_undated_articles_too() -> None:
    from rag.corpus import ArticleInfo, _summarise

    stats = _summarise([ArticleInfo("Undated", "", ""), ArticleInfo("Dated", "x.example", "2025-01-02")], 3)
    assert [a.title for a in stats.recent] == ["Dated", "Undated"]
    panel = app.format_corpus(stats)
    assert "<strong>2</strong> articles, 3 passages; published 2025-01-02 to 2025-01-02" in panel
    assert "<li>Undated — unknown, undated</li>" in panel
    alone = app.format_corpus(_summarise([ArticleInfo("Seed", "", "")], 1))
    assert "<strong>1</strong> article, 1 passage; no publication dates" in alone


EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">[x](javascript:alert(1))'


def test_sources_are_escaped_and_only_http_links_are_clickable() -> None:
    evil = Document(page_content=f"Quiet text. {EVIL}", metadata={
        "title": EVIL, "source": EVIL, "published": "2025-01-01", "url": "javascript:window.__pwned=1", "n": 1,
        "support_spans": [[0, 11]]})
    good = Document(page_content="x", metadata={"title": "T", "url": "https://example.org/a?b=1&c=2", "n": 2})
    out = app.format_reply(f"Answer {EVIL} [1].", [evil, good], "standalone <b>", "typed")
    assert "<script" not in out and "<img" not in out and "](" not in out  # no tag, no Markdown link
    assert out.count("<a ") == out.count("href=") == 1 and 'href="https://example.org/a?b=1&amp;c=2"' in out
    assert "&#60;script&#62;window.&#95;&#95;pwned=1" in out  # shown as text
    assert "<mark>Quiet text.</mark>" in out and "Searched for: standalone &#60;b&#62;" in out


def test_history_for_the_rewriter_drops_the_sources_block() -> None:
    reply = app.format_reply("Peskov said talks are possible [1].", [Document(page_content="p", metadata={"n": 1})],
                             None, "q")
    history = [{"role": "user", "content": "Who is Peskov?"},
               {"role": "assistant", "content": [{"type": "text", "text": reply}]}]
    assert app._plain(history) == [{"role": "user", "content": "Who is Peskov?"},
                                   {"role": "assistant", "content": "Peskov said talks are possible [1]."}]


def test_corpus_panel_is_escaped() -> None:
    from rag.corpus import ArticleInfo, CorpusStats

    stats = CorpusStats(1, 1, {EVIL: 1}, "2025-01-01", "2025-01-01", [ArticleInfo(EVIL, EVIL, "2025-01-01")])
    out = app.format_corpus(stats)
    assert "<script" not in out and "<img" not in out and "](" not in out


# --- access -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "auth", "expected"), [
    ("127.0.0.1", None, None), ("localhost", None, None), ("0.0.0.0", "ann:s3cret", ("ann", "s3cret")),
    ("127.0.0.1", "ann:pass:with:colons", ("ann", "pass:with:colons")),
])
def test_auth_is_parsed(host: str, auth: str | None, expected: tuple[str, str] | None) -> None:
    assert app.check_access(rag.Settings(host=host, auth=auth)) == expected


@pytest.mark.parametrize("auth", ["ann", "ann:", ":pw"])
def test_malformed_auth_is_refused(auth: str) -> None:
    with pytest.raises(SystemExit, match="NEWSDESK_AUTH must look like user:password"):
        app.check_access(rag.Settings(auth=auth))


def test_app_refuses_a_public_host_without_a_login(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NEWSDESK_AUTH"}
    env.update(NEWSDESK_HOST="0.0.0.0", NEWSDESK_STORE_DIR=str(tmp_path / "none"), HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False")
    done = subprocess.run([sys.executable, str(REPO / "app.py")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "refusing to serve on 0.0.0.0 without a login: set NEWSDESK_AUTH=user:password" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "none").exists()  # stopped before opening anything


@pytest.mark.slow
def test_a_port_in_use_is_a_clear_error(bridge_settings: rag.Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "NEWSDESK_STORE_DIR": str(bridge_settings.store_dir), "NEWSDESK_PORT": str(port),
               "NEWSDESK_LLM": "smollm2", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
        done = subprocess.run([sys.executable, str(REPO / "app.py")], env=env, capture_output=True, text=True,
                              timeout=300)
    assert done.returncode == 1
    assert f"error: cannot serve on 127.0.0.1:{port}" in done.stderr and "set NEWSDESK_PORT" in done.stderr
    assert "Traceback" not in done.stderr and "ready" not in done.stdout


# --- the served app -----------------------------------------------------------------------------------------------


def test_twenty_concurrent_chats_all_complete(bridge_url: str) -> None:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda i: ask(bridge_url, f"{QUESTION} ({i})"), range(20)))
    assert len(replies) == 20
    assert all(r.startswith("The Harbour Bridge reopened") and "Sources" in r for r in replies), replies
    assert time.perf_counter() - started < 120


@pytest.mark.parametrize(("question", "message"), [
    ("", "Please type a question about the news"), ("   \x00\x07\x1b  ", "Please type a question about the news"),
    ("x" * 20_000, "That question is 20,000 characters long; please keep it under 2,000."),
])
def test_bad_questions_get_clear_messages(bridge_url: str, question: str, message: str) -> None:
    reply = ask(bridge_url, question)
    assert message in reply and "Traceback" not in reply


def test_control_characters_inside_a_question_are_ignored(bridge_url: str) -> None:
    reply = ask(bridge_url, "When did the\x00 Harbour\x1b Bridge reopen?")
    assert "Sources" in reply


@pytest.mark.parametrize(("outlets", "after", "before", "shown", "hidden"), [
    (["alpha.example"], "", "", ALPHA, BETA), (["beta.example"], "", "", BETA, ALPHA),
    ([], "2025-03-03", "", BETA, ALPHA), ([], "", "2025-03-02", ALPHA, BETA),
])
def test_filters_choose_the_sources(bridge_url: str, outlets: list[str], after: str, before: str, shown: str,
                                    hidden: str) -> None:
    reply = ask(bridge_url, QUESTION, outlets, after, before)
    assert shown in reply and hidden not in reply


def test_a_bad_date_is_a_clear_message(bridge_url: str) -> None:
    reply = ask(bridge_url, QUESTION, [], "2025-13-45")
    assert reply == "⚠️ Date filter: Expected a date like 2025-01-31. Got &#39;2025-13-45&#39;"


def test_chroma_outage_is_a_clear_message_and_recovers(tmp_path: Path) -> None:
    from test_server import ChromaServer

    server = ChromaServer(tmp_path / "chroma-server")
    server.start()
    try:
        settings = make_settings(tmp_path).model_copy(update={"chroma_url": server.url})
        ingest_paths([write_bridge_corpus(tmp_path / "in")], settings, progress=False)
        with serving(settings, ANSWER) as url:
            assert "Sources" in ask(url, QUESTION)
            server.stop()
            down = ask(url, QUESTION)
            server.start()
            assert "Sources" in ask(url, QUESTION)
    finally:
        server.stop()
    assert down.startswith("⚠️ cannot reach the Chroma server at http://127.0.0.1:") and "Traceback" not in down
