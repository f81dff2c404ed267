"""Questions and chat history as callers give them: validated and flattened to text."""

from __future__ import annotations

import unicodedata
from typing import Any

from rag.errors import BadQuestionError

MAX_QUESTION_CHARS = 2000
HISTORY_TURNS = 6


def validate_question(question: Any) -> str:
    """The question cleaned of control characters; BadQuestionError when empty or too long."""
    if not isinstance(question, str):
        raise BadQuestionError(f"Expected the question as text. Got {type(question).__name__}")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " " for ch in question)
    text = " ".join(text.split())
    if not text:
        raise BadQuestionError("Please type a question about the news, e.g. \"What are Russia's terms?\"")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadQuestionError(f"That question is {len(text):,} characters long; please keep it under "
                               f"{MAX_QUESTION_CHARS:,}.")
    return text


def history_text(history: list[Any]) -> str:
    """The last turns as `User: ...` / `Assistant: ...` lines; accepts messages, (role, text) pairs or dicts."""
    lines = []
    for turn in history[-HISTORY_TURNS:]:
        role, content = _role_content(turn)
        if content:
            lines.append(f"{'User' if role in ('user', 'human') else 'Assistant'}: {content}")
    return "\n".join(lines)


def last_exchange(history: list[Any]) -> tuple[str, str]:
    """The last question asked and the last answer given in `history` ("" for either when there is none)."""
    question = answer = ""
    for turn in history:
        role, content = _role_content(turn)
        if role in ("user", "human"):
            question, answer = content, ""
        else:
            answer = content
    return question, answer


def _role_content(turn: Any) -> tuple[str, str]:
    if isinstance(turn, dict):
        return str(turn.get("role", "user")), _flat(turn.get("content", ""))
    if isinstance(turn, tuple | list) and len(turn) == 2:
        return str(turn[0]), _flat(turn[1])
    return str(getattr(turn, "type", "user")), _flat(getattr(turn, "content", ""))


def _flat(content: Any) -> str:
    if isinstance(content, list):
        content = " ".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)
    return " ".join(str(content).split())[:600]
