"""First-chunk time of the first question a fresh process answers, asked --idle seconds after build_chain (a
person opening the chat and typing). Compare with the warm-up off:

    python bench/first_question.py --store DIR
    NEWSDESK_WARM_START=false python bench/first_question.py --store DIR

DIR is a store of corpus/ (built there if empty).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser()
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--idle", type=float, default=8.0)
    p.add_argument("--question", default="What are Russia's terms?")
    args = p.parse_args()

    from ingest.index import ingest_paths
    from rag import Settings, build_chain
    from rag.eval import timed_stream

    settings = Settings(store_dir=args.store)
    ingest_paths([Path("corpus")], settings, progress=False)
    started = time.perf_counter()
    chain = build_chain(settings)
    built = time.perf_counter() - started
    time.sleep(args.idle)
    first, full, _, _ = timed_stream(chain, {"question": args.question})
    print(f"warm_start={settings.warm_start}: build_chain {built:.2f} s; first question after {args.idle:.0f} s idle: "
          f"first chunk {first:.2f} s, full answer {full:.2f} s")


if __name__ == "__main__":
    main()
