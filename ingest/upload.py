"""The upload path: files from a web client -> data_dir/uploads/<safe name> -> ingest under upload ids, never
trusting client names or ids."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.articles import Article, Skip
from ingest.index import Summary, ingest_articles
from ingest.load import iter_articles
from rag.config import Settings
from rag.store import Store, open_store

ALLOWED = (".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".xml", ".rss", ".atom")
MAX_NAME = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the client gave it (untrusted) and where the server holds its bytes."""

    name: str
    path: Path


def safe_name(client_name: str) -> str:
    """A plain file name from a client's name: last path part only, no control or odd characters, no leading dots.

    "" when nothing usable is left."""
    name = unicodedata.normalize("NFKC", client_name).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, ext = os.path.splitext(name)
    return (stem[: MAX_NAME - len(ext)] + ext.lower()) if stem else ""


def save_uploads(files: Iterable[Upload | str | Path], settings: Settings) -> tuple[list[Path], list[Skip], list[str]]:
    """Copy each upload into `settings.data_dir/uploads/` under a safe name; refuse bad types and sizes, and files
    beyond NEWSDESK_MAX_UPLOAD_FILES. Returns the saved paths, the refusals and notes (files saved under another
    name because an earlier, different upload has theirs).

    A plain path stands for a server-side file whose own name is the client's name (Gradio keeps it)."""
    target = settings.data_dir / "uploads"
    target.mkdir(parents=True, exist_ok=True)
    items = list(files)
    saved: list[Path] = []
    taken: set[str] = set()
    skips, notes = _beyond_cap(items, settings.max_upload_files), []
    for item in items[: settings.max_upload_files]:
        upload = item if isinstance(item, Upload) else Upload(Path(item).name, Path(item))
        name = safe_name(upload.name)
        result = _save_one(upload, target, settings.max_upload_mb, taken=taken)
        if isinstance(result, Skip):
            skips.append(result)
            continue
        saved.append(result)
        taken.add(name)
        if result.name != name:
            notes.append(f"{name}: an earlier upload with other content has this name; saved as {result.name}")
    return saved, skips, notes


def _beyond_cap(items: list[Upload | str | Path], cap: int) -> list[Skip]:
    extra = len(items) - cap
    if extra <= 0:
        return []
    return [Skip(f"{extra} files", f"{extra} more {'file' if extra == 1 else 'files'}: at most {cap} files per "
                 "upload (NEWSDESK_MAX_UPLOAD_FILES); upload them separately")]


def _save_one(upload: Upload, target: Path, max_mb: float, *, taken: set[str]) -> Path | Skip:
    shown = repr(upload.name[:120])
    name = safe_name(upload.name)
    if not name:
        return Skip(shown, f"{shown}: no usable file name; rename it, e.g. article.txt")
    if not name.endswith(ALLOWED):
        return Skip(shown, f"{shown}: unsupported file type; upload one of {', '.join(ALLOWED)}")
    if name in taken:
        return Skip(shown, f"{shown}: another file in this upload is also named {name!r}; rename one")
    limit = int(max_mb * 1024 * 1024)
    try:
        if not upload.path.is_file():
            return Skip(shown, f"{shown}: the upload did not arrive; try again")
        return _copy_limited(upload.path, target / name, limit) or Skip(
            shown, f"{shown}: larger than {max_mb:g} MB (NEWSDESK_MAX_UPLOAD_MB); split it or raise the limit")
    except OSError as e:
        return Skip(shown, f"{shown}: could not be saved ({e.strerror or e}); check free space in {target}")


def _copy_limited(source: Path, dest: Path, limit: int) -> Path | None:
    """Copy at most `limit` bytes atomically to `dest`, or, when an earlier upload with other content holds that
    name, to `stem-<hash>.ext` beside it; None (and nothing written) when the file is bigger."""
    if source.stat().st_size > limit:
        return None
    with source.open("rb") as src:
        data = src.read(limit + 1)
    if len(data) > limit:
        return None
    if dest.exists() and dest.read_bytes() != data:
        dest = dest.with_name(f"{dest.stem}-{hashlib.sha1(data).hexdigest()[:8]}{dest.suffix}")
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, dest)
        return dest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def ingest_uploads(files: Iterable[Upload | str | Path], settings: Settings, *, store: Store | None = None) -> Summary:
    """Save the uploads safely, then index them under ids of their own ("upload:" and a hash of the article), so
    an upload never replaces an article indexed from elsewhere; the summary lists refused files and says when an
    upload carried the id of an article already indexed."""
    saved, refused, notes = save_uploads(files, settings)
    summary = Summary(skipped=refused, notes=notes)
    articles = list(iter_articles(saved, on_skip=summary.skipped.append))
    whole = {s.origin for s in summary.skipped}  # a file refused as a whole (a record's refusal names its line)
    for path in saved:
        if str(path) in whole:
            path.unlink(missing_ok=True)  # not an article: not kept among the uploads either
    if not articles:
        return summary
    store = store or open_store(settings)
    held = {str(meta.get("article_id")) for _, meta, _ in store.rows_of([a.article_id for a in articles])}
    summary.notes += [f"{a.origin}: an article with id {a.article_id!r} is already indexed; this one was added "
                      "beside it and replaced nothing" for a in articles if a.article_id in held]
    uploads = [replace(a, article_id=upload_id(a)) for a in articles]
    return ingest_articles(uploads, settings, summary=summary, progress=False, store=store)


def upload_id(article: Article) -> str:
    """The id of an uploaded article: derived from its content (title, text, outlet, link, date) alone."""
    return f"upload:{article.content_hash}"
