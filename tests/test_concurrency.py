"""The lock belongs to the local model: an LLM server answers concurrent chats at once, through the chain and
through the served chat, while the in-process llama.cpp contexts take one call at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from modelserver import ModelServer
from test_app import answer_of, ask, served, write_bridge_corpus

import app
import rag
from ingest.index import ingest_paths
from rag.models import get_llm

WAIT = 2.0  # seconds the slow server takes over every answer
ANSWER = "The Harbour Bridge reopened to traffic on Monday after six weeks of repairs [1]."
QUESTION = "When did the Harbour Bridge reopen?"


@pytest.fixture
def slow_server() -> Iterator[ModelServer]:
    """Embeddings at once; every answer after WAIT seconds, like a busy LLM server."""
    with ModelServer(first=WAIT, reply=lambda q: ANSWER) as srv:
        yield srv


def server_settings(root: Path, server: ModelServer) -> rag.Settings:
    settings = rag.Settings(store_dir=root / "chroma", data_dir=root / "data", llm="openai:chat",
                            embedder="openai:embed", openai_base_url=server.openai_url)
    ingest_paths([write_bridge_corpus(root / "corpus")], settings, progress=False)
    return settings


def timed(chain: Any, n: int) -> float:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        answers = list(pool.map(lambda i: chain.invoke({"question": f"{QUESTION} ({i})"})["answer"], range(n)))
    assert answers == [ANSWER] * n
    return time.monotonic() - started


def test_four_concurrent_questions_take_about_the_time_of_one(tmp_path: Path, slow_server: ModelServer) -> None:
    chain = rag.build_chain(server_settings(tmp_path, slow_server))
    timed(chain, 1)  # the first question loads the sentence models: a bound taken from it would be loose
    one = timed(chain, 1)
    four = timed(chain, 4)
    assert slow_server.chat_peak == 4  # all four were at the server at once
    # The four waits overlap: one after another they would take one + 3 * WAIT. The chain's own work (retrieval,
    # the reader) shares the 2 cores between the four and may take up to four times one's; WAIT stays above that.
    assert four < one + 2 * WAIT, (one, four)


def test_the_chat_takes_more_concurrent_chats_than_a_local_model_would(tmp_path: Path,
                                                                       slow_server: ModelServer) -> None:
    """Eight chats at once through the served app: with an LLM server none waits for another."""
    settings = server_settings(tmp_path, slow_server)
    assert app.chat_concurrency(settings) == app.SERVER_CONCURRENCY
    assert app.chat_concurrency(settings.model_copy(update={"llm": "smollm2"})) == app.LOCAL_CONCURRENCY
    assert app.chat_concurrency(settings.model_copy(update={"chat_concurrency": 2})) == 2
    with served(app.build_app(settings), settings) as url, ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda i: ask(url, f"{QUESTION} ({i})"), range(8)))
    assert [answer_of(r) for r in replies] == [app.esc(ANSWER)] * 8
    assert slow_server.chat_peak == 8


@pytest.mark.slow
def test_the_local_model_answers_one_call_at_a_time(tmp_path: Path) -> None:
    """The answer and rewrite contexts are two llama.cpp models on the same 2 cores: two threads streaming from
    them at once take turns (the lock is the model's, whichever chain holds it)."""
    settings = rag.Settings(data_dir=tmp_path / "data", llm="smollm2", max_answer_tokens=48)
    models = [get_llm(settings), get_llm(settings, role="rewrite")]
    spans: list[tuple[float, float]] = []

    def stream(model: BaseChatModel) -> None:
        times = [time.monotonic() for _ in model.stream([("human", "Write a long story about a harbour bridge.")])]
        spans.append((times[0], times[-1]))

    threads = [threading.Thread(target=stream, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a_start, a_end), (b_start, b_end) = sorted(spans)
    assert a_end - a_start > 0.1 and b_start >= a_end, spans
