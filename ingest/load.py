"""Files and records -> article Documents (title, source, url, published).

`iter_articles` walks files and directories and yields one `Article` per article found:

* ``.txt`` / ``.md`` -- optional ``---`` front matter (title, source, url, published/date, id);
  otherwise the first non-empty line is the title and the rest is the text;
* ``.html`` / ``.htm`` -- main text and metadata extracted by trafilatura;
* ``.json`` (one record or a list) / ``.jsonl`` (one record a line) with the fields
  ``id, url, title, source, published, text``;
* ``.rss`` / ``.atom`` / ``.xml`` (when it looks like a feed) -- one article per feed entry.

Anything unreadable is reported to ``on_skip`` as a `Skip` naming the file (and line); nothing raises.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
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

_FEED_SNIFF = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)
_BLOCK_TAGS = ("p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre")


def iter_articles(paths: Iterable[Path], *, on_skip: SkipHandler) -> Iterator[Article]:
    """Yield every article under `paths` (files or directories, recursively); report the rest to `on_skip`."""
    for path in map(Path, paths):
        for item in _load_path(path):
            if isinstance(item, Article):
                yield item
            else:
                on_skip(item)


def _load_path(path: Path) -> Iterator[Article | Skip]:
    if not path.exists():
        yield Skip(str(path), f"{path}: no such file or directory")
    elif path.is_dir():
        for file in _walk(path, seen=set()):
            yield from [file] if isinstance(file, Skip) else load_file(file)
    else:
        yield from load_file(path)


def _walk(directory: Path, seen: set[Path]) -> Iterator[Path | Skip]:
    """Files under `directory` in sorted path order, skipping hidden entries and symlink loops."""
    seen.add(directory.resolve())
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        yield Skip(str(directory), f"{directory}: unreadable directory: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            yield entry
        elif entry.resolve() not in seen:
            yield from _walk(entry, seen)


# --- one file ---------------------------------------------------------------------------------


def load_file(path: Path) -> Loaded:
    """Articles and skips from one file; never raises for bad input."""
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        return [Skip(str(path), f"{path}: unsupported file type {path.suffix or '(no extension)'!r}")]
    data = _read(path)
    if isinstance(data, Skip):
        return [data]
    try:
        return loader(path, data)
    except Exception as exc:  # a parser choking on odd input must not stop the whole ingest
        return [Skip(str(path), f"{path}: could not parse: {type(exc).__name__}: {exc}")]


def _read(path: Path) -> str | Skip:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Skip(str(path), f"{path}: unreadable: {exc.strerror or exc}")
    if not raw.strip():
        return Skip(str(path), f"{path}: empty file")
    if b"\x00" in raw:
        return Skip(str(path), f"{path}: binary file (contains NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Skip(str(path), f"{path}: not UTF-8 text (bad byte at offset {exc.start})")


def _load_text(path: Path, text: str) -> Loaded:
    meta, body = _split_front_matter(text)
    if not meta.get("title"):
        title, body = _split_title(body)
        meta["title"] = title.lstrip("#").strip() if path.suffix.lower() == ".md" else title
    return [record_to_article({**meta, "text": body, "id": meta.get("id") or _file_id(path)}, str(path))]


def _split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """`key: value` lines between a leading `---` and the next `---` (or `...`); else no metadata."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return _parse_meta(lines[1:end]), "\n".join(lines[end + 1 :])
    return {}, text


def _parse_meta(lines: list[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip() and not line[:1].isspace():
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            meta[key.strip().lower()] = value
    return meta


def _split_title(text: str) -> tuple[str, str]:
    """First non-empty line, and everything after it."""
    lines = text.strip().splitlines()
    if not lines:
        return "", ""
    return lines[0].strip(), "\n".join(lines[1:])


def _load_html(path: Path, html: str) -> Loaded:
    import trafilatura

    extracted = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    doc = {} if extracted is None else extracted if isinstance(extracted, dict) else extracted.as_dict()
    if not (doc.get("text") or "").strip():
        return [Skip(str(path), f"{path}: no main text found in HTML")]
    title, text = (doc.get("title") or "").strip(), doc["text"].strip()
    if title and text.startswith(title + "\n"):  # trafilatura repeats the <h1> headline
        text = text[len(title) :]
    meta = {key: doc.get(key) for key in ("url", "date")}
    record = {**meta, "id": _file_id(path), "title": title, "text": text, "source": doc.get("sitename")}
    return [record_to_article(record, str(path))]


# --- JSON records ---------------------------------------------------------------------------


def _load_json(path: Path, text: str) -> Loaded:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [Skip(f"{path}:{exc.lineno}", f"{path}:{exc.lineno}: malformed JSON: {exc.msg}")]
    if isinstance(data, dict):
        return [record_to_article(data, str(path))]
    if not isinstance(data, list):
        return [Skip(str(path), f"{path}: JSON must be an object or a list of objects")]
    return [record_to_article(rec, f"{path}:{i}") for i, rec in enumerate(data, start=1)]


def _load_jsonl(path: Path, text: str) -> Loaded:
    items: Loaded = []
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines: JSON may hold U+2028
        if not line.strip():
            continue
        origin = f"{path}:{lineno}"
        try:
            items.append(record_to_article(json.loads(line), origin))
        except json.JSONDecodeError as exc:
            items.append(Skip(origin, f"{origin}: malformed JSON line: {exc.msg}"))
    return items


def record_to_article(record: Any, origin: str) -> Article | Skip:
    """An `Article` from a dict with fields id, url, title, source, published and (required) text."""
    if not isinstance(record, dict):
        return Skip(origin, f"{origin}: record is not a JSON object")
    text, url = _field(record, "text"), _field(record, "url")
    if not text:
        return Skip(origin, f"{origin}: empty article text")
    return Article(
        article_id=_field(record, "id") or _sha16(url or text),
        title=_field(record, "title"),
        text=text,
        source=_field(record, "source") or _domain(url),
        url=url,
        published=to_iso_date(record.get("published") or record.get("date")),
        origin=origin,
    )


def _field(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value).strip()


# --- RSS / Atom feeds -----------------------------------------------------------------------


def _load_feed(path: Path, text: str) -> Loaded:
    import feedparser

    raw = text.encode("utf-8")  # bytes, so feedparser never treats the content as a URL or path
    if path.suffix.lower() == ".xml" and not _FEED_SNIFF.search(raw[:4096]):
        return [Skip(str(path), f"{path}: XML file is not an RSS/Atom feed")]
    feed = feedparser.parse(raw)
    if not feed.entries:
        problem = f": {feed.bozo_exception}" if feed.get("bozo") else ""
        return [Skip(str(path), f"{path}: feed has no entries{problem}")]
    outlet = (feed.feed.get("title") or "").strip() or _domain(feed.feed.get("link", ""))
    return [_entry_to_article(e, outlet, f"{path}:{i}") for i, e in enumerate(feed.entries, start=1)]


def _entry_to_article(entry: Any, outlet: str, origin: str) -> Article | Skip:
    contents = entry.get("content") or []
    html = contents[0].get("value", "") if contents else entry.get("summary", "")
    record = {
        "id": _sha16(entry["id"]) if entry.get("id") else "",
        "title": html_to_text(entry.get("title", "")),
        "text": html_to_text(html),
        "url": entry.get("link", ""),
        "source": outlet,
        "published": _entry_date(entry),
    }
    return record_to_article(record, origin)


def _entry_date(entry: Any) -> str:
    for key in ("published", "updated", "created"):
        if iso := to_iso_date(entry.get(key)):
            return iso
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return date(*parsed[:3]).isoformat()
    return ""


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, one line per block element."""
    if "<" not in fragment:
        return _tidy(fragment)
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml rejects some odd fragments; fall back to dropping tags
        return _tidy(re.sub(r"<[^>]*>", " ", fragment))
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return _tidy(root.text_content())


def _tidy(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


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


def _domain(url: str) -> str:
    try:
        host = urlparse(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _sha16(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8")).hexdigest()[:16]


def _file_id(path: Path) -> str:
    return _sha16(str(path.resolve()))


_LOADERS: dict[str, Callable[[Path, str], Loaded]] = {
    ".txt": _load_text,
    ".md": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".json": _load_json,
    ".jsonl": _load_jsonl,
    ".rss": _load_feed,
    ".atom": _load_feed,
    ".xml": _load_feed,
}
