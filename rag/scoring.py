"""Scoring against gold answers: questions files, answer hits, retrieval metrics, where an answer was lost."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from rag.sources import cited_numbers, format_passages, is_supported
from rag.text import sentence_spans, strip_citations

KS = (1, 5, 10, 20)


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Questions in the realtimeqa format (answer, answer_urls) or the seed format (must_include)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for r in rows:
        if "must_include" in r:
            r.setdefault("answerable", bool(r["must_include"]))
        else:
            r["answerable"] = bool(r.get("answer_urls"))
            r["must_include"] = [[r["answer"]]]
    return rows


def contains(text: str, groups: list[list[str]]) -> bool:
    low = text.lower()
    return all(any(w.lower() in low for w in g) for g in groups)


def hit_rank(passages: list[Document], groups: list[list[str]]) -> int | None:
    """1-based rank of the first passage holding the answer (every group), or None."""
    for rank, d in enumerate(passages, 1):
        if contains(d.page_content, groups):
            return rank
    return None


def retrieval_metrics(ranks: list[int | None], ks: tuple[int, ...] = KS) -> dict[str, float]:
    """answer-hit@k for each k and MRR@10 over the ranks of the first answer-bearing passage."""
    n = max(1, len(ranks))
    out = {f"hit@{k}": sum(r is not None and r <= k for r in ranks) / n for k in ks}
    out["mrr@10"] = sum(1 / r for r in ranks if r is not None and r <= 10) / n
    return out


def first_sentence(answer: str) -> str:
    spans = sentence_spans(answer)
    return answer[spans[0][0]:spans[0][1]] if spans else answer


def citation_precision(answer: str, sources: list[Document], question: str = "") -> tuple[int, int]:
    """(supported, total) over every [n] of the answer: [n] counts as supported when two adjacent sentences of
    sources[n-1] hold at least 60 % of its sentence's key terms, not counting words repeated from the question
    (rag.sources.is_supported)."""
    good = total = 0
    for s, e in sentence_spans(answer):
        sentence = answer[s:e]
        for n in cited_numbers(sentence):
            total += 1
            good += 0 < n <= len(sources) and is_supported(strip_citations(sentence), sources[n - 1].page_content,
                                                               question)
    return good, total


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


OUTCOMES = ("right", "retrieval_miss", "selection_miss", "model_miss", "wrong_refusal")


def outcome(*, correct: bool, refused: bool, offered: bool, in_prompt: bool) -> str:
    """Where an answerable question was lost: the gold answer was not in the passages offered (retrieval miss);
    it was, but the answer refused (wrong refusal); it was offered but not in the prompt (selection miss); it was
    in the prompt but the first sentence does not hold it (model miss)."""
    if correct:
        return "right"
    if not offered:
        return "retrieval_miss"
    if refused:
        return "wrong_refusal"
    return "model_miss" if in_prompt else "selection_miss"


def placed(out: dict[str, Any], gold: list[list[str]]) -> dict[str, Any]:
    """Whether the chain's merged output `out` answered right, refused, was offered the gold and kept it in the
    prompt, and so where it was lost (`outcome`)."""
    answer, context = out.get("answer", ""), out.get("context") or []
    where = {"correct": contains(first_sentence(answer), gold), "refused": answer.startswith("The articles don't say"),
             "offered": hit_rank(out.get("passages") or [], gold) is not None,
             "in_prompt": bool(context) and contains(format_passages(context), gold)}
    return {**where, "outcome": outcome(**where)}


def context_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = max(1, len(rows))
    offered = [r for r in rows if r["offered"]]
    sizes = [r["chars"] for r in rows if not r["gated"]]
    return {"questions": len(rows), "passages_hit": len(offered) / n,
            "context_hit": sum(r["in_prompt"] for r in rows) / n,
            "prompt_keeps_offered": sum(r["in_prompt"] for r in offered) / max(1, len(offered)),
            "refused_by_evidence_gate": sum(r["gated"] for r in rows) / n,
            "context_chars_p50": statistics.median(sizes) if sizes else 0}


def answer_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, refusals, how much of what retrieval offered the prompt keeps, citation precision, latency."""
    answerable = [r for r in rows if r["answerable"]]
    rest = [r for r in rows if not r["answerable"]]
    offered = [r for r in answerable if r["offered"]]
    good, total = map(sum, zip(*[r["citations"] for r in rows], strict=True)) if rows else (0, 0)
    return {
        "questions": len(rows), "answerable": len(answerable),
        "accuracy": sum(r["correct"] for r in answerable) / max(1, len(answerable)),
        "wrong_refusals": sum(r["refused"] for r in answerable) / max(1, len(answerable)),
        "refusal_rate_rest": sum(r["refused"] for r in rest) / max(1, len(rest)),
        "prompt_keeps_offered": sum(r["in_prompt"] for r in offered) / max(1, len(offered)),
        "citation_precision": good / max(1, total), "citations": total,
        "passages_shown_p50_s": statistics.median(r["reading"] for r in rows) if rows else float("nan"),
        "first_token_p50_s": statistics.median(r["first"] for r in rows) if rows else float("nan"),
        "first_token_p95_s": percentile([r["first"] for r in rows], 0.95),
        "full_answer_p50_s": statistics.median(r["full"] for r in rows) if rows else float("nan"),
        "full_answer_p95_s": percentile([r["full"] for r in rows], 0.95),
    }
