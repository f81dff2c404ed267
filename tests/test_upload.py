"""Uploads: saved under safe names, refused with reasons, capped, indexed under ids of their own that can never
replace an article from elsewhere, and answerable at once in the served chat. Real store and embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO
from test_app import ALPHA, ANSWER, QUESTION, answer_of, ask, serving, sources_of, write_bridge_corpus

import app
import rag
from ingest.index import Summary, ingest_paths
from ingest.load import iter_articles
from ingest.upload import Upload, ingest_uploads, save_uploads, upload_id
from rag import prompts
from rag.store import open_store


@pytest.mark.parametrize(("client_name", "saved_as"), [
    ("../../etc/x.txt", "x.txt"), ("/etc/cron.d/job.md", "job.md"), ("..\\..\\windows\\win.HTML", "win.html"),
    ("a\x00b.txt", "ab.txt"), ("sub/dir/n.json", "n.json"), (".hidden.jsonl", "hidden.jsonl"),
    ("<script>.rss", "_script_.rss"),
])
def test_uploads_are_saved_under_a_safe_basename_only(settings: rag.Settings, tmp_path: Path, client_name: str,
                                                      saved_as: str) -> None:
    source = tmp_path / "incoming"
    source.write_text("Title\nBody text.\n")
    saved, skips, notes = save_uploads([Upload(client_name, source)], settings)
    uploads = (settings.data_dir / "uploads").resolve()
    assert (skips, notes) == ([], [])
    assert [p.resolve() for p in saved] == [uploads / saved_as]
    assert saved[0].read_text() == "Title\nBody text.\n"
    assert sorted(p.name for p in uploads.iterdir()) == [saved_as]  # no temp file left, nothing elsewhere


def test_refused_uploads_say_why(settings: rag.Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"max_upload_mb": 0.001})  # 1,048 bytes
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_text("Title\nBody.\n")
    big.write_text("x" * 2000)
    files = [Upload("evil.exe", small), Upload("../..", small), Upload("/", small), Upload("big.txt", big),
             Upload("a.txt", small), Upload("dir/a.txt", small), Upload("gone.txt", tmp_path / "missing")]
    saved, skips, _ = save_uploads(files, settings)
    assert [p.name for p in saved] == ["a.txt"]
    reasons = [s.reason for s in skips]
    assert "unsupported file type; upload one of .txt, .md" in reasons[0]
    assert "no usable file name" in reasons[1] and "no usable file name" in reasons[2]
    assert "larger than 0.001 MB (NEWSDESK_MAX_UPLOAD_MB)" in reasons[3]
    assert "also named 'a.txt'; rename one" in reasons[4]
    assert "did not arrive" in reasons[5]
    assert sorted(p.name for p in (settings.data_dir / "uploads").iterdir()) == ["a.txt"]


def test_a_file_refused_at_reading_is_not_kept_among_the_uploads(settings: rag.Settings, tmp_path: Path) -> None:
    """Files saved, then refused as a whole when read (empty, binary), are deleted; the article is kept."""
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blob.md").write_bytes(b"Title\n\x00\x01")
    (tmp_path / "ok.txt").write_text("Harbour works\nThe harbour reopened on Monday after repairs.\n")
    summary = ingest_uploads([tmp_path / n for n in ("empty.txt", "blob.md", "ok.txt")], settings)
    assert summary.added == 1 and len(summary.skipped) == 2
    assert sorted(p.name for p in (settings.data_dir / "uploads").iterdir()) == ["ok.txt"]
    copied = Summary(unchanged=1, copies={"upload:b": "upload:a"})  # the CLI's line counts copies; so does the chat
    assert app.format_summary(copied, "").startswith(
        "Added 0, updated 0, unchanged 1, skipped 0, 1 near-copies of stored stories (not stored again).")


def test_an_upload_takes_at_most_max_upload_files(settings: rag.Settings, tmp_path: Path) -> None:
    files = []
    for i in range(5):
        (tmp_path / f"{i}.txt").write_text(f"Title {i}\nBody {i}.\n")
        files.append(tmp_path / f"{i}.txt")
    assert rag.Settings().max_upload_files == 50
    saved, skips, _ = save_uploads(files, settings.model_copy(update={"max_upload_files": 3}))
    assert [p.name for p in saved] == ["0.txt", "1.txt", "2.txt"]
    (skip,) = skips
    assert skip.reason == ("2 more files: at most 3 files per upload (NEWSDESK_MAX_UPLOAD_FILES); upload them "
                           "separately")


def _record(path: Path, **fields: str) -> Path:
    path.write_text(json.dumps({"title": "Harbour bridge reopens", "source": "alpha.example", **fields}))
    return path


def test_an_upload_never_replaces_an_article_from_elsewhere(settings: rag.Settings, tmp_path: Path) -> None:
    """A record carrying the id of an indexed article is added beside it, and the summary says so."""
    corpus = _record(tmp_path / "corpus.json", id="bridge-1", text="The Harbour Bridge reopened on Monday.")
    ingest_paths([corpus], settings, progress=False)
    store = open_store(settings)
    before = store.get(["bridge-1:0"])
    forged = _record(tmp_path / "forged.json", id="bridge-1", text="The Harbour Bridge collapsed on Monday.")
    summary = ingest_uploads([forged], settings)
    assert (summary.added, summary.updated, summary.skipped) == (1, 0, [])
    assert store.get(["bridge-1:0"]) == before  # the corpus article is untouched
    (article,) = iter_articles([forged], on_skip=print)
    (uploaded,) = store.get([f"{upload_id(article)}:0"])
    assert uploaded.page_content == "The Harbour Bridge collapsed on Monday."
    assert upload_id(article).startswith("upload:") and uploaded.metadata["article_id"] == upload_id(article)
    uploads = str(settings.data_dir / "uploads")
    assert app.format_summary(summary, uploads).splitlines() == [
        "Added 1, updated 0, unchanged 0, skipped 0.",
        "- note: forged.json: an article with id &#39;bridge-1&#39; is already indexed; this one was added beside it "
        "and replaced nothing"]


def test_a_re_upload_under_the_same_name_keeps_the_earlier_upload(settings: rag.Settings, tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = _record(tmp_path / "one" / "story.json", text="The Harbour Bridge reopened on Monday.")
    second = _record(tmp_path / "two" / "story.json", text="The Harbour Bridge closed again on Friday.")
    assert ingest_uploads([first], settings).added == 1
    again = ingest_uploads([first], settings)
    assert (again.added, again.unchanged, again.notes) == (0, 1, [])  # the same file again changes nothing
    summary = ingest_uploads([second], settings)
    assert (summary.added, summary.updated) == (1, 0)
    (note,) = summary.notes
    assert note.startswith("story.json: an earlier upload with other content has this name; saved as story-")
    kept = {p.name: p.read_text() for p in (settings.data_dir / "uploads").iterdir()}
    assert kept == {"story.json": first.read_text(), note.rsplit(" ", 1)[-1]: second.read_text()}
    texts = sorted(t for _, _, t in open_store(settings).rows(documents=True))
    assert texts == ["The Harbour Bridge closed again on Friday.", "The Harbour Bridge reopened on Monday."]


def test_python_m_ingest_keeps_the_ids_it_is_given(settings: rag.Settings, tmp_path: Path) -> None:
    """The operator's own files keep today's ids: a record's id, else a hash of its URL or text or of the file."""
    record = _record(tmp_path / "r.json", id="bridge-1", text="The Harbour Bridge reopened on Monday.")
    ingest_paths([record, REPO / "corpus"], settings, progress=False)
    ids = {str(m["article_id"]) for _, m, _ in open_store(settings).rows()}
    assert "bridge-1" in ids and not any(i.startswith("upload:") for i in ids)


def test_uploaded_article_is_answerable_at_once(settings: rag.Settings, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    article = write_bridge_corpus(tmp_path / "in") / "alpha.md"
    bad, empty = tmp_path / "in" / "notes.exe", tmp_path / "in" / "empty.txt"
    bad.write_text("nope")
    empty.write_text("")
    with serving(settings, ANSWER) as url:
        assert answer_of(ask(url, QUESTION)) == app.esc(prompts.NO_ARTICLES)
        status, panel, _ = Client(url, verbose=False).predict([handle_file(str(p)) for p in (article, bad, empty)],
                                                               api_name="/upload")
        reply = ask(url, QUESTION)
    assert status.startswith("Added 1, updated 0, unchanged 0, skipped 2.")
    assert "notes.exe&#39;: unsupported file type" in status and "- skipped empty.txt: empty file" in status
    assert str(settings.data_dir) not in status and "uploads" not in status
    assert "<strong>1</strong> article," in panel and "alpha.example (1)" in panel
    assert answer_of(reply) == app.esc(ANSWER)
    assert ALPHA in sources_of(reply)
