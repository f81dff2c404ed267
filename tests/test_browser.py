"""A real browser uses the real app: asks and sees the cited answer (real LLM), uploads an article and asks about it,
filters by outlet, and meets an article full of script injections (in-process app, fake LLM)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SlowChatModel, make_settings
from test_app import ALPHA, ANSWER, BETA, QUESTION, serving, write_bridge_corpus

from ingest.index import ingest_paths
from rag import Settings

pytestmark = [pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_ready(log: Path, port: int, proc: subprocess.Popen, timeout: float = 240) -> None:
    """Wait for app.py to say it is ready; by then it must already accept connections on `port`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if "Newsdesk is ready" in log.read_text():
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) == 0, "app.py said it was ready before it was listening"
            return
        time.sleep(0.1)
    raise TimeoutError("app.py did not say it was ready")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("app")
    ingest_paths([ROOT / "corpus"], Settings(store_dir=tmp / "chroma"), progress=False)
    port = _free_port()
    env = {**os.environ, "NEWSDESK_STORE_DIR": str(tmp / "chroma"), "NEWSDESK_DATA_DIR": str(ROOT / "data"),
           "NEWSDESK_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    log = tmp / "app.log"
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(log, port, proc)
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


@pytest.mark.slow
def test_ask_in_browser(app_url: str, page) -> None:
    page.goto(app_url, wait_until="domcontentloaded")
    box = page.locator("textarea").first
    box.wait_for(timeout=60_000)
    box.fill("What are Russia's terms?")
    box.press("Enter")
    chat = page.locator("#chat")
    chat.get_by_text("Sources (").wait_for(timeout=180_000)
    text = chat.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    assert "NATO" in text and "Reading" not in text  # the answer replaced the list of passages being read
    assert "Kremlin says Moscow is still open for talks" in text


# --- in-process app with a fake LLM -------------------------------------------------------------------------------

XSS = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1">'
XSS_ANSWER = f'The lantern festival drew record crowds of forty thousand visitors {XSS} on Saturday [1].'


def open_chat(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.locator("textarea").first.wait_for(timeout=60_000)


def ask(page, question: str) -> str:
    """Type a question, wait for the sources, open them, return the chat's text."""
    box = page.locator("textarea").first
    box.fill(question)
    box.press("Enter")
    chat = page.locator("#chat")
    chat.locator("details").first.wait_for(timeout=60_000)
    for summary in chat.locator("details summary").all():
        summary.click()
    return chat.inner_text()


def choose_outlet(page, outlet: str) -> None:
    page.locator("#outlets input").click()
    page.locator(f"#outlets li[aria-label='{outlet}']").click()
    page.keyboard.press("Escape")


@pytest.fixture(scope="module")
def bridge_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("bridge-browser")
    settings = make_settings(root)
    ingest_paths([write_bridge_corpus(root / "corpus")], settings, progress=False)
    return settings


@pytest.fixture(scope="module")
def bridge(bridge_settings: Settings):
    with serving(bridge_settings, ANSWER) as url:
        yield url


def test_the_passages_being_read_show_before_the_answer(bridge_settings: Settings, page) -> None:
    """The LLM takes 3 s to start: meanwhile the chat lists the passages it reads; then the answer replaces them."""
    llm = SlowChatModel(reply=lambda question: ANSWER, first=3.0)
    with serving(bridge_settings, llm=llm) as url:
        open_chat(page, url)
        box = page.locator("textarea").first
        box.fill(QUESTION)
        box.press("Enter")
        chat = page.locator("#chat")
        chat.get_by_text("Reading 2 passages…").wait_for(timeout=10_000)
        reading = chat.inner_text()
        chat.locator("details").first.wait_for(timeout=30_000)
        answered = chat.inner_text()
    assert f"{ALPHA} — alpha.example, 2025-03-01" in reading and f"{BETA} — beta.example, 2025-03-05" in reading
    assert "reopened to traffic on Monday" not in reading  # the answer is not there yet
    assert "The Harbour Bridge reopened to traffic on Monday after six weeks of repairs [1]." in answered
    assert "Reading 2 passages" not in answered and "Sources (1)" in answered


@pytest.mark.parametrize(("outlet", "shown", "hidden"), [("alpha.example", ALPHA, BETA), ("beta.example", BETA, ALPHA)])
def test_outlet_filter_changes_the_sources(bridge: str, page, outlet: str, shown: str, hidden: str) -> None:
    open_chat(page, bridge)
    choose_outlet(page, outlet)
    text = ask(page, QUESTION)
    assert shown in text and outlet in text
    assert hidden not in text


def test_uploaded_article_is_answerable_right_away(tmp_path: Path, page) -> None:
    article = write_bridge_corpus(tmp_path / "in") / "beta.md"
    with serving(make_settings(tmp_path), ANSWER) as url:
        open_chat(page, url)
        page.locator("#upload input[type=file]").set_input_files(str(article))
        page.locator("#upload-status").get_by_text("Added 1, updated 0").wait_for(timeout=60_000)
        assert BETA in page.locator("#corpus").inner_text()
        text = ask(page, QUESTION)
    assert BETA in text and "beta.example" in text


def test_script_in_an_article_stays_text(tmp_path: Path, page) -> None:
    record = {"id": "xss", "url": "javascript:window.__pwned=1", "title": f"Lantern festival {XSS}",
              "source": 'evil<img src=x onerror="window.__pwned=1">.example', "published": "2025-04-01",
              "text": f"The lantern festival drew record crowds of forty thousand visitors {XSS} on Saturday. "
                      "Organisers said the parade ran late. [click me](javascript:window.__pwned=1)"}
    (tmp_path / "xss.json").write_text(json.dumps(record), encoding="utf-8")
    settings = make_settings(tmp_path)
    ingest_paths([tmp_path / "xss.json"], settings, progress=False)
    with serving(settings, XSS_ANSWER) as url:
        open_chat(page, url)
        text = ask(page, "How many visitors did the lantern festival draw?")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "xss.png"), full_page=True)
        pwned = page.evaluate("typeof window.__pwned")
        hrefs = page.evaluate("[...document.querySelectorAll('a')].map(a => a.getAttribute('href') || '')")
        panel = page.locator("#corpus").inner_text()
    assert pwned == "undefined"
    assert "<script>window.__pwned=1</script>" in text and '<img src=x onerror="window.__pwned=1">' in text
    assert "[click me](javascript:window.__pwned=1)" in text
    assert "<script>window.__pwned=1</script>" in panel and '<img src=x onerror="window.__pwned=1">.example' in panel
    assert not [h for h in hrefs if h.strip().lower().startswith(("javascript", "data"))], hrefs
