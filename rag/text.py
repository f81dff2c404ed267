"""Plain-text helpers shared by ingest and answering: sentence spans, key terms, stopwords."""

from __future__ import annotations

import math
import re
from functools import lru_cache

STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been before being below
between both but by can could did didn't do does doesn't doing don't down during each few for from further had
has have having he her here hers herself him himself his how i if in into is isn't it it's its itself just let me
more most my myself no nor not now of off on once only or other our ours ourselves out over own per same she
should so some such than that that's the their theirs them themselves then there these they this those through
to too under until up upon very was we were what when where which while who whom whose why will with would you
your yours yourself yourselves said says say according week weeks year years new one two first last latest
recently reportedly amid
""".split())

WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
CITE_RE = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_BOUNDARY = re.compile(r"[.!?…]+[\"”’)\]]*(?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s+(?:[\"“‘(]|\[(?!\d))?[A-Z0-9])")
_ABBREV = frozenset("mr mrs ms dr st jr sr gen sen rep gov lt col sgt capt prof no vol vs jan feb mar apr jun jul "
                    "aug sep sept oct nov dec u.s u.k e.g i.e inc corp co ltd".split())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`; lines are hard boundaries; whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        for m in _BOUNDARY.finditer(line.group(0)):
            if _is_abbreviation(line.group(0)[: m.start() + 1]):
                continue
            spans.append((start, line.start() + m.end()))
            start = line.start() + m.end()
        spans.append((start, line.end()))
    return [t for t in (_trim(text, s, e) for s, e in spans) if t[1] > t[0]]


def _is_abbreviation(before: str) -> bool:
    word = re.search(r"([A-Za-z.]+)\.$", before)
    if not word:
        return False
    w = word.group(1).lower()
    return w in _ABBREV or len(w) == 1


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def key_terms(text: str) -> list[str]:
    """Stemmed, lower-cased words of `text` without stopwords or citation markers, in order."""
    words = [w.lower().replace("’", "'") for w in WORD_RE.findall(CITE_RE.sub(" ", text))]
    words = [w.removesuffix("'s") for w in words if w not in STOPWORDS]
    return [s for s in _stemmer().stemWords(words) if s]


def idf_overlap(terms: set[str], sentences: list[set[str]]) -> list[float]:
    """Share of `terms` (a question's key terms) in each of `sentences` (sets of key terms), each term weighted by
    its rarity among those sentences."""
    n = len(sentences)
    idf = {t: math.log((n + 1) / (1 + sum(t in s for s in sentences))) + 0.1 for t in terms}
    total = sum(idf.values()) or 1.0
    return [sum(idf[t] for t in terms & s) / total for s in sentences]


def strip_citations(text: str) -> str:
    return CITE_RE.sub("", text).strip()
