"""The naive baseline Newsdesk must beat: BM25 top-4 chunks cut to 600 characters, a plain prompt, the same LLM.

    python bench/naive.py --store data/bench-dev --questions ../shared/data/realtimeqa-dev/questions.jsonl

Scored as `python -m rag.eval answers` scores the product (the answer's first sentence holds the gold answer),
over the answer-bearing questions, and over the on-event ones (onevent.jsonl beside the questions file). The
store is one that `python -m rag.eval ingest --articles ... --store DIR` (or any eval run with --store) built.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

PROMPT = """Answer the question using the news passages below. Answer in one short sentence.

{passages}

Question: {question}
Answer:"""


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser()
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--top", type=int, default=4, help="BM25 chunks in the prompt")
    p.add_argument("--chars", type=int, default=600, help="characters of each chunk")
    p.add_argument("--out", type=Path, help="one JSON row per question")
    args = p.parse_args()

    from rag import Settings
    from rag.lexical import load_lexical
    from rag.models import get_llm
    from rag.scoring import contains, first_sentence, load_questions
    from rag.store import open_store

    settings = Settings(store_dir=args.store)
    store = open_store(settings)
    lexical = load_lexical(store)
    llm = get_llm(settings)
    onevent_path = args.questions.with_name("onevent.jsonl")
    onevent = {q["id"] for q in load_questions(onevent_path)} if onevent_path.exists() else set()
    questions = [q for q in load_questions(args.questions) if q["answerable"]][: args.limit or None]
    rows = []
    for q in questions:
        ids = [cid for cid, _ in lexical.search(q["question"], args.top)]
        docs = {d.id: d for d in store.get(ids)}
        passages = "\n\n".join(docs[i].page_content[: args.chars] for i in ids if i in docs)
        started = time.perf_counter()
        answer = str(llm.invoke([("human", PROMPT.format(passages=passages, question=q["question"]))]).content)
        rows.append({"id": q["id"], "correct": contains(first_sentence(answer.strip()), q["must_include"]),
                     "seconds": time.perf_counter() - started, "answer": answer})
        print(f"{len(rows)}/{len(questions)} answered", file=sys.stderr, flush=True)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    on = [r for r in rows if r["id"] in onevent]
    share = sum(r["correct"] for r in rows) / max(1, len(rows))
    print(json.dumps({"answerable": len(rows), "accuracy": share, "answerable_onevent": len(on),
                      "accuracy_onevent": sum(r["correct"] for r in on) / max(1, len(on)),
                      "full_answer_p50_s": statistics.median(r["seconds"] for r in rows)}, indent=2))


if __name__ == "__main__":
    main()
