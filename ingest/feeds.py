"""Feed lists (one URL a line, or OPML) and feeds (RSS/Atom bytes) -> the entries whose pages make the articles."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.articles import domain_of
from ingest.formats import entry_date, html_to_text
from ingest.urls import canonical_url
from rag.errors import NewsdeskError

_OPML = re.compile(rb"<opml[\s>]", re.IGNORECASE)


class FeedListError(NewsdeskError):
    """The --feeds / NEWSDESK_FEEDS file cannot be read."""


@dataclass(frozen=True)
class Entry:
    """One feed item: the page to fetch and what the feed says about it."""

    link: str  # canonical form of the item's link
    title: str = ""
    published: str = ""  # YYYY-MM-DD or ""
    source: str = ""  # the feed's title (the outlet), or its site's domain
    updated: str = ""  # the feed's own updated/published stamp: a change means the page may have changed

    def fields(self) -> dict[str, Any]:
        return {"link": self.link, "title": self.title, "published": self.published, "source": self.source,
                "updated": self.updated}


def read_feed_list(path: Path) -> list[str]:
    """The feed URLs in `path`: an OPML file's xmlUrl attributes, or one URL a line with # comments."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise FeedListError(f"cannot read the feed list {path}: {e.strerror or e}; pass an existing file") from e
    if _OPML.search(raw[:2048]):
        urls = _opml_urls(raw, path)
    else:
        lines = (line.split("#", 1)[0].strip() for line in raw.decode("utf-8", errors="replace").splitlines())
        urls = [line for line in lines if line]
    bad = [u for u in urls if not canonical_url(u)]
    if bad:
        raise FeedListError(f"{path}: not an http(s) URL: {bad[0]!r}; list one feed URL a line (# for comments)")
    return list(dict.fromkeys(urls))


def _opml_urls(raw: bytes, path: Path) -> list[str]:
    from lxml import etree

    try:
        root = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as e:
        raise FeedListError(f"{path}: malformed OPML ({e}); fix the file or list one URL a line") from e
    return [str(o.get("xmlUrl")).strip() for o in root.iter("outline") if o.get("xmlUrl")]


def parse_feed(body: bytes, url: str) -> list[Entry]:
    """The entries of an RSS/Atom feed, newest information from the feed itself; ValueError when it is not one."""
    import feedparser

    feed = feedparser.parse(body)
    outlet = (feed.feed.get("title") or "").strip() or domain_of(feed.feed.get("link", "") or url)
    entries = [e for e in (_entry(item, outlet, url) for item in feed.entries) if e.link]
    if entries:
        return entries
    if not feed.get("version"):
        raise ValueError("not an RSS or Atom feed")
    if feed.get("bozo"):
        raise ValueError(f"malformed feed ({feed.get('bozo_exception')})")
    raise ValueError("feed has no items with links")


def _entry(entry: Any, outlet: str, feed_url: str) -> Entry:
    stamp = dict.get(entry, "updated") or dict.get(entry, "published") or ""  # no feedparser fallback warning
    link = str(entry.get("link") or "").strip()
    return Entry(link=canonical_url(link, feed_url) if link else "", title=html_to_text(entry.get("title", "")),
                 published=entry_date(entry), source=outlet, updated=str(stamp))
