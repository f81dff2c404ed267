"""Fusion variants on a built store, without re-embedding: prints answer-hit@k and MRR@10 for each, and the recall
of the candidate pools a reranker could work from.

    python bench/fusion.py --store data/bench-dev-256 --questions ../shared/data/realtimeqa-dev/questions.jsonl

Each variant re-ranks the same dense and BM25 candidates the product retrieves (rag.retrieve), so the rows are
comparable with one another and with `python -m rag.eval retrieval` on the same store.
"""

from __future__ import annotations

import argparse
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

from langchain_core.documents import Document


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser()
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True)
    args = p.parse_args()

    import bm25s

    from rag import Settings
    from rag.lexical import _tokenize
    from rag.retrieve import _best_sentence_rerank, build_retriever, news_query
    from rag.scoring import hit_rank, load_questions, retrieval_metrics
    from rag.text import key_terms

    settings = Settings(store_dir=args.store)
    retriever = build_retriever(settings, k=20)
    lexical = retriever.lexical()
    rows = {cid: (meta, text) for cid, meta, text in retriever.store.rows(documents=True)}
    articles: dict[str, list[str]] = {}
    for meta, text in sorted(rows.values(), key=lambda r: (r[0]["article_id"], r[0]["chunk_index"])):
        articles.setdefault(meta["article_id"], [f"{meta['title']} ({meta['source']})"]).append(text)
    article_ids = list(articles)
    article_bm25 = bm25s.BM25()
    article_bm25.index(_tokenize(["\n".join(v) for v in articles.values()]), show_progress=False)
    terms = {cid: set(key_terms(f"{m['title']} {t}")) for cid, (m, t) in rows.items()}
    df = Counter(t for ts in terms.values() for t in ts)
    idf = {t: math.log(len(rows) / c) for t, c in df.items()}

    cases = []
    for q in (q for q in load_questions(args.questions) if q["answerable"]):
        filters, _ = news_query(q["question"], settings, as_of=q.get("date"))
        dense = [d.id for d, _ in retriever.store.dense(q["question"], 100, filters.where())]
        lex = [cid for cid, _ in lexical.search(q["question"], 100)]
        found, _ = article_bm25.retrieve(_tokenize([q["question"]]), k=50, show_progress=False, n_threads=1)
        cases.append((q, dense, lex, {article_ids[int(i)]: r for r, i in enumerate(found[0])}))

    def has_answer(cid: str, q: dict[str, Any]) -> bool:
        return hit_rank([Document(page_content=rows[cid][1])], q["must_include"]) is not None

    def run(name: str, *, n: int = 50, cap: int = 99, week: float = 0.0, article: float = 0.0,
            coverage: float = 0.0, sentence: float = 0.0, pool: int = 0) -> list[int | None]:
        ranks = []
        for q, dense, lex, article_rank in cases:
            score: dict[str, float] = {}
            for ranked in (dense[:n], lex[:n]):
                for r, cid in enumerate(ranked):
                    score[cid] = score.get(cid, 0.0) + 1 / (settings.rrf_k + 1 + r)
            days = news_query(q["question"], settings, as_of=q.get("date"))[1]
            for cid in score:
                if days and days.holds(rows[cid][0]):
                    score[cid] += week / (settings.rrf_k + 1)
            qt = set(key_terms(q["question"]))
            total = sum(idf.get(t, 10.0) for t in qt) or 1.0
            for cid in score:
                a = rows[cid][0]["article_id"]
                score[cid] += article / (settings.rrf_k + 1 + article_rank[a]) if a in article_rank else 0.0
                score[cid] += coverage * sum(idf.get(t, 10.0) for t in qt & terms[cid]) / total
            ordered = sorted(score, key=lambda c: -score[c])
            if sentence and pool:
                fused = [Document(page_content=rows[c][1], id=c) for c in ordered]
                final = _best_sentence_rerank(q["question"], fused, pool, sentence, settings.rrf_k)
                ordered = sorted(final, key=lambda c: -final[c])
            per: Counter[str] = Counter()
            top = []
            for cid in ordered:
                a = rows[cid][0]["article_id"]
                if per[a] < cap:
                    per[a] += 1
                    top.append(Document(page_content=rows[cid][1]))
            ranks.append(hit_rank(top[:20], q["must_include"]))
        m = retrieval_metrics(ranks)
        cells = " | ".join(f"{m[k]:.3f}" for k in ("hit@1", "hit@5", "hit@10", "hit@20", "mrr@10"))
        print(f"| {name} | {cells} |")
        return ranks

    print("| variant | hit@1 | hit@5 | hit@10 | hit@20 | MRR@10 |\n|---|---|---|---|---|---|")
    run("RRF k=60, 50 candidates each (the fusion before session 5)")
    run("100 candidates each", n=100)
    for w in (0.5, 0.75, 1.0, 1.5):
        run(f"100 candidates, + news-week bonus {w}", n=100, week=w)
    for cap in (1, 2, 3, 4):
        run(f"100 candidates, news week {settings.recency_weight}, at most {cap} chunk(s) per article", n=100,
            week=settings.recency_weight, cap=cap)
    run("50 candidates, news week, at most 3 per article", week=settings.recency_weight, cap=3)
    product = {"n": settings.candidates, "week": settings.recency_weight, "cap": settings.max_per_article}
    run("the product's fusion before session 6 (no best-sentence re-ranking)", **product)
    for pool in (10, 20, 30):
        for w in (0.5, 1.0):
            run(f"+ the first {pool} re-ranked by their best sentence, weight {w}", **product, sentence=w, pool=pool)
    ranks = run("the product's ranking (Settings)", **product, sentence=settings.sentence_weight,
                pool=settings.sentence_pool)
    for w in (0.5, 1.0, 2.0):
        run(f"+ article-level BM25 rank, weight {w}, at most 2 per article", article=w, cap=2)
    for w in (0.005, 0.01, 0.02):
        run(f"+ IDF-weighted question-term coverage, weight {w}", coverage=w)
    for n in (20, 50, 100):
        pooled = sum(any(has_answer(c, q) for c in dense[:n] + lex[:n]) for q, dense, lex, _ in cases)
        print(f"answer in the union of the top {n} dense and top {n} BM25 candidates: {pooled / len(cases):.3f}")
    covered = []
    for q, *_ in cases:
        week = news_query(q["question"], settings, as_of=q.get("date"))[1]
        covered.append(week is not None and any(week.holds(m) and has_answer(c, q) for c, (m, _) in rows.items()))
    for flag, label in ((True, "an article of the news week holds"), (False, "only older articles hold")):
        part = [r for r, c in zip(ranks, covered, strict=True) if c is flag]
        m = retrieval_metrics(part)
        cells = ", ".join(f"{k} {m[k]:.3f}" for k in ("hit@1", "hit@5", "hit@10", "hit@20", "mrr@10"))
        print(f"the product's ranking where {label} the answer ({len(part)} questions): {cells}")


if __name__ == "__main__":
    main()
