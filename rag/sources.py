"""Numbering passages, and checking that every [n] of an answer points to a passage that supports it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from langchain_core.documents import Document

from rag.text import CITE_RE, key_terms, sentence_spans, strip_citations

SUPPORT_MIN = 0.6  # share of a sentence's key terms its passage must contain
WH_RE = re.compile(r"\b(who|whom|whose|what|which|where|when|why|how)\b", re.I)  # .match: a question's start
ALTERNATIVES_RE = re.compile(r"\bor\b", re.I)
STANCE_RE = re.compile(r"\b(yes|no|not|never|none|nor)\b|n['’]t\b", re.I)  # answer words that are stopwords


def passage_header(doc: Document) -> str:
    m = doc.metadata
    return f"{m['title']} ({m['source'] or 'unknown outlet'}, {m['published'] or 'undated'})"


def format_passages(docs: list[Document], texts: list[str] | None = None) -> str:
    """Context for the prompt: `[n] title (outlet, date): text`, n counting from 1."""
    texts = texts or [d.page_content for d in docs]
    return "\n\n".join(f"[{i}] {passage_header(d)}: {t}" for i, (d, t) in enumerate(zip(docs, texts, strict=True), 1))


def cited_numbers(sentence: str) -> list[int]:
    return [int(n) for m in CITE_RE.finditer(sentence) for n in m.group(1).split(",")]


def claim_terms(sentence: str, question: str = "") -> set[str]:
    """The key terms a sentence asserts. Words it repeats from the question are the question's premise, not the
    answer's claim ("The Kremlin describes relations as at their lowest point" claims "lowest point"), so they
    are left out, unless the sentence says nothing else."""
    terms = set(key_terms(sentence))
    return (terms - set(key_terms(question))) or terms


def support(sentence: str, passage: str, question: str = "") -> tuple[float, tuple[int, int]]:
    """Share of the sentence's claim terms found within two adjacent sentences of `passage`, and that span.

    A claim must be supported locally: terms scattered over unrelated sentences of a passage do not count."""
    terms = claim_terms(sentence, question)
    spans = sentence_spans(passage)
    if not terms or not spans:
        return 0.0, (0, 0)
    sets = [set(key_terms(passage[s:e])) for s, e in spans]
    best, span = -1, (0, 0)
    for i in range(len(spans)):
        window = sets[i] | (sets[i + 1] if i + 1 < len(spans) else set())
        hits = len(terms & window)
        if hits > best:
            main = i if i + 1 == len(spans) or len(terms & sets[i]) >= len(terms & sets[i + 1]) else i + 1
            best, span = hits, spans[main]
    return best / len(terms), span


def is_supported(sentence: str, passage: str, question: str = "") -> bool:
    return support(sentence, passage, question)[0] >= SUPPORT_MIN


@dataclass
class Citer:
    """Checks answer sentences one by one against the passages and renumbers citations by first use."""

    passages: list[Document]
    question: str = ""  # what was asked: the answer may restate it without the passage's support
    order: list[int] = field(default_factory=list)  # passage indexes (0-based) in citation order
    spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def check(self, sentence: str) -> str | None:
        """The sentence with verified, renumbered citations; None when no passage supports it."""
        text = strip_citations(sentence)
        if not key_terms(text):
            return text or None
        scores = [support(text, p.page_content, self.question) for p in self.passages]
        claimed = [n - 1 for n in cited_numbers(sentence) if 0 < n <= len(self.passages)]
        good = [i for i in dict.fromkeys(claimed) if scores[i][0] >= SUPPORT_MIN]
        if not good:
            best = max(range(len(scores)), key=lambda i: scores[i][0], default=None)
            if best is None or scores[best][0] < SUPPORT_MIN:
                return None
            good = [best]
        return _with_markers(text, [self._number(i, scores[i][1]) for i in good])

    def holds_whole(self, text: str, min_terms: int = 2) -> bool:
        """True when `text` (a sentence still being written) claims at least `min_terms` terms beyond the question's
        and one passage supports every one of them: such a start may be shown before the sentence is complete."""
        claims = set(key_terms(text)) - set(key_terms(self.question))
        return len(claims) >= min_terms and any(support(text, p.page_content, self.question)[0] == 1.0
                                                for p in self.passages)

    def restates(self, sentence: str) -> bool:
        """True when `sentence` only repeats a wh-question ("Blue Origin launched a new rocket this week [1]." for
        "Blue Origin launched a new rocket this week. What is its name?"): no term beyond the question's, no yes,
        no or not it lacks. A question offering alternatives ("... or ...?") may be answered in its own words."""
        q = self.question
        if not WH_RE.search(q) or ALTERNATIVES_RE.search(q):
            return False
        return set(key_terms(sentence)) <= set(key_terms(q)) and _stance(sentence) <= _stance(q)

    def _number(self, index: int, span: tuple[int, int]) -> int:
        if index not in self.order:
            self.order.append(index)
        spans = self.spans.setdefault(index, [])
        if span not in spans:
            spans.append(span)
        return self.order.index(index) + 1

    def sources(self) -> list[Document]:
        """Cited passages in citation order; metadata gains `n` and `support_spans` (offsets in the text)."""
        out = []
        for n, i in enumerate(self.order, 1):
            doc = self.passages[i]
            meta = {**doc.metadata, "n": n, "support_spans": [list(s) for s in self.spans[i]]}
            out.append(Document(page_content=doc.page_content, metadata=meta, id=doc.id))
        return out


def _stance(text: str) -> set[str]:
    return {m.group(0).lower().replace("’", "'") for m in STANCE_RE.finditer(text)}


def _with_markers(text: str, numbers: list[int]) -> str:
    """`text [n]` before a plain final full stop, else after everything (a closing quote stays whole)."""
    marks = "".join(f"[{n}]" for n in numbers)
    if text.endswith(".") and not text.endswith(".."):
        return f"{text[:-1]} {marks}."
    return f"{text} {marks}"
