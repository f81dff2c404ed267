"""Newsdesk's errors; each message says how to fix the problem."""

from __future__ import annotations


class NewsdeskError(Exception):
    """Base class: anything Newsdesk raises on purpose."""


class IndexNotBuiltError(NewsdeskError):
    """The store has no articles yet."""


class EmbeddingModelMismatchError(NewsdeskError):
    """The collection was built with another embedding model."""


class StoreUnavailableError(NewsdeskError):
    """The Chroma server cannot be reached."""


class ModelNotAvailableError(NewsdeskError):
    """An LLM or embedding model is not installed or not reachable."""


class BadQuestionError(NewsdeskError, ValueError):
    """The question is empty, too long or unreadable."""


class NothingToPruneError(NewsdeskError, ValueError):
    """--prune was given a path that does not exist: pruning would remove every article under it."""


class BadDateError(NewsdeskError, ValueError):
    """A date filter is not a date."""


class SettingsError(NewsdeskError, ValueError):
    """A NEWSDESK_* setting has a value Newsdesk cannot use."""


class LLMUnavailableError(ModelNotAvailableError):
    """The LLM server cannot be reached, or refuses the request (unknown model, bad key, server error)."""


class EmbedderUnavailableError(ModelNotAvailableError):
    """The embedding server cannot be reached, or refuses the request (unknown model, bad key, server error)."""
