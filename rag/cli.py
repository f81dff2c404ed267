"""The `newsdesk` command: `newsdesk ingest|ask|serve|eval ...`, the same as `python -m ingest`,
`python -m rag ask`, `python app.py` and `python -m rag.eval`. Like rag.eval it drives both sides, each
imported only when its command runs."""

from __future__ import annotations

import argparse
import sys

COMMANDS = {
    "ingest": "index articles: files, folders, feeds (python -m ingest)",
    "ask": "answer one question with numbered sources (python -m rag ask)",
    "serve": "serve the web chat (python app.py)",
    "eval": "measure retrieval and answers on a questions file (python -m rag.eval)",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="newsdesk", description="Newsdesk answers questions about news articles, every claim cited.",
        epilog="commands:\n" + "\n".join(f"  {c:<8} {h}" for c, h in COMMANDS.items())
        + "\n\nnewsdesk COMMAND --help shows a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=list(COMMANDS), metavar="COMMAND", help="one of: " + ", ".join(COMMANDS))
    command = parser.parse_args(argv[:1]).command  # the rest belongs to the command
    return run(command, argv[1:])


def run(command: str, args: list[str]) -> int:
    prog = f"newsdesk {command}"
    if command == "ingest":
        from ingest.__main__ import main as ingest

        return ingest(args, prog=prog)
    if command == "ask":
        from rag.__main__ import main as ask

        return ask(["ask", *args], prog="newsdesk")
    if command == "serve":
        import app

        app.main(args, prog=prog)
        return 0
    from rag.eval import main as evaluate

    return evaluate(args, prog=prog)


if __name__ == "__main__":
    sys.exit(main())
