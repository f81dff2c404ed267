"""Shared fixtures: Settings in tmp_path, a store with corpus/ ingested once per session, article files."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub: the model is packaged

import re  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult  # noqa: E402

import rag  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
WriteArticle = Callable[..., Path]
# Smaller than the default so the seed article spans several chunks: the citation tests need the "lowest point"
# and "impossible to worsen" sentences in different passages, and the crash test needs several batches.
TEST_CHUNK_TOKENS = 200


def make_settings(root: Path) -> rag.Settings:
    """Settings whose store and data live under `root`; no test touches the real data/ directory. Sentences are
    scored by the store's embedder: the packaged mpnet reader would be unzipped (420 MB) into every test's data/;
    tests/test_reader.py and the end-to-end tests read with it."""
    return rag.Settings(store_dir=root / "chroma", data_dir=root / "data", llm="smollm2",
                        chunk_tokens=TEST_CHUNK_TOKENS, reader="embedder")


@pytest.fixture
def settings(tmp_path: Path) -> rag.Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store directory holding /work/main/corpus, ingested once per session; tests must not write to it."""
    from ingest.index import ingest_paths

    root = tmp_path_factory.mktemp("seed")
    summary = ingest_paths([CORPUS], make_settings(root), progress=False)
    assert summary.added >= 1 and summary.skipped == []
    return root / "chroma"


@pytest.fixture
def seed_settings(seed_store: Path, tmp_path: Path) -> rag.Settings:
    """Settings reading the session's seed store (data_dir still private to the test)."""
    return rag.Settings(store_dir=seed_store, data_dir=tmp_path / "data", llm="smollm2",
                        chunk_tokens=TEST_CHUNK_TOKENS, reader="embedder")


def _front_matter(fields: dict[str, str]) -> str:
    lines = [f"{key}: {value}" for key, value in fields.items() if value]
    return "---\n" + "\n".join(lines) + "\n---\n" if lines else ""


@pytest.fixture
def write_article() -> WriteArticle:
    """`write_article(path, title=..., text=..., source=..., published=..., url=..., id=...)` -> path.

    Writes a .md/.txt file with front matter, creating parent directories."""

    def write(path: Path, *, title: str, text: str, source: str = "", published: str = "", url: str = "",
              id: str = "") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"title": title, "source": source, "published": published, "url": url, "id": id}
        path.write_text(_front_matter(meta) + text.strip() + "\n", encoding="utf-8")
        return path

    return write


class SlowChatModel(BaseChatModel):
    """A fake LLM that takes time, like the real one: it waits `first` seconds, then writes `reply(question)` word
    by word, `pause` seconds a word. Each call is logged as (question, start, end), monotonic seconds, so a test can
    see whether calls overlapped."""

    reply: Callable[[str], str]
    first: float = 0.0
    pause: float = 0.0
    calls: list[tuple[str, float, float]] = []

    @property
    def _llm_type(self) -> str:
        return "slow-fake"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        text = "".join(str(c.message.content) for c in self._stream(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        question = str(messages[-1].content).rsplit("Question: ", 1)[-1].strip()
        started = time.monotonic()
        time.sleep(self.first)
        for word in re.findall(r"\S+\s*", self.reply(question)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
            time.sleep(self.pause)
        with _CALLS:
            self.calls.append((question, started, time.monotonic()))


_CALLS = threading.Lock()
