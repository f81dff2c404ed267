"""A real local HTTP news site for tests: feeds and article pages with ETag / Last-Modified and 304, plus the
ways the web goes wrong (404, 410, 500, slow, redirect loop, PDF, empty page, broken feed). Counts responses."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    validators: bool = True  # ETag and Last-Modified, and 304 for a matching conditional request


class LocalServer:
    """A ThreadingHTTPServer on a free loopback port (`base` is http://127.0.0.1:N), serving while in `with`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # a client that hung up (timeout, size cap)
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    """Answer `handler`'s request with `status` and `payload` as JSON."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class NewsServer(LocalServer):
    """`routes[path] = Route(...)`; `hits` counts (path, status) of every response; `base` is http://127.0.0.1:N."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[tuple[str, int]] = Counter()
        self.agents: set[str] = set()
        self.active: Counter[str] = Counter()
        self.peak = 0  # most requests in flight at once
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    def url(self, path: str) -> str:
        return self.base + path

    def downloads(self, prefix: str = "/") -> int:
        """200 responses for paths under `prefix`."""
        return sum(n for (path, status), n in self.hits.items() if status == 200 and path.startswith(prefix))

    def record(self, path: str, status: int) -> None:
        with self._lock:
            self.hits[path, status] += 1


def _handler(server: NewsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            server.agents.add(self.headers.get("User-Agent", ""))
            with server._lock:
                server.active["all"] += 1
                server.peak = max(server.peak, server.active["all"])
            try:
                self._answer(server.routes.get(self.path))
            finally:
                with server._lock:
                    server.active["all"] -= 1

        def _answer(self, route: Route | None) -> None:
            if route is None:
                return self._send(404, b"not here", "text/plain", {})
            time.sleep(route.delay)
            etag = '"' + hashlib.sha1(route.body).hexdigest()[:12] + '"'
            headers = dict(route.headers)
            if route.validators and route.status == 200:
                headers.update({"ETag": etag, "Last-Modified": formatdate(1_700_000_000, usegmt=True)})
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", "", headers)
            self._send(route.status, route.body, route.content_type, headers)

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
            server.record(self.path, status)
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler


def article_html(title: str, paragraphs: list[str], *, outlet: str = "", published: str = "",
                 canonical: str = "") -> bytes:
    """An article page as news sites write them: head metadata, navigation, the article, a footer."""
    meta = [f'<meta property="og:site_name" content="{escape(outlet)}">' if outlet else "",
            f'<meta property="article:published_time" content="{published}">' if published else "",
            f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""]
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>{''.join(meta)}</head>"
            f"<body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article><h1>{escape(title)}</h1>"
            f"{body}</article><footer>Copyright the publisher.</footer></body></html>").encode()


def rss(title: str, items: list[dict[str, str]]) -> bytes:
    """An RSS 2.0 feed; each item has title, link and optionally pubDate, description."""
    xml = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{escape(i['link'])}</link>"
        + (f"<pubDate>{i['pubDate']}</pubDate>" if i.get("pubDate") else "")
        + f"<description>{escape(i.get('description', ''))}</description></item>"
        for i in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>http://example.invalid/</link>{xml}</channel></rss>").encode()


RSS_TYPE = "application/rss+xml"
