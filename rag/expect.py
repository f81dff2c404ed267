"""What a question is about, as opposed to what it asks for."""

from __future__ import annotations

import re

from rag.text import key_terms

ASKING = frozenset(key_terms("date day month time name number percentage percent amount kind type happened"))


def topic_terms(question: str) -> set[str]:
    """The question's key terms without the words that only say what is asked for ("date", "name", "number"):
    the answer holds those, the question's topic does not."""
    return set(key_terms(question)) - ASKING


_WORD_EDGES = "\"'“”‘’()[],.;:!?"


def names(question: str) -> list[str]:
    """The words the question capitalises after its first: the people, places and organisations it is about
    ("Australia" in "What is the capital of Australia?"), possessive endings removed."""
    words = [w.strip(_WORD_EDGES) for w in question.split()[1:]]
    return [re.sub(r"[’']s$", "", w) for w in words if w[:1].isupper()]
