"""Polling feeds and pages: once or every N minutes from the command line, or in the chat's background."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest.feeds import read_feed_list
from ingest.web import PollReport, poll
from ingest.webstate import FeedStatus
from rag.config import Settings, duration_seconds
from rag.errors import NewsdeskError
from rag.store import Store, open_store


def run(feeds_file: Path | None, urls: list[str], settings: Settings, *, watch: bool = False,
        every: float = 900.0, progress: bool = True) -> int:
    """`python -m ingest --feeds FILE / URL ...`: poll once (exit 1 when nothing at all could be fetched), or,
    with `watch`, every `every` seconds until Ctrl-C, which stops between batches of whole articles."""
    store = open_store(settings)
    stop = threading.Event()
    report = PollReport()
    with _first_interrupt_stops(stop):
        while not stop.is_set():
            feeds = read_feed_list(feeds_file) if feeds_file else []
            report = poll(feeds, urls, settings, store=store, stop=stop.is_set, progress=progress)
            print_report(report)
            if not watch or stop.wait(every):
                break
    if stop.is_set():
        print("stopped; everything fetched so far is indexed, the rest comes next time", file=sys.stderr)
    return 1 if report.nothing_fetched and not watch else 0


def print_report(report: PollReport) -> None:
    for url, reason in report.failed:
        print(f"failed {url}: {reason}", file=sys.stderr)
    for skip in report.summary.skipped:
        print(f"warning: skipped {skip.origin}: {skip.reason}", file=sys.stderr)
    print(report.line(), flush=True)


@contextmanager
def _first_interrupt_stops(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks for a clean stop; a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("stopping after the current batch of articles (Ctrl-C again to abort)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Watcher:
    """The chat's background poller of NEWSDESK_FEEDS; `statuses` and `error` feed the corpus panel."""

    def __init__(self, settings: Settings, store: Store, on_change: Callable[[], None]) -> None:
        if settings.feeds is None:
            raise ValueError("Expected NEWSDESK_FEEDS to name a feed list. Got nothing")
        self.settings, self.store, self.on_change = settings, store, on_change
        self.every = duration_seconds(settings.feeds_every)
        self.statuses: list[FeedStatus] = []
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="newsdesk-feeds", daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.every)

    def poll_once(self) -> None:
        try:
            feeds = read_feed_list(self.settings.feeds) if self.settings.feeds else []
            report = poll(feeds, [], self.settings, store=self.store, stop=self._stop.is_set)
        except NewsdeskError as e:
            self.error = str(e)
            return
        except Exception as e:  # the chat must keep answering whatever a poll runs into
            self.error = f"{type(e).__name__}: {e}"
            return
        self.statuses, self.error = report.feeds, ""
        if report.summary.written or report.summary.copies:
            self.on_change()
