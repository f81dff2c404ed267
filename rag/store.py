"""Open the Chroma collection (embedded PersistentClient, or HttpClient for a server) behind a small Store API."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag.config import Settings
from rag.errors import EmbeddingModelMismatchError, IndexNotBuiltError, SettingsError, StoreUnavailableError
from rag.models import embedder_identity, embedder_setting, get_embeddings

PAGE = 2000  # rows per Chroma get/upsert call (the server caps request sizes)
ID_PAGE = 200  # article ids per lookup
LEXICAL_FILE = "bm25.sqlite3"  # the lexical index in lexical_dir (rag.lexical)
GENERATION = "generation"  # collection metadata key: a new value each time ingest changes the collection


def chunk_id(article_id: str, index: int) -> str:
    """The stable id of an article's `index`-th chunk (ingest writes it; `Store.around` finds neighbours by it)."""
    return f"{article_id}:{index}"


@dataclass
class Store:
    """A Chroma collection plus the embedder that fills it."""

    collection: Any
    settings: Settings
    location: str  # the store path or the server URL, for messages
    lexical_dir: Path
    client: Any = None
    _embeddings: Embeddings | None = None
    # one ingest writes at a time (uploads, feed polls); Any, because pydantic cannot describe a lock
    write_lock: Any = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def embeddings(self) -> Embeddings:
        """The embedder, loaded on first use (re-running an unchanged ingest never loads it)."""
        if self._embeddings is None:
            self._embeddings = get_embeddings(self.settings)
        return self._embeddings

    def count(self) -> int:
        return int(_call(self, self.collection.count))

    def upsert(self, docs: list[Document], ids: list[str], vectors: list[list[float]] | None = None) -> None:
        """Write chunks by stable id; embeds them unless `vectors` are given."""
        if vectors is None:
            vectors = self.embeddings.embed_documents([embed_text(d) for d in docs])
        if vectors:
            self._record_dim(len(vectors[0]))
        for i in range(0, len(ids), PAGE):
            sl = slice(i, i + PAGE)
            _call(self, self.collection.upsert, ids=ids[sl], embeddings=vectors[sl],
                  documents=[d.page_content for d in docs[sl]], metadatas=[d.metadata for d in docs[sl]])

    def _record_dim(self, dim: int) -> None:
        """Record the dimension of a server's embeddings once they are first written (the name is recorded when
        the collection is created); a server now answering with another dimension is another model."""
        recorded = self.metadata().get("embedding_dim")
        if recorded is None:
            meta = {k: v for k, v in self.metadata().items() if not k.startswith("hnsw:")}
            _call(self, self.collection.modify, metadata={**meta, "embedding_dim": dim})
        elif recorded != dim:
            raise EmbeddingModelMismatchError(
                f"NEWSDESK_EMBEDDER={self.settings.embedder} gave {dim}-dim vectors, but the collection in "
                f"{self.location} holds {recorded}-dim ones; rebuild it: python -m ingest --reindex corpus/")

    def update_metadata(self, ids: list[str], metadatas: list[dict[str, Any]]) -> None:
        """Replace the metadata of existing chunks, keeping their text and vectors."""
        for i in range(0, len(ids), PAGE):
            _call(self, self.collection.update, ids=ids[i:i + PAGE], metadatas=metadatas[i:i + PAGE])

    def delete(self, ids: list[str]) -> None:
        for i in range(0, len(ids), PAGE):
            _call(self, self.collection.delete, ids=ids[i:i + PAGE])

    def rows(self, *, documents: bool = False, where: dict[str, Any] | None = None
             ) -> Iterator[tuple[str, dict[str, Any], str]]:
        """Every (id, metadata, text) in the collection (or those matching `where`), paged."""
        include = ["metadatas", "documents"] if documents else ["metadatas"]
        offset = 0
        while True:
            got = _call(self, self.collection.get, where=where, include=include, limit=PAGE, offset=offset)
            texts = got.get("documents") or [""] * len(got["ids"])
            yield from zip(got["ids"], got["metadatas"], texts, strict=True)
            if len(got["ids"]) < PAGE:
                return
            offset += PAGE

    def rows_of(self, article_ids: list[str]) -> Iterator[tuple[str, dict[str, Any], str]]:
        """(id, metadata, "") of every chunk of these articles, looked up by article id (no scan)."""
        for i in range(0, len(article_ids), ID_PAGE):
            yield from self.rows(where={"article_id": {"$in": article_ids[i:i + ID_PAGE]}})

    def metadata(self) -> dict[str, Any]:
        """The collection's metadata as stored now (another process may have changed it)."""
        current = _call(self, self.client.get_collection, self.settings.collection) if self.client else self.collection
        return dict(current.metadata or {})

    def generation(self) -> str:
        """A stamp that changes whenever ingest changes the collection ("" while no ingest has stamped it)."""
        return str(self.metadata().get(GENERATION, ""))

    def stamp(self, generation: str | None = None, /, **values: str | None) -> str:
        """Record a change to the collection: a new generation (`generation`, else a fresh one), and `values` in its
        metadata (None removes one)."""
        generation = generation or new_generation()
        meta = {k: v for k, v in self.metadata().items() if not k.startswith("hnsw:")}  # fixed at creation
        meta.update(values, **{GENERATION: generation})
        _call(self, self.collection.modify, metadata={k: v for k, v in meta.items() if v is not None})
        return generation

    def get(self, ids: list[str]) -> list[Document]:
        """The chunks with these ids (missing ones left out)."""
        if not ids:
            return []
        got = _call(self, self.collection.get, ids=ids, include=["metadatas", "documents"])
        rows = zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        return [Document(page_content=t, metadata=dict(m), id=i) for i, t, m in rows]

    def around(self, doc: Document) -> tuple[Document | None, Document | None]:
        """The chunks just before and after `doc` in its article (None at either end, or for a chunk without its
        article's position)."""
        meta = doc.metadata
        index, total, article = meta.get("chunk_index"), meta.get("n_chunks"), meta.get("article_id")
        if not isinstance(index, int) or not isinstance(total, int) or not article:
            return None, None
        found = {d.id: d for d in self.get([chunk_id(article, j) for j in (index - 1, index + 1) if 0 <= j < total])}
        return found.get(chunk_id(article, index - 1)), found.get(chunk_id(article, index + 1))

    def dense(self, query: str, n: int, where: dict[str, Any] | None = None) -> list[tuple[Document, float]]:
        """The `n` chunks nearest to `query`, with cosine similarity."""
        vec = self.embeddings.embed_query(query)
        got = _call(self, self.collection.query, query_embeddings=[vec], n_results=n, where=where or None,
                    include=["metadatas", "documents", "distances"])
        rows = zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True)
        return [(Document(page_content=t, metadata=dict(m), id=i), 1.0 - d) for i, t, m, d in rows]

    def require_articles(self) -> None:
        if self.count() == 0:
            raise IndexNotBuiltError(f"no articles indexed in {self.location}; run: python -m ingest corpus/")


def new_generation() -> str:
    return uuid.uuid4().hex


def embed_text(doc: Document) -> str:
    """What is embedded and lexically indexed: the passage behind its title, outlet and date."""
    m = doc.metadata
    return f"{m['title']} ({m['source']}, {m['published']})\n{doc.page_content}"


def open_store(settings: Settings, *, embeddings: Embeddings | None = None, reset: bool = False) -> Store:
    """Open (creating if needed) the collection, refusing one built with another embedding model.

    `reset=True` first deletes the collection and its lexical index (a full re-index)."""
    model, dim = embedder_identity(settings)
    client, location, lexical_dir = _client(settings)
    if reset:
        _drop(client, settings.collection, lexical_dir)
    meta: dict[str, Any] = {"hnsw:space": "cosine", "embedding_model": model}
    if dim is not None:
        meta["embedding_dim"] = dim
    try:
        col = client.get_or_create_collection(settings.collection, metadata=meta, embedding_function=None)
    except Exception as e:  # connection errors differ between chromadb versions
        raise StoreUnavailableError(f"cannot open the Chroma store at {location}: {e}") from e
    _check_model(col.metadata or {}, location, (model, dim))
    return Store(col, settings, location, lexical_dir, client, embeddings)


def _client(settings: Settings) -> tuple[Any, str, Path]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise SettingsError(f"Expected NEWSDESK_CHROMA_URL like http://127.0.0.1:8000. Got {settings.chroma_url!r}")
        tag = hashlib.sha1(f"{settings.chroma_url}/{settings.collection}".encode()).hexdigest()[:12]
        try:
            client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https",
                                         settings=chroma_settings)
        except Exception as e:
            raise StoreUnavailableError(_unreachable(settings.chroma_url, e)) from e
        return client, settings.chroma_url, settings.data_dir / "lexical" / tag
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(path=str(settings.store_dir), settings=chroma_settings)
    return client, str(settings.store_dir), settings.store_dir / "lexical"


def _drop(client: Any, name: str, lexical_dir: Path) -> None:
    """Delete the collection. Its lexical index file stays (other processes may have it open): it is rebuilt in
    place for the new collection; anything else there (the bm25s cache of Newsdesk before 0.8) goes."""
    import shutil

    if name in [getattr(c, "name", c) for c in client.list_collections()]:
        client.delete_collection(name)
    for path in lexical_dir.glob("*") if lexical_dir.is_dir() else []:
        if not path.name.startswith(LEXICAL_FILE):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _check_model(meta: dict[str, Any], location: str, expected: tuple[str, int | None]) -> None:
    """Refuse a collection built with another embedder (or the same name answering with another dimension)."""
    model, dim = meta.get("embedding_model"), meta.get("embedding_dim")
    if model == expected[0] and None in (dim, expected[1]) or (model, dim) == expected:
        return
    wanted = f"{expected[0]} ({expected[1]} dims)" if expected[1] else expected[0]
    setting = embedder_setting(str(model))
    raise EmbeddingModelMismatchError(
        f"the collection in {location} was built with {model} ({dim or 'unknown'} dims), not {wanted}; rebuild it "
        f"with this embedder (python -m ingest --reindex corpus/) or set NEWSDESK_EMBEDDER={setting}")


def _unreachable(url: str, err: Exception) -> str:
    return (f"cannot reach the Chroma server at {url} ({err}); "
            "start it (chroma run --path DIR --port N) or unset NEWSDESK_CHROMA_URL")


def _call(store: Store, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call Chroma, turning connection failures into StoreUnavailableError."""
    try:
        return fn(*args, **kwargs)
    except (ConnectionError, OSError) as e:
        raise StoreUnavailableError(_unreachable(store.location, e)) from e
    except Exception as e:
        if type(e).__name__ in ("ConnectError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError"):
            raise StoreUnavailableError(_unreachable(store.location, e)) from e
        raise

