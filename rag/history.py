"""Questions and chat history as callers give them: validated, and the history written out for the rewriter."""

from __future__ import annotations

import unicodedata
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_messages, get_buffer_string

from rag.errors import BadQuestionError

MAX_QUESTION_CHARS = 2000
HISTORY_TURNS = 6
TURN_CHARS = 600


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
    """The last turns as `User: ...` / `Assistant: ...` lines, each on one line of at most 600 characters.

    Accepts whatever langchain_core.messages converts: messages, (role, text) pairs, {"role", "content"} dicts."""
    turns = [m for m in _messages(history[-HISTORY_TURNS:]) if m.content]
    return get_buffer_string(turns, human_prefix="User", ai_prefix="Assistant")


def last_exchange(history: list[Any]) -> tuple[str, str]:
    """The last question asked and the last answer given in `history` ("" for either when there is none)."""
    question = answer = ""
    for message in _messages(history):
        if message.type == "human":
            question, answer = message.text, ""
        else:
            answer = message.text
    return question, answer


def _messages(history: list[Any]) -> list[BaseMessage]:
    """The history as LangChain messages, each text on one line of at most 600 characters."""
    try:
        messages = convert_to_messages(history)
    except (ValueError, TypeError, NotImplementedError) as e:
        reason = (str(e).splitlines() or [""])[0]
        raise BadQuestionError(f"Expected chat_history as messages, (role, text) pairs or {{role, content}} dicts. "
                               f"Got {reason}") from e
    return [m.model_copy(update={"content": " ".join(m.text.split())[:TURN_CHARS]}) for m in messages]
