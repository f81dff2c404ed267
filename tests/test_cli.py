"""The `newsdesk` console command, as pip installs it from pyproject.toml: `newsdesk ingest|ask|serve|eval` run the
same code as `python -m ingest`, `python -m rag ask`, `python app.py` and `python -m rag.eval`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import REPO
from test_ingest import SUMMARY_RE


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout installed (without dependencies) into a folder of its own: its bin/newsdesk is the real
    console script."""
    target = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(target), str(REPO)], check=True, capture_output=True, timeout=300)
    return target


def newsdesk(installed: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    clean.update(PYTHONPATH=str(installed), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", **env)
    return subprocess.run([str(installed / "bin" / "newsdesk"), *args], cwd=installed, env=clean,
                          capture_output=True, text=True, timeout=300)


def test_pyproject_declares_the_command_and_ships_the_app() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"newsdesk": "rag.cli:main"}
    assert "app" in project["tool"]["setuptools"]["py-modules"]


def test_the_installed_command_lists_its_commands(installed: Path) -> None:
    done = newsdesk(installed, "--help")
    assert done.returncode == 0
    for command in ("ingest", "ask", "serve", "eval"):
        assert re.search(rf"^  {command} +\S", done.stdout, re.M), done.stdout
    missing = newsdesk(installed)
    assert missing.returncode == 2 and "usage: newsdesk [-h] COMMAND" in missing.stderr
    unknown = newsdesk(installed, "index")
    assert unknown.returncode == 2 and "invalid choice: 'index'" in unknown.stderr


def test_newsdesk_ingest_indexes_like_python_m_ingest(installed: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = newsdesk(installed, "ingest", "--quiet", "--store", str(store), str(REPO / "corpus"))
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(SUMMARY_RE + "\n", done.stdout) and done.stdout.startswith("1 added, 0 updated")
    again = newsdesk(installed, "ingest", "--quiet", "--store", str(store), str(REPO / "corpus"))
    assert again.stdout.startswith("0 added, 0 updated, 1 unchanged, 0 removed, 0 skipped; 0 chunks embedded")


def test_newsdesk_ask_eval_and_serve_reach_their_commands(installed: Path, tmp_path: Path) -> None:
    ask = newsdesk(installed, "ask", "--after", "yesterday", "What are Russia's terms?",
                   NEWSDESK_STORE_DIR=str(tmp_path))
    assert ask.returncode == 2 and ask.stderr == "error: Expected a date like 2025-01-31. Got 'yesterday'\n"
    assert newsdesk(installed, "ask", "--help").stdout.startswith("usage: newsdesk ask [-h] [--json]")
    assert newsdesk(installed, "eval", "--help").stdout.startswith("usage: newsdesk eval [-h]")
    serve = newsdesk(installed, "serve", NEWSDESK_HOST="0.0.0.0", NEWSDESK_STORE_DIR=str(tmp_path / "none"))
    assert serve.returncode == 1 and "refusing to serve on 0.0.0.0 without a login" in serve.stderr
    assert not (tmp_path / "none").exists()
