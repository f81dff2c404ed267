"""Crash safety: `python -m ingest` killed mid-run and re-run ends with the same store as a clean run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, TEST_CHUNK_TOKENS, make_settings

from ingest.index import ingest_paths
from rag.lexical import load_lexical
from rag.store import open_store

REALTIMEQA = Path(__file__).resolve().parents[2] / "shared" / "data" / "realtimeqa-mini" / "articles.jsonl"
ARTICLES = 60
CHARS = 4000  # per article: ~340 chunks in all, two embedding batches (~250 + ~90)
PROGRESS_RE = re.compile(r"(\d+)/(\d+) \[")
SUMMARY_RE = re.compile(r"(\d+) added, 0 updated, (\d+) unchanged, 0 removed, 0 skipped; (\d+) chunks embedded")


def write_corpus(path: Path) -> Path:
    lines = REALTIMEQA.read_text(encoding="utf-8").splitlines()[:ARTICLES]
    records = [json.loads(line) for line in lines]
    path.write_text("\n".join(json.dumps({**r, "text": r["text"][:CHARS]}) for r in records) + "\n",
                    encoding="utf-8")
    return path


def ingest_cli(store: Path, corpus: Path, stderr: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env["NEWSDESK_CHUNK_TOKENS"] = str(TEST_CHUNK_TOKENS)  # the same chunking as the clean run's make_settings
    env["HF_HUB_OFFLINE"] = "1"
    with stderr.open("wb") as err:
        return subprocess.Popen([sys.executable, "-m", "ingest", "--store", str(store), str(corpus)], cwd=REPO,
                                env=env, stdout=subprocess.PIPE, stderr=err)


def kill_after_first_batch(proc: subprocess.Popen[bytes], stderr: Path, timeout: float = 120) -> tuple[int, int]:
    """SIGKILL the ingest as soon as its progress bar shows a batch written but not the last one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        done = [(int(a), int(b)) for a, b in PROGRESS_RE.findall(stderr.read_text(errors="replace"))]
        partial = [(a, b) for a, b in done if 0 < a < b]
        if partial:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return partial[-1]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"ingest was not caught mid-run (exit {proc.wait()}): {stderr.read_text()[-2000:]}")


def snapshot(store_dir: Path, root: Path) -> list[tuple[str, dict[str, object], str]]:
    store = open_store(make_settings(root).model_copy(update={"store_dir": store_dir}))
    rows = sorted(store.rows(documents=True), key=lambda r: r[0])
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == store.count()
    assert load_lexical(store).ids() == set(ids)
    return rows


def test_killed_ingest_resumes_to_the_same_store_as_a_clean_run(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "articles.jsonl")
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"

    proc = ingest_cli(crashed, corpus, tmp_path / "first.err")
    written, total = kill_after_first_batch(proc, tmp_path / "first.err")
    assert proc.returncode == -signal.SIGKILL
    partial = open_store(make_settings(tmp_path).model_copy(update={"store_dir": crashed})).count()
    assert 0 < partial < total  # the kill left a half-built store
    assert partial >= written

    rerun = ingest_cli(crashed, corpus, tmp_path / "second.err")
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, (tmp_path / "second.err").read_text()
    added, unchanged, embedded = map(int, SUMMARY_RE.search(out.decode()).groups())  # type: ignore[union-attr]
    assert added + unchanged == ARTICLES and unchanged > 0 and added > 0
    assert embedded == total - partial  # finished articles are not embedded again

    summary = ingest_paths([corpus], make_settings(tmp_path).model_copy(update={"store_dir": clean}),
                           progress=False)
    assert (summary.added, summary.chunks) == (ARTICLES, total)

    assert snapshot(crashed, tmp_path) == snapshot(clean, tmp_path)
