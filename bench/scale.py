"""How Newsdesk grows: a store of N synthetic passages, and what ingest, queries and a cold start cost at that size.

Passages are written by the real ingest (split, each story once, Chroma, the lexical index, the tally) from
synthetic articles whose sentences are sampled from the dev slice; their vectors come from a stand-in embedder
(hashed words, 384 dims, unit length), so the figures are Newsdesk's and not MiniLM's. For each N it prints and
appends to --results: ingest passages/s, the time to add one article in process (stand-in embedder) and with
`python -m ingest one.md` (a new process, MiniLM embedding the article), hybrid query p50/p95 over the dev
questions, a new process's cold start to its first query (MiniLM loaded, as the chat does) and its peak resident
memory, and the store's size on disk. A store already under --root is carried on from what it holds (so a second
run measures again without building); `--minutes` stops a build early and measures the store as far as it got.
`--plot docs/scale.png` draws the figures of every size in --results.

    python bench/scale.py --articles ../shared/data/realtimeqa-dev/articles.jsonl \\
        --questions ../shared/data/realtimeqa-dev/questions.jsonl --sizes 10000 100000 --root /tmp/scale \\
        --plot docs/scale.png
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
WORD = re.compile(r"\w+")
DIM = 384
PER_RUN = 1500  # articles handed to one ingest run (the chat's feed poll or a CLI run is of this order or less)


class StandIn(Embeddings):
    """Hashed bag of words in 384 dims, unit length: fast, and texts sharing words are near each other."""

    def __init__(self) -> None:
        self._slot: dict[str, int] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = np.full((len(texts), DIM), 0.01, dtype=np.float32)
        for row, text in enumerate(texts):
            slots = [self._slot.get(w) or self._slot.setdefault(w, zlib.crc32(w.encode()) % DIM)
                     for w in WORD.findall(text.lower())]
            np.add.at(vectors[row], slots, 1.0)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def sentences(path: Path) -> tuple[list[str], list[str], list[str]]:
    """Sentences, titles and outlets of the articles in a realtimeqa jsonl file."""
    from rag.text import sentence_spans

    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    said = [r["text"][a:b] for r in rows for a, b in sentence_spans(r["text"]) if b - a > 40]
    return said, [r["title"] for r in rows], sorted({r["source"] for r in rows})


def synthetic(i: int, pool: tuple[list[str], list[str], list[str]], words: int = 480) -> Any:
    """Article i: a dev title, outlet and date, and sentences from several dev articles (~2 passages)."""
    from ingest.articles import Article

    said, titles, outlets = pool
    rng = random.Random(i)
    text: list[str] = []
    while sum(len(s.split()) for s in text) < words:
        text.append(rng.choice(said))
    day = f"20{rng.randint(19, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return Article(article_id=f"syn{i}", title=f"{rng.choice(titles)} ({i})", text=" ".join(text),
                   source=rng.choice(outlets), url=f"https://example.com/{i}", published=day)


def build(root: Path, n: int, pool: Any, minutes: float | None = None) -> dict[str, Any]:
    """Ingest synthetic articles until the store holds `n` passages (carrying on from what it holds already), or
    until `minutes` run out; passages/s of this build."""
    from ingest.index import ingest_articles
    from rag.config import Settings
    from rag.corpus import load_tally
    from rag.store import open_store

    store = open_store(Settings(store_dir=root, data_dir=root / "data"), embeddings=StandIn())
    started, before = time.perf_counter(), store.count()
    i, count = load_tally(store).articles, before
    while count < n and (minutes is None or time.perf_counter() - started < 60 * minutes):
        size = min(PER_RUN, max(1, int((n - count) / (count / i if i else 3.7))))
        ingest_articles([synthetic(i + k, pool) for k in range(size)], store.settings, store=store, progress=False)
        i, count = i + size, store.count()
        print(f"  {count} passages, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    built = {"build_s": seconds, "ingest_passages_per_s": (count - before) / seconds} if count > before else {}
    return {"passages": count, "articles": i, "reached": count >= n, **built}


def add_one(root: Path, pool: Any, *, repeats: int = 3) -> dict[str, float]:
    """Median seconds to add one new article: in process (stand-in embedder, store open; `2 * repeats` times), and
    as `python -m ingest one.md` (a new process, MiniLM embedding the article; `repeats` times)."""
    from ingest.index import ingest_paths
    from rag.config import Settings
    from rag.store import open_store

    store = open_store(Settings(store_dir=root, data_dir=root / "data"), embeddings=StandIn())
    timings: dict[str, list[float]] = {"add_one_in_process_s": [], "add_one_cli_s": []}
    for label, times in (("add_one_in_process_s", 2 * repeats), ("add_one_cli_s", repeats)):
        for _ in range(times):
            article = synthetic(time.time_ns() % 10**12, pool)  # an id no earlier run used
            path = root.parent / f"one-{article.article_id}.md"
            path.write_text(f"---\ntitle: {article.title}\nsource: {article.source}\npublished: {article.published}"
                            f"\nid: {article.article_id}\n---\n{article.text}\n")
            started = time.perf_counter()
            if label == "add_one_in_process_s":
                summary = ingest_paths([path], store.settings, progress=False, store=store)
                assert summary.added == 1, summary.line()
            else:
                done = subprocess.run([sys.executable, "-m", "ingest", "--quiet", "--store", str(root), str(path)],
                                      cwd=REPO, capture_output=True, text=True, timeout=600)
                assert done.stdout.startswith("1 added"), done.stdout + done.stderr
            timings[label].append(time.perf_counter() - started)
    return {label: statistics.median(times) for label, times in timings.items()}


def queries(root: Path, questions: Path) -> dict[str, float]:
    """Hybrid retrieval over the store for every dev question (as of its date), after one untimed question."""
    from rag.config import Settings
    from rag.retrieve import HybridRetriever, news_query
    from rag.store import open_store

    settings = Settings(store_dir=root, data_dir=root / "data")
    retriever = HybridRetriever(store=open_store(settings, embeddings=StandIn()), settings=settings)
    asked = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    retriever.search("warm up")
    latency = []
    for q in asked:
        started = time.perf_counter()
        filters, week = news_query(q["question"], settings, as_of=q.get("date"))
        retriever.search(q["question"], filters, week=week)
        latency.append(time.perf_counter() - started)
    latency.sort()
    return {"query_p50_ms": 1000 * statistics.median(latency),
            "query_p95_ms": 1000 * latency[int(0.95 * (len(latency) - 1))]}


def cold(root: Path, repeats: int = 3) -> dict[str, float]:
    """A new process: import, open the store, load MiniLM and the lexical index, answer one retrieval query
    (median of `repeats` processes; the most resident memory one of them reached)."""
    seconds, rss = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--cold", str(root)], cwd=REPO,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-2000:]
        seconds.append(time.perf_counter() - started)
        rss.append(float(done.stdout.split()[-1]))
    return {"cold_start_s": statistics.median(seconds), "rss_mb": max(rss)}


def first_query(root: Path) -> None:
    from rag.config import Settings
    from rag.retrieve import build_retriever

    docs = build_retriever(Settings(store_dir=root, data_dir=root / "data")).invoke("Who won the election?")
    assert docs
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def disk(root: Path) -> dict[str, float]:
    lexical = sum(p.stat().st_size for p in (root / "lexical").rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {"disk_chroma_mb": (total - lexical) / 2**20, "disk_lexical_mb": lexical / 2**20}


def plot(results: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(results, key=lambda r: r["passages"])
    panels = [("ingest_passages_per_s", "ingest, passages/s"), ("add_one_in_process_s", "add one article, s"),
              ("query_p50_ms", "hybrid query p50 / p95, ms"), ("cold_start_s", "cold start to first query, s"),
              ("rss_mb", "resident memory, MB"), ("disk_chroma_mb", "disk: Chroma / lexical, MB")]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    x = [r["passages"] for r in rows]
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        ax.plot(x, [r[key] for r in rows], "o-")
        second = {"query_p50_ms": "query_p95_ms", "disk_chroma_mb": "disk_lexical_mb",
                  "add_one_in_process_s": "add_one_cli_s"}.get(key)
        if second:
            ax.plot(x, [r[second] for r in rows], "s--")
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("passages")
        ax.grid(alpha=0.3)
    axes.flat[1].legend(["in process", "python -m ingest"], fontsize=8)
    fig.suptitle("Newsdesk at N passages (2 cores, shared with other jobs; bench/scale.py)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def table(results: list[dict[str, Any]]) -> str:
    """The README's scale table: one column per store in --results."""
    rows = sorted(results, key=lambda r: r["passages"])
    lines = [("passages (articles)", lambda r: f"{r['passages']:,} ({r['articles']:,})"),
             ("ingest, passages/s (stand-in embedder)", lambda r: f"{r['ingest_passages_per_s']:.0f}"),
             ("add one article in process, beyond embedding", lambda r: f"{r['add_one_in_process_s']:.2f} s"),
             ("`python -m ingest one.md` (process start, MiniLM)", lambda r: f"{r['add_one_cli_s']:.1f} s"),
             ("hybrid query p50 / p95", lambda r: f"{r['query_p50_ms']:.0f} / {r['query_p95_ms']:.0f} ms"),
             ("cold start to first query (MiniLM loaded)", lambda r: f"{r['cold_start_s']:.1f} s"),
             ("resident memory of that process", lambda r: f"{r['rss_mb']:.0f} MB"),
             ("disk: Chroma + lexical index", lambda r: f"{r['disk_chroma_mb']:,.0f} + {r['disk_lexical_mb']:,.0f} MB")]
    head = "| N | " + " | ".join(f"{r['n']:,}" + ("" if r.get("reached", True) else
                                               f" (build stopped after {r['build_s'] / 60:.0f} min)") for r in rows)
    out = [head + " |", "|---" * (len(rows) + 1) + "|"]
    return "\n".join(out + [f"| {name} | " + " | ".join(cell(r) for r in rows) + " |" for name, cell in lines])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=Path, help="realtimeqa articles.jsonl whose sentences passages are made of")
    p.add_argument("--questions", type=Path, help="realtimeqa questions.jsonl asked of each store")
    p.add_argument("--sizes", type=int, nargs="*", default=[], help="passages in each store, e.g. 10000 100000")
    p.add_argument("--root", type=Path, default=Path("/tmp/newsdesk-scale"), help="where the stores are built")
    p.add_argument("--results", type=Path, default=REPO / "bench" / "scale.json", help="figures, one row per size")
    p.add_argument("--plot", type=Path, help="draw every size in --results here (a PNG)")
    p.add_argument("--table", action="store_true", help="print the README's table of every size in --results")
    p.add_argument("--minutes", type=float, help="stop building a store after this long and measure it as it is "
                   "(the row records the passages reached)")
    p.add_argument("--repeats", type=int, default=3, help="new processes timed for `python -m ingest` and the cold "
                   "start (medians; in process, twice as many additions)")
    p.add_argument("--cold", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.cold:
        first_query(args.cold)
        return 0
    results = json.loads(args.results.read_text()) if args.results.exists() else []
    pool = sentences(args.articles) if args.sizes else None
    for n in args.sizes:
        root = args.root / str(n) / "chroma"
        earlier = next((r for r in results if r["n"] == n), {})  # its build figures, if this run builds nothing
        row = {**earlier, "n": n, **build(root, n, pool, args.minutes)}
        row |= add_one(root, pool, repeats=args.repeats) | queries(root, args.questions) | cold(root, args.repeats)
        row |= disk(root)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        results = [r for r in results if r["n"] != n] + [row]
        args.results.write_text(json.dumps(results, indent=1) + "\n")
    if args.plot:
        plot(results, args.plot)
    if args.table:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
