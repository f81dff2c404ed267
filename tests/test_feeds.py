"""Feeds and article pages from a real local HTTP server: first poll ingests and answers, a re-poll downloads
nothing, new items come in, a syndicated copy is stored once, a stopped poll loses nothing, --watch stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, TEST_CHUNK_TOKENS
from newsserver import RSS_TYPE, NewsServer, Route, article_html, rss

import rag
from ingest import index
from ingest.web import poll
from ingest.webstate import WebState
from rag.store import Store, open_store

BRIDGE = [
    "The harbour bridge in Norhaven reopened on Tuesday after eight months of repairs that cost 40 million euros.",
    "Engineers replaced the corroded steel cables that had forced the city to close the crossing last spring.",
    "Mayor Ilse Brandt said the reopening would cut the morning commute for thousands of dockworkers by an hour.",
    "Traffic will be limited to cars and buses for the first month while inspectors monitor the new deck joints.",
    "The council expects freight trucks to return to the bridge in March once the final load tests are complete.",
]
FLOOD = [
    "Heavy rain flooded the lower town of Vesterby overnight, and the river rose two metres above its usual level.",
    "Firefighters evacuated three hundred residents from riverside flats to the sports hall on Kirkegade.",
    "The regional weather service said another band of rain would arrive on Thursday and warned farmers.",
    "Volunteers filled sandbags at the harbour while the army sent four high water trucks from the garrison.",
    "Insurers estimated the damage at twelve million kroner and opened a hotline for flooded households.",
]
CHESS = [
    "The Karsholm chess festival ended on Sunday with a surprise victory by the sixteen year old Mira Okafor.",
    "Okafor beat the top seed in the final round with the black pieces after a long endgame of rook and pawns.",
    "Organisers counted two hundred players from eleven countries, a record for the festival in its tenth year.",
    "The prize fund of fifty thousand kroner was shared among the first ten finishers and the best junior players.",
    "Next year the festival moves to the new concert hall, which can seat twice as many spectators at the boards.",
]


def page(title: str, paras: list[str], outlet: str, published: str = "2025-01-07", canonical: str = "") -> Route:
    return Route(article_html(title, paras, outlet=outlet, published=published, canonical=canonical))


def stock(server: NewsServer, items: list[str]) -> None:
    """What every test site serves: a robots.txt, the bridge and flood pages, and /feeds/post.xml listing `items`."""
    server.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    server.routes["/news/bridge.html"] = page("Norhaven bridge reopens", BRIDGE, "Norhaven Post")
    server.routes["/news/flood.html"] = page("Floods in Vesterby", FLOOD, "Norhaven Post")
    set_feed(server, "/feeds/post.xml", items)


@pytest.fixture
def site() -> Iterator[NewsServer]:
    with NewsServer() as server:
        stock(server, ["bridge", "flood"])
        server.routes["/news/chess.html"] = page("Teenager wins Karsholm chess festival", CHESS, "Norhaven Post")
        yield server


def set_feed(server: NewsServer, path: str, slugs: list[str], title: str = "Norhaven Post") -> None:
    items = [{"title": s.title(), "link": server.url(f"/news/{s}.html?utm_source=rss&utm_medium=feed"),
              "pubDate": "Tue, 07 Jan 2025 08:00:00 GMT"} for s in slugs]
    server.routes[path] = Route(rss(title, items), RSS_TYPE)


def articles(store: Store) -> dict[str, dict[str, object]]:
    """article_id -> chunk 0 metadata; and every article's chunks are all there."""
    rows = [meta for _, meta, _ in store.rows()]
    by_article = {str(m["article_id"]): m for m in rows if m["chunk_index"] == 0}
    for aid, first in by_article.items():
        assert sum(m["article_id"] == aid for m in rows) == first["n_chunks"]
    return by_article


def test_first_poll_ingests_the_feed_and_answers(site: NewsServer, settings: rag.Settings) -> None:
    report = poll([site.url("/feeds/post.xml")], [], settings)
    assert report.failed == []
    assert (report.summary.added, report.pages) == (2, 2)
    assert site.agents and all(a.startswith("Newsdesk/") for a in site.agents)
    top = rag.build_retriever(settings).invoke("How much did the Norhaven bridge repairs cost?")[0]
    assert "40 million euros" in top.page_content
    m = top.metadata
    assert m["url"] == site.url("/news/bridge.html")  # tracking parameters stripped: the article's identity
    assert (m["title"], m["source"], m["published"]) == ("Norhaven bridge reopens", "Norhaven Post", "2025-01-07")
    assert report.feeds[0].added == 2 and report.feeds[0].error == "" and report.feeds[0].last_poll


def test_second_poll_downloads_no_page_and_embeds_nothing(site: NewsServer, settings: rag.Settings) -> None:
    feed = site.url("/feeds/post.xml")
    poll([feed], [], settings)
    site.hits.clear()
    report = poll([feed], [], settings)
    assert site.downloads() == 0  # no 200 at all: the feed answered 304, no page was requested
    assert site.hits == {("/feeds/post.xml", 304): 1}
    assert (report.summary.chunks, report.summary.added, report.pages) == (0, 0, 0)
    assert report.usable == 1 and not report.nothing_fetched


def test_a_changed_feed_fetches_only_its_new_item(site: NewsServer, settings: rag.Settings) -> None:
    feed = site.url("/feeds/post.xml")
    poll([feed], [], settings)
    set_feed(site, "/feeds/post.xml", ["chess", "bridge", "flood"])
    site.hits.clear()
    report = poll([feed], [], settings)
    assert report.summary.added == 1 and report.pages == 1
    assert site.downloads("/news/") == site.hits["/news/chess.html", 200] == 1
    assert {m["title"] for m in articles(open_store(settings)).values()} == {
        "Norhaven bridge reopens", "Floods in Vesterby", "Teenager wins Karsholm chess festival"}


def test_a_page_given_by_url_is_ingested_under_its_canonical_url(site: NewsServer, settings: rag.Settings) -> None:
    site.routes["/amp/chess.html"] = page("Teenager wins Karsholm chess festival", CHESS, "Norhaven Post",
                                          canonical="/news/chess.html?utm_campaign=x")
    report = poll([], [site.url("/amp/chess.html?fbclid=abc")], settings)
    assert report.summary.added == 1
    [meta] = articles(open_store(settings)).values()
    assert meta["url"] == site.url("/news/chess.html")
    site.hits.clear()
    again = poll([], [site.url("/amp/chess.html")], settings)  # asked again: a conditional request, 304
    assert site.hits == {("/amp/chess.html", 304): 1} and again.summary.chunks == 0


def test_a_syndicated_copy_is_stored_once_with_also_reported_by(site: NewsServer, settings: rag.Settings) -> None:
    wire = [*BRIDGE, "This story was distributed by the Nordic Wire agency."]
    site.routes["/wire/bridge-copy.html"] = page("Norhaven's harbour bridge is open again", wire, "Coast Herald")
    site.routes["/other/bridge.html"] = page("Bridge open in Norhaven", BRIDGE[:4] + BRIDGE[4:], "Daily Fjord")
    set_feed(site, "/feeds/herald.xml", ["bridge-copy"], title="Coast Herald")
    site.routes["/feeds/herald.xml"].body = site.routes["/feeds/herald.xml"].body.replace(b"/news/", b"/wire/")
    report = poll([site.url("/feeds/post.xml"), site.url("/feeds/herald.xml")], [], settings)
    assert report.failed == [] and len(report.summary.copies) == 1
    stored = articles(open_store(settings))
    assert len(stored) == 2  # bridge (once) and flood
    bridge = next(m for m in stored.values() if "bridge" in str(m["title"]).lower())
    assert (bridge["source"], bridge["also_reported_by"]) == ("Norhaven Post", "Coast Herald")
    later = poll([], [site.url("/other/bridge.html")], settings)  # a copy of a story stored by an earlier run
    assert later.summary.added == 0 and len(later.summary.copies) == 1
    chunks = [m for _, m, _ in open_store(settings).rows() if m["article_id"] == bridge["article_id"]]
    assert {m["also_reported_by"] for m in chunks} == {"Coast Herald, Daily Fjord"}
    site.hits.clear()
    poll([site.url("/feeds/post.xml"), site.url("/feeds/herald.xml")], [], settings)
    assert site.downloads() == 0  # the copy's page is remembered as held by the stored story


def test_a_stopped_poll_loses_nothing(site: NewsServer, settings: rag.Settings,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "BATCH_CHUNKS", 1)  # one article per batch, so a stop can fall between articles
    set_feed(site, "/feeds/post.xml", ["bridge", "flood", "chess"])
    asked = iter([False] * 4)  # three page fetches, then the first batch; every later question says stop
    report = poll([site.url("/feeds/post.xml")], [], settings, stop=lambda: next(asked, True))
    assert report.summary.stopped and len(report.summary.written) == 1
    stored = articles(open_store(settings))  # complete articles only
    assert set(stored) == set(report.summary.written)
    state = WebState.load(settings, open_store(settings).location)
    assert {p["article_id"] for p in state.pages.values()} == set(stored)  # validators only for stored articles
    site.hits.clear()
    rest = poll([site.url("/feeds/post.xml")], [], settings)
    assert rest.summary.added == 2 and site.downloads("/news/") == 2  # the stored page is not fetched again
    assert len(articles(open_store(settings))) == 3


def test_watch_polls_until_ctrl_c_and_exits_cleanly(site: NewsServer, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"# the Post\n{site.url('/feeds/post.xml')}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env.update(NEWSDESK_DATA_DIR=str(tmp_path / "data"), NEWSDESK_CHUNK_TOKENS=str(TEST_CHUNK_TOKENS),
               HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "--feeds", str(feeds), "--watch", "--every", "1s",
                             "--store", str(tmp_path / "chroma"), "--quiet"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline() if proc.stdout else ""
    second = proc.stdout.readline() if proc.stdout else ""  # the next poll, a second later: nothing new
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "2 added" in first and "0 added" in second and "0 pages downloaded" in second
    assert "stopped" in err and "Traceback" not in err
    assert site.hits["/feeds/post.xml", 304] >= 1
