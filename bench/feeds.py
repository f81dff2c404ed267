"""Feeds against a local HTTP server: the re-poll of unchanged feeds, and feed ingest throughput against file ingest.

    python bench/feeds.py --articles ../shared/data/realtimeqa-dev/articles.jsonl

1. Re-poll: 50 feeds x 20 items (1,000 dev articles cut to their first 600 characters, one chunk each) are polled
   once into a fresh store, then polled again unchanged: prints pages downloaded, chunks embedded and seconds of
   the second poll (target: 0, 0, <= 5 s).
2. Throughput: the first --throughput articles (whole texts) are ingested from their jsonl file and, into another
   fresh store, from 10-item feeds of article pages served by the same kind of server; prints articles/s and
   chunks/s of each and the ratio (target: feeds within 90 % of files). --rounds 2 alternates the order.
The server is http.server's static-file handler (Last-Modified / If-Modified-Since -> 304), on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from email.utils import formatdate
from functools import partial
from html import escape
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Counting(SimpleHTTPRequestHandler):
    codes: dict[int, int] = {}

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        self.codes[int(code)] = self.codes.get(int(code), 0) + 1


def serve(root: Path) -> tuple[ThreadingHTTPServer, str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Counting, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def write_site(root: Path, base: str, articles: list[dict[str, Any]], per_feed: int) -> list[str]:
    """An HTML page per article and RSS feeds of `per_feed` items each; returns the feed URLs."""
    (root / "news").mkdir(parents=True, exist_ok=True)
    feeds = []
    for f in range(0, len(articles), per_feed):
        items = "".join(_item(base, a) for a in articles[f:f + per_feed])
        (root / f"feed{f // per_feed}.xml").write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {f // per_feed}</title>{items}'
            "</channel></rss>", encoding="utf-8")
        feeds.append(f"{base}/feed{f // per_feed}.xml")
    for a in articles:
        paras = "".join(f"<p>{escape(p)}</p>" for p in a["text"].split("\n") if p.strip())
        (root / "news" / f"{a['id']}.html").write_text(
            f"<html><head><title>{escape(a['title'])}</title><meta property='og:site_name' content='{a['source']}'>"
            f"<meta property='article:published_time' content='{a.get('published') or ''}'></head><body><article>"
            f"<h1>{escape(a['title'])}</h1>{paras}</article></body></html>", encoding="utf-8")
    return feeds


def _item(base: str, a: dict[str, Any]) -> str:
    return (f"<item><title>{escape(a['title'])}</title><link>{base}/news/{a['id']}.html?utm_source=rss</link>"
            f"<pubDate>{formatdate(1_736_000_000)}</pubDate></item>")


def repoll(articles: list[dict[str, Any]], settings: Any, tmp: Path) -> dict[str, Any]:
    from ingest.web import poll

    short = [{**a, "text": a["text"][:600]} for a in articles[:1000]]
    httpd, base = serve(tmp / "site1")
    feeds = write_site(tmp / "site1", base, short, per_feed=20)
    run = settings.model_copy(update={"store_dir": tmp / "repoll", "data_dir": tmp / "data1"})
    first = poll(feeds, [], run)
    _Counting.codes.clear()
    started = time.perf_counter()
    second = poll(feeds, [], run)
    seconds = time.perf_counter() - started
    httpd.shutdown()
    return {"feeds": len(feeds), "items": len(short), "first_poll_added": first.summary.added,
            "first_poll_copies": len(first.summary.copies), "first_poll_s": round(first.summary.seconds, 1),
            "repoll_pages_downloaded": second.pages, "repoll_http_200": _Counting.codes.get(200, 0),
            "repoll_http_304": _Counting.codes.get(304, 0), "repoll_chunks_embedded": second.summary.chunks,
            "repoll_s": round(seconds, 2)}


def throughput(articles: list[dict[str, Any]], settings: Any, tmp: Path, web_first: bool) -> dict[str, Any]:
    from ingest.index import ingest_paths
    from ingest.web import poll

    tag = f"{time.monotonic_ns()}"
    jsonl = tmp / f"articles-{tag}.jsonl"
    jsonl.write_text("\n".join(json.dumps(a) for a in articles) + "\n", encoding="utf-8")
    httpd, base = serve(tmp / f"site-{tag}")
    feeds = write_site(tmp / f"site-{tag}", base, articles, per_feed=10)
    out: dict[str, Any] = {}
    for kind in (["feeds", "files"] if web_first else ["files", "feeds"]):
        run = settings.model_copy(update={"store_dir": tmp / f"{kind}-{tag}", "data_dir": tmp / f"d-{tag}"})
        started = time.perf_counter()
        summary = poll(feeds, [], run).summary if kind == "feeds" else ingest_paths([jsonl], run, progress=False)
        seconds = time.perf_counter() - started
        out[kind] = {"articles": summary.added, "chunks": summary.chunks, "seconds": round(seconds, 1),
                     "articles_per_s": round(summary.added / seconds, 3),
                     "chunks_per_s": round(summary.chunks / seconds, 2)}
    httpd.shutdown()
    out["feeds_vs_files_articles_per_s"] = round(out["feeds"]["articles_per_s"] / out["files"]["articles_per_s"], 3)
    return out


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser()
    p.add_argument("--articles", type=Path, required=True, help="an articles.jsonl file (>= 1,000 articles)")
    p.add_argument("--throughput", type=int, default=120, help="articles for the throughput comparison")
    p.add_argument("--rounds", type=int, default=1, help="throughput rounds, alternating which path goes first")
    p.add_argument("--skip-repoll", action="store_true")
    args = p.parse_args()

    from rag.config import Settings
    from rag.models import get_embeddings

    settings = Settings()
    get_embeddings(settings).embed_documents(["warm up the embedder before anything is timed"])
    articles = [json.loads(line) for line in args.articles.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="newsdesk-feeds-") as tmp:
        if not args.skip_repoll:
            print(json.dumps({"repoll": repoll(articles, settings, Path(tmp))}), flush=True)
        for r in range(args.rounds):
            result = throughput(articles[: args.throughput], settings, Path(tmp), web_first=r % 2 == 1)
            print(json.dumps({"throughput": result}), flush=True)


if __name__ == "__main__":
    main()
