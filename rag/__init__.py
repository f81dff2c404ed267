"""Newsdesk: answers about news articles, every claim cited. Public API."""

from __future__ import annotations

from rag.chain import build_chain
from rag.config import Settings
from rag.errors import (
    BadQuestionError,
    EmbeddingModelMismatchError,
    IndexNotBuiltError,
    ModelNotAvailableError,
    NewsdeskError,
    StoreUnavailableError,
)
from rag.retrieve import Filters, HybridRetriever, build_retriever

__all__ = [
    "BadQuestionError",
    "EmbeddingModelMismatchError",
    "Filters",
    "HybridRetriever",
    "IndexNotBuiltError",
    "ModelNotAvailableError",
    "NewsdeskError",
    "Settings",
    "StoreUnavailableError",
    "build_chain",
    "build_retriever",
]
