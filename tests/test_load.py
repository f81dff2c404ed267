"""Tests for ingest.load: every supported format, recursive walking, and skip reporting."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ingest.load import Article, Skip, iter_articles

REPO = Path(__file__).resolve().parents[1]


def load(*paths: Path) -> tuple[list[Article], list[Skip]]:
    skips: list[Skip] = []
    return list(iter_articles(paths, on_skip=skips.append)), skips


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def sha16(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8")).hexdigest()[:16]


# --- text and markdown ----------------------------------------------------------------------


def test_txt_without_front_matter_title_is_first_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "\n\nHeadline here\nFirst paragraph.\n\nSecond paragraph.\n")
    (article,), skips = load(path)
    assert skips == []
    assert article.title == "Headline here"
    assert article.text == "First paragraph.\n\nSecond paragraph."
    assert article.article_id == sha16(str(path.resolve()))
    assert article.origin == str(path)
    assert (article.source, article.url, article.published) == ("", "", "")


def test_txt_with_front_matter(tmp_path: Path) -> None:
    path = write(
        tmp_path / "b.txt",
        '---\ntitle: "Talks: the latest"\nsource: Kyiv Independent\nurl: https://www.example.com/x\n'
        "date: Nov 6, 2024\nid: abc123\n---\nBody line one.\nBody line two.\n",
    )
    (article,), skips = load(path)
    assert skips == []
    assert article.title == "Talks: the latest"
    assert article.text == "Body line one.\nBody line two."
    assert article.source == "Kyiv Independent"
    assert article.url == "https://www.example.com/x"
    assert article.published == "2024-11-06"
    assert article.article_id == "abc123"


def test_front_matter_without_source_uses_url_domain(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.md",
        "---\nurl: https://www.kyivindependent.com/a\npublished: 2024-11-06T08:30:00Z\n---\n"
        "# Markdown headline\n\nSome *markdown* text.\n",
    )
    (article,), _ = load(path)
    assert article.title == "Markdown headline"  # no title key: first line, '#' stripped
    assert article.text == "Some *markdown* text."
    assert article.source == "kyivindependent.com"
    assert article.published == "2024-11-06"


def test_md_title_hashes_stripped(tmp_path: Path) -> None:
    (article,), _ = load(write(tmp_path / "d.md", "## Sub headline\nText.\n"))
    assert article.title == "Sub headline"
    assert article.text == "Text."


def test_unclosed_front_matter_is_plain_text(tmp_path: Path) -> None:
    (article,), _ = load(write(tmp_path / "e.txt", "---\ntitle: nope\nstill text\n"))
    assert article.title == "---"
    assert "title: nope" in article.text


def test_seed_corpus_article_keeps_all_text() -> None:
    corpus = REPO / "corpus"
    articles, skips = load(corpus)
    assert skips == []
    (article,) = [a for a in articles if a.title.startswith("Kremlin says Moscow")]
    raw = (corpus / "kremlin-open-for-talks.txt").read_text(encoding="utf-8")
    first, _, rest = raw.partition("\n")
    assert article.title == first.strip()
    assert article.text == rest.strip()
    assert article.origin.endswith("kremlin-open-for-talks.txt")


# --- HTML -----------------------------------------------------------------------------------

HTML = """<!doctype html><html><head><title>Big news | Example Times</title>
<meta property="og:site_name" content="Example Times">
<meta property="article:published_time" content="2024-11-06T10:00:00Z">
<link rel="canonical" href="https://www.example.com/news/big"></head>
<body><nav>Home | World | Sport</nav>
<article><h1>Big news</h1>
<p>First paragraph of the story, with enough words to count as real content here.</p>
<p>Second paragraph continues the story with more detail.</p></article>
<footer>Copyright Example Times</footer></body></html>"""


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "page.html", HTML)
    (article,), skips = load(path)
    assert skips == []
    assert article.title == "Big news"
    assert article.text.startswith("First paragraph of the story")
    assert "Second paragraph" in article.text
    assert "Home | World" not in article.text and "Copyright" not in article.text
    assert article.published == "2024-11-06"
    assert article.url == "https://www.example.com/news/big"
    assert article.source == "Example Times"
    assert article.article_id == sha16(str(path.resolve()))


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.htm", "<html><body><script>var x = 1;</script></body></html>")
    articles, (skip,) = load(path)
    assert articles == []
    assert str(path) in skip.reason and "no main text" in skip.reason


# --- JSON / JSONL ---------------------------------------------------------------------------

RECORD = {
    "id": "72a5f5b616d4763e",
    "url": "https://www.usatoday.com/story/x",
    "title": "Delaware groups",
    "source": "usatoday.com",
    "published": "2021-02-03",
    "text": "Ebony Jones knows all too well the stress of having a baby.",
}


def test_json_single_record(tmp_path: Path) -> None:
    path = write(tmp_path / "one.json", json.dumps(RECORD))
    (article,), skips = load(path)
    assert skips == []
    assert article == Article(
        article_id="72a5f5b616d4763e",
        title="Delaware groups",
        text=RECORD["text"],
        source="usatoday.com",
        url="https://www.usatoday.com/story/x",
        published="2021-02-03",
        origin=str(path),
    )


def test_json_list_of_records(tmp_path: Path) -> None:
    second = {"url": "https://www.bbc.co.uk/news/y", "title": "T2", "published": None, "text": "Two."}
    path = write(tmp_path / "many.json", json.dumps([RECORD, second, {"title": "no text"}]))
    articles, (skip,) = load(path)
    assert [a.title for a in articles] == ["Delaware groups", "T2"]
    assert [a.origin for a in articles] == [f"{path}:1", f"{path}:2"]
    assert articles[1].article_id == sha16("https://www.bbc.co.uk/news/y")
    assert articles[1].source == "bbc.co.uk"
    assert articles[1].published == ""
    assert skip.origin == f"{path}:3" and "empty article text" in skip.reason and f"{path}:3" in skip.reason


def test_malformed_json_file_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '{"title": "x",\n "text": }')
    articles, (skip,) = load(path)
    assert articles == []
    assert f"{path}:2" in skip.reason and "malformed JSON" in skip.reason


def test_jsonl_with_malformed_line_and_null_published(tmp_path: Path) -> None:
    lines = [
        json.dumps(RECORD),
        "{not json",
        "",
        json.dumps({"title": "No id", "published": None, "text": "Some text.", "url": None}),
        json.dumps({"id": "e", "title": "Empty", "text": "   "}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": 7, "title": "Dated", "published": "Wed, 06 Nov 2024 10:00:00 GMT", "text": "x"}),
    ]
    path = write(tmp_path / "articles.jsonl", "\n".join(lines) + "\n")
    articles, skips = load(path)
    assert [a.title for a in articles] == ["Delaware groups", "No id", "Dated"]
    assert [a.origin for a in articles] == [f"{path}:1", f"{path}:4", f"{path}:7"]
    no_id = articles[1]
    assert no_id.published == "" and no_id.url == "" and no_id.source == ""
    assert no_id.article_id == sha16("Some text.")
    assert articles[2].article_id == "7" and articles[2].published == "2024-11-06"
    assert [s.origin for s in skips] == [f"{path}:2", f"{path}:5", f"{path}:6"]
    assert "malformed JSON" in skips[0].reason and f"{path}:2" in skips[0].reason
    assert "empty article text" in skips[1].reason
    assert "not a JSON object" in skips[2].reason


def test_jsonl_keeps_unicode_line_separators_inside_strings(tmp_path: Path) -> None:
    record = {"id": "u", "title": "Sep", "text": "one\u2028two\x85three"}
    path = write(tmp_path / "u.jsonl", json.dumps(record, ensure_ascii=False) + "\r\n")
    (article,), skips = load(path)
    assert skips == [] and article.text == "one\u2028two\x85three"


def test_shared_dataset_loads() -> None:
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "realtimeqa-mini" / "articles.jsonl"
    articles, skips = load(data)
    assert articles and skips == []
    assert all(a.article_id and a.text for a in articles)
    assert all(a.published == "" or len(a.published) == 10 for a in articles)


# --- feeds ----------------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Example Wire</title><link>https://www.example.org/</link><description>News</description>
<item>
  <title>First &amp; foremost</title>
  <link>https://www.example.org/first</link>
  <guid>urn:example:1</guid>
  <pubDate>Wed, 06 Nov 2024 10:00:00 GMT</pubDate>
  <description><![CDATA[<p>Peskov said <b>talks</b> are possible.</p><p>More.</p>]]></description>
</item>
<item>
  <title>Second</title>
  <link>https://www.example.org/second</link>
  <description>Plain summary.</description>
</item>
<item><title>Nothing</title><link>https://www.example.org/empty</link></item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="https://www.atom.example.com/"/>
  <id>urn:feed</id>
  <updated>2024-11-07T00:00:00Z</updated>
  <entry>
    <title>Atom entry</title>
    <link href="https://www.atom.example.com/a1"/>
    <id>urn:atom:1</id>
    <updated>2024-11-07T09:15:00Z</updated>
    <content type="html">&lt;p&gt;Atom body one.&lt;/p&gt;&lt;p&gt;Atom body two.&lt;/p&gt;</content>
  </entry>
</feed>
"""


def test_rss_feed(tmp_path: Path) -> None:
    path = write(tmp_path / "wire.rss", RSS)
    articles, (skip,) = load(path)
    first, second = articles
    assert first.title == "First & foremost"
    assert first.text == "Peskov said talks are possible.\nMore."
    assert first.url == "https://www.example.org/first"
    assert first.published == "2024-11-06"
    assert first.source == "Example Wire"
    assert first.article_id == sha16("urn:example:1")
    assert first.origin == f"{path}:1"
    assert second.article_id == sha16("https://www.example.org/second")
    assert second.text == "Plain summary." and second.published == ""
    assert skip.origin == f"{path}:3" and "empty article text" in skip.reason


def test_atom_feed_sniffed_from_xml(tmp_path: Path) -> None:
    path = write(tmp_path / "feed.xml", ATOM)
    (article,), skips = load(path)
    assert skips == []
    assert article.title == "Atom entry"
    assert article.text == "Atom body one.\nAtom body two."
    assert article.url == "https://www.atom.example.com/a1"
    assert article.published == "2024-11-07"
    assert article.source == "atom.example.com"  # no feed title: the feed link's domain
    assert article.article_id == sha16("urn:atom:1")
    assert article.origin == f"{path}:1"


def test_atom_extension(tmp_path: Path) -> None:
    (article,), _ = load(write(tmp_path / "feed.atom", ATOM))
    assert article.title == "Atom entry"


def test_xml_that_is_not_a_feed_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "config.xml", '<?xml version="1.0"?><config><a>1</a></config>')
    articles, (skip,) = load(path)
    assert articles == []
    assert str(path) in skip.reason and "not an RSS/Atom feed" in skip.reason


# --- directories and skips ------------------------------------------------------------------


def test_directories_are_walked_recursively_sorted_skipping_hidden(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "B title\nB text")
    write(tmp_path / "a" / "z.txt", "AZ title\nAZ text")
    write(tmp_path / "a" / "deeper" / "y.md", "# AY title\nAY text")
    write(tmp_path / ".hidden.txt", "Hidden\ntext")
    write(tmp_path / ".git" / "x.txt", "Git\ntext")
    articles, skips = load(tmp_path)
    assert skips == []
    assert [a.title for a in articles] == ["AY title", "AZ title", "B title"]
    again, _ = load(tmp_path)
    assert again == articles


def test_skips_name_file_and_continue(tmp_path: Path) -> None:
    write(tmp_path / "1-binary.txt", b"abc\x00def")
    write(tmp_path / "2-empty.txt", "  \n\n")
    write(tmp_path / "3-latin1.txt", "Caf\xe9 title\nbody".encode("latin-1"))
    write(tmp_path / "4-image.png", b"\x89PNG...")
    write(tmp_path / "5-notes", "no extension")
    write(tmp_path / "6-title-only.txt", "Only a title\n")
    write(tmp_path / "7-good.txt", "Good title\nGood text")
    articles, skips = load(tmp_path)
    assert [a.title for a in articles] == ["Good title"]
    reasons = {Path(s.origin).name: s.reason for s in skips}
    assert list(reasons) == [
        "1-binary.txt",
        "2-empty.txt",
        "3-latin1.txt",
        "4-image.png",
        "5-notes",
        "6-title-only.txt",
    ]
    for name, reason in reasons.items():
        assert str(tmp_path / name) in reason
    assert "binary" in reasons["1-binary.txt"]
    assert "empty" in reasons["2-empty.txt"]
    assert "UTF-8" in reasons["3-latin1.txt"]
    assert "unsupported file type '.png'" in reasons["4-image.png"]
    assert "unsupported file type" in reasons["5-notes"]
    assert "empty article text" in reasons["6-title-only.txt"]


def test_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "a.txt", "A\ntext")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    articles, skips = load(tmp_path)
    assert [a.title for a in articles] == ["A"] and skips == []


def test_parser_crash_becomes_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.load as load_module

    def boom(path: Path, text: str) -> list[Article | Skip]:
        raise ValueError("kaput")

    monkeypatch.setitem(load_module._LOADERS, ".txt", boom)
    path = write(tmp_path / "x.txt", "T\ntext")
    articles, (skip,) = load(path)
    assert articles == [] and str(path) in skip.reason and "kaput" in skip.reason


def test_missing_path_is_skipped(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    articles, (skip,) = load(missing, write(tmp_path / "ok.txt", "T\nx"))
    assert len(articles) == 1
    assert skip.origin == str(missing) and "no such file" in skip.reason


def test_on_skip_exceptions_propagate(tmp_path: Path) -> None:
    write(tmp_path / "x.bin", b"\x00")

    def strict(skip: Skip) -> None:
        raise RuntimeError(skip.reason)

    with pytest.raises(RuntimeError, match="x.bin"):
        list(iter_articles([tmp_path], on_skip=strict))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-11-06", "2024-11-06"),
        ("2024-11-06T23:59:00+02:00", "2024-11-06"),
        ("2024-11-06T10:00:00Z", "2024-11-06"),
        ("Wed, 06 Nov 2024 10:00:00 GMT", "2024-11-06"),
        ("Nov 6, 2024", "2024-11-06"),
        ("6 November 2024", "2024-11-06"),
        ("2024", ""),
        ("yesterday", ""),
        ("", ""),
    ],
)
def test_dates_in_front_matter(tmp_path: Path, raw: str, expected: str) -> None:
    (article,), _ = load(write(tmp_path / "d.txt", f"---\ntitle: T\ndate: {raw}\n---\nText.\n"))
    assert article.published == expected
