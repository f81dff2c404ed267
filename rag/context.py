"""Small context for a small model: evidence strength, and the windows of the passages that matter most."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag.config import Settings
from rag.expect import names, topic_terms
from rag.retrieve import NewsWeek
from rag.text import idf_overlap, key_terms, sentence_spans

INJECTION_RE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|guidelines)\b|"
    r"\b(system prompt|you are now|as an ai|language model|assistant[,:])|\bnew instructions?\b", re.I | re.S)
EMBED_GROUP = 12  # texts embedded together at question time: short groups of similar length pad least
RANK_PENALTY = 0.03  # per rank of the passage a sentence comes from
LEXICAL_WEIGHT = 0.5  # weight of key-term overlap beside cosine similarity
WEEK_BONUS = 1.0  # added to a sentence of an article from the question's news week: news-week sentences come first
MIN_SIMILARITY = 0.4  # a sentence this close to the question (cosine) is evidence enough in other words
SHORTLIST = 3  # sentences of each passage, the embedder's best, that a reader scores again

Neighbours = Callable[[Document], "tuple[Document | None, Document | None]"]  # a chunk -> the chunks around it


@dataclass
class Context:
    """Passages offered to the LLM, numbered from 1, and the excerpt of each that goes into the prompt."""

    passages: list[Document]
    excerpts: list[str]
    best: str = ""  # the single most relevant sentence, quoted when the model's own answer finds no support
    similarity: float = 0.0  # the highest cosine similarity of the question to a sentence of the passages

    def documents(self) -> list[Document]:
        """The excerpts as Documents with their passages' metadata: what the LLM reads."""
        return [Document(page_content=t, metadata=dict(d.metadata), id=d.id)
                for d, t in zip(self.passages, self.excerpts, strict=True)]


def addresses_the_model(sentence: str) -> bool:
    """True for text that gives orders to an AI ("ignore previous instructions", "you are now ..."): such sentences
    are not evidence, so they never reach the prompt (the source panel still shows them)."""
    return bool(INJECTION_RE.search(sentence))


def evidence(question: str, passages: list[Document]) -> float:
    """Share of the question's topic terms (rag.expect.topic_terms) that occur in the passages (titles included)."""
    terms = topic_terms(question)
    if not terms:
        return 0.0
    found: set[str] = set()
    for d in passages:
        found |= set(key_terms(f"{d.metadata.get('title', '')} {d.page_content}"))
    return len(terms & found) / len(terms)


def build_context(question: str, passages: list[Document], embeddings: Embeddings,
                  settings: Settings, *, asked: str = "", week: NewsWeek | None = None,
                  neighbours: Neighbours | None = None, reader: Embeddings | None = None,
                  unseen: Callable[[list[str]], list[str]] | None = None) -> Context | None:
    """What the LLM gets for `question` from the retrieved `passages` (the chain and `rag.eval context` both use
    this): None when the passages' evidence is too weak to answer from, else the selected windows. `asked` is the
    user's own words when `question` was rewritten from a follow-up, `week` the news week retrieval favoured (see
    `select`), `neighbours` (`Store.around`) lets a window continue into the chunks around its passage, `reader`
    (rag.models.get_reader) scores the best sentences again, `unseen` (`HybridRetriever.unseen`) says which words no
    article of the store holds.

    Evidence is weak when the passages hold less than `settings.min_evidence` of the question's key terms, or the
    question names something no article mentions (rag.expect.names: "What is the capital of Australia?" over
    articles that never say "Australia"), and no sentence of theirs is close to it in meaning: a question in other
    words than the article's ("When is Trump's swearing-in?") still reaches the model, one on another topic does
    not."""
    passages = passages[: settings.context_passages]
    ctx = select(question, passages, embeddings, windows=settings.context_windows, chars=settings.context_chars,
                 asked=asked, week=week, neighbours=neighbours, reader=reader)
    if ctx.similarity < MIN_SIMILARITY and (evidence(question, passages) < settings.min_evidence
                                            or bool(unseen and unseen(names(question)))):
        return None
    return ctx


def select(question: str, passages: list[Document], embeddings: Embeddings, *, windows: int, chars: int,
           asked: str = "", week: NewsWeek | None = None, neighbours: Neighbours | None = None,
           reader: Embeddings | None = None) -> Context:
    """The `windows` passages holding the sentences most relevant to the question, each cut to a contiguous window
    of at most `chars` characters around its best sentence. The characters the windows leave unused of their
    `windows` × `chars` then let them grow further, best window first (whole sentences, next then previous): a
    window is not cut short of a sentence that fits in what another did not need (docs/retrieval.md, session 33).

    A follow-up's rewrite ("When does Ana Ruiz take office as chair of the water board?") repeats what the previous
    answer said, and the sentence that said it then scores highest. When the user's own words (`asked`: "When does
    she take office?") differ from `question`, a sentence scores the mean of its scores for both.

    Sentences of articles published in `week` (the news week retrieval favoured) come before the others
    (WEEK_BONUS): a question about the news is answered from that week's reports rather than from an older
    article that shares its words (docs/retrieval.md, session 17).

    Given `neighbours`, a window may continue into the chunks before and after its passage in the same article:
    chunks are cut on sentence boundaries without overlap, so a sentence at a chunk's edge could only be read with
    what stood on one side of it. A chunk joins one window at most, and none that is a chosen passage itself, so
    no sentence is read twice. The best sentence is still chosen within the retrieved chunk, and the passage
    becomes the joined text, so citations are checked against what the window holds (docs/retrieval.md, session 20).

    Given a `reader` (a stronger sentence model than the store's embedder), each passage's SHORTLIST best sentences
    are scored again by it, and a window centres on one of them: the embedder is fast enough for every sentence, the
    reader for a few (docs/retrieval.md, session 22).

    Contiguous text beat the same number of characters of scattered top sentences on the dev slice (answer accuracy
    0.467 vs 0.400 on 60 questions): the small model follows who said what across neighbouring sentences."""
    pool = [(r, s, e) for r, d in enumerate(passages) for s, e in sentence_spans(d.page_content)
            if not addresses_the_model(d.page_content[s:e])]
    if not pool:
        return Context([], [])
    texts = [passages[r].page_content[s:e] for r, s, e in pool]
    queries = [question, asked] if asked and asked != question else [question]
    scores, dense = _scores(queries, texts, [r for r, _, _ in pool], embeddings)
    bonus = WEEK_BONUS * np.array([bool(week and week.holds(passages[r].metadata)) for r, _, _ in pool])
    scores = scores + bonus
    if reader is not None:
        scores = _reread(queries, texts, [r for r, _, _ in pool], scores, reader) + bonus
    best: dict[int, int] = {}  # passage -> index in pool of its best sentence
    for i in np.argsort(-scores).tolist():
        best.setdefault(pool[i][0], i)
    ranks = sorted(best, key=lambda r: -scores[best[r]])[:windows]
    chosen, built = [], []
    taken = {passages[r].id for r in ranks}  # a chunk is read once: in its own window or in one neighbour's
    for r in ranks:
        doc, offset = _joined(passages[r], neighbours, taken) if neighbours else (passages[r], 0)
        spans = [(s, e) for s, e in sentence_spans(doc.page_content) if not addresses_the_model(doc.page_content[s:e])]
        sentences = [doc.page_content[s:e] for s, e in spans]
        at = offset + pool[best[r]][1]
        centre = next((k for k, (s, e) in enumerate(spans) if s <= at < e), 0)
        chosen.append(doc)
        built.append((sentences, centre, _window(list(range(len(spans))), centre, sentences, chars)))
    spare = windows * chars - sum(_length(window, sentences) for sentences, _, window in built)
    excerpts = []
    for sentences, centre, window in built:  # best window first
        if spare > 0:
            grown = _window(list(range(len(sentences))), centre, sentences, _length(window, sentences) + spare)
            spare -= _length(grown, sentences) - _length(window, sentences)
            window = grown
        excerpts.append(" ".join(sentences[k] for k in window))
    return Context(chosen, excerpts, texts[int(np.argmax(scores))], float(dense.max()))


def _reread(queries: list[str], texts: list[str], ranks: list[int], scores: np.ndarray, reader: Embeddings
            ) -> np.ndarray:
    """`reader`'s scores (without the week's bonus) for each passage's SHORTLIST best-scoring sentences; the rest
    can no longer centre a window."""
    shortlist = [i for r in sorted(set(ranks))
                 for i in sorted((i for i, q in enumerate(ranks) if q == r), key=lambda i: -scores[i])[:SHORTLIST]]
    again, _ = _scores(queries, [texts[i] for i in shortlist], [ranks[i] for i in shortlist], reader)
    out = np.full(len(texts), -np.inf)
    out[shortlist] = again
    return out


def _joined(passage: Document, neighbours: Neighbours, taken: set[str | None]) -> tuple[Document, int]:
    """`passage` with the chunks before and after it in its article that are not `taken` yet (it takes them), and
    where the passage starts in that text."""
    before, after = (d if d is not None and d.id not in taken else None for d in neighbours(passage))
    taken.update(d.id for d in (before, after) if d is not None)
    if before is None and after is None:
        return passage, 0
    text = " ".join(d.page_content for d in (before, passage, after) if d is not None)
    start = (before or passage).metadata.get("start_index", 0)
    offset = len(before.page_content) + 1 if before is not None else 0
    return Document(page_content=text, metadata={**passage.metadata, "start_index": start}, id=passage.id), offset


def _length(window: list[int], texts: list[str]) -> int:
    """Characters of the window's sentences joined by spaces."""
    return sum(len(texts[k]) for k in window) + max(0, len(window) - 1)


def _window(sentences: list[int], center: int, texts: list[str], chars: int) -> list[int]:
    """Consecutive members of `sentences` around `center`, grown one sentence at a time (next, then previous)
    while the text stays within `chars`."""
    lo = hi = sentences.index(center)
    size = len(texts[center])
    grew = True
    while grew:
        grew = False
        for j in (hi + 1, lo - 1):
            if 0 <= j < len(sentences) and size + 1 + len(texts[sentences[j]]) <= chars:
                size += 1 + len(texts[sentences[j]])
                lo, hi, grew = min(lo, j), max(hi, j), True
    return sentences[lo : hi + 1]


def _scores(queries: list[str], texts: list[str], ranks: list[int], embeddings: Embeddings
            ) -> tuple[np.ndarray, np.ndarray]:
    """Each sentence's selection score (the mean over `queries`), and its cosine similarity to the first query."""
    vectors = embed_by_length(embeddings, [*queries, *texts])
    dense = vectors[len(queries):] @ vectors[: len(queries)].T  # sentences x queries
    sentence_terms = [set(key_terms(t)) for t in texts]
    lexical = np.array([idf_overlap(set(key_terms(q)), sentence_terms) for q in queries]).T
    scores = dense + LEXICAL_WEIGHT * lexical - RANK_PENALTY * np.array(ranks)[:, None]
    return scores.mean(axis=1), dense[:, 0]


def embed_by_length(embeddings: Embeddings, texts: list[str]) -> np.ndarray:
    """Vectors of `texts` in their order, embedded in small groups of similar length. Sentences vary in length, and
    a batch is padded to its longest member: on dev questions (38 sentences) this takes 0.22 s instead of 0.34 s."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors: list[list[float]] = [[] for _ in texts]
    for k in range(0, len(order), EMBED_GROUP):
        group = order[k : k + EMBED_GROUP]
        for i, vector in zip(group, embeddings.embed_documents([texts[i] for i in group]), strict=True):
            vectors[i] = vector
    return np.array(vectors)
