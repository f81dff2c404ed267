"""One parser per file format: text with front matter, HTML, JSON records, RSS/Atom feeds -> articles."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from ingest.articles import Article, Loaded, Skip, domain_of, file_id, record_to_article, sha16, to_iso_date

_FEED_SNIFF = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)
_BLOCK_TAGS = ("p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre")


def _load_text(path: Path, text: str) -> Loaded:
    meta, body = _split_front_matter(text)
    if not meta.get("title"):
        title, body = _split_title(body)
        meta["title"] = title.lstrip("#").strip() if path.suffix.lower() == ".md" else title
    return [record_to_article({**meta, "text": body, "id": meta.get("id") or file_id(path)}, str(path))]


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
    record = html_record(html)
    if record is None:
        return [Skip(str(path), f"{path}: no main text found in HTML")]
    return [record_to_article({**record, "id": file_id(path)}, str(path))]


def html_record(html: str | bytes, url: str = "") -> dict[str, Any] | None:
    """Main text, title, url, date and site name of an HTML page (trafilatura); None when it has no main text."""
    import trafilatura

    extracted = trafilatura.bare_extraction(html, url=url or None, with_metadata=True, include_comments=False)
    doc = {} if extracted is None else extracted if isinstance(extracted, dict) else extracted.as_dict()
    if not (doc.get("text") or "").strip():
        return None
    title, text = (doc.get("title") or "").strip(), doc["text"].strip()
    if title and text.startswith(title + "\n"):  # trafilatura repeats the <h1> headline
        text = text[len(title) :]
    return {"url": doc.get("url"), "date": doc.get("date"), "title": title, "text": text,
            "source": doc.get("sitename")}


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
    outlet = (feed.feed.get("title") or "").strip() or domain_of(feed.feed.get("link", ""))
    return [_entry_to_article(e, outlet, f"{path}:{i}") for i, e in enumerate(feed.entries, start=1)]


def _entry_to_article(entry: Any, outlet: str, origin: str) -> Article | Skip:
    contents = entry.get("content") or []
    html = contents[0].get("value", "") if contents else entry.get("summary", "")
    record = {
        "id": sha16(entry["id"]) if entry.get("id") else "",
        "title": html_to_text(entry.get("title", "")),
        "text": html_to_text(html),
        "url": entry.get("link", ""),
        "source": outlet,
        "published": entry_date(entry),
    }
    return record_to_article(record, origin)


def entry_date(entry: Any) -> str:
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


LOADERS: dict[str, Callable[[Path, str], Loaded]] = {
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
