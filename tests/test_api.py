"""The public API: `rag.__all__` is exactly what callers may import, and every name in it exists."""

from __future__ import annotations

import importlib

import rag

EXPECTED = [
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


def test_all_is_the_expected_sorted_list() -> None:
    assert rag.__all__ == EXPECTED
    assert sorted(rag.__all__) == rag.__all__


def test_every_exported_name_is_importable() -> None:
    module = importlib.import_module("rag")
    for name in rag.__all__:
        assert hasattr(module, name), name
        exec(f"from rag import {name}", {})


def test_exported_members_say_they_belong_to_rag() -> None:
    """httpx's check: each public object was defined inside the package, not re-exported from a dependency."""
    for name in rag.__all__:
        member = getattr(rag, name)
        assert member.__module__.startswith("rag."), (name, member.__module__)


def test_errors_share_the_newsdesk_base() -> None:
    for name in [n for n in rag.__all__ if n.endswith("Error")]:
        assert issubclass(getattr(rag, name), rag.NewsdeskError), name
    assert issubclass(rag.BadQuestionError, ValueError)
