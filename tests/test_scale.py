"""bench/scale.py, run for real on a small store: every figure of the README's scale table, the plot, and a second
run that measures the same store again without building it and prints the table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow
MINI = REPO.parent / "shared" / "data" / "realtimeqa-mini"
FIGURES = {"passages", "articles", "build_s", "ingest_passages_per_s", "add_one_in_process_s", "add_one_cli_s",
           "query_p50_ms", "query_p95_ms", "cold_start_s", "rss_mb", "disk_chroma_mb", "disk_lexical_mb"}


def scale(tmp_path: Path, *extra: str) -> tuple[list[dict[str, object]], str]:
    done = subprocess.run([sys.executable, "bench/scale.py", "--articles", str(MINI / "articles.jsonl"),
                           "--questions", str(MINI / "questions.jsonl"), "--sizes", "300", "--root",
                           str(tmp_path / "stores"), "--results", str(tmp_path / "scale.json"), "--repeats", "1",
                           *extra], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return list(json.loads((tmp_path / "scale.json").read_text())), done.stdout


def test_the_scale_bench_measures_a_store_and_plots_it(tmp_path: Path) -> None:
    (row,), _ = scale(tmp_path, "--plot", str(tmp_path / "scale.png"))
    assert FIGURES <= set(row) and row["n"] == 300 and row["reached"] is True
    assert all(float(row[k]) > 0 for k in FIGURES), row  # type: ignore[arg-type]
    assert 300 <= int(row["passages"]) < 400  # type: ignore[call-overload]
    assert (tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (again,), printed = scale(tmp_path, "--table")
    added = int(again["passages"]) - int(row["passages"])  # type: ignore[call-overload]
    assert 0 < added < 20  # only the 3 articles the first run added one by one (2 in process, 1 by CLI)
    assert again["build_s"] == row["build_s"]  # not built again: the first run's build figures are kept
    assert f"| passages (articles) | {again['passages']:,} (" in printed  # the README's table, from the results
