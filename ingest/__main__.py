"""python -m ingest PATH...: load -> split -> index, with a progress bar and a summary line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rag.config import load_settings
from rag.errors import NewsdeskError


def main(argv: list[str] | None = None, *, prog: str = "python -m ingest") -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog=prog, description="Index news articles for Newsdesk.")
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: NEWSDESK_CORPUS_DIR)")
    parser.add_argument("--prune", action="store_true", help="remove articles whose files or records are gone")
    parser.add_argument("--reindex", action="store_true", help="delete the collection and index everything anew")
    parser.add_argument("--store", type=Path, help="store directory (default: NEWSDESK_STORE_DIR)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    from ingest.index import ingest_paths

    try:
        settings = load_settings(**({"store_dir": args.store} if args.store else {}))
        summary = ingest_paths(args.paths or [settings.corpus_dir], settings, prune=args.prune,
                               reindex=args.reindex, progress=not args.quiet)
    except NewsdeskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for skip in summary.skipped:
        print(f"warning: skipped {skip.origin}: {skip.reason}", file=sys.stderr)
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
