"""python -m ingest [PATH|URL ...] [--feeds FILE [--watch]]: load or fetch -> split -> index, with a summary line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rag.config import Settings, load_settings
from rag.errors import NewsdeskError


def main(argv: list[str] | None = None, *, prog: str = "python -m ingest") -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog=prog, description="Index news articles for Newsdesk.")
    parser.add_argument("paths", nargs="*", help="files, folders or article page URLs (default: NEWSDESK_CORPUS_DIR)")
    parser.add_argument("--feeds", type=Path, help="a file of RSS/Atom feed URLs (one a line, # comments) or OPML")
    parser.add_argument("--watch", action="store_true", help="poll the feeds and URLs until Ctrl-C")
    parser.add_argument("--every", help="how often --watch polls: 90s, 15m, 1h (default: NEWSDESK_FEEDS_EVERY)")
    parser.add_argument("--prune", action="store_true", help="remove articles whose files or records are gone")
    parser.add_argument("--reindex", action="store_true", help="delete the collection and index everything anew")
    parser.add_argument("--store", type=Path, help="store directory (default: NEWSDESK_STORE_DIR)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    urls = [p for p in args.paths if p.lower().startswith(("http://", "https://"))]
    paths = [Path(p) for p in args.paths if p not in urls]
    if args.watch and not (args.feeds or urls):
        parser.error("--watch needs --feeds FILE or article URLs")
    try:
        settings = load_settings(**({"store_dir": args.store} if args.store else {}))
        if args.reindex and not paths:
            from rag.store import open_store

            open_store(settings, reset=True)
        code = _files(paths or ([] if args.feeds or urls else [settings.corpus_dir]), settings, args)
        if args.feeds or urls:
            code = max(code, _web(args.feeds, urls, settings, args))
    except (NewsdeskError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return code


def _files(paths: list[Path], settings: Settings, args: argparse.Namespace) -> int:
    if not paths:
        return 0
    from ingest.index import ingest_paths

    summary = ingest_paths(paths, settings, prune=args.prune, reindex=args.reindex, progress=not args.quiet)
    for skip in summary.skipped:
        print(f"warning: skipped {skip.reason}", file=sys.stderr)  # each reason names its file
    print(summary.line())
    read = summary.added + summary.updated + summary.unchanged + len(summary.copies)
    return 1 if summary.skipped and not read else 0  # nothing given could be read: a typo, not a quiet success


def _web(feeds: Path | None, urls: list[str], settings: Settings, args: argparse.Namespace) -> int:
    from ingest.watch import run
    from rag.config import duration_seconds

    every = duration_seconds(args.every or settings.feeds_every)
    return run(feeds, urls, settings, watch=args.watch, every=every, progress=not args.quiet)


if __name__ == "__main__":
    sys.exit(main())
