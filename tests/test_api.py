"""The public API: `rag.__all__` is exactly what callers may import, and every name in it exists."""

from __future__ import annotations

import importlib
from pathlib import Path

import rag

EXPECTED = [
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
    assert issubclass(rag.BadDateError, ValueError) and issubclass(rag.SettingsError, ValueError)
    assert issubclass(rag.LLMUnavailableError, rag.ModelNotAvailableError)


def test_dir_lists_the_public_api() -> None:
    assert set(rag.__all__) <= set(dir(rag))


def test_an_unknown_name_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        rag.nothing  # noqa: B018


def test_the_ingest_side_does_not_load_the_answering_stack() -> None:
    """`python -m ingest` imports rag.config and the ingest modules; the chain, retriever and Gradio stay unloaded."""
    import subprocess
    import sys

    code = ("import sys, ingest.__main__, ingest.index, ingest.upload; "
            "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('rag', 'gradio', 'llama_cpp')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=120, check=True)
    loaded = set(done.stdout.split())
    assert "rag.config" in loaded and "rag.store" in loaded
    assert not loaded & {"rag.chain", "rag.retrieve", "rag.context", "rag.prompts", "gradio", "llama_cpp"}, loaded
