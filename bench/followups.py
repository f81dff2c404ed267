"""First-chunk time of follow-up questions (rewritten from the chat history, then answered) against first turns,
on the seed conversations, with the default LLM; and the process's memory. Compare the two rewrite set-ups:

    python bench/followups.py --store DIR                                 # rewrites in a context of their own
    NEWSDESK_REWRITE_CONTEXT=false python bench/followups.py --store DIR  # one shared llama.cpp context

DIR is a store of corpus/ (built there if empty). Each conversation runs --repeat times after a warm-up of both
prompts; medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from typing import Any

CONVERSATIONS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "seed_conversations.jsonl"


def first_chunk(chain: Any, question: str, history: list[tuple[str, str]]) -> tuple[float, str]:
    from rag.eval import timed_stream

    first, _, out, _ = timed_stream(chain, {"question": question, "chat_history": history})
    return first, out["answer"]


def memory_mb() -> dict[str, int]:
    """Resident and proportional set size: pages of the memory-mapped weights count once in the second."""
    rows = dict(line.split(":", 1) for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:])
    return {k: int(rows[k].split()[0]) // 1024 for k in ("Rss", "Pss")}


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser()
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--conversations", type=Path, default=CONVERSATIONS)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()

    from ingest.index import ingest_paths
    from rag import Settings, build_chain

    settings = Settings(store_dir=args.store)
    ingest_paths([Path("corpus")], settings, progress=False)
    chain = build_chain(settings)
    first_chunk(chain, "When will Trump be inaugurated?", [])
    first_chunk(chain, "Who said that?", [("user", "When will Trump be inaugurated?"), ("assistant", "In January.")])
    conversations = [json.loads(line) for line in args.conversations.read_text().splitlines() if line.strip()]
    firsts, follow_ups = [], []
    for _ in range(args.repeat):
        for conv in conversations:
            opening, follow_up = conv["turns"][:2]
            seconds, answer = first_chunk(chain, opening, [])
            firsts.append(seconds)
            seconds, answer = first_chunk(chain, follow_up, [("user", opening), ("assistant", answer)])
            follow_ups.append(seconds)
            print(f"{conv['id']}: first turn {firsts[-1]:.2f} s, follow-up {seconds:.2f} s | {answer[:70]!r}",
                  flush=True)
    print(f"rewrite_context={settings.rewrite_context}: first chunk p50, first turns "
          f"{statistics.median(firsts):.2f} s, follow-ups {statistics.median(follow_ups):.2f} s; "
          f"memory {memory_mb()} MB")


if __name__ == "__main__":
    main()
