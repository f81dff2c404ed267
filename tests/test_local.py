"""The embedded LLM runs as its model file says: the product's llama.cpp chat model answers token for token as
llama.cpp itself does with the file's own settings."""

from __future__ import annotations

import llama_cpp
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
