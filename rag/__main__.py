"""python -m rag ask "question" [--json]: answer from the command line with numbered sources."""

from __future__ import annotations

import argparse
import json
import os
import sys

from rag.errors import NewsdeskError


def main(argv: list[str] | None = None, *, prog: str = "python -m rag") -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog=prog, description="Ask Newsdesk about your articles.")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print {answer, sources} as JSON")
    ask.add_argument("--source", help="only this outlet (e.g. reuters.com)")
    ask.add_argument("--after", help="only articles published on or after this date (YYYY-MM-DD)")
    ask.add_argument("--before", help="only articles published on or before this date (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    try:
        out = answer(args)
    except NewsdeskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(as_json(out), indent=2, ensure_ascii=False) if args.json else as_text(out))
    return 0


def answer(args: argparse.Namespace) -> dict:
    """The chain's output for the question; the question, dates and settings are checked before anything loads."""
    from rag.chain import build_chain
    from rag.config import load_settings
    from rag.history import validate_question
    from rag.retrieve import Filters

    question = validate_question(args.question)
    Filters.of(args.source, args.after, args.before)
    settings = load_settings().model_copy(update={"warm_start": False})  # one question: nothing to warm up for
    # (read from the environment first, so a NEWSDESK_WARM_START that does not parse stops `ask` as it stops the rest)
    chain = build_chain(settings)
    return chain.invoke({"question": question, "source": args.source, "published_after": args.after,
                         "published_before": args.before})


def as_json(out: dict) -> dict:
    keys = ("title", "source", "url", "published")
    sources = [{"n": n, **{k: d.metadata.get(k, "") for k in keys}, "text": d.page_content}
               for n, d in enumerate(out["sources"], 1)]
    return {"answer": out["answer"], "sources": sources}


def as_text(out: dict) -> str:
    lines = [out["answer"], ""]
    for n, d in enumerate(out["sources"], 1):
        m = d.metadata
        outlet, day = m["source"] or "unknown outlet", m["published"] or "undated"
        lines.append(f"[{n}] {m['title']} ({outlet}, {day}) {m['url']}")
    return "\n".join(lines).rstrip()


if __name__ == "__main__":
    sys.exit(main())
