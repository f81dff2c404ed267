"""Feeds and article pages over HTTP, politely: conditional requests, robots.txt, 2 requests per host, size caps."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from rag.config import Settings

USER_AGENT = "Newsdesk/0.8 (news question answering; polite feed reader)"
MAX_REDIRECTS = 5
ROBOTS_TTL = 24 * 3600.0  # RFC 9309: a robots.txt may be cached for up to a day
HTML_TYPES = ("text/html", "application/xhtml+xml")
NOT_FEEDS = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip", "application/octet-stream")


class FetchError(Exception):
    """A URL that could not be fetched; the message is the reason, for one line of output."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Fetched:
    """A response: 200 with its body, or 304 (unchanged since the validators sent) with none."""

    url: str  # after redirects
    status: int
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""


@dataclass
class _Host:
    """Per-host politeness: at most `per_host` requests at once, one robots.txt."""

    slots: threading.BoundedSemaphore
    robots_lock: threading.Lock = field(default_factory=threading.Lock)
    robots: RobotFileParser | None = None
    robots_error: str = ""  # why robots.txt could not be read (then nothing on the host is fetched this run)


class Fetcher:
    """An httpx client with Newsdesk's manners; `robots` is a {origin: (fetched_at, text)} cache kept by the caller."""

    def __init__(self, settings: Settings, robots: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.robots_cache: dict[str, Any] = robots if robots is not None else {}
        self.downloads = 0  # 200 responses with a body, robots.txt included
        self._client = httpx.Client(timeout=settings.fetch_timeout, follow_redirects=True,
                                    max_redirects=MAX_REDIRECTS, headers={"User-Agent": USER_AGENT})
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()  # guards _hosts and the counters

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def get(self, url: str, *, page: bool, etag: str = "", last_modified: str = "") -> Fetched:
        """GET `url` (a page when `page`, else a feed), conditionally when validators are given; FetchError if not."""
        host = self._host(url)
        if not self._allowed(host, url):
            raise FetchError(host.robots_error or "disallowed by the site's robots.txt")
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        with host.slots:
            return self._request(url, headers, page=page)

    def _request(self, url: str, headers: dict[str, str], *, page: bool) -> Fetched:
        try:
            with self._client.stream("GET", url, headers=headers) as r:
                if r.status_code == 304:
                    return Fetched(str(r.url), 304, etag=etag_of(r), last_modified=r.headers.get("last-modified", ""))
                _check(r, page=page)
                body = self._read(r)
        except httpx.TooManyRedirects:
            raise FetchError(f"redirect loop (more than {MAX_REDIRECTS} redirects)") from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.settings.fetch_timeout:g} s (NEWSDESK_FETCH_TIMEOUT)") from None
        except httpx.HTTPError as e:
            raise FetchError(f"cannot fetch: {type(e).__name__}: {e}") from None
        return Fetched(str(r.url), 200, body, etag_of(r), r.headers.get("last-modified", ""))

    def _read(self, r: httpx.Response) -> bytes:
        limit = int(self.settings.fetch_max_mb * 1024 * 1024)
        too_big = FetchError(f"larger than {self.settings.fetch_max_mb:g} MB (NEWSDESK_FETCH_MAX_MB)")
        if int(r.headers.get("content-length") or 0) > limit:
            raise too_big
        parts, size = [], 0
        for part in r.iter_bytes():
            parts.append(part)
            size += len(part)
            if size > limit:
                raise too_big
        with self._lock:
            self.downloads += 1
        return b"".join(parts)

    def _host(self, url: str) -> _Host:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError("not an http(s) URL")
        with self._lock:
            return self._hosts.setdefault(f"{parts.scheme}://{parts.netloc}",
                                          _Host(threading.BoundedSemaphore(self.settings.fetch_per_host)))

    def _allowed(self, host: _Host, url: str) -> bool:
        with host.robots_lock:  # one robots.txt request per host, however many pages wait for it
            if host.robots is None:
                host.robots, host.robots_error = self._robots(url)
        return host.robots.can_fetch(USER_AGENT, url)

    def _robots(self, url: str) -> tuple[RobotFileParser, str]:
        """The host's robots.txt: from the cache when younger than a day; none (404) allows all; a server error
        or no answer disallows all, for this run (RFC 9309)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        parser = RobotFileParser(origin + "/robots.txt")
        cached = self.robots_cache.get(origin)
        if cached and time.time() - cached[0] < ROBOTS_TTL:
            parser.parse(cached[1].splitlines())
            return parser, ""
        try:
            text = self._request(origin + "/robots.txt", {}, page=False).body.decode("utf-8", errors="replace")
        except FetchError as e:
            if e.status is None or e.status >= 500:
                parser.parse(["User-agent: *", "Disallow: /"])
                return parser, f"robots.txt unavailable ({e}); the site is not fetched this run"
            text = ""  # no robots.txt: everything is allowed
        self.robots_cache[origin] = (time.time(), text)
        parser.parse(text.splitlines())
        return parser, ""


def etag_of(r: httpx.Response) -> str:
    return r.headers.get("etag", "")


def _check(r: httpx.Response, *, page: bool) -> None:
    """Raise FetchError for an error status or a body that is not what was asked for."""
    code = r.status_code
    if code in (404, 410):
        raise FetchError(f"{'gone' if code == 410 else 'not found'} (HTTP {code})", status=code)
    if code >= 500:
        raise FetchError(f"server error (HTTP {code})", status=code)
    if code != 200:
        raise FetchError(f"unexpected answer (HTTP {code})", status=code)
    kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
    if page and kind and kind not in HTML_TYPES:
        raise FetchError(f"not an HTML page (content type {kind})")
    if not page and kind.startswith(NOT_FEEDS):
        raise FetchError(f"not a feed (content type {kind})")
