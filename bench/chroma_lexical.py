"""Can the installed Chroma's own search carry Newsdesk's lexical side? Tries its ranked search (dense or sparse
vectors, BM25) on a local store and on a `chroma run` server, and times its full-text filter (`$contains`)
against the SQLite FTS5 index on a built store, question by question.

    python bench/chroma_lexical.py --store /tmp/scale/100000/chroma \\
        --questions ../shared/data/realtimeqa-dev/questions.jsonl
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def ranked_search(client: Any) -> str:
    """What Chroma answers to a ranked search (Search().rank(Knn(...))): results, or the error it raises."""
    from chromadb.execution.expression import Knn, Search

    col = client.get_or_create_collection("lexical-check", embedding_function=None)
    col.upsert(ids=["a"], embeddings=[[0.1, 0.2]], documents=["harbour bridge reopens"])
    try:
        return f"answers: {col.search(Search().rank(Knn(query=[0.1, 0.2])).limit(1))}"
    except Exception as e:  # noqa: BLE001 - the point is which error
        return f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"


def on_server() -> str:
    import chromadb

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    with tempfile.TemporaryDirectory() as path:
        proc = subprocess.Popen([str(chroma), "run", "--path", path, "--host", "127.0.0.1", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            for _ in range(300):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.2)
            return ranked_search(chromadb.HttpClient(host="127.0.0.1", port=port))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def timings(store_dir: Path, questions: Path, n: int) -> dict[str, float]:
    """Per question: Chroma's `$contains` on the question's longest word (a filter: matches in no order) and
    the FTS5 BM25 search for the whole question (ranked), both limited to 100 passages."""
    from rag.config import Settings
    from rag.lexical import load_lexical
    from rag.store import open_store
    from rag.text import STOPWORDS, WORD_RE

    store = open_store(Settings(store_dir=store_dir, data_dir=store_dir.parent / "data"))
    index = load_lexical(store)
    asked = [json.loads(line)["question"] for line in questions.read_text().splitlines() if line.strip()][:n]
    contains, fts, found = [], [], []
    for q in asked:
        term = max((w for w in WORD_RE.findall(q) if w.lower() not in STOPWORDS), key=len)
        started = time.perf_counter()
        got = store.collection.get(where_document={"$contains": term}, limit=100, include=[])
        contains.append(time.perf_counter() - started)
        found.append(len(got["ids"]))
        started = time.perf_counter()
        index.search(q, 100)
        fts.append(time.perf_counter() - started)
    return {"passages": store.count(), "questions": len(asked),
            "contains_p50_ms": 1000 * statistics.median(contains), "contains_max_ms": 1000 * max(contains),
            "contains_matches_p50": statistics.median(found), "fts5_bm25_p50_ms": 1000 * statistics.median(fts),
            "fts5_bm25_max_ms": 1000 * max(fts)}


def main(argv: list[str] | None = None) -> int:
    import chromadb

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, help="a built Newsdesk store directory to time $contains on")
    p.add_argument("--questions", type=Path, help="realtimeqa questions.jsonl")
    p.add_argument("-n", type=int, default=60, help="questions timed")
    args = p.parse_args(argv)
    print(f"chromadb {chromadb.__version__}")
    with tempfile.TemporaryDirectory() as path:
        print("ranked search, local store:", ranked_search(chromadb.PersistentClient(path=path)))
    print("ranked search, chroma run: ", on_server())
    if args.store and args.questions:
        print(json.dumps({k: round(v, 2) for k, v in timings(args.store, args.questions, args.n).items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
