"""Near-duplicate articles: word-shingle MinHash signatures and an LSH index that finds a stored story's copies."""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass
from datetime import date

import numpy as np

SHINGLE_WORDS = 5  # a shingle is 5 consecutive words
PERMUTATIONS = 128
BANDS = 32  # LSH: 32 bands of 4 rows find pairs from about Jaccard 0.4 up
_PRIME = np.uint64((1 << 61) - 1)
_WORD = re.compile(r"\w+")
_RNG = np.random.default_rng(1808)  # fixed: signatures are stored, so they must be the same in every process
_A = _RNG.integers(1, 1 << 32, PERMUTATIONS, dtype=np.uint64)
_B = _RNG.integers(0, 1 << 32, PERMUTATIONS, dtype=np.uint64)


@dataclass(frozen=True)
class Signature:
    """A MinHash signature of an article's text and how many distinct shingles it had."""

    mins: np.ndarray  # PERMUTATIONS uint32 values
    size: int

    def encode(self) -> str:
        """Compact text for chunk metadata: the shingle count, then the base64 of the minimums."""
        return f"{self.size}:" + base64.b64encode(self.mins.astype("<u4").tobytes()).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Signature | None:
        size, sep, data = text.partition(":")
        try:
            mins = np.frombuffer(base64.b64decode(data), dtype="<u4").astype(np.uint32)
        except ValueError:
            return None
        return cls(mins, int(size)) if sep and size.isdigit() and mins.size == PERMUTATIONS else None

    def jaccard(self, other: Signature) -> float:
        """Estimated Jaccard similarity of the two shingle sets."""
        return float(np.mean(self.mins == other.mins))


def shingles(text: str) -> np.ndarray:
    """32-bit hashes of the text's distinct 5-word shingles (lowercased words; a short text is one shingle)."""
    words = np.array([zlib.crc32(w.encode("utf-8")) for w in _WORD.findall(text.lower())], dtype=np.uint64)
    if words.size == 0:
        return np.zeros(0, dtype=np.uint64)
    n = max(1, words.size - SHINGLE_WORDS + 1)
    mixed = np.zeros(n, dtype=np.uint64)
    for j in range(min(SHINGLE_WORDS, words.size)):  # a polynomial hash of each window, wrapping at 2**64
        mixed = mixed * np.uint64(1_000_003) + words[j : j + n]
    return np.unique(mixed & np.uint64(0xFFFFFFFF))


def signature(text: str) -> Signature:
    """The MinHash signature of `text`: for each of 128 hash permutations, the smallest hashed shingle."""
    hashed = shingles(text)
    if hashed.size == 0:
        return Signature(np.full(PERMUTATIONS, 0xFFFFFFFF, dtype=np.uint32), 0)
    mins = np.full(PERMUTATIONS, 0xFFFFFFFF, dtype=np.uint64)
    for start in range(0, hashed.size, 4096):  # bounded memory for long live-blogs
        block = hashed[start : start + 4096, None]
        mins = np.minimum(mins, (((block * _A) + _B) % _PRIME & np.uint64(0xFFFFFFFF)).min(axis=0))
    return Signature(mins.astype(np.uint32), int(hashed.size))


class NearDuplicates:
    """An LSH index of dated signatures by key; `match` finds the most similar indexed key above a threshold.

    Two articles are copies when their shingle sets have Jaccard >= `threshold` and, when both are dated, they were
    published at most `days` apart (a yearly explainer republished with updates is a new edition, not a copy)."""

    def __init__(self, threshold: float, *, days: int = 30) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"Expected a near-duplicate threshold in (0, 1]. Got {threshold!r}")
        self.threshold, self.days = threshold, days
        self._entries: dict[str, tuple[Signature, int | None]] = {}
        self._buckets: dict[tuple[int, bytes], list[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: str, sig: Signature, published: str = "") -> None:
        self._entries[key] = (sig, _day(published))
        for band in _bands(sig):
            self._buckets.setdefault(band, []).append(key)

    def match(self, sig: Signature, published: str = "", *, exclude: str = "") -> tuple[str, float] | None:
        """The indexed key most similar to `sig` (not `exclude`) that counts as its copy, with the similarity."""
        if sig.size == 0:
            return None
        day = _day(published)
        scored = [(sig.jaccard(self._entries[k][0]), k) for k in self.candidates(sig) if k != exclude
                  and self._near(day, k)]
        best = max(scored, default=(0.0, ""))
        return (best[1], best[0]) if best[0] >= self.threshold else None

    def candidates(self, sig: Signature) -> list[str]:
        """Indexed keys sharing at least one LSH band with `sig`, sorted."""
        return sorted({k for band in _bands(sig) for k in self._buckets.get(band, ())})

    def _near(self, day: int | None, key: str) -> bool:
        other = self._entries[key][1]
        return day is None or other is None or abs(day - other) <= self.days


def _day(published: str) -> int | None:
    try:
        return date.fromisoformat(published).toordinal() if published else None
    except ValueError:
        return None


def _bands(sig: Signature) -> list[tuple[int, bytes]]:
    rows = PERMUTATIONS // BANDS
    return [(b, sig.mins[b * rows : (b + 1) * rows].tobytes()) for b in range(BANDS)]
