"""The web app's own parts: corpus panel, escaping, the messages of a reply, access control, and the served app
under load, with bad input and filters, through gradio_client. Real store and embedder; only the LLM is fake."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SlowChatModel, make_settings
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from test_chain import Prompts

import app
import rag
from ingest.index import ingest_paths
from rag.corpus import ArticleInfo, Tally, corpus_stats
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
def serving(settings: rag.Settings, *answers: str, llm: BaseChatModel | None = None) -> Iterator[str]:
    """The real app over `settings`' store, in this process, with a fake LLM: `llm`, or one giving `answers` in
    turn."""
    retriever = rag.build_retriever(settings)
    chain = rag.build_chain(settings, llm=llm or FakeListChatModel(responses=list(answers)), retriever=retriever)
    with served(app.build_app(settings, chain, retriever=retriever), settings) as url:
        yield url


@contextmanager
def served(demo: Any, settings: rag.Settings) -> Iterator[str]:
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


Reply = list[dict[str, Any]]  # the chat's messages for one question: {"content", "metadata", ...}


def ask(url: str, question: str, outlets: list[str] | None = None, after: str = "", before: str = "") -> Reply:
    from gradio_client import Client

    return list(Client(url, verbose=False).predict(question, outlets or [], after, before, api_name="/respond"))


def answer_of(reply: Reply) -> str:
    """The reply's one conversation message: the answer (or a notice), as shown."""
    (said,) = [m["content"] for m in reply if not m["metadata"] or m["metadata"].get("id") == "notice"]
    return str(said)


def sources_of(reply: Reply) -> str:
    """The reply's sources panel ("" when it has none)."""
    return "".join(m["content"] for m in reply if (m["metadata"] or {}).get("id") == "sources")


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
    tally = Tally()
    tally.add("u", ArticleInfo("Undated", "", ""), 2)
    tally.add("d", ArticleInfo("Dated", "x.example", "2025-01-02"), 1)
    stats = tally.stats()
    assert [a.title for a in stats.recent] == ["Dated", "Undated"]
    panel = app.format_corpus(stats)
    assert "<strong>2</strong> articles, 3 passages; published 2025-01-02 to 2025-01-02" in panel
    assert "<li>Undated — unknown, undated</li>" in panel
    alone = Tally()
    alone.add("s", ArticleInfo("Seed", "", ""), 1)
    assert "<strong>1</strong> article, 1 passage; no publication dates" in app.format_corpus(alone.stats())


EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">[x](javascript:alert(1))'


def test_sources_are_escaped_and_only_http_links_are_clickable() -> None:
    evil = Document(page_content=f"Quiet text. {EVIL}", metadata={
        "title": EVIL, "source": EVIL, "published": "2025-01-01", "url": "javascript:window.__pwned=1", "n": 1,
        "support_spans": [[0, 11]]})
    good = Document(page_content="x", metadata={"title": "T", "url": "https://example.org/a?b=1&c=2", "n": 2})
    answer, sources = app.reply({"answer": f"Answer {EVIL} [1].", "sources": [evil, good],
                                 "standalone": "standalone <b>"}, "typed")
    for out in (answer.content, sources.content, app.format_passage_list([evil])):
        assert "<script" not in out and "<img" not in out and "](" not in out  # no tag, no Markdown link
    assert "&#60;script&#62;window.&#95;&#95;pwned=1" in answer.content  # shown as text
    out = sources.content
    assert out.count("<a ") == out.count("href=") == 1 and 'href="https://example.org/a?b=1&amp;c=2"' in out
    assert "<mark>Quiet text.</mark>" in out and "Searched for: standalone &#60;b&#62;" in out


def test_a_reply_is_the_plain_answer_then_its_sources_in_a_panel_of_their_own() -> None:
    source = Document(page_content="Talks are possible, Peskov said.", metadata={"n": 1, "title": "Talks"})
    answer, sources = app.reply({"answer": "Peskov said talks are possible [1].", "sources": [source],
                                 "standalone": "q"}, "q")
    assert (answer.content, answer.metadata) == ("Peskov said talks are possible &#91;1&#93;.", {})
    assert sources.metadata == {"title": "Sources (1)", "id": "sources"} and "<details>" in sources.content
    (refusal,) = app.reply({"answer": "The articles don't say.", "sources": []}, "q")
    assert refusal.content == "The articles don&#39;t say."


def test_the_conversation_holds_questions_and_plain_answers_only() -> None:
    """What the rewriter gets from a chat as Gradio keeps it: no reading list, sources or warnings, and no question
    that got only a warning."""
    history = [{"role": "user", "metadata": None, "content": [{"type": "text", "text": "Who is Peskov?"}]},
               {"role": "assistant", "metadata": {"title": "Reading 2 passages…", "id": "reading"},
                "content": [{"type": "text", "text": "<ul><li>Talks</li></ul>"}]},
               {"role": "assistant", "metadata": {}, "content": [{"type": "text", "text": "He speaks &#91;1&#93;."}]},
               {"role": "assistant", "metadata": {"title": "Sources (1)", "id": "sources"},
                "content": [{"type": "text", "text": "<details>…</details>"}]},
               {"role": "user", "metadata": None, "content": "And then?"},
               {"role": "assistant", "metadata": {"id": "notice"}, "content": "⚠️ cannot reach"},
               {"role": "user", "metadata": None, "content": "Who is Zakharova?"},
               {"role": "assistant", "metadata": {}, "content": "A spokeswoman [2]."},
               {"role": "user", "metadata": None, "content": "When?"},
               {"role": "assistant", "metadata": {"id": "notice"}, "content": "⚠️ Date filter: …"}]
    assert app.conversation(history) == [("human", "Who is Peskov?"), ("ai", "He speaks [1]."),
                                         ("human", "Who is Zakharova?"), ("ai", "A spokeswoman [2].")]


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


def chat_answer(question: str) -> str:
    """What the slow fake LLM answers: the bridge fact, naming the chat that asked (`... (chat 7)`)."""
    chat = question.rsplit("(", 1)[-1].rstrip(")")
    return f"In {chat}, the Harbour Bridge reopened to traffic on Monday after six weeks of repairs [1]."


def test_twenty_concurrent_chats_each_get_their_own_answer_at_most_four_at_a_time(
        bridge_settings: rag.Settings) -> None:
    """20 chats at once against an LLM that takes ~0.3 s a call: every chat gets the answer to its own question,
    and the app answers at most 4 at a time for a local LLM (`smollm2` here; its own lock makes them take turns)."""
    llm = SlowChatModel(reply=chat_answer, first=0.2, pause=0.005)
    questions = [f"{QUESTION} (chat {i})" for i in range(20)]
    with serving(bridge_settings, llm=llm) as url, ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda q: ask(url, q), questions))
    for question, reply in zip(questions, replies, strict=True):
        assert answer_of(reply) == app.esc(chat_answer(question)), reply
        assert "Harbour bridge reopens after repairs" in sources_of(reply)
    calls = sorted(llm.calls, key=lambda c: c[1])
    assert sorted(q for q, _, _ in calls) == sorted(questions)  # one answer call per chat, no rewrite
    overlap = max(sum(start <= c[1] < end for _, start, end in calls) for c in calls)
    assert overlap <= app.LOCAL_CONCURRENCY, calls


def test_the_passages_being_read_show_before_the_answer(bridge_settings: rag.Settings) -> None:
    """While the LLM works, the chat lists the passages it reads (title, outlet, date); the answer replaces that."""
    from gradio_client import Client

    llm = SlowChatModel(reply=chat_answer, first=1.0)
    with serving(bridge_settings, llm=llm) as url:
        shown = list(Client(url, verbose=False).submit(f"{QUESTION} (chat 1)", [], "", "", api_name="/respond"))
    (reading,) = shown[0]
    assert reading["metadata"] == {"title": "Reading 2 passages…", "status": "pending", "id": "reading"}
    assert sorted(re.findall(r"<li>(.*?)</li>", reading["content"])) == [
        f"{BETA} — beta.example, 2025-03-05", f"{ALPHA} — alpha.example, 2025-03-01"]
    assert all(m["metadata"].get("id") != "reading" for m in shown[-1])
    assert answer_of(shown[-1]) == app.esc(chat_answer("(chat 1)"))


def test_the_answer_is_kept_as_the_conversation_for_a_follow_up(bridge_settings: rag.Settings) -> None:
    """A second question in the same chat is rewritten from the plain answer, not from the sources panel."""
    from gradio_client import Client

    record = Prompts()
    llm = FakeListChatModel(responses=[ANSWER, "When did the Harbour Bridge close?", ANSWER], callbacks=[record])
    with serving(bridge_settings, llm=llm) as url:
        client = Client(url, verbose=False)
        client.predict(QUESTION, [], "", "", api_name="/respond")
        client.predict("And when did it close?", [], "", "", api_name="/respond")
    rewrite = str(record.calls[1][-1].content)
    assert f"User: {QUESTION}\nAssistant: {ANSWER.replace(' [1]', '')}\n" in rewrite  # citations stripped
    assert "Sources" not in rewrite and "<" not in rewrite and "Reading" not in rewrite


@pytest.mark.parametrize(("question", "message"), [
    ("", "Please type a question about the news"), ("   \x00\x07\x1b  ", "Please type a question about the news"),
    ("x" * 20_000, "That question is 20,000 characters long; please keep it under 2,000."),
])
def test_bad_questions_get_clear_messages(bridge_url: str, question: str, message: str) -> None:
    (reply,) = ask(bridge_url, question)
    assert reply["metadata"] == {"id": "notice"} and reply["content"].startswith(app.esc(message))


def test_control_characters_inside_a_question_are_ignored(bridge_url: str) -> None:
    reply = ask(bridge_url, "When did the\x00 Harbour\x1b Bridge reopen?")
    assert answer_of(reply) == app.esc(ANSWER) and ALPHA in sources_of(reply)


@pytest.mark.parametrize(("outlets", "after", "before", "shown", "hidden"), [
    (["alpha.example"], "", "", ALPHA, BETA), (["beta.example"], "", "", BETA, ALPHA),
    ([], "2025-03-03", "", BETA, ALPHA), ([], "", "2025-03-02", ALPHA, BETA),
])
def test_filters_choose_the_sources(bridge_url: str, outlets: list[str], after: str, before: str, shown: str,
                                    hidden: str) -> None:
    reply = ask(bridge_url, QUESTION, outlets, after, before)
    assert answer_of(reply) == app.esc(ANSWER)
    assert shown in sources_of(reply) and hidden not in sources_of(reply)


def test_a_bad_date_is_a_clear_message(bridge_url: str) -> None:
    reply = ask(bridge_url, QUESTION, [], "2025-13-45")
    assert answer_of(reply) == "⚠️ Date filter: Expected a date like 2025-01-31. Got &#39;2025-13-45&#39;"


def test_chroma_outage_is_a_clear_message_and_recovers(tmp_path: Path) -> None:
    from test_server import ChromaServer

    server = ChromaServer(tmp_path / "chroma-server")
    server.start()
    try:
        settings = make_settings(tmp_path).model_copy(update={"chroma_url": server.url})
        ingest_paths([write_bridge_corpus(tmp_path / "in")], settings, progress=False)
        with serving(settings, ANSWER) as url:
            before = answer_of(ask(url, QUESTION))
            server.stop()
            down = answer_of(ask(url, QUESTION))
            server.start()
            after = answer_of(ask(url, QUESTION))
    finally:
        server.stop()
    assert before == after == app.esc(ANSWER)
    assert down.startswith("⚠️ cannot reach the Chroma server at http://127.0.0.1:") and "Traceback" not in down
