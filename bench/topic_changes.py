"""Conversations that change the subject, made mechanically from a slice's on-event questions.

Within each quiz date, the on-event questions are paired in file order (1st with 2nd, 3rd with 4th, ...): the
first is asked, then the second, which names its own story and owes nothing to the first. The last answer must hold
the second question's gold answer. Asked alone, the second question is one of the slice's own; asked after the
first, a follow-up rewrite that drags the first story in can lose it. The pairs' second questions are also
written as a questions file, so the same questions can be measured alone:

    python bench/topic_changes.py ../shared/data/realtimeqa-dev/onevent.jsonl --out /tmp/tc-dev
    python -m rag.eval conversations --articles ../shared/data/realtimeqa-dev/articles.jsonl \
        --questions /tmp/tc-dev/conversations.jsonl --store data/bench-dev-seed --json --out conv.jsonl
    python -m rag.eval answers --articles ../shared/data/realtimeqa-dev/articles.jsonl \
        --questions /tmp/tc-dev/alone.jsonl --store data/bench-dev-seed --json --out alone.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def pairs(questions: list[dict]) -> list[tuple[dict, dict]]:
    """Consecutive pairs of the questions of each quiz date, in file order."""
    by_date: dict[str, list[dict]] = defaultdict(list)
    for q in questions:
        by_date[q["date"]].append(q)
    return [(qs[i], qs[i + 1]) for _, qs in sorted(by_date.items()) for i in range(0, len(qs) - 1, 2)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("onevent", type=Path, help="a slice's onevent.jsonl")
    p.add_argument("--out", type=Path, required=True, help="folder for conversations.jsonl and alone.jsonl")
    args = p.parse_args()
    questions = [json.loads(line) for line in args.onevent.read_text().splitlines() if line.strip()]
    made = pairs(questions)
    args.out.mkdir(parents=True, exist_ok=True)
    convs = [{"id": f"topic-{a['id']}-{b['id']}", "date": b["date"], "turns": [a["question"], b["question"]],
              "final_must_include": [[b["answer"]]]} for a, b in made]
    (args.out / "conversations.jsonl").write_text("".join(json.dumps(c) + "\n" for c in convs))
    (args.out / "alone.jsonl").write_text("".join(json.dumps(b) + "\n" for _, b in made))
    print(f"{len(convs)} conversations from {len(questions)} questions in {args.out}")


if __name__ == "__main__":
    main()
