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
_TITLES = frozenset("mr mrs ms dr st gen sen rep gov lt col sgt capt prof pres rev sup atty adm cmdr maj".split())
_BEFORE_NUMBER = frozenset("no nos vol art fig jan feb mar apr jun jul aug sep sept oct nov dec".split())
_AMBIGUOUS = frozenset("jr sr inc corp co ltd bros vs etc approx".split())  # may end a sentence, or not
_NEXT_WORD = re.compile(r"[\s\"“‘(\[]*([A-Za-z0-9]+)")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`; lines are hard boundaries; whitespace trimmed.

    A full stop after an abbreviation ends no sentence when what follows continues it: a title before a name
    ("Gen. Syrskyi"), an initial ("J. D. Vance"), "No." or a month before a number ("No. 10", "Nov. 6"), or an
    acronym or "Inc." before anything but a word that starts sentences ("the U.S. Senate", but "in the U.S. The")."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        start, body = line.start(), line.group(0)
        for m in _BOUNDARY.finditer(body):
            if _continues(body[: m.start() + 1], body[m.end():]):
                continue
            spans.append((start, line.start() + m.end()))
            start = line.start() + m.end()
        spans.append((start, line.end()))
    return [t for t in (_trim(text, s, e) for s, e in spans) if t[1] > t[0]]


def _continues(before: str, after: str) -> bool:
    """True when the full stop at the end of `before` belongs to an abbreviation and `after` continues the
    sentence."""
    word = re.search(r"(?:^|[^A-Za-z.])([A-Za-z][A-Za-z.]*)\.$", before)
    nxt = _NEXT_WORD.match(after)
    if not word or not nxt:
        return False
    w, following = word.group(1).lower(), nxt.group(1)
    if w in _BEFORE_NUMBER:
        return following[0].isdigit()
    starts_sentence = following.lower() in STOPWORDS
    if w in _TITLES:
        return True
    if len(w) == 1 and word.group(1).isupper():  # an initial
        return not starts_sentence
    return (w in _AMBIGUOUS or "." in w) and not starts_sentence


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
    words = [w for w in words if w not in STOPWORDS]  # "what's" -> "what"
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
