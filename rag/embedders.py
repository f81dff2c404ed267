"""Embedding servers over HTTP: OpenAI-compatible /v1/embeddings and Ollama /api/embed, batched and retried."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from langchain_core.embeddings import Embeddings

from rag.errors import EmbedderUnavailableError

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}  # worth asking again: busy, overloaded or restarting


@dataclass(frozen=True)
class Protocol:
    """How one kind of server is asked for vectors: the path, the request body, and where the vectors are."""

    path: str
    body: Callable[[str, list[str]], dict[str, Any]]
    vectors: Callable[[dict[str, Any]], list[list[float]]]


def _openai_vectors(reply: dict[str, Any]) -> list[list[float]]:
    rows = sorted(reply["data"], key=lambda r: r.get("index", 0))
    return [list(map(float, r["embedding"])) for r in rows]


PROTOCOLS = {
    "openai": Protocol("/embeddings", lambda model, texts: {"model": model, "input": texts}, _openai_vectors),
    "ollama": Protocol("/api/embed", lambda model, texts: {"model": model, "input": texts},
                       lambda reply: [list(map(float, v)) for v in reply["embeddings"]]),
}


class RemoteEmbeddings(Embeddings):
    """Vectors from an embedding server, `batch` texts a request, unit length (the store and the sentence scoring
    compare them by dot product). A connection failure, a timeout or a busy status (429, 5xx) is retried
    `retries` times, waiting `backoff`, 2 x `backoff`, ... seconds; then, or on any other error status, it raises
    EmbedderUnavailableError with `server` (what and where) and the fix."""

    def __init__(self, *, protocol: str, url: str, model: str, server: str, when_down: str, when_refused: str,
                 api_key: str | None = None, batch: int = 64, retries: int = 4, backoff: float = 0.5,
                 timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.protocol, self.model, self.batch = PROTOCOLS[protocol], model, batch
        self.server, self.when_down, self.when_refused = server, when_down, when_refused
        self.retries, self.backoff = retries, backoff
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)  # thread-safe

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch):
            out += self._embed(texts[i : i + self.batch])
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _embed(self, texts: list[str]) -> list[list[float]]:
        reply = self._post(self.protocol.body(self.model, texts))
        try:
            vectors = self.protocol.vectors(reply)
        except (KeyError, TypeError, ValueError) as e:
            raise EmbedderUnavailableError(f"the {self.server} answered without embeddings ({e!r}); "
                                           f"{self.when_refused}") from e
        if len(vectors) != len(texts):
            raise EmbedderUnavailableError(f"the {self.server} returned {len(vectors)} embeddings for {len(texts)} "
                                           f"texts; {self.when_refused}")
        return [_unit(v) for v in vectors]

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.client.post(self.protocol.path, json=body)
            except httpx.TransportError as e:
                if last:
                    raise EmbedderUnavailableError(f"cannot reach the {self.server} ({_why(e)}); "
                                                   f"{self.when_down}") from e
            else:
                if response.status_code < 400:
                    return dict(response.json())
                if last or response.status_code not in RETRY_STATUS:
                    raise EmbedderUnavailableError(
                        f"the {self.server} refused the request (HTTP {response.status_code}: "
                        f"{_why(response.text)}); {self.when_refused}")
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _why(what: object) -> str:
    return " ".join(str(what).split())[:200] or type(what).__name__
