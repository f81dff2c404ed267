"""Where an answer's first-chunk time goes, stage by stage, with the default LLM on a built store:

    python bench/stages.py --store data/bench-dev-256 --questions ../shared/data/realtimeqa-dev/questions.jsonl

For each answerable question (the first --limit): retrieval, sentence selection, the LLM's first token after the
prompt is ready (prefill of everything after the cached prefix), the decoding of the rest of the answer, and the
prompt's user-turn length in tokens; then the medians. The first question also warms the caches and is left out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser()
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--limit", type=int, default=12)
    args = p.parse_args()

    from rag import Settings
    from rag.chain import answer_messages
    from rag.context import build_context
    from rag.models import get_llm, get_reader
    from rag.retrieve import build_retriever, news_query
    from rag.scoring import load_questions

    settings = Settings(store_dir=args.store)
    retriever = build_retriever(settings)
    retriever.lexical()
    llm = get_llm(settings)
    tokenize = getattr(getattr(llm, "client", None), "tokenize", None)
    questions = [q for q in load_questions(args.questions) if q["answerable"]][: args.limit + 1]
    rows = []
    print("retrieve s | select s | first LLM token s | rest of answer s | user-turn tokens | answer")
    for q in questions:
        t0 = time.perf_counter()
        filters, week = news_query(q["question"], settings, as_of=q.get("date"))
        passages = retriever.search(q["question"], filters, week=week)[: settings.context_passages]
        t1 = time.perf_counter()
        ctx = build_context(q["question"], passages, retriever.store.embeddings, settings, week=week,
                            neighbours=retriever.store.around, reader=get_reader(settings),
                            unseen=retriever.unseen)
        t2 = time.perf_counter()
        if ctx is None:
            continue
        messages = answer_messages(q["question"], q.get("date") or "", ctx)
        first, text = None, ""
        for chunk in llm.stream(messages):
            first = first or time.perf_counter()
            text += str(chunk.content)
        t3 = time.perf_counter()
        user = messages[-1][1]
        n = len(tokenize(user.encode())) if tokenize else -1
        row = (t1 - t0, t2 - t1, (first or t3) - t2, t3 - (first or t3), n)
        rows.append(row)
        print(" | ".join(f"{v:.2f}" for v in row[:4]) + f" | {n} | {text[:70]!r}", flush=True)
    if len(rows) > 1:
        medians = [statistics.median(r[i] for r in rows[1:]) for i in range(5)]
        print("median (without the first) | " + " | ".join(f"{v:.2f}" for v in medians[:4]) + f" | {medians[4]:.0f}")


if __name__ == "__main__":
    main()
