"""What a question is about, as opposed to what it asks for."""

from __future__ import annotations

from rag.text import key_terms

ASKING = frozenset(key_terms("date day month time name number percentage percent amount kind type happened"))


def topic_terms(question: str) -> set[str]:
    """The question's key terms without the words that only say what is asked for ("date", "name", "number"):
    the answer holds those, the question's topic does not."""
    return set(key_terms(question)) - ASKING
