"""Follow-up questions: the standalone question to search and answer, resolved from the last exchange when the
LLM's rewrite leaves a reference ("that", "he", "them") unresolved."""

from __future__ import annotations

import re

from rag.text import WORD_RE, key_terms, sentence_spans, strip_citations

REFERENCE_RE = re.compile(r"\b(he|him|his|she|her|hers|it|its|they|them|their|that|this|those|these|there|then|"
                          r"so|same|instead|else|too|also|another|other)\b", re.I)
NOW_RE = re.compile(r"\b(this|last|next) (week|weekend|month|year|season|morning|afternoon|evening|night)\b", re.I)
OWN_TERMS = 5  # key terms that make a question its own: follow-ups are short, a new question names its story
REFUSAL_START = "The articles don't say"


def refers_back(question: str) -> bool:
    """True when the question points at something said before: a pronoun or demonstrative ("this week" is the
    news's time, not the conversation's), too few words of its own to stand alone ("Why?", "And Japan?"), or no name
    at all ("Where was the flight coming from?"): a question about the news names what it is about, and one that
    names nothing leans on the conversation.

    A question with OWN_TERMS key terms or more stands alone whatever its pronouns: it says what it is about
    ("Which American chain announced it will eliminate 30% of its menu?"). Follow-ups are short; questions that
    change the subject are not, and searched with the last exchange appended they lose their own story
    (docs/retrieval.md, session 34)."""
    terms = len(key_terms(question))
    if terms >= OWN_TERMS:
        return False
    return bool(REFERENCE_RE.search(NOW_RE.sub(" ", question))) or terms <= 1 or not names_something(question)


def names_something(question: str) -> bool:
    """True when a word after the first is capitalised: a name ("Delta", "Peskov", "US")."""
    return any(w[0].isupper() for w in WORD_RE.findall(question)[1:])


def standalone(question: str, rewritten: str, last_question: str, last_answer: str) -> str:
    """The question as asked when it does not refer back (a rewrite could only drag the last story into it);
    else the rewrite when it stands alone; else the question followed by what it points at: the last answer's
    first sentence (or, when that answer was a refusal, the last question)."""
    if not refers_back(question):
        return question
    if _resolved(question, rewritten):
        return rewritten
    said = _first_sentence(strip_citations(last_answer))
    context = said if said and not said.startswith(REFUSAL_START) else last_question
    if not context:
        return rewritten or question
    return f"{question.rstrip()} ({last_question.rstrip('?')}: {context.rstrip('.')})" if said == context else \
        f"{question.rstrip()} ({context.rstrip('?')})"


def _resolved(question: str, rewritten: str) -> bool:
    """True when the rewrite is a question (a small model sometimes answers instead) that names something the
    question did not: it is not an echo and brings terms of its own."""
    if not rewritten.rstrip().endswith("?") or _norm(rewritten) == _norm(question):
        return False
    return bool(set(key_terms(rewritten)) - set(key_terms(question)))


def _first_sentence(text: str) -> str:
    spans = sentence_spans(text)
    return text[spans[0][0]:spans[0][1]] if spans else text.strip()


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
