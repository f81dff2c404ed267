"""Fetching manners and bad input, against a real local HTTP server: each failed URL gets its reason and the rest
goes in; robots.txt, 2 requests per host, size cap, canonical URLs, feed lists and OPML, the CLI's exit code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from newsserver import RSS_TYPE, NewsServer, Route, article_html
from test_feeds import CHESS, FLOOD, page, stock

import rag
from ingest.__main__ import main
from ingest.feeds import FeedListError, read_feed_list
from ingest.fetch import Fetcher, FetchError
from ingest.urls import canonical_url
from ingest.web import poll
from rag.store import open_store

BAD_PAGES = {
    "/gone/404.html": "not found (HTTP 404)",
    "/gone/410.html": "gone (HTTP 410)",
    "/broken/500.html": "server error (HTTP 500)",
    "/slow.html": "timed out after 0.5 s",
    "/report.pdf": "not an HTML page (content type application/pdf)",
    "/empty.html": "no article text found on the page",
    "/private/memo.html": "disallowed by the site's robots.txt",
}
BAD_FEEDS = {
    "/feeds/broken.xml": "malformed feed",
    "/feeds/loop.xml": "redirect loop (more than 5 redirects)",
    "/feeds/missing.xml": "not found (HTTP 404)",
    "/feeds/down.xml": "server error (HTTP 503)",
    "/feeds/page.xml": "not an RSS or Atom feed",
}


@pytest.fixture
def bad_site() -> Iterator[NewsServer]:
    with NewsServer() as s:
        stock(s, ["bridge", "missing"])  # one good item, one dead link
        s.routes["/gone/410.html"] = Route(b"gone", "text/html", status=410)
        s.routes["/broken/500.html"] = Route(b"oops", "text/html", status=500)
        s.routes["/slow.html"] = Route(article_html("Late", CHESS), delay=2.0)
        s.routes["/report.pdf"] = Route(b"%PDF-1.4 ...", "application/pdf")
        s.routes["/empty.html"] = Route(b"<html><body><nav><a href='/'>Home</a></nav></body></html>")
        s.routes["/private/memo.html"] = page("Memo", CHESS, "Norhaven Post")
        s.routes["/feeds/broken.xml"] = Route(b"<rss><channel><item><title>Half an item", RSS_TYPE)
        s.routes["/feeds/loop.xml"] = Route(b"", status=302, headers={"Location": "/feeds/loop.xml"})
        s.routes["/feeds/down.xml"] = Route(b"busy", "text/plain", status=503)
        s.routes["/feeds/page.xml"] = Route(article_html("Not a feed", FLOOD), "text/html")
        yield s


def test_each_bad_input_is_named_with_its_reason_and_the_rest_goes_in(bad_site: NewsServer,
                                                                       settings: rag.Settings) -> None:
    settings = settings.model_copy(update={"fetch_timeout": 0.5})
    feeds = [bad_site.url(p) for p in ["/feeds/post.xml", *BAD_FEEDS]]
    urls = [bad_site.url(p) for p in ["/news/flood.html", *BAD_PAGES]]
    report = poll(feeds, urls, settings)
    failed = dict(report.failed)
    expected = {bad_site.url(p): why for p, why in {**BAD_PAGES, **BAD_FEEDS}.items()}
    expected[bad_site.url("/news/missing.html")] = "not found (HTTP 404)"  # the feed's dead item
    assert set(failed) == set(expected)
    for url, why in expected.items():
        assert failed[url].startswith(why), (url, failed[url])
    assert report.summary.added == 2  # the feed's good item and the good page
    assert {m["title"] for _, m, _ in open_store(settings).rows()} == {"Norhaven bridge reopens",
                                                                       "Floods in Vesterby"}
    post = next(f for f in report.feeds if f.url.endswith("/feeds/post.xml"))
    assert post.added == 1 and "missing.html: not found (HTTP 404)" in post.error


def test_cli_names_failures_and_exits_1_only_when_nothing_could_be_fetched(
        bad_site: NewsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSDESK_FETCH_TIMEOUT", "0.5")
    store = ["--store", str(tmp_path / "chroma"), "--quiet"]
    assert main([bad_site.url("/gone/410.html"), bad_site.url("/report.pdf"), *store]) == 1
    err = capsys.readouterr().err
    assert f"failed {bad_site.url('/gone/410.html')}: gone (HTTP 410)" in err
    assert f"failed {bad_site.url('/report.pdf')}: not an HTML page" in err
    feeds = tmp_path / "feeds.opml"
    feeds.write_text(f'<?xml version="1.0"?><opml version="2.0"><body><outline text="News">'
                     f'<outline type="rss" xmlUrl="{bad_site.url("/feeds/post.xml")}"/>'
                     f'<outline type="rss" xmlUrl="{bad_site.url("/feeds/down.xml")}"/></outline></body></opml>')
    assert main(["--feeds", str(feeds), bad_site.url("/gone/410.html"), *store]) == 0
    captured = capsys.readouterr()
    assert "1 added" in captured.out and "server error (HTTP 503)" in captured.err


def test_at_most_two_requests_per_host_and_a_user_agent_naming_newsdesk(settings: rag.Settings) -> None:
    with NewsServer() as s:
        for i in range(6):
            s.routes[f"/p{i}.html"] = Route(article_html(f"Story {i}", CHESS), delay=0.3)
        with Fetcher(settings) as fetcher:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(6) as pool:
                got = list(pool.map(lambda i: fetcher.get(s.url(f"/p{i}.html"), page=True), range(6)))
    assert [g.status for g in got] == [200] * 6
    assert s.peak == 2
    assert len(s.agents) == 1 and next(iter(s.agents)).startswith("Newsdesk/")


def test_size_cap_and_robots_txt_failures(settings: rag.Settings) -> None:
    with NewsServer() as s:
        s.routes["/big.html"] = Route(article_html("Big", CHESS * 200))
        with Fetcher(settings.model_copy(update={"fetch_max_mb": 0.01})) as fetcher:
            with pytest.raises(FetchError, match=r"larger than 0.01 MB \(NEWSDESK_FETCH_MAX_MB\)"):
                fetcher.get(s.url("/big.html"), page=True)
        s.routes["/robots.txt"] = Route(b"", "text/plain", status=500)
        with Fetcher(settings) as fetcher, pytest.raises(FetchError, match="robots.txt unavailable"):
            fetcher.get(s.url("/big.html"), page=True)
    assert ("/big.html", 200) in s.hits  # fetched once while robots.txt was absent (404 allows all)


@pytest.mark.parametrize(("url", "canonical"), [
    ("https://WWW.Example.com:443/a/b?utm_source=x&id=3&fbclid=9#frag", "https://www.example.com/a/b?id=3"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com:8080/x?gclid=1&utm_medium=rss", "http://example.com:8080/x"),
    ("javascript:alert(1)", ""),
    ("ftp://example.com/file", ""),
])
def test_canonical_url_strips_tracking(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_feed_lists_take_comments_and_opml_and_refuse_bad_lines(tmp_path: Path) -> None:
    plain = tmp_path / "feeds.txt"
    plain.write_text("# world\nhttps://a.example/rss  # the A\n\nhttps://b.example/atom.xml\nhttps://a.example/rss\n")
    assert read_feed_list(plain) == ["https://a.example/rss", "https://b.example/atom.xml"]
    bad = tmp_path / "bad.txt"
    bad.write_text("https://a.example/rss\nnews.example/feed\n")
    with pytest.raises(FeedListError, match="not an http"):
        read_feed_list(bad)
    with pytest.raises(FeedListError, match="cannot read the feed list"):
        read_feed_list(tmp_path / "nope.txt")
