"""Measure a context-selection variant through the LLM on only the questions whose prompt it changes.

The LLM decodes greedily, so a question whose prompt a variant leaves as it was gets the same answer. Session 13
checked this (45 of 45 answers word for word) and measured its variants this way (docs/retrieval.md):

    python -m rag.eval context --articles A --questions Q --store S --out base-context.jsonl
    NEWSDESK_...=... python -m rag.eval context --articles A --questions Q --store S --out variant-context.jsonl
    python bench/changed_prompts.py changed base-context.jsonl variant-context.jsonl --questions Q --out changed.jsonl
    NEWSDESK_...=... python -m rag.eval answers --articles A --questions changed.jsonl --store S --answerable-only \\
        --out variant-answers.jsonl
    python bench/changed_prompts.py merge base-answers.jsonl variant-answers.jsonl --questions Q

`base-answers.jsonl` is the default's `rag.eval answers --answerable-only --out` over the whole slice. `merge`
prints the slice's figures with the variant's answers in place of the default's, all and on-event (onevent.jsonl
beside Q), and which questions it gained and lost.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def rows(path: Path) -> dict[str, dict]:
    return {str(r["id"]): r for r in map(json.loads, path.read_text().splitlines()) if r}


def changed(base: Path, variant: Path, questions: Path, out: Path) -> None:
    before, after = rows(base), rows(variant)
    ids = {i for i in after if i in before and after[i]["prompt"] != before[i]["prompt"]}
    lines = [line for line in questions.read_text().splitlines() if line and str(json.loads(line)["id"]) in ids]
    out.write_text("".join(line + "\n" for line in lines))
    print(f"{len(lines)} of {len(after)} prompts changed -> {out}")


def merge(base: Path, variant: Path, questions: Path) -> None:
    before, after = rows(base), rows(variant)
    merged = {**before, **{i: r for i, r in after.items() if i in before}}
    onevent_file = questions.with_name("onevent.jsonl")
    onevent = set(rows(onevent_file)) if onevent_file.exists() else set()
    for name, ids in (("all", list(before)), ("on-event", [i for i in before if i in onevent])):
        if ids:
            right = sum(bool(before[i]["correct"]) for i in ids), sum(bool(merged[i]["correct"]) for i in ids)
            print(f"{name}: {right[0]} -> {right[1]} of {len(ids)} ({right[1] / len(ids):.3f})")
    for label, flip in (("gained", (False, True)), ("lost", (True, False))):
        ids = [i for i in after if i in before and (bool(before[i]["correct"]), bool(after[i]["correct"])) == flip]
        print(f"{label}: {len(ids)} {' '.join(ids)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["changed", "merge"])
    p.add_argument("base", type=Path, help="the default's rows (context rows for `changed`, answers for `merge`)")
    p.add_argument("variant", type=Path, help="the variant's rows, of the same kind")
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--out", type=Path, help="`changed`: where the changed questions go")
    args = p.parse_args()
    if args.what == "changed":
        if not args.out:
            p.error("changed needs --out")
        changed(args.base, args.variant, args.questions, args.out)
    else:
        merge(args.base, args.variant, args.questions)


if __name__ == "__main__":
    main()
