"""Replay a name check on the answers of a run, without the LLM: would it change what the first sentence says?

    python -m rag.eval answers --articles A --questions Q --store S --answerable-only --out rows.jsonl
    python bench/name_check.py --store S --questions Q --rows rows.jsonl

The citation check (rag.sources.Citer) accepts a sentence when one passage holds 60 % of its claim terms, so a wrong
name among supported words passes. The check replayed here also asks for the sentence's names and numbers
(capitalised words and words with digits, beyond the question's terms) in the passage that supports it; a sentence
that fails is dropped as an unsupported one is, so the next one leads, or the context's best sentence is quoted, or
the answer is a refusal. Decoding is greedy, so the rows' answers are what the model would write again. Scopes:
`window` (the supporting sentence and its neighbours), `passage`, `any` (at least one of the names in the passage).
Prints each changed answer and, per scope, how many changed, were gained and were lost.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from langchain_core.documents import Document

from rag.config import Settings
from rag.eval import question_context
from rag.retrieve import build_retriever
from rag.scoring import contains, load_questions
from rag.sources import SUPPORT_MIN, support
from rag.text import key_terms, sentence_spans, strip_citations

NAME_RE = re.compile(r"\b(?:[A-Z][\w'’.-]*|\w*\d[\w.,%$-]*)")
SCOPES = ("window", "passage", "any")


def names(sentence: str, question: str) -> set[str]:
    """The key terms of the sentence's capitalised words and numbers that the question does not hold."""
    asked = set(key_terms(question))
    return {t for m in NAME_RE.finditer(strip_citations(sentence)) for t in key_terms(m.group())} - asked


def passes(sentence: str, passages: list[Document], question: str, scope: str) -> bool:
    text = strip_citations(sentence)
    claimed = names(text, question)
    for p in passages:
        share, span = support(text, p.page_content, question)
        if share < SUPPORT_MIN:
            continue
        if scope == "window":
            spans = sentence_spans(p.page_content)
            i = spans.index(span) if span in spans else 0
            have = set(key_terms(p.page_content[spans[max(0, i - 1)][0]:spans[min(len(spans) - 1, i + 1)][1]]))
        else:
            have = set(key_terms(p.page_content))
        if claimed <= have if scope != "any" else (not claimed or claimed & have):
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--rows", type=Path, required=True, help="rag.eval answers --out rows of the same questions")
    args = parser.parse_args()
    settings = Settings(store_dir=args.store)
    retriever = build_retriever(settings)
    rows = {r["id"]: r for r in map(json.loads, args.rows.open())}
    changed: dict[str, list[tuple[bool, bool]]] = {s: [] for s in SCOPES}
    for q in load_questions(args.questions):
        r = rows.get(str(q["id"]))
        if r is None or r["refused"] or not r["answer"]:
            continue
        _, ctx = question_context(q, retriever, settings)
        if ctx is None:
            continue
        sentences = [r["answer"][s:e] for s, e in sentence_spans(r["answer"])]
        for scope in SCOPES:
            kept = [s for s in sentences if passes(s, ctx.passages, q["question"], scope)]
            if kept and kept[0] == sentences[0]:
                continue
            best = ctx.best if ctx.best and passes(ctx.best, ctx.passages, q["question"], scope) else ""
            new = kept[0] if kept else best
            right = bool(new) and contains(new, q["must_include"])
            changed[scope].append((bool(r["correct"]), right))
            print(f"{scope} {q['id']} right {r['correct']} -> {right}: {sentences[0][:100]!r} -> "
                  f"{(new or '(refusal)')[:100]!r}", flush=True)
    print(json.dumps({s: {"changed": len(c), "gained": sum(b and not a for a, b in c),
                          "lost": sum(a and not b for a, b in c)} for s, c in changed.items()}))


if __name__ == "__main__":
    main()
