"""The scale-out set-up of the README, for real: a `chroma run` server, an embedding server and an LLM server (one
OpenAI-compatible test server plays both), two chat processes sharing the Chroma server and the lexical index
file, and nginx with `docs/nginx.conf` giving them one address. Both answer the same, both answer from an article
that a third process ingests, and the one address keeps answering when the process behind it stops."""

from __future__ import annotations

import os
import re
import shutil
import socket
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


def start_proxy(chat_urls: list[str], root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """nginx with docs/nginx.conf, its ports (7860 in front, 7861 and 7862 behind) changed to free ones."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx missing; run: make nginx (apt-get install -y nginx-light)"
    port, behind = free_port(), [url.rsplit(":", 1)[1] for url in chat_urls]
    conf = (REPO / "docs" / "nginx.conf").read_text().replace("127.0.0.1:7860", f"127.0.0.1:{port}")
    conf = conf.replace("127.0.0.1:7861", f"127.0.0.1:{behind[0]}").replace("127.0.0.1:7862", f"127.0.0.1:{behind[1]}")
    root.mkdir()
    (root / "nginx.conf").write_text(conf)
    with (root / "stderr.log").open("wb") as out:
        proc = subprocess.Popen([nginx, "-p", str(root), "-e", "stderr", "-c", str(root / "nginx.conf")],
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not listening(port):
        assert proc.poll() is None and time.monotonic() < deadline, (root / "stderr.log").read_text()
        time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}"


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def last_upstream(root: Path) -> str:
    """The chat process (host:port) nginx passed the last answer to."""
    streamed = [line for line in (root / "access.log").read_text().splitlines() if "/queue/data" in line]
    found = re.search(r"upstream=(\S+)", streamed[-1])
    assert found, streamed[-1]
    return found.group(1).split(",")[-1].strip()


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
        proxy, address = start_proxy([url for _, url in chats], tmp_path / "nginx")
        chats.append((proxy, address))
        assert answer_of(ask(address, question)) == app.esc(BRIDGE)  # one address, either process behind it
        used = last_upstream(tmp_path / "nginx")
        stopped = next(proc for proc, url in chats[:2] if url.endswith(used))
        stopped.terminate()
        stopped.wait(timeout=60)
        through = ask(address, "Where do kestrels nest again?")
        assert answer_of(through) == app.esc(KESTRELS) and "Kestrels back at the mill" in sources_of(through)
        assert last_upstream(tmp_path / "nginx") not in ("", used)  # the other process answered, same address
    finally:
        for proc, _ in chats:
            proc.terminate()
            proc.wait(timeout=60)
    (index,) = (tmp_path / "data" / "lexical").iterdir()  # one lexical index, used by all four processes
    assert sorted(p.name for p in index.iterdir())[0] == "bm25.sqlite3"
