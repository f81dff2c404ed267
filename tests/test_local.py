"""The embedded LLM runs as its model file says: the product's llama.cpp chat model answers token for token as
llama.cpp itself does with the file's own settings; and llama.cpp is built for the CPU it runs on."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import llama_cpp
import pytest
from conftest import CORPUS

import rag
from rag.local import local_gguf
from rag.models import get_llm

MESSAGES = [  # long enough that token positions matter: a wrong RoPE base changes the greedy answer
    ("system", "You answer questions about the news using only the passages given."),
    ("human", "Passages:\n[1] Kremlin says Moscow is still open for talks with US (newsweek.com, 2024-11-07): "
              + (CORPUS / "kremlin-open-for-talks.txt").read_text(encoding="utf-8")[:1500]
              + "\n\nQuestion: Who is Dmitry Peskov?"),
]


def test_the_local_llm_uses_the_rope_settings_of_its_model_file(settings: rag.Settings) -> None:
    # LangChain's ChatLlamaCpp passes rope_freq_base=10000 unless told otherwise; Qwen2.5 is trained with 1,000,000
    # and SmolLM2 with 100,000, so the product must ask llama.cpp to read them from the file
    settings = settings.model_copy(update={"max_answer_tokens": 40})  # SmolLM2, as every test's settings
    product = "".join(str(c.content) for c in get_llm(settings).stream(MESSAGES))
    plain = llama_cpp.Llama(model_path=str(local_gguf(settings)), n_ctx=settings.llm_ctx,
                            n_threads=settings.llm_threads, n_batch=512, verbose=False)
    reply = plain.create_chat_completion(
        messages=[{"role": {"human": "user"}.get(r, r), "content": c} for r, c in MESSAGES],
        max_tokens=settings.max_answer_tokens, temperature=0.0, repeat_penalty=1.1)
    assert product.strip() == str(reply["choices"][0]["message"]["content"]).strip()


AVX512 = {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "avx512vbmi", "avx512_vnni", "avx512_bf16"}


def test_llama_cpp_is_built_for_this_cpu_as_make_install_chose() -> None:
    # make install builds for AVX-512 where /proc/cpuinfo lists every instruction set above (prompt reading ~1.5x
    # faster), else for AVX2, and records the choice beside the venv ("avx2 (avx512 crashed)" after a fallback)
    if platform.machine() != "x86_64":
        pytest.skip("make install chooses between x86-64 builds only")
    chosen = (Path(sys.prefix) / "llama-cpu").read_text().split()
    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), [])
    built = llama_cpp.llama_print_system_info().decode()
    assert "AVX2 = 1" in built
    assert ("AVX512 = 1" in built) == (chosen[0] == "avx512")
    if len(chosen) == 1:  # no fallback: the choice follows the CPU
        assert (chosen[0] == "avx512") == AVX512.issubset(flags)
