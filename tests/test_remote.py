"""Remote embedders (NEWSDESK_EMBEDDER=openai:<model> / ollama:<model>) against a real HTTP server started here:
ingest and questions embed through it, batched; busy answers are retried; failures are one clear error."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import WriteArticle
from langchain_core.language_models import FakeListChatModel
from modelserver import ModelServer
from test_app import free_port

import rag
from ingest.index import ingest_paths
from rag.models import get_embeddings
from rag.store import open_store

ANSWER = "The Harbour Bridge reopened on Monday after six weeks of repairs [1]."
TEXT = ("The Harbour Bridge reopened to traffic on Monday after six weeks of repairs. City engineers replaced "
        "corroded cables on the northern span. Tolls stay unchanged.")


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(dim=48) as srv:
        yield srv


closed_port = free_port  # a port nothing listens on: bound to get a free number, then closed


def remote_settings(tmp_path: Path, server: ModelServer, **overrides: object) -> rag.Settings:
    values: dict[str, object] = {"store_dir": tmp_path / "chroma", "data_dir": tmp_path / "data", "llm": "smollm2",
                                 "embedder": "openai:embed", "openai_base_url": server.openai_url, "embed_batch": 2,
                                 "embed_retries": 1}
    return rag.Settings(**{**values, **overrides})  # type: ignore[arg-type]


def write_corpus(tmp_path: Path, write_article: WriteArticle) -> Path:
    write_article(tmp_path / "corpus" / "bridge.md", title="Harbour bridge reopens", text=TEXT,
                  source="alpha.example", published="2025-03-01")
    for i in range(4):
        write_article(tmp_path / "corpus" / f"other{i}.md", title=f"Garden show {i}",
                      text=f"Roses and tulips filled hall {i} of the spring garden show on Saturday.")
    return tmp_path / "corpus"


def test_ingest_and_questions_embed_through_an_openai_compatible_server(
        tmp_path: Path, server: ModelServer, write_article: WriteArticle) -> None:
    settings = remote_settings(tmp_path, server)
    summary = ingest_paths([write_corpus(tmp_path, write_article)], settings, progress=False)
    assert (summary.added, summary.chunks) == (5, 5)
    batches = [len(body["input"]) for path, body in server.requests if path == "/v1/embeddings"]
    assert batches == [2, 2, 1]  # NEWSDESK_EMBED_BATCH texts a request
    meta = open_store(settings).metadata()
    assert (meta["embedding_model"], meta["embedding_dim"]) == ("openai:embed", 48)
    question = "When did the Harbour Bridge reopen?"
    chain = rag.build_chain(settings, llm=FakeListChatModel(responses=[ANSWER]))
    out = chain.invoke({"question": question})
    assert out["answer"] == ANSWER and out["sources"][0].metadata["title"] == "Harbour bridge reopens"
    asked = server.embedded()
    assert asked.count(question) >= 2  # the dense search, and the sentence scoring that picks the context
    assert "Tolls stay unchanged." in asked  # a passage's sentences were scored by the same server


def test_vectors_from_a_server_are_unit_length(tmp_path: Path, server: ModelServer) -> None:
    """Sentence scoring compares vectors by dot product: a server's unnormalised vectors are normalised."""
    vectors = get_embeddings(remote_settings(tmp_path, server)).embed_documents(["bridge bridge bridge", "a b"])
    assert [round(math.sqrt(sum(x * x for x in v)), 6) for v in vectors] == [1.0, 1.0]


def test_ollama_embedder_uses_its_own_protocol(tmp_path: Path, server: ModelServer,
                                              write_article: WriteArticle) -> None:
    settings = remote_settings(tmp_path, server, embedder="ollama:embed", ollama_url=server.base,
                               openai_base_url=f"http://127.0.0.1:{closed_port()}/v1")
    ingest_paths([write_corpus(tmp_path, write_article)], settings, progress=False)
    assert {path for path, _ in server.requests} == {"/api/embed"}
    docs = rag.build_retriever(settings, k=1).invoke("Harbour Bridge cables")
    assert docs[0].metadata["title"] == "Harbour bridge reopens"


def test_embeddings_url_falls_back_to_the_openai_url_and_can_differ_from_it(tmp_path: Path,
                                                                            server: ModelServer) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    own = remote_settings(tmp_path, server, openai_base_url=dead, embeddings_base_url=server.openai_url)
    assert len(get_embeddings(own).embed_query("bridge")) == 48
    with pytest.raises(rag.EmbedderUnavailableError) as info:
        get_embeddings(remote_settings(tmp_path, server, openai_base_url=dead)).embed_query("bridge")
    assert f"cannot reach the OpenAI-compatible server at {dead}" in str(info.value)
    assert "start it or set NEWSDESK_EMBEDDINGS_BASE_URL" in str(info.value)


def test_a_busy_server_is_asked_again(tmp_path: Path, server: ModelServer) -> None:
    server.failures = [503, 429]
    settings = remote_settings(tmp_path, server, embed_retries=2)
    assert len(get_embeddings(settings).embed_documents(["one", "two"])) == 2
    assert len(server.requests) == 3


def test_a_server_still_busy_after_the_retries_is_a_clear_error(tmp_path: Path, server: ModelServer) -> None:
    server.failures = [503, 503, 503]
    with pytest.raises(rag.EmbedderUnavailableError, match=r"refused the request \(HTTP 503"):
        get_embeddings(remote_settings(tmp_path, server, embed_retries=1)).embed_query("bridge")
    assert len(server.requests) == 2


def test_an_unknown_model_is_refused_at_once_with_the_fix(tmp_path: Path, server: ModelServer) -> None:
    settings = remote_settings(tmp_path, server, embedder="openai:nope", embed_retries=3)
    with pytest.raises(rag.EmbedderUnavailableError) as info:
        get_embeddings(settings).embed_query("bridge")
    assert "refused the request (HTTP 404" in str(info.value) and "model 'nope' not found" in str(info.value)
    assert "check the model name in NEWSDESK_EMBEDDER" in str(info.value)
    assert len(server.requests) == 1  # not retried: asking again would not help


def test_a_store_built_with_another_embedder_is_refused_naming_both_fixes(
        tmp_path: Path, server: ModelServer, write_article: WriteArticle) -> None:
    settings = remote_settings(tmp_path, server)
    ingest_paths([write_corpus(tmp_path, write_article)], settings, progress=False)
    with pytest.raises(rag.EmbeddingModelMismatchError) as info:
        rag.build_retriever(settings.model_copy(update={"embedder": "minilm"}))
    message = str(info.value)
    assert "built with openai:embed (48 dims), not sentence-transformers/all-MiniLM-L6-v2 (384 dims)" in message
    assert "python -m ingest --reindex" in message and "NEWSDESK_EMBEDDER=openai:embed" in message
    minilm_store = settings.model_copy(update={"store_dir": tmp_path / "other", "embedder": "minilm"})
    open_store(minilm_store)  # created, recording MiniLM
    with pytest.raises(rag.EmbeddingModelMismatchError, match="or set NEWSDESK_EMBEDDER=minilm$"):
        open_store(minilm_store.model_copy(update={"embedder": "openai:embed"}))


def test_a_server_answering_with_another_dimension_is_refused(tmp_path: Path, write_article: WriteArticle) -> None:
    with ModelServer(dim=48) as first:
        settings = remote_settings(tmp_path, first)
        ingest_paths([write_corpus(tmp_path, write_article)], settings, progress=False)
    write_article(tmp_path / "late.md", title="Late news", text="A late article about the harbour ferry.")
    with ModelServer(dim=32) as second, pytest.raises(rag.EmbeddingModelMismatchError, match="32-dim vectors"):
        ingest_paths([tmp_path / "late.md"], remote_settings(tmp_path, second), progress=False)
