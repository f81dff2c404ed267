"""How many articles of a slice are near-copies of another, as ingest decides it, and at other thresholds.

    python bench/dedup.py --articles ../shared/data/realtimeqa-dev/articles.jsonl [--show 0.7]

Prints the duplicate rate that ingest's own rule gives (articles in file order, each matched against the ones kept
before it: MinHash Jaccard >= NEWSDESK_DEDUP_THRESHOLD and published at most NEWSDESK_DEDUP_DAYS apart), then,
for the candidate pairs the LSH index finds, the exact shingle Jaccard at several thresholds, so a threshold can be
chosen by reading the pairs around it (`--show T` prints the pairs with exact Jaccard >= T).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.9)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--articles", type=Path, required=True, help="an articles.jsonl file")
    p.add_argument("--show", type=float, help="print the candidate pairs with exact Jaccard >= this")
    p.add_argument("--questions", type=Path, help="a questions.jsonl: are answers still in the stored articles?")
    args = p.parse_args()

    from ingest.dedup import NearDuplicates, shingles, signature
    from rag.config import Settings

    settings = Settings()
    arts = [json.loads(line) for line in args.articles.read_text().splitlines() if line.strip()]
    started = time.perf_counter()
    sigs = [signature(a["text"]) for a in arts]
    signing = time.perf_counter() - started
    rule = NearDuplicates(settings.dedup_threshold, days=settings.dedup_days)
    copies = []
    for i, (a, sig) in enumerate(zip(arts, sigs, strict=True)):
        found = rule.match(sig, a.get("published") or "")
        if found:
            copies.append((i, int(found[0]), found[1]))
        else:
            rule.add(str(i), sig, a.get("published") or "")
    print(f"{len(arts)} articles; signed in {signing:.1f} s")
    print(f"ingest rule (Jaccard >= {settings.dedup_threshold}, <= {settings.dedup_days} days apart): "
          f"{len(copies)} near-copies = {len(copies) / len(arts):.1%} of the articles are not stored again")
    if args.questions:
        _answers_kept(arts, {i for i, _, _ in copies}, args.questions)
    pairs = _pairs(arts, sigs, shingles)
    print("\nexact Jaccard of LSH candidate pairs (any dates): threshold -> pairs, articles that are copies")
    for t in THRESHOLDS:
        chosen = [p for p in pairs if p[0] >= t]
        print(f"  >= {t:.2f}: {len(chosen):3d} pairs, {_copies(chosen)} copies ({_copies(chosen) / len(arts):.1%})")
    for jac, est, i, j in pairs if args.show is not None else []:
        if jac >= args.show:
            print(f"{jac:.2f} (est {est:.2f}) {_label(arts[i])} | {_label(arts[j])}")


def _answers_kept(arts: list[dict[str, Any]], dropped: set[int], questions: Path) -> None:
    """For the questions with answer-bearing articles: how many lose one, and how many lose all of them."""
    kept_text = {a["url"]: a["text"].lower() for i, a in enumerate(arts) if i not in dropped}
    dropped_urls = {arts[i]["url"] for i in dropped}
    rows = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    rows = [q for q in rows if q.get("answer_urls")]
    touched = [q for q in rows if dropped_urls & set(q["answer_urls"])]
    lost = [q for q in touched if not any(str(q["answer"]).lower() in t for t in kept_text.values())]
    print(f"{len(rows)} answer-bearing questions: {len(touched)} have a not-stored copy among their answer "
          f"articles; {len(lost)} lose every stored article holding the answer text")


def _pairs(arts: list[dict[str, Any]], sigs: list[Any], shingles: Any) -> list[tuple[float, float, int, int]]:
    """Every pair the LSH index proposes at a low threshold, with exact and estimated Jaccard, most similar first."""
    from ingest.dedup import NearDuplicates

    index = NearDuplicates(0.01, days=10**6)
    sets: dict[int, set[int]] = {}
    found = []
    for i, sig in enumerate(sigs):
        for key in index.candidates(sig):
            j = int(key)
            a = sets.setdefault(i, set(shingles(arts[i]["text"]).tolist()))
            b = sets.setdefault(j, set(shingles(arts[j]["text"]).tolist()))
            found.append((len(a & b) / max(1, len(a | b)), sig.jaccard(sigs[j]), j, i))
        index.add(str(i), sig)
    return sorted(found, reverse=True)


def _copies(pairs: list[tuple[float, float, int, int]]) -> int:
    """Articles that are not the first of their group, when pairs join groups."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for _, _, i, j in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return sum(root(x) != x for x in parent)


def _label(a: dict[str, Any]) -> str:
    return f"{a['source']} {a.get('published')} {a['title'][:50]!r} ({len(a['text'])} chars)"


if __name__ == "__main__":
    main()
