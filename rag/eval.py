"""Measuring retrieval and answers on a questions file: python -m rag.eval {retrieval,context,answers,conversations}."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.scoring import (
    KS,
    OUTCOMES,
    answer_figures,
    citation_precision,
    contains,
    context_figures,
    hit_rank,
    load_questions,
    percentile,
    placed,
    retrieval_metrics,
)


@contextmanager
def _store_dir(store: Path | None) -> Iterator[Path]:
    if store:
        yield store
        return
    with tempfile.TemporaryDirectory(prefix="newsdesk-eval-") as tmp:
        yield Path(tmp)


def build_index(articles: list[Path], settings: Settings) -> float:
    """Index the articles into `settings.store_dir` with the ingest users run; seconds it took."""
    from ingest.index import ingest_paths

    started = time.perf_counter()
    summary = ingest_paths(articles, settings, progress=True)
    print(f"index: {summary.line()}", file=sys.stderr)
    return time.perf_counter() - started


def run_retrieval(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from rag.retrieve import build_retriever, news_query

    questions = [q for q in load_questions(args.questions) if q["answerable"]]
    retriever = build_retriever(settings, k=max(KS))
    retriever.lexical()
    ranks, latency = [], []
    for q in questions:
        started = time.perf_counter()
        filters, week = news_query(q["question"], settings, as_of=q.get("date"))
        docs = retriever.search(q["question"], filters, week=week)
        latency.append(time.perf_counter() - started)
        ranks.append(hit_rank(docs, q["must_include"]))
    return {"questions": len(questions), **retrieval_metrics(ranks),
            "latency_p50_ms": 1000 * statistics.median(latency), "latency_p95_ms": 1000 * percentile(latency, 0.95)}


def run_context(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """What the LLM is given, without the LLM: how often the gold answer is in the passages offered and in the
    excerpts selected from them, and how long those are. Fast enough to tune context selection on. Each --out row
    also holds a digest of the prompt's passages: the LLM decodes greedily, so only the questions whose digest a
    variant changes need answering again to measure it (bench/changed_prompts.py)."""
    from rag.retrieve import build_retriever
    from rag.sources import format_passages

    questions = [q for q in load_questions(args.questions) if q["answerable"]][: args.limit or None]
    retriever = build_retriever(settings)

    def one(q: dict[str, Any]) -> dict[str, Any]:
        passages, ctx = question_context(q, retriever, settings)
        text = format_passages(ctx.passages, ctx.excerpts) if ctx else ""
        return {"id": str(q["id"]), "offered": hit_rank(passages, q["must_include"]) is not None,
                "gated": ctx is None, "in_prompt": bool(text) and contains(text, q["must_include"]),
                "chars": len(text), "prompt": hashlib.sha256(text.encode()).hexdigest()[:16]}

    rows = each(questions, one, "context", args.out)
    figures = context_figures(rows)
    keys = [k for k in figures if k != "context_chars_p50"]
    return {**figures, **_onevent_figures(args, rows, context_figures, keys)}


def question_context(q: dict[str, Any], retriever: Any, settings: Settings) -> tuple[list[Any], Any]:
    """A single question's passages offered and the Context the LLM would read (None: refused by the evidence
    gate), as the chain builds them: the benchmarks that read prompts without the chain share this."""
    from rag.context import build_context
    from rag.models import get_reader
    from rag.retrieve import news_query

    filters, week = news_query(q["question"], settings, as_of=q.get("date"))
    passages = retriever.search(q["question"], filters, week=week)[: settings.context_passages]
    return passages, build_context(q["question"], passages, retriever.store.embeddings, settings, week=week,
                                   neighbours=retriever.store.around, reader=get_reader(settings),
                                   unseen=retriever.unseen)


def run_answers(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from rag.chain import build_chain, wait_for_warm_up

    questions = load_questions(args.questions)
    questions = [q for q in questions if q["answerable"] or not args.answerable_only][: args.limit or None]
    started = time.perf_counter()
    chain = build_chain(settings)
    wait_for_warm_up()  # the cold start is its own figure; the latencies below are those of a running chain
    ready_s = time.perf_counter() - started
    rows = each(questions, lambda q: _answer_one(chain, q), "answers", args.out)
    if args.verbose:
        for r in rows:
            print(json.dumps({k: r[k] for k in ("id", "gold", "outcome", "citations", "answer")}), file=sys.stderr)
    figures = answer_figures(rows)
    figures.update(_onevent_figures(args, rows, answer_figures,
                                    ["answerable", "accuracy", "wrong_refusals", "prompt_keeps_offered"]))
    if args.breakdown:
        figures.update({f"{o}": sum(r["outcome"] == o for r in rows if r["answerable"]) for o in OUTCOMES})
    return {**figures, "chain_ready_s": round(ready_s, 1)}


def each(items: list[dict[str, Any]], measure: Callable[[dict[str, Any]], dict[str, Any]], what: str,
         out: Path | None) -> list[dict[str, Any]]:
    """`measure` applied to every item in turn. A full run takes up to half an hour on 2 cores, so after each item
    a line on stderr says how far it is and how long the rest should take, and --out gains that item's row at once:
    a run stopped midway keeps the rows it measured."""
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with open(out, "w") if out else contextlib.nullcontext() as f:
        for item in items:
            rows.append(measure(item))
            if f:
                f.write(json.dumps(rows[-1]) + "\n")
                f.flush()
            print(progress_line(what, len(rows), len(items), time.perf_counter() - started), file=sys.stderr)
    return rows


def progress_line(what: str, done: int, total: int, elapsed: float) -> str:
    """"answers: 12/82 done in 2 min 30 s, about 14 min 35 s left" (the pace so far times what is left)."""
    left = elapsed / done * (total - done) if done else 0.0
    return f"{what}: {done}/{total} done in {_duration(elapsed)}, about {_duration(left)} left"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _onevent_figures(args: argparse.Namespace, rows: list[dict[str, Any]],
                     figures_of: Callable[[list[dict[str, Any]]], dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    """`keys` of `figures_of` over the on-event questions only, suffixed "_onevent" (none without on-event ids)."""
    onevent = _onevent_ids(args)
    if not onevent:
        return {}
    figures = figures_of([r for r in rows if r["id"] in onevent])
    return {f"{k}_onevent": figures[k] for k in keys}


def _onevent_ids(args: argparse.Namespace) -> set[str]:
    """Ids of the on-event questions: --onevent, else the onevent.jsonl beside the questions file, if any."""
    path = args.onevent or args.questions.with_name("onevent.jsonl")
    if not path.exists() or path.resolve() == args.questions.resolve():
        return set()
    return {str(q["id"]) for q in load_questions(path)}


def timed_stream(chain: Any, inputs: dict[str, Any]) -> tuple[float, float, dict[str, Any], float]:
    """Stream one answer: (seconds to its first answer chunk, seconds to the whole answer, the merged output,
    seconds to the retrieved passages, what the chat shows as being read)."""
    started = time.perf_counter()
    first: float | None = None
    reading: float | None = None
    out: dict[str, Any] = {"answer": "", "sources": []}
    for chunk in chain.stream(inputs):
        if "passages" in chunk and reading is None:
            reading = time.perf_counter() - started
        if chunk.get("answer") and first is None:
            first = time.perf_counter() - started
        out.update({k: out.get(k, "") + v if k == "answer" else v for k, v in chunk.items()})
    full = time.perf_counter() - started
    return first or full, full, out, reading if reading is not None else full


def _answer_one(chain: Any, q: dict[str, Any]) -> dict[str, Any]:
    first, full, out, reading = timed_stream(chain, {"question": q["question"], "as_of": q.get("date")})
    answer, gold = out["answer"], q["must_include"]
    return {"id": str(q.get("id")), "gold": gold, "answerable": q["answerable"], "answer": answer,
            "reading": reading, "first": first, "full": full, **placed(out, gold),
            "citations": citation_precision(answer, out["sources"], out.get("standalone") or q["question"])}


def run_conversations(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Multi-turn conversations ({"id", "turns", "final_must_include", "date"?}): each turn is asked with the
    chain's own earlier answers as history; the last answer's first sentence must hold the gold."""
    from rag.chain import build_chain, wait_for_warm_up

    convs = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    chain = build_chain(settings)
    wait_for_warm_up()
    rows = each(convs[: args.limit or None], lambda c: _converse(chain, c), "conversations", args.out)
    if args.verbose:
        for r in rows:
            print(json.dumps(r), file=sys.stderr)
    n = max(1, len(rows))
    outcomes = [r["outcome"] for r in rows]
    return {"conversations": len(rows), "accuracy": sum(r["correct"] for r in rows) / n,
            "refused": sum(r["refused"] for r in rows) / n,
            "first_token_p50_s": statistics.median(r["first"] for r in rows) if rows else float("nan"),
            **{k: outcomes.count(k) for k in OUTCOMES}}


def _converse(chain: Any, conv: dict[str, Any]) -> dict[str, Any]:
    history: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    first = 0.0
    turns = []
    for turn in conv["turns"]:
        asked = {"question": turn, "chat_history": list(history), "as_of": conv.get("date")}
        first, _, out, _ = timed_stream(chain, asked)
        history += [("human", turn), ("ai", out["answer"])]
        turns.append({"question": turn, "standalone": out.get("standalone"), "answer": out["answer"]})
    return {"id": conv.get("id"), "standalone": out.get("standalone"), "answer": out.get("answer", ""),
            "first": first, **placed(out, conv["final_must_include"]), "turns": turns}


def main(argv: list[str] | None = None, *, prog: str = "python -m rag.eval") -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(prog=prog, description="Measure Newsdesk on your own questions.")
    p.add_argument("what", choices=list(RUNNERS))
    p.add_argument("--articles", type=Path, nargs="+", required=True, help="articles (any format ingest reads)")
    p.add_argument("--questions", type=Path, required=True,
                   help="questions.jsonl (realtimeqa or seed format), or conversations")
    p.add_argument("--store", type=Path, help="reuse (or build once into) this store directory")
    p.add_argument("--limit", type=int, default=0, help="only the first N questions (context, answers)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--verbose", action="store_true", help="print each answer (answers)")
    p.add_argument("--answerable-only", action="store_true", help="skip questions without answer_urls (answers)")
    p.add_argument("--breakdown", action="store_true",
                   help="count where answerable questions are lost: retrieval, selection, model, refusal (answers)")
    p.add_argument("--onevent", type=Path, help="on-event questions (default: onevent.jsonl beside --questions)")
    p.add_argument("--out", type=Path, help="write one JSON row per question here (context, answers)")
    args = p.parse_args(argv)
    with _store_dir(args.store) as store:
        settings = Settings(store_dir=store / "chroma" if not args.store else store)
        build = build_index(args.articles, settings)
        figures = {"index_build_s": round(build, 1), **RUNNERS[args.what](args, settings)}
    print(json.dumps(figures, indent=2) if args.json else _table(figures))
    return 0


RUNNERS = {"retrieval": run_retrieval, "context": run_context, "answers": run_answers,
           "conversations": run_conversations}


def _table(figures: dict[str, Any]) -> str:
    return "\n".join(f"{k:>22}  {v:.3f}" if isinstance(v, float) else f"{k:>22}  {v}" for k, v in figures.items())


if __name__ == "__main__":
    sys.exit(main())
