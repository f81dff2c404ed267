"""Load benchmark: N concurrent chats against a running Newsdesk app; prints p50/p95 latency and errors.

Starts nothing itself. Example (app already serving on :7860):
    python bench/load.py --url http://127.0.0.1:7860 -n 20
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

QUESTIONS = ["What are Russia's terms?", "Who is Dmitry Peskov?", "How does Peskov describe the United States?",
             "Is Moscow open for talks with the US?"]


@dataclass
class Result:
    seconds: float
    error: str = ""


def one_chat(url: str, question: str, start: threading.Barrier, timeout: float) -> Result:
    """Connect, wait for every client to be ready, then ask and time the complete answer."""
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
        start.wait(timeout=timeout)
        began = time.perf_counter()
        job = client.submit(question, [], "", "", api_name="/respond")
        answer = str(job.result(timeout=timeout))
        took = time.perf_counter() - began
    except Exception as e:  # a benchmark counts failures, it does not stop at the first
        return Result(0.0, f"{type(e).__name__}: {e}")
    return Result(took, "" if answer.strip() else "empty answer")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def run(url: str, n: int, timeout: float) -> list[Result]:
    start = threading.Barrier(n)
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(one_chat, url, QUESTIONS[i % len(QUESTIONS)], start, timeout) for i in range(n)]
        return [f.result() for f in futures]


def report(results: list[Result], wall: float) -> str:
    ok = [r.seconds for r in results if not r.error]
    errors = [r.error for r in results if r.error]
    line = f"{len(results)} concurrent chats: {len(ok)} complete, {len(errors)} errors; wall {wall:.1f} s"
    if ok:
        line += (f"; latency p50 {percentile(ok, 0.5):.1f} s, p95 {percentile(ok, 0.95):.1f} s, "
                 f"max {max(ok):.1f} s, mean {statistics.fmean(ok):.1f} s")
    return "\n".join([line, *(f"  error: {e}" for e in dict.fromkeys(errors))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="a running Newsdesk app")
    parser.add_argument("-n", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one chat may take")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    results = run(args.url, args.n, args.timeout)
    print(report(results, time.perf_counter() - began))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
