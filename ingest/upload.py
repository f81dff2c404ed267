"""The upload path: files from a web client -> data_dir/uploads/<safe name> -> ingest, never trusting client names."""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.articles import Skip
from ingest.index import Summary, ingest_files
from rag.config import Settings
from rag.store import Store

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


def save_uploads(files: Iterable[Upload | str | Path], settings: Settings) -> tuple[list[Path], list[Skip]]:
    """Copy each upload into `settings.data_dir/uploads/` under a safe name; refuse bad types and sizes.

    A plain path stands for a server-side file whose own name is the client's name (Gradio keeps it)."""
    target = settings.data_dir / "uploads"
    target.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    skips: list[Skip] = []
    for item in files:
        upload = item if isinstance(item, Upload) else Upload(Path(item).name, Path(item))
        result = _save_one(upload, target, settings.max_upload_mb, taken={p.name for p in saved})
        if isinstance(result, Skip):
            skips.append(result)
        else:
            saved.append(result)
    return saved, skips


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
    """Copy at most `limit` bytes, atomically replacing `dest`; None (and nothing written) when the file is bigger."""
    if source.stat().st_size > limit:
        return None
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
    try:
        with source.open("rb") as src, os.fdopen(fd, "wb") as out:
            data = src.read(limit + 1)
            if len(data) > limit:
                return None
            out.write(data)
        os.replace(tmp, dest)
        return dest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def ingest_uploads(files: Iterable[Upload | str | Path], settings: Settings, *, store: Store | None = None) -> Summary:
    """Save the uploads safely, then index them; the summary's `skipped` also lists refused files."""
    saved, refused = save_uploads(files, settings)
    summary = ingest_files(saved, settings, store=store) if saved else Summary()
    summary.skipped[:0] = refused
    return summary
