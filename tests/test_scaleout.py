"""The scale-out set-up of the README, for real: a `chroma run` server, an embedding server and an LLM server (one
OpenAI-compatible test server plays both), and two chat processes sharing the Chroma server and the lexical index
file. Both answer the same, and both answer from an article that a third process ingests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from modelserver import ModelServer
from test_app import answer_of, ask, free_port, sources_of, write_bridge_corpus
from test_server import ChromaServer

import app

BRIDGE = "The Harbour Bridge reopened to traffic on Monday after six weeks of repairs [1]."
KESTRELS = "Kestrels nest in the old mill again [1]."


def reply(question: str) -> str:
    return KESTRELS if "kestrel" in question.lower() else BRIDGE


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChromaServer, ModelServer]]:
    chroma = ChromaServer(tmp_path_factory.mktemp("chroma"))
    chroma.start()
    with ModelServer(reply=reply) as models:
        yield chroma, models
    chroma.stop()


def environment(chroma: ChromaServer, models: ModelServer, data: Path) -> dict[str, str]:
    """What every process of the set-up is given: the same servers, and the same data directory."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    return {**keep, "NEWSDESK_CHROMA_URL": chroma.url, "NEWSDESK_EMBEDDER": "openai:embed",
            "NEWSDESK_LLM": "openai:chat", "NEWSDESK_OPENAI_BASE_URL": models.openai_url,
            "NEWSDESK_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def ingest(env: dict[str, str], *paths: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "ingest", "--quiet", *map(str, paths)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def start_chat(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env={**env, "NEWSDESK_PORT": str(port)},
                                stdout=out, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while "Newsdesk is ready" not in log.read_text(errors="replace"):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.5)


def test_two_chat_processes_share_the_servers_and_the_lexical_index(servers: tuple[ChromaServer, ModelServer],
                                                                    tmp_path: Path) -> None:
    chroma, models = servers
    env = environment(chroma, models, tmp_path / "data")
    assert ingest(env, write_bridge_corpus(tmp_path / "corpus")).startswith("2 added")
    chats = [start_chat(env, tmp_path / f"chat{i}.log") for i in (1, 2)]
    try:
        for (proc, _), i in zip(chats, (1, 2), strict=True):
            wait_ready(proc, tmp_path / f"chat{i}.log")
        question = "When did the Harbour Bridge reopen?"
        first = [ask(url, question) for _, url in chats]
        assert [answer_of(r) for r in first] == [app.esc(BRIDGE)] * 2
        assert sources_of(first[0]) == sources_of(first[1]) != ""
        (tmp_path / "kestrels.md").write_text("---\ntitle: Kestrels back at the mill\nsource: gamma.example\n---\n"
                                              "Kestrels nest in the old mill again, the wildlife trust said.\n")
        assert ingest(env, tmp_path / "kestrels.md").startswith("1 added")  # a third process
        later = [ask(url, "Where do kestrels nest again?") for _, url in chats]
        assert [answer_of(r) for r in later] == [app.esc(KESTRELS)] * 2
        assert all("Kestrels back at the mill" in sources_of(r) for r in later)
    finally:
        for proc, _ in chats:
            proc.terminate()
            proc.wait(timeout=60)
    (index,) = (tmp_path / "data" / "lexical").iterdir()  # one lexical index, used by all four processes
    assert sorted(p.name for p in index.iterdir())[0] == "bm25.sqlite3"
