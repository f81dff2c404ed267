"""A real browser asks the real app a question and sees the cited answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.index import ingest_paths
from rag import Settings

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError("app.py did not start listening")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("app")
    ingest_paths([ROOT / "corpus"], Settings(store_dir=tmp / "chroma"), progress=False)
    port = _free_port()
    env = {**os.environ, "NEWSDESK_STORE_DIR": str(tmp / "chroma"), "NEWSDESK_DATA_DIR": str(ROOT / "data"),
           "NEWSDESK_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    log = (tmp / "app.log").open("w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture()
def page(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "user-data"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1200, "height": 900})
        yield context.new_page()
        context.close()


def test_ask_in_browser(app_url: str, page) -> None:
    page.goto(app_url, wait_until="domcontentloaded")
    box = page.locator("textarea").first
    box.wait_for(timeout=60_000)
    box.fill("What are Russia's terms?")
    box.press("Enter")
    bot = page.locator(".bot, [data-testid='bot']").last
    page.wait_for_function("document.body.innerText.includes('Sources')", timeout=180_000)
    text = bot.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    assert "NATO" in text
    assert "Kremlin says Moscow is still open for talks" in page.locator("body").inner_text()
