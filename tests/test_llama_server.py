"""The default Qwen GGUF served by `python -m llama_cpp.server` (it ships with llama-cpp-python) over the OpenAI
protocol answers the seed question through NEWSDESK_LLM=openai:<name>."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from test_app import free_port

from ingest.index import ingest_paths
from rag import Settings, build_chain
from rag.local import local_gguf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` with the Qwen GGUF on a free port; its OpenAI base URL."""
    model = local_gguf(Settings(data_dir=REPO / "data"))
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias",
                                 "qwen", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                                 "--n_threads", "2"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_for(url, proc, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"llama_cpp.server exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=5) as reply:
                if json.load(reply)["data"][0]["id"] == "qwen":
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"llama_cpp.server did not answer in {timeout} s: {log.read_text()[-2000:]}")


def test_the_qwen_gguf_served_over_the_openai_protocol_answers_the_seed_question(llama_server: str,
                                                                                tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "chroma", data_dir=tmp_path / "data", llm="openai:qwen",
                        openai_base_url=llama_server)
    ingest_paths([REPO / "corpus"], settings, progress=False)
    out = build_chain(settings).invoke({"question": "What are Russia's terms?"})
    answer = out["answer"].lower()
    assert "withdraw" in answer and "nato" in answer, out["answer"]
    assert "[1]" in out["answer"] and out["sources"]
