"""Prompt prefill and decode speed of GGUF models under llama.cpp settings: where the first-token time goes.

    python bench/prefill.py data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf [more.gguf ...] [--requantize DIR]

--requantize also writes Q4_0 and Q8_0 copies of the first model into DIR and measures them (llama.cpp may
repack Q4_0 for faster matrix products on AVX2/AVX-512 CPUs).
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from pathlib import Path

TOKENS = 400
SETTINGS = [{"n_threads": 2, "n_batch": 512, "flash_attn": False},
            {"n_threads": 2, "n_batch": 512, "flash_attn": True},
            {"n_threads": 2, "n_batch": 128, "flash_attn": False},
            {"n_threads": 1, "n_batch": 512, "flash_attn": False}]


def measure(path: Path, text: str, settings: dict[str, object]) -> str:
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=2048, n_threads_batch=settings["n_threads"], verbose=False,  # type: ignore[arg-type]
                **settings)
    tokens = llm.tokenize(text.encode())[:TOKENS]
    times = []
    for _ in range(3):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(20):
        llm.eval([llm.sample()])
    decode = 20 / (time.perf_counter() - started)
    prefill = statistics.median(times)
    rate = len(tokens) / prefill
    return (f"{path.name} {settings}: prefill {len(tokens)} tokens {prefill:.2f} s ({rate:.0f} tok/s), "
            f"decode {decode:.1f} tok/s")


def requantize(source: Path, directory: Path) -> list[Path]:
    import llama_cpp

    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, ftype in (("q4_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0), ("q8_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0)):
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype, params.allow_requantize, params.nthread = ftype, True, 2
        target = directory / f"{source.stem}-{name}.gguf"
        if llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params)) != 0:
            raise SystemExit(f"requantizing to {name} failed")
        out.append(target)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", type=Path, nargs="+")
    p.add_argument("--requantize", type=Path)
    args = p.parse_args()
    import llama_cpp

    print("llama.cpp build:", llama_cpp.llama_print_system_info().decode().strip(), flush=True)
    text = " ".join(path.read_text() for path in sorted(Path("corpus").glob("*")) if path.is_file()) * 3
    for settings in SETTINGS:
        print(measure(args.models[0], text, settings), flush=True)
    extra = requantize(args.models[0], args.requantize) if args.requantize else []
    for path in [*args.models[1:], *extra]:
        print(measure(path, text, SETTINGS[0]), flush=True)


if __name__ == "__main__":
    main()
