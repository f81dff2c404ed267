"""The Article record, and turning a plain dict (a JSON record, front matter, feed entry) into one."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

try:  # optional: lenient parsing of dates such as "Nov 6, 2024"
    from dateutil import parser as _dateutil
except ImportError:  # pragma: no cover
    _dateutil = None


@dataclass(frozen=True)
class Article:
    """One news article, with every field defaulted so nothing downstream checks for missing keys."""

    article_id: str
    title: str
    text: str
    source: str = ""  # outlet, e.g. "kyivindependent.com"
    url: str = ""
    published: str = ""  # ISO YYYY-MM-DD, or "" when unknown
    origin: str = ""  # file path (and ":line" for records) it came from
    also_reported_by: str = ""  # other outlets that ran a near-copy, comma-separated (ingest.stories)
    minhash: str = ""  # the text's near-duplicate signature, stored on chunk 0 (ingest.dedup)

    @property
    def content_hash(self) -> str:
        fields = (self.title, self.text, self.source, self.url, self.published)
        return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Skip:
    """Input that could not be read, and why."""

    origin: str
    reason: str


SkipHandler = Callable[[Skip], None]
Loaded = list[Article | Skip]


def record_to_article(record: Any, origin: str) -> Article | Skip:
    """An `Article` from a dict with fields id, url, title, source, published and (required) text."""
    if not isinstance(record, dict):
        return Skip(origin, f"{origin}: record is not a JSON object")
    text, url = _field(record, "text"), _field(record, "url")
    if not text:
        return Skip(origin, f"{origin}: empty article text")
    return Article(
        article_id=_field(record, "id") or sha16(url or text),
        title=_field(record, "title"),
        text=text,
        source=_field(record, "source") or domain_of(url),
        url=url,
        published=to_iso_date(record.get("published") or record.get("date")),
        origin=origin,
    )


def _field(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value).strip()


# --- small helpers --------------------------------------------------------------------------


def to_iso_date(value: Any) -> str:
    """`YYYY-MM-DD` from an ISO date(time), an RFC 822 date or (with dateutil) "Nov 6, 2024"; else ""."""
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    if not isinstance(value, str) or not value.strip():
        return ""
    value = value.strip()
    for parse in (_parse_iso, parsedate_to_datetime, _parse_loose):
        try:
            parsed = parse(value)
        except (ValueError, TypeError, OverflowError, IndexError):
            continue
        if parsed is not None:
            return parsed.strftime("%Y-%m-%d")
    return ""


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)


def _parse_loose(value: str) -> datetime | None:
    """dateutil parse, but only if the string names a full date (not just "2024" or "May")."""
    if _dateutil is None:
        return None
    first = _dateutil.parse(value, default=datetime(2000, 1, 1))
    second = _dateutil.parse(value, default=datetime(2001, 2, 2))
    return first if first.date() == second.date() else None


def domain_of(url: str) -> str:
    try:
        host = urlparse(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def sha16(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8")).hexdigest()[:16]


def file_id(path: Path) -> str:
    return sha16(str(path.resolve()))


