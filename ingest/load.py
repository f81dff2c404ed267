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

from collections.abc import Iterable, Iterator
from pathlib import Path

from ingest.articles import Article, Loaded, Skip, SkipHandler
from ingest.formats import LOADERS as _LOADERS

__all__ = ["Article", "Skip", "SkipHandler", "iter_articles", "load_file"]


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
