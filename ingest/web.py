"""One poll: feeds -> their items' pages (and pages given directly) -> articles -> the store, fetching only what
may have changed and remembering validators only for what the store now holds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ingest.articles import Article
from ingest.feeds import Entry, parse_feed
from ingest.fetch import Fetcher, FetchError
from ingest.index import Summary, ingest_articles
from ingest.pages import PageResult, fetch_page
from ingest.urls import canonical_url
from ingest.webstate import FeedStatus, WebState
from rag.config import Settings
from rag.store import Store, open_store

WORKERS = 8  # requests in flight over all hosts (each host also gets at most NEWSDESK_FETCH_PER_HOST)


@dataclass(frozen=True)
class _Job:
    """A page to fetch: its link, the feed item that named it (if any) and that feed."""

    link: str
    entry: Entry | None = None
    feed: str = ""


@dataclass
class PollReport:
    """What a poll did: the ingest summary, each URL that failed with its reason, and what was downloaded."""

    summary: Summary = field(default_factory=Summary)
    failed: list[tuple[str, str]] = field(default_factory=list)
    usable: int = 0  # feeds and pages that answered usefully (200 or 304)
    pages: int = 0  # article pages downloaded (HTTP 200)
    downloads: int = 0  # every body downloaded: feeds, pages, robots.txt
    feeds: list[FeedStatus] = field(default_factory=list)

    @property
    def nothing_fetched(self) -> bool:
        return self.usable == 0 and bool(self.failed)

    def line(self) -> str:
        return f"{self.pages} pages downloaded, {len(self.failed)} URLs failed; {self.summary.line()}"


def poll(feeds: Iterable[str], urls: Iterable[str], settings: Settings, *, store: Store | None = None,
         stop: Callable[[], bool] | None = None, progress: bool = False) -> PollReport:
    """Fetch the feeds and pages, index what is new or changed; safe to interrupt with `stop()` at any point."""
    store = store or open_store(settings)
    state = WebState.load(settings, store.location)
    report = PollReport()
    stopped = stop or (lambda: False)
    feeds = list(feeds)
    with Fetcher(settings, state.robots) as fetcher, ThreadPoolExecutor(WORKERS) as pool:
        jobs = _feed_jobs(fetcher, pool, feeds, state, report)
        jobs += [_Job(canonical_url(u) or u) for u in urls]
        stored = _stored_ids(store)
        todo = _todo(jobs, state, stored)
        known = {j.link: _known(state, j.link, stored) for j in todo}
        fetched = list(pool.map(lambda j: fetch_page(fetcher, j.link, j.entry, known[j.link], stopped), todo))
        report.downloads = fetcher.downloads
    articles = list({a.article_id: a for a in _collect(todo, fetched, report)}.values())
    if articles:  # else nothing to write: the store and its BM25 index are as they were
        report.summary = ingest_articles(articles, settings, store=store, stop=stop, progress=progress)
    _remember(state, todo, fetched, report, _stored_ids(store))
    state.save()
    report.feeds = [state.status(url) for url in feeds]
    return report


def _feed_jobs(fetcher: Fetcher, pool: ThreadPoolExecutor, feeds: list[str], state: WebState,
               report: PollReport) -> list[_Job]:
    """Each feed fetched conditionally; an unchanged one (304) stands for the entries it had last time."""
    jobs: list[_Job] = []
    for url, got in zip(feeds, pool.map(lambda u: _feed(fetcher, u, state), feeds), strict=True):
        status = state.status(url)
        status.last_poll, status.added, status.error = time.strftime("%Y-%m-%d %H:%M:%S"), 0, ""
        if isinstance(got, str):
            report.failed.append((url, got))
            status.error = got
        else:
            report.usable += 1
            jobs += [_Job(e.link, e, url) for e in got]
        state.set_status(status)
    return jobs


def _feed(fetcher: Fetcher, url: str, state: WebState) -> list[Entry] | str:
    saved = state.feeds.setdefault(url, {})
    known = isinstance(saved.get("entries"), list)
    try:
        got = fetcher.get(url, page=False, etag=saved.get("etag", "") if known else "",
                          last_modified=saved.get("last_modified", "") if known else "")
        if got.status == 304:
            return [Entry(**e) for e in saved["entries"]]
        entries = parse_feed(got.body, got.url)
    except (FetchError, ValueError) as e:
        return str(e)
    saved.update(etag=got.etag, last_modified=got.last_modified, entries=[e.fields() for e in entries])
    return entries


def _stored_ids(store: Store) -> set[str]:
    return {str(meta.get("article_id", cid.rsplit(":", 1)[0])) for cid, meta, _ in store.rows()}


def _known(state: WebState, link: str, stored: set[str]) -> dict[str, str]:
    """The page's saved validators, if the article they belong to is still stored (else fetch it afresh)."""
    page = state.pages.get(link, {})
    return page if page.get("article_id") in stored else {}


def _todo(jobs: list[_Job], state: WebState, stored: set[str]) -> list[_Job]:
    """Each link once; a feed item whose article is stored and whose feed stamp is unchanged needs no request."""
    todo: dict[str, _Job] = {}
    for job in jobs:
        page = state.pages.get(job.link, {})
        same = job.entry is not None and page.get("updated") == job.entry.updated
        if job.link not in todo and not (same and page.get("article_id") in stored):
            todo[job.link] = job
    return list(todo.values())


def _collect(todo: list[_Job], results: list[PageResult], report: PollReport) -> list[Article]:
    articles = []
    for job, result in zip(todo, results, strict=True):
        report.pages += result.downloaded
        if result.reason:
            report.failed.append((job.link, result.reason))
            continue
        report.usable += result.article is not None or result.unchanged
        if result.article is not None:
            articles.append(result.article)
    return articles


def _remember(state: WebState, todo: list[_Job], results: list[PageResult], report: PollReport,
              stored: set[str]) -> None:
    """Validators of each page whose article (or the story it copies) the store now holds; feed statuses."""
    copies, written = report.summary.copies, set(report.summary.written)
    statuses = {s: state.status(s) for s in {job.feed for job in todo if job.feed}}
    for job, result in zip(todo, results, strict=True):
        page = state.pages.get(job.link)
        if result.article is not None:
            story = copies.get(result.article.article_id, result.article.article_id)
            if story in stored:
                state.pages[job.link] = {"etag": result.etag, "last_modified": result.last_modified,
                                         "article_id": story, "updated": job.entry.updated if job.entry else ""}
        elif result.unchanged and page is not None and job.entry is not None and page.get("article_id") in stored:
            page["updated"] = job.entry.updated  # unchanged (304): the feed's new stamp needs no request next time
        if job.feed:
            _count(statuses[job.feed], result, written, job.link)
    for status in statuses.values():
        state.set_status(status)


def _count(status: FeedStatus, result: PageResult, written: set[str], link: str) -> None:
    if result.article is not None and result.article.article_id in written:
        status.added += 1
        status.total_added += 1
    if result.reason and not status.error:
        status.error = f"{link}: {result.reason}"
