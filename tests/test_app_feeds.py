"""The chat and feeds: NEWSDESK_FEEDS is polled in the background, the corpus panel shows each feed's last poll,
items added and last error, and a source shows the other outlets that reported its story."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from newsserver import NewsServer, Route
from test_feeds import BRIDGE, FLOOD, page, set_feed

import app
import rag
from ingest.watch import Watcher
from rag.config import duration_seconds


@pytest.fixture
def site() -> Iterator[NewsServer]:
    with NewsServer() as server:
        server.routes["/news/bridge.html"] = page("Norhaven bridge reopens", BRIDGE, "Norhaven Post")
        server.routes["/news/flood.html"] = page("Floods in Vesterby", FLOOD, "Norhaven Post")
        set_feed(server, "/feeds/post.xml", ["bridge", "flood"])
        server.routes["/feeds/down.xml"] = Route(b"busy", "text/plain", status=503)
        yield server


def feed_settings(settings: rag.Settings, site: NewsServer, tmp_path: Path) -> rag.Settings:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"{site.url('/feeds/post.xml')}\n{site.url('/feeds/down.xml')}\n")
    return settings.model_copy(update={"feeds": feeds, "feeds_every": "1h"})


def test_the_chat_polls_its_feeds_in_the_background(site: NewsServer, settings: rag.Settings,
                                                    tmp_path: Path) -> None:
    settings = feed_settings(settings, site, tmp_path)
    retriever = rag.build_retriever(settings)
    chain = rag.build_chain(settings, llm=FakeListChatModel(responses=["x"]), retriever=retriever)
    app.build_app(settings, chain, retriever=retriever)  # starts the poller; nothing is served
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and retriever.store.count() == 0:
        time.sleep(0.2)
    time.sleep(1)  # let the poll finish writing the BM25 index
    top = retriever.invoke("How much did the Norhaven bridge repairs cost?")[0]
    assert "40 million euros" in top.page_content


def test_the_corpus_panel_shows_each_feed(site: NewsServer, settings: rag.Settings, tmp_path: Path) -> None:
    settings = feed_settings(settings, site, tmp_path)
    changed: list[bool] = []
    watcher = Watcher(settings, rag.build_retriever(settings).store, lambda: changed.append(True))
    watcher.poll_once()
    panel = app.format_feeds(watcher)
    post, down = panel.split("<li>")[1:]
    assert site.url("/feeds/post.xml") in post and "2 added" in post and "⚠️" not in post
    assert site.url("/feeds/down.xml") in down and "0 added" in down and "server error &#40;HTTP 503&#41;" in down
    assert time.strftime("%Y-%m-%d") in post and changed == [True]
    watcher.poll_once()  # nothing new: no refresh of the retriever, and the panel says so
    assert changed == [True] and "0 added (2 in all)" in app.format_feeds(watcher)
    assert app.format_feeds(None) == ""


def test_a_source_shows_who_else_reported_the_story() -> None:
    doc = Document(page_content="The bridge reopened.", metadata={
        "title": "Bridge reopens", "source": "Norhaven Post", "published": "2025-01-07", "n": 1,
        "also_reported_by": "Coast Herald, <b>Daily Fjord</b>"})
    out = app.format_source(doc)
    assert "Norhaven Post · 2025-01-07 · also reported by Coast Herald, &#60;b&#62;Daily Fjord&#60;/b&#62;" in out
    alone = app.format_source(Document(page_content="x", metadata={"title": "T", "source": "S", "n": 2,
                                                                   "also_reported_by": ""}))
    assert "also reported" not in alone


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("2", 2), ("0.5m", 30)])
def test_poll_intervals(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "15 minutes", "-1m", "0s", "m"])
def test_bad_poll_intervals_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="Expected a duration like 90s, 15m or 1h"):
        duration_seconds(text)
    with pytest.raises(ValueError, match="Expected a duration like 90s, 15m or 1h"):
        rag.Settings(feeds_every=text)  # NEWSDESK_FEEDS_EVERY is checked when the settings are read
