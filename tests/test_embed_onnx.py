"""The int8 ONNX embedder (NEWSDESK_EMBEDDER=minilm-int8) matches sentence-transformers' MiniLM."""

from __future__ import annotations

import numpy as np

from rag import Settings
from rag.models import get_embeddings

TEXTS = [
    "Moscow is still prepared to hold talks with the United States, Kremlin spokesman Dmitry Peskov has said.",
    "Thermometers in Madrid reached 44 degrees Celsius on Wednesday.",
    "short",
    "A very long passage " * 120,  # longer than 256 word pieces: both truncate the same way
]


def test_onnx_vectors_match_torch_vectors() -> None:
    torch_vecs = np.array(get_embeddings(Settings(embedder="minilm")).embed_documents(TEXTS))
    onnx = get_embeddings(Settings(embedder="minilm-int8"))
    onnx_vecs = np.array(onnx.embed_documents(TEXTS))
    assert onnx_vecs.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(onnx_vecs, axis=1), 1.0, atol=1e-4)
    cosines = (torch_vecs * onnx_vecs).sum(axis=1)
    assert cosines.min() > 0.99, cosines
    query = np.array(onnx.embed_query(TEXTS[0]))
    assert float(query @ onnx_vecs[0]) > 0.999  # a query is embedded like a document


def test_unknown_embedder_is_a_clear_error() -> None:
    import pytest

    with pytest.raises(ValueError, match="minilm, minilm-int8"):
        get_embeddings(Settings(embedder="bert"))
