"""Newsdesk against a real Chroma server (`chroma run`): ingest and answer, an outage, and recovery."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.language_models import FakeListChatModel

import rag
from ingest.index import ingest_paths
from rag.corpus import corpus_stats
from rag.store import open_store

REPO = Path(__file__).resolve().parents[1]
CHROMA = Path(sys.executable).with_name("chroma")
ANSWER = "Peskov described the United States as an unfriendly country [1]."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChromaServer:
    """A `chroma run` subprocess on a loopback port, which a test can stop and start again."""

    def __init__(self, path: Path) -> None:
        self.path, self.port = path, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError("chroma run did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    srv.start()
    yield srv
    srv.stop()


def test_ingest_and_answer_through_a_chroma_server(server: ChromaServer, tmp_path: Path) -> None:
    settings = rag.Settings(chroma_url=server.url, data_dir=tmp_path / "data", store_dir=tmp_path / "unused")
    first = ingest_paths([REPO / "corpus"], settings, progress=False)
    again = ingest_paths([REPO / "corpus"], settings, progress=False)
    assert (first.added, again.added, again.unchanged, again.chunks) == (1, 0, 1, 0)
    assert not (tmp_path / "unused").exists()  # nothing went to an embedded store
    llm = FakeListChatModel(responses=[ANSWER])
    out = rag.build_chain(settings, llm=llm).invoke({"question": "How did Peskov describe the United States?"})
    assert out["answer"] == ANSWER
    assert "unfriendly country" in out["sources"][0].page_content


def test_a_change_through_the_server_reaches_a_running_retriever(server: ChromaServer, tmp_path: Path) -> None:
    """The generation stamp lives in the server's collection: a retriever elsewhere reloads its lexical index when
    an article is replaced by one of the same size, and the corpus statistics come from the server too."""
    settings = rag.Settings(chroma_url=server.url, data_dir=tmp_path / "data", collection="stamped")
    record = tmp_path / "owls.json"
    record.write_text(json.dumps({"id": "owls", "title": "Owls return", "source": "park.example", "text": "Barn owls "
                                  "nest again."}))
    ingest_paths([record], settings, progress=False)
    reader = rag.build_retriever(settings.model_copy(update={"data_dir": tmp_path / "elsewhere"}))
    assert [cid for cid, _ in reader.lexical().search("owls", 5)] == ["owls:0"]
    record.write_text(json.dumps({"id": "owls", "title": "Kestrels return", "source": "moor.example", "text":
                                  "Kestrels nest again."}))
    assert ingest_paths([record], settings, progress=False).updated == 1
    assert [cid for cid, _ in reader.lexical().search("kestrels", 5)] == ["owls:0"]
    stats = corpus_stats(reader.store)
    assert (stats.articles, stats.chunks, stats.outlets) == (1, 1, {"moor.example": 1})


def test_outage_is_a_clear_error_and_recovers(server: ChromaServer, tmp_path: Path) -> None:
    settings = rag.Settings(chroma_url=server.url, data_dir=tmp_path / "data")
    ingest_paths([REPO / "corpus"], settings, progress=False)
    retriever = rag.build_retriever(settings)
    before = retriever.invoke("Who is Dmitry Peskov?")
    assert "Dmitry Peskov" in before[0].page_content
    server.stop()
    try:
        with pytest.raises(rag.StoreUnavailableError, match="cannot reach the Chroma server"):
            retriever.invoke("Who is Dmitry Peskov?")
    finally:
        server.start()
    assert [d.id for d in retriever.invoke("Who is Dmitry Peskov?")] == [d.id for d in before]  # as before the outage


def test_unreachable_server_at_open_says_the_fix(tmp_path: Path) -> None:
    settings = rag.Settings(chroma_url=f"http://127.0.0.1:{_free_port()}", data_dir=tmp_path / "data")
    with pytest.raises(rag.StoreUnavailableError, match="NEWSDESK_CHROMA_URL"):
        open_store(settings)
