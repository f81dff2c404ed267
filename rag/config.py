"""Settings: every knob of Newsdesk, read from NEWSDESK_* environment variables or passed in."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import SettingsError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration_seconds(text: str) -> float:
    """Seconds in a duration like 90s, 15m or 1h (a bare number is seconds)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"Expected a duration like 90s, 15m or 1h. Got {text!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


class Settings(BaseSettings):
    """One typed object, passed to every builder. Tests build `Settings(store_dir=tmp_path)`."""

    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", extra="ignore")

    # paths
    data_dir: Path = Field(Path("data"), description="where models and uploads are kept")
    store_dir: Path = Field(Path("data/chroma"), description="the embedded Chroma store and lexical index")
    corpus_dir: Path = Field(Path("corpus"), description="what `make run` ingests")
    collection: str = "newsdesk"

    # servers
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server; unset = embedded")
    llm: str = Field("qwen2.5-1.5b", description="qwen2.5-1.5b | smollm2 | ollama:<model> | openai:<model>")
    ollama_url: str = "http://127.0.0.1:11434"
    openai_base_url: str | None = None
    openai_api_key: str = "not-needed"
    embeddings_base_url: str | None = Field(None, description="OpenAI-compatible embedding server; unset = "
                                            "openai_base_url")

    # models
    embedder: str = Field("minilm", description="minilm (packaged all-MiniLM-L6-v2) | openai:<model> | "
                          "ollama:<model>")
    reader: str = Field("mpnet", description="scores the offered passages' sentences against the question: mpnet "
                        "(packaged all-mpnet-base-v2) | embedder (the store's embedder, as until 0.8.7)")
    embed_threads: int = Field(2, ge=1, description="torch threads for embedding (2 measured fastest when idle)")
    embed_precision: str = Field("auto", description="local sentence models compute in: auto (bf16 where the CPU "
                                 "has bfloat16 instructions, else fp32) | fp32 | bf16")
    embed_batch: int = Field(64, ge=1, description="texts embedded together (one request to an embedding server)")
    embed_retries: int = Field(4, ge=0, description="an embedding server that is down or busy is asked again this "
                               "many times, waiting 0.5, 1, 2, ... s")
    llm_threads: int = Field(2, ge=1)
    llm_ctx: int = Field(4096, ge=512)
    max_answer_tokens: int = Field(160, ge=16)
    warm_start: bool = Field(True, description="build_chain with a local LLM evaluates the fixed start of the "
                             "answer prompt in the background, so the first question does not wait for it")
    rewrite_context: bool = Field(True, description="a local LLM rewrites follow-ups in a llama.cpp context of its "
                                  "own (+0.7 GB RAM), so the answer instructions stay cached")

    # chunking
    chunk_tokens: int = Field(256, ge=32, le=256, description="word pieces per chunk, header included")

    # retrieval
    k: int = Field(10, ge=1, description="passages the retriever returns")
    candidates: int = Field(100, ge=1, description="candidates each of lexical and dense retrieval give fusion")
    rrf_k: int = Field(60, ge=0, description="reciprocal-rank fusion: a rank r scores 1 / (rrf_k + r)")
    dense_weight: float = Field(1.0, ge=0)
    lexical_weight: float = Field(1.0, ge=0)
    hide_after_as_of: bool = Field(False, description="a question asked as of a date ignores later articles")
    recency_weight: float = Field(0.75, ge=0, description="fusion bonus, in units of a first rank, for articles "
                                  "from the week up to the question's `as_of` date")
    sentence_pool: int = Field(20, ge=0, description="fused candidates re-ranked by their best sentence (0 = off)")
    sentence_weight: float = Field(0.5, ge=0, description="weight of the best-sentence rank beside the fused rank")
    max_per_article: int = Field(3, ge=1, description="passages one article may hold in the top k")

    # answering
    context_passages: int = Field(5, ge=1, description="passages offered to the LLM")
    context_windows: int = Field(2, ge=1, description="of those, how many go into the prompt, each as one window")
    context_chars: int = Field(400, ge=100, description="characters of each window around its best sentence "
                               "(what one leaves unused, the others may use)")
    min_evidence: float = Field(0.5, ge=0, le=1, description="share of the question's key terms the passages must hold")

    # each story once
    dedup_threshold: float = Field(0.75, ge=0, le=1, description="an article whose word-shingle Jaccard with a "
                                   "stored one reaches this is a copy: not stored again, its outlet noted in "
                                   "`also_reported_by` (0 = store every article)")
    dedup_days: int = Field(30, ge=0, description="copies are published at most this many days apart")

    # feeds and article pages (python -m ingest --feeds FILE / URL ...)
    feeds: Path | None = Field(None, description="a feed list (one URL a line, # comments) or OPML file the chat "
                               "polls in the background")
    feeds_every: str = Field("15m", description="how often the chat (and --watch) polls: 90s, 15m, 1h")
    fetch_timeout: float = Field(10.0, gt=0, description="seconds to connect and between bytes of a response")
    fetch_max_mb: float = Field(5.0, gt=0, description="largest feed or page downloaded")
    fetch_per_host: int = Field(2, ge=1, le=8, description="concurrent requests to one host")

    # web
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    auth: str | None = Field(None, description="user:password, required when host is not loopback")
    max_upload_mb: float = Field(20.0, gt=0, description="largest file the chat accepts for upload")
    max_upload_files: int = Field(50, ge=1, description="most files one upload may hold")
    chat_concurrency: int | None = Field(None, ge=1, description="chats answered at once; unset = 4 with a local "
                                         "LLM (it answers one at a time), 32 with an LLM server")

    @field_validator("feeds_every")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        duration_seconds(value)
        return value

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"


def load_settings(**overrides: object) -> Settings:
    """Settings from the NEWSDESK_* environment (and `overrides`); a value that does not parse is one
    SettingsError naming the variable, not a validation traceback."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        bad = [f"NEWSDESK_{'_'.join(map(str, err['loc'])).upper()}={err['input']!r} ({err['msg']})"
               for err in e.errors()]
        them = "them" if len(bad) > 1 else "it"
        raise SettingsError(f"bad setting{'s' * (len(bad) > 1)}: {'; '.join(bad)}; correct {them} or unset {them}"
                            ) from None
