"""An article page: fetched, and its HTML -> an Article (trafilatura's main text and metadata; the feed entry's
fields fill gaps)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.articles import Article, domain_of, record_to_article, sha16
from ingest.feeds import Entry
from ingest.fetch import Fetcher, FetchError
from ingest.formats import html_record
from ingest.urls import canonical_url

MIN_WORDS = 25  # less main text than this is navigation or a stub, not an article


@dataclass(frozen=True)
class PageResult:
    """A page fetch: the article, or why there is none, and its validators; all empty when the poll was stopped
    before it."""

    article: Article | None = None
    reason: str = ""
    downloaded: bool = False
    etag: str = ""
    last_modified: str = ""
    unchanged: bool = False  # the server answered 304


def fetch_page(fetcher: Fetcher, link: str, entry: Entry | None, known: dict[str, str],
               stopped: Callable[[], bool]) -> PageResult:
    """Fetch one page, conditionally when `known` holds validators of an article the store still has."""
    if stopped():
        return PageResult()
    try:
        got = fetcher.get(link, page=True, etag=known.get("etag", ""),
                          last_modified=known.get("last_modified", ""))
    except FetchError as e:
        return PageResult(reason=str(e))
    if got.status == 304:
        return PageResult(unchanged=True)
    article = page_article(got.body, url=got.url, entry=entry.fields() if entry else None)
    if isinstance(article, str):
        return PageResult(reason=article, downloaded=True)
    return PageResult(article, "", True, got.etag, got.last_modified)


def page_article(html: bytes, *, url: str, entry: dict[str, Any] | None = None) -> Article | str:
    """The article on the page fetched from `url`, identified by its canonical URL; or why there is none.

    `entry` holds what a feed said about it (title, published, source), used where the page is silent."""
    record = html_record(html, url)
    words = len(record["text"].split()) if record else 0
    if record is None or words < MIN_WORDS:
        return f"no article text found on the page ({words} words of main text)"
    entry = entry or {}
    canonical = canonical_link(html, url) or canonical_url(url)
    merged = {
        "id": sha16(canonical),
        "url": canonical,
        "text": record["text"],
        "title": record["title"] or entry.get("title", ""),
        "published": record.get("date") or entry.get("published", ""),
        "source": record.get("source") or entry.get("source") or domain_of(canonical),
    }
    article = record_to_article(merged, url)
    return article if isinstance(article, Article) else article.reason


def canonical_link(html: bytes, url: str) -> str:
    """The page's <link rel="canonical"> as a canonical http(s) URL, or "" when it has none (or a bad one)."""
    from lxml import html as lxml_html

    try:
        root = lxml_html.document_fromstring(html)
    except Exception:  # lxml raises its own ParserError on empty or odd documents
        return ""
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            return canonical_url(link.get("href", ""), url)
    return ""
