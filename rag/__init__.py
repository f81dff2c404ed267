"""Newsdesk: answers about news articles, every claim cited. Public API.

Each name is imported from its module on first use (PEP 562), so `import rag.config` (as `python -m ingest` does)
does not load the answering stack."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.chain import build_chain
    from rag.config import Settings
    from rag.errors import (
        BadDateError,
        BadQuestionError,
        EmbedderUnavailableError,
        EmbeddingModelMismatchError,
        IndexNotBuiltError,
        LLMUnavailableError,
        ModelNotAvailableError,
        NewsdeskError,
        SettingsError,
        StoreUnavailableError,
    )
    from rag.retrieve import Filters, HybridRetriever, build_retriever

_HOMES = {
    "BadDateError": "rag.errors",
    "BadQuestionError": "rag.errors",
    "EmbedderUnavailableError": "rag.errors",
    "EmbeddingModelMismatchError": "rag.errors",
    "Filters": "rag.retrieve",
    "HybridRetriever": "rag.retrieve",
    "IndexNotBuiltError": "rag.errors",
    "LLMUnavailableError": "rag.errors",
    "ModelNotAvailableError": "rag.errors",
    "NewsdeskError": "rag.errors",
    "Settings": "rag.config",
    "SettingsError": "rag.errors",
    "StoreUnavailableError": "rag.errors",
    "build_chain": "rag.chain",
    "build_retriever": "rag.retrieve",
}
__all__ = [
    "BadDateError",
    "BadQuestionError",
    "EmbedderUnavailableError",
    "EmbeddingModelMismatchError",
    "Filters",
    "HybridRetriever",
    "IndexNotBuiltError",
    "LLMUnavailableError",
    "ModelNotAvailableError",
    "NewsdeskError",
    "Settings",
    "SettingsError",
    "StoreUnavailableError",
    "build_chain",
    "build_retriever",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
