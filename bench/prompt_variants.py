"""Answer-prompt variants, compared by the real chain and LLM on the same questions and store.

    python bench/prompt_variants.py --store data/bench-dev-256 \
        --questions ../shared/data/realtimeqa-dev/questions.jsonl --limit 60 [--variants current,second-example]

Each variant swaps prompt constants of rag.prompts, then runs what `python -m rag.eval answers --answerable-only
--limit N` runs and prints its figures as one JSON line; per-question answers go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

from rag import prompts

OLD_RULE = "1. Your first sentence answers the question directly and briefly (a name"
EXACT_RULE = ("1. Your first sentence answers the question directly and briefly, in the exact words the passage uses "
              "(a name")
SECOND_EXAMPLE = (prompts.ANSWER_USER.format(
    as_of="2025-03-02",
    passages="[1] Festival moves after 20 years (example.net, 2025-02-26): Organisers said on Tuesday that the "
             "Lakeside Music Festival will move to Harwick next summer. The festival has been held in Denton since "
             "2005. Ticket prices will rise by 10%.\n\n[2] Denton plans new park (example.com, 2025-02-20): "
             "Denton council unveiled plans for a riverside park on the former festival grounds.",
    question="Which town will host the Lakeside Music Festival next summer?"),
    "Harwick [1]. Organisers said the Lakeside Music Festival will move to Harwick next summer [1].")


def _question_first(text: str, question: str = "{question}") -> str:
    return f"Question: {question}\n\n{text}"


VARIANTS: dict[str, dict[str, Any]] = {
    "current": {},
    "plain-rule": {"ANSWER_SYSTEM": prompts.ANSWER_SYSTEM.replace(EXACT_RULE, OLD_RULE)},
    "second-example": {"EXAMPLES": (*prompts.EXAMPLES, SECOND_EXAMPLE)},
    "question-twice": {"ANSWER_USER": _question_first(prompts.ANSWER_USER),
                       "EXAMPLES": tuple((_question_first(u, re.findall(r"Question: (.*)", u)[-1]), a)
                                         for u, a in prompts.EXAMPLES)},
}


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser()
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args()

    from rag import Settings
    from rag.eval import run_answers

    original = {k: getattr(prompts, k) for k in ("ANSWER_SYSTEM", "ANSWER_USER", "EXAMPLES")}
    for name in args.variants.split(","):
        for key, value in {**original, **VARIANTS[name]}.items():
            setattr(prompts, key, value)
        if name != "current" and all(getattr(prompts, k) == original[k] for k in VARIANTS[name]):
            raise SystemExit(f"variant {name!r} changes nothing: has rag/prompts.py moved on?")
        run = argparse.Namespace(questions=args.questions, answerable_only=True, limit=args.limit, verbose=True)
        figures = run_answers(run, Settings(store_dir=args.store))
        print(name, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}), flush=True)


if __name__ == "__main__":
    main()
