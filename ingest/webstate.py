"""What polling remembers per store, under NEWSDESK_DATA_DIR/web/: each page's validators and article, each
feed's validators, entries and last poll, and robots.txt files."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.config import Settings


@dataclass
class FeedStatus:
    """One feed as the corpus panel shows it."""

    url: str
    last_poll: str = ""  # local time, YYYY-MM-DD HH:MM:SS
    added: int = 0  # articles added or updated from its items by the last poll
    total_added: int = 0
    error: str = ""  # what went wrong in the last poll, "" when nothing did


@dataclass
class WebState:
    """Polling memory, saved atomically as one JSON file; unknown or damaged files start afresh."""

    path: Path
    pages: dict[str, dict[str, str]] = field(default_factory=dict)  # link -> etag, last_modified, article_id, updated
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)  # url -> etag, last_modified, entries, status
    robots: dict[str, Any] = field(default_factory=dict)  # origin -> [fetched_at, text]

    @classmethod
    def load(cls, settings: Settings, store_location: str) -> WebState:
        tag = hashlib.sha1(f"{store_location}/{settings.collection}".encode()).hexdigest()[:12]
        path = settings.data_dir / "web" / f"state-{tag}.json"
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path)
        if not isinstance(saved, dict):
            return cls(path)
        parts = {k: v for k, v in saved.items() if k in ("pages", "feeds", "robots") and isinstance(v, dict)}
        return cls(path, **parts)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"pages": self.pages, "feeds": self.feeds, "robots": self.robots})
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def status(self, url: str) -> FeedStatus:
        saved = self.feeds.get(url, {}).get("status") or {}
        return FeedStatus(url, **{k: v for k, v in saved.items() if k in FeedStatus.__dataclass_fields__ and
                                  k != "url"})

    def set_status(self, status: FeedStatus) -> None:
        self.feeds.setdefault(status.url, {})["status"] = asdict(status)
