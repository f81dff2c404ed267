"""The sentence reader: all-mpnet-base-v2 from its PyPI parts, scoring again the sentences the embedder found best."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

import rag
from rag.context import select
from rag.local import Autocast
from rag.models import cpu_has_bf16, get_embeddings, get_reader, use_bf16

SENTENCES = ["The awards show begins at 8 p.m. on Sunday.", "A comedian will host the awards show this year.",
             "Tickets for the awards show sold out in an hour.", "Mara Quill is the first woman to lead it alone.",
             "The red carpet opens two hours earlier.", "Quill is known for her roasts."]


class Liking(Embeddings):
    """A reader that finds the question close to every sentence holding `word`, and to nothing else."""

    def __init__(self, word: str) -> None:
        self.word = word

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] if self.word in t or t.endswith("?") else [0.0, 1.0] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def test_the_packaged_reader_is_assembled_once_and_embeds_in_768_dimensions(tmp_path: Path) -> None:
    settings = rag.Settings(data_dir=REPO / "data")
    reader = get_reader(settings)
    assert reader is not None and reader is get_reader(rag.Settings(data_dir=tmp_path / "data"))  # one shared copy
    vectors = np.array(reader.embed_documents(["Relations are at their lowest point.", "Snow closed the airport."]))
    assert vectors.shape == (2, 768) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert not (tmp_path / "data").exists()  # nothing unzipped into a data directory beside the packages
    assert get_reader(rag.Settings(reader="embedder")) is None
    with pytest.raises(rag.SettingsError, match="NEWSDESK_READER.*Got 'bert'"):
        get_reader(rag.Settings(reader="bert"))


def test_the_reader_chooses_among_the_sentences_the_embedder_found_best(tmp_path: Path) -> None:
    """Scored again, a shortlisted sentence the embedder ranked lower may centre the window; a sentence outside
    the shortlist may not, however much the reader likes it."""
    embeddings = get_embeddings(rag.Settings(data_dir=tmp_path))
    question = "Which comedian will host the awards show?"
    passage = Document(page_content=" ".join(SENTENCES), metadata={"title": "Awards"}, id="a:0")
    alone = select(question, [passage], embeddings, windows=1, chars=50)
    assert alone.excerpts == [SENTENCES[1]]
    shortlisted = select(question, [passage], embeddings, windows=1, chars=50, reader=Liking("Tickets"))
    assert shortlisted.excerpts == [SENTENCES[2]]  # among the embedder's best three: the reader's choice
    outside = select(question, [passage], embeddings, windows=1, chars=50, reader=Liking("roasts"))
    assert outside.excerpts != [SENTENCES[5]]
    assert outside.similarity == alone.similarity  # the evidence gate still reads the embedder's cosine


def test_bf16_reads_as_fp32_does_and_the_precision_is_checked(tmp_path: Path) -> None:
    """In bfloat16 the reader's vectors differ from fp32's (autocast is on) but rank the sentences the same; "auto"
    takes bfloat16 only where the CPU has its instructions."""
    def read(precision: str) -> np.ndarray:
        reader = get_reader(rag.Settings(data_dir=REPO / "data", embed_precision=precision))
        assert reader is not None
        return np.array(reader.embed_documents(["Which comedian will host the awards show?", *SENTENCES]))

    fp32, bf16 = read("fp32"), read("bf16")
    assert not isinstance(get_reader(rag.Settings(data_dir=REPO / "data", embed_precision="fp32")), Autocast)
    assert not np.array_equal(fp32, bf16)
    assert np.all(np.sum(fp32 * bf16, axis=1) > 0.999)
    assert list(np.argsort(-(fp32[1:] @ fp32[0]))) == list(np.argsort(-(bf16[1:] @ bf16[0])))
    assert use_bf16(rag.Settings(embed_precision="auto")) == cpu_has_bf16()
    assert isinstance(get_embeddings(rag.Settings(data_dir=tmp_path, embed_precision="bf16")), Autocast)
    with pytest.raises(rag.SettingsError, match="NEWSDESK_EMBED_PRECISION.*Got 'fp8'"):
        get_reader(rag.Settings(embed_precision="fp8"))


def test_weights_cast_once_give_autocast_s_vectors_to_the_bit() -> None:
    """Autocast casts the Linear layers' weights to bfloat16 on every call; Autocast casts them once, and the
    vectors are the ones per-call autocast gives a model still in fp32."""
    import torch
    from langchain_huggingface import HuggingFaceEmbeddings

    from rag.models import minilm_path

    def load() -> HuggingFaceEmbeddings:
        return HuggingFaceEmbeddings(model_name=minilm_path(), model_kwargs={"device": "cpu"},
                                     encode_kwargs={"normalize_embeddings": True})

    fp32 = load()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        per_call = np.array(fp32.embed_documents(SENTENCES))
    cast = Autocast(load())
    dtypes = {p.dtype for m in cast.model._client.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters()}
    assert dtypes == {torch.bfloat16}
    assert {p.dtype for p in fp32._client.parameters()} == {torch.float32}
    assert np.array_equal(np.array(cast.embed_documents(SENTENCES)), per_call)
    assert not np.array_equal(np.array(fp32.embed_documents(SENTENCES)), per_call)  # autocast did change them
