"""What kind of answer a question asks for (a number, a date, a name), and whether a sentence offers one."""

from __future__ import annotations

import re

from rag.text import key_terms

NUMBER_Q = re.compile(r"\bhow (many|much|old|long|far|large|big|high|tall|often)\b|\bwhat (percentage|percent|share|"
                      r"proportion|number|amount|age|price|rate|sum|total|fraction)\b|\bby how\b", re.I)
DATE_Q = re.compile(r"\bwhen\b|\b(what|which) (year|date|day|month|decade|century|time)\b|\bon what\b|\bsince when\b",
                    re.I)
NAME_Q = re.compile(r"\b(who|whom|whose|where|which)\b|\bwhat (is|was|are|were) the (name|title)\b|"
                    r"\bwhat [a-z]+ (is|was|did|has|does)\b|\bnamed?\b|\bcalled\b", re.I)
MONTHS = ("january february march april may june july august september october november december jan feb mar apr "
          "jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday").split()
DATE_RE = re.compile(r"\b(" + "|".join(MONTHS) + r")\b\.?|\b(1[89]|20)\d\d\b|\b(today|yesterday|tomorrow|"
                     r"tonight|weekend)\b", re.I)
NUMBER_RE = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|"
                       r"thousands?|millions?|billions?|trillions?|half|third|quarter|percent|twice|double)\b", re.I)
NAME_RE = re.compile(r"\b[A-Z][\w’'&.-]*(?: (?:of |de |the |al-)?[A-Z][\w’'&.-]*)*")


ASKING = frozenset(key_terms("date day month time name number percentage percent amount kind type happened"))


def topic_terms(question: str) -> set[str]:
    """The question's key terms without the words that only say what is asked for ("date", "name", "number"):
    the answer holds those, the question's topic does not."""
    return set(key_terms(question)) - ASKING


def expected(question: str) -> str | None:
    """"number", "date" or "name" when the question's wording asks for one, else None."""
    for kind, pattern in (("number", NUMBER_Q), ("date", DATE_Q), ("name", NAME_Q)):
        if pattern.search(question):
            return kind
    return None


def offers(kind: str | None, sentence: str, question_terms: set[str]) -> bool:
    """True when `sentence` holds a candidate answer of `kind` that is not one of the question's own words: a
    number, a date, or a capitalised name that is not a month or a weekday (a capitalised first word counts unless
    it is a stopword)."""
    if kind is None:
        return False
    pattern = {"number": NUMBER_RE, "date": DATE_RE, "name": NAME_RE}[kind]
    for match in pattern.finditer(sentence):
        words = [w for w in key_terms(match.group(0)) if kind != "name" or not DATE_RE.fullmatch(w)]
        if any(w not in question_terms for w in words) or (kind != "name" and not words):
            return True
    return False
