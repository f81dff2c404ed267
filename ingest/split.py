"""Articles -> chunks with stable ids and character offsets, each small enough for MiniLM to embed whole."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from langchain_core.documents import Document

from ingest.load import Article
from rag.models import minilm_path
from rag.store import chunk_id
from rag.text import sentence_spans

HARD_CHARS_PER_TOKEN = 3  # used only to cut a sentence longer than a whole chunk


@lru_cache(maxsize=1)
def _tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(minilm_path()) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def count_tokens(texts: list[str]) -> list[int]:
    """Word pieces of each text, as MiniLM's tokenizer counts them (no special tokens)."""
    return [len(e.ids) for e in _tokenizer().encode_batch(texts, add_special_tokens=False)]


def split_article(article: Article, *, max_tokens: int) -> list[Document]:
    """Cut an article on sentence boundaries into chunks of at most `max_tokens`, header included."""
    header = f"{article.title} ({article.source}, {article.published})\n"
    budget = max(16, max_tokens - count_tokens([header])[0] - 2)
    groups = list(_group(list(_bounded(article.text, budget)), budget))
    return [_chunk(article, i, start, end, len(groups)) for i, (start, end) in enumerate(groups)]


def _bounded(text: str, budget: int) -> Iterator[tuple[int, int, int]]:
    """Sentence spans, cutting any sentence longer than `budget` tokens at whitespace."""
    spans = sentence_spans(text)
    sizes = count_tokens([text[s:e] for s, e in spans]) if spans else []
    for (start, end), size in zip(spans, sizes, strict=True):
        if size <= budget:
            yield start, end, size
            continue
        yield from _hard_cut(text, start, end, budget)


def _hard_cut(text: str, start: int, end: int, budget: int) -> Iterator[tuple[int, int, int]]:
    step = budget * HARD_CHARS_PER_TOKEN
    while start < end:
        cut = min(end, start + step)
        if cut < end:
            space = text.rfind(" ", start + step // 2, cut)
            cut = space if space > start else cut
        size = count_tokens([text[start:cut]])[0]
        while size > budget and cut - start > 1:  # token-dense text (numbers, non-Latin scripts)
            cut = start + max(1, (cut - start) * budget // size)
            space = text.rfind(" ", start + 1, cut)
            cut = space if space > start + (cut - start) // 2 else cut
            size = count_tokens([text[start:cut]])[0]
        yield start, cut, size
        start = cut + len(re.match(r"\s*", text[cut:end]).group(0))  # type: ignore[union-attr]


def _group(spans: list[tuple[int, int, int]], budget: int) -> Iterator[tuple[int, int]]:
    """Greedily pack consecutive sentences into chunks under the token budget."""
    start = end = used = 0
    open_ = False
    for s, e, size in spans:
        if open_ and used + size + 1 > budget:
            yield start, end
            open_ = False
        if not open_:
            start, used, open_ = s, 0, True
        end, used = e, used + size + 1
    if open_:
        yield start, end


def _chunk(article: Article, index: int, start: int, end: int, total: int) -> Document:
    meta = {
        "title": article.title, "source": article.source, "url": article.url, "published": article.published,
        "published_int": int(article.published.replace("-", "") or 0), "article_id": article.article_id,
        "chunk_index": index, "start_index": start, "content_hash": article.content_hash, "n_chunks": total,
        "origin": article.origin, "also_reported_by": article.also_reported_by,
    }
    if index == 0 and article.minhash:
        meta["minhash"] = article.minhash
    return Document(page_content=article.text[start:end], metadata=meta, id=chunk_id(article.article_id, index))
