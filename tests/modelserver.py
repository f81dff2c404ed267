"""A real local model server for tests, speaking the OpenAI protocol (/v1/embeddings, /v1/chat/completions, streamed
or not) and Ollama's /api/embed. Embeddings hash words into `dim` dimensions (texts sharing words are close); a chat
answers `reply(question)` after `first` seconds. It can fail the next requests with given statuses, and it records
every request and how many were in flight at once."""

from __future__ import annotations

import json
import re
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from newsserver import LocalServer, send_json


def hashed_vector(text: str, dim: int) -> list[float]:
    vector = [0.0] * dim
    vector[0] = 0.1  # never all zeros
    for word in re.findall(r"\w+", text.lower()):
        vector[zlib.crc32(word.encode()) % dim] += 1.0
    return vector


class ModelServer(LocalServer):
    """`base` is http://127.0.0.1:N; `openai_url` its /v1. `requests` holds (path, body) of every request."""

    def __init__(self, *, dim: int = 64, models: tuple[str, ...] = ("embed", "chat"), first: float = 0.0,
                 reply: Callable[[str], str] = lambda q: f"An answer to {q} [1].") -> None:
        self.dim, self.models, self.first, self.reply = dim, set(models), first, reply
        self.failures: list[int] = []  # statuses for the next requests, in turn
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.active = self.peak = 0  # requests in flight, and the most at once
        self.chats = self.chat_peak = 0  # the same for chat completions
        self.lock = threading.Lock()
        super().__init__(_handler(self))
        self.openai_url = self.base + "/v1"

    def embedded(self) -> list[str]:
        """Every text the server was asked to embed, in order."""
        return [t for path, body in self.requests if path.endswith(("/embeddings", "/embed")) for t in body["input"]]

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((path, body))
            if self.failures:
                return self.failures.pop(0), {"error": {"message": "injected failure"}}
        if body.get("model") not in self.models:
            return 404, {"error": {"message": f"model {body.get('model')!r} not found"}}
        if path == "/v1/embeddings":
            vectors = [hashed_vector(t, self.dim) for t in body["input"]]
            return 200, {"object": "list", "model": body["model"],
                         "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]}
        if path == "/api/embed":
            return 200, {"model": body["model"], "embeddings": [hashed_vector(t, self.dim) for t in body["input"]]}
        return 404, {"error": {"message": f"no route {path}"}}

    def chat_text(self, body: dict[str, Any]) -> str:
        question = str(body["messages"][-1]["content"]).rsplit("Question: ", 1)[-1].strip()
        time.sleep(self.first)
        return self.reply(question)


def _chunk(model: str, **delta: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": None if delta else "stop"}
    event = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [choice]}
    return f"data: {json.dumps(event)}\n\n".encode()


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with server.lock:
                server.active += 1
                server.peak = max(server.peak, server.active)
            try:
                if self.path == "/v1/chat/completions" and body.get("model") in server.models:
                    with server.lock:
                        server.requests.append((self.path, body))
                        server.chats += 1
                        server.chat_peak = max(server.chat_peak, server.chats)
                    try:
                        self.chat(body)
                    finally:
                        with server.lock:
                            server.chats -= 1
                else:
                    self.send_json(*server.answer(self.path, body))
            finally:
                with server.lock:
                    server.active -= 1

        def chat(self, body: dict[str, Any]) -> None:
            text = server.chat_text(body)
            if not body.get("stream"):
                message = {"role": "assistant", "content": text}
                self.send_json(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                                     "model": body["model"], "choices": [{"index": 0, "message": message,
                                                                          "finish_reason": "stop"}]})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for word in re.findall(r"\S+\s*", text):
                self.wfile.write(_chunk(body["model"], content=word))
            self.wfile.write(_chunk(body["model"]) + b"data: [DONE]\n\n")

        def send_json(self, status: int, payload: Any) -> None:
            send_json(self, status, payload)

    return Handler
