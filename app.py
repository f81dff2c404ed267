"""Gradio UI only: chat with filters, uploads and a corpus panel; formats answers and their numbered sources."""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from ingest.index import Summary
from ingest.upload import ALLOWED, ingest_uploads
from ingest.watch import Watcher
from rag import BadQuestionError, Filters, HybridRetriever, NewsdeskError, Settings, build_chain, build_retriever
from rag.config import load_settings
from rag.corpus import CorpusStats, corpus_stats
from rag.models import LOCAL_LLMS

EXAMPLES = ["What are Russia's terms?", "Who is Dmitry Peskov?", "When will Trump be inaugurated?"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
LOCAL_CONCURRENCY = 4  # a local LLM answers one chat at a time (rag.models); retrieval of the others overlaps it
SERVER_CONCURRENCY = 32  # an LLM server takes concurrent requests: the chat does not make them queue here
_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'[]()*_`~#|\\!"})


def esc(text: Any) -> str:
    """Text as inert HTML that Markdown leaves alone too (no tags, no [links](...), no emphasis)."""
    return str(text).translate(_ENTITIES)


def safe_link(url: str) -> str:
    """An http(s) URL, escaped for an attribute; anything else (javascript:, data:) becomes ''."""
    parsed = urlparse(url.strip())
    return html.escape(url.strip(), quote=True) if parsed.scheme in ("http", "https") and parsed.netloc else ""


def format_source(doc: Any) -> str:
    """One numbered source as HTML: title, outlet, date, link, and the passage with its supporting span marked."""
    m = doc.metadata
    title = esc(m.get("title") or "Untitled")
    link = safe_link(m.get("url", ""))
    head = f'<a href="{link}" target="_blank" rel="noopener noreferrer">{title}</a>' if link else title
    meta = " · ".join(esc(x) for x in (m.get("source"), m.get("published")) if x)
    meta += f" · also reported by {esc(m['also_reported_by'])}" if m.get("also_reported_by") else ""
    return (f"<details><summary>&#91;{esc(m.get('n', '?'))}&#93; {head}{' — ' + meta if meta else ''}</summary>"
            f"<blockquote>{highlight(doc.page_content, m.get('support_spans', []))}</blockquote></details>")


def highlight(text: str, spans: list[list[int]]) -> str:
    """The passage, escaped, with each supporting span in <mark>."""
    out, pos = [], 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out += [esc(text[pos:start]), f"<mark>{esc(text[start:end])}</mark>"]
        pos = end
    return "".join(out) + esc(text[pos:])


def format_sources(sources: list[Any], standalone: str | None, question: str) -> str:
    """The sources message: the question as searched (when it was rewritten) and the numbered sources."""
    parts = []
    if standalone and standalone.strip() != question.strip():
        parts.append(f"<p><em>Searched for: {esc(standalone)}</em></p>")
    return "\n\n".join(parts + ["".join(format_source(d) for d in sources)])


def format_passage_list(passages: list[Any]) -> str:
    """The passages being read, one line each: title — outlet, date."""
    items = "".join(f"<li>{esc(d.metadata.get('title') or 'Untitled')} — {esc(d.metadata.get('source') or 'unknown')}"
                    f", {esc(d.metadata.get('published') or 'undated')}</li>" for d in passages)
    return f"<ul>{items}</ul>"


def format_corpus(stats: CorpusStats) -> str:
    """The corpus panel: counts, outlets, date range and the most recent articles, all escaped."""
    if not stats.articles:
        return "<p>No articles yet: upload some, or run <code>python -m ingest corpus/</code>.</p>"
    outlets = ", ".join(f"{esc(o)} ({n})" for o, n in stats.outlets.items()) or "unknown"
    recent = "".join(f"<li>{esc(a.title)} — {esc(a.source or 'unknown')}, {esc(a.published or 'undated')}</li>"
                     for a in stats.recent)
    span = (f"published {esc(stats.earliest)} to {esc(stats.latest)}" if stats.earliest else "no publication dates")
    return (f"<p><strong>{stats.articles}</strong> {_plural(stats.articles, 'article')}, {stats.chunks} "
            f"{_plural(stats.chunks, 'passage')}; {span}</p><p>Outlets: {outlets}</p>"
            f"<p>Most recent:</p><ul>{recent}</ul>")


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def format_summary(summary: Summary, uploads: str) -> str:
    """The upload result, escaped; skip reasons name the uploaded file, not the server's uploads folder."""
    copies = f", {len(summary.copies)} near-copies of stored stories (not stored again)" if summary.copies else ""
    lines = [f"Added {summary.added}, updated {summary.updated}, unchanged {summary.unchanged}, "
             f"skipped {len(summary.skipped)}{copies}."]
    lines += [f"- skipped {esc(s.reason.replace(uploads + os.sep, ''))}" for s in summary.skipped]
    lines += [f"- note: {esc(note.replace(uploads + os.sep, ''))}" for note in summary.notes]
    return "\n".join(lines)


def chat_message(content: str, **metadata: Any) -> Any:
    """One assistant message; metadata marks it as no part of the conversation (a "title" shows it as a panel)."""
    import gradio as gr

    return gr.ChatMessage(content=content, metadata=metadata)  # type: ignore[arg-type]


def conversation(history: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The chat so far as the chain takes it: questions and plain answers. Messages with metadata (what was read,
    the sources, warnings) are left out, and so is a question that got no answer (only a warning: a bad date, a
    server down), so a follow-up is not read against it; an answer is kept as text, not as the HTML it was shown as."""
    from langchain_core.messages import convert_to_messages

    plain = [m for m in history if not m.get("metadata")]
    answered = [m for i, m in enumerate(plain)
                if m["role"] != "user" or (i + 1 < len(plain) and plain[i + 1]["role"] == "assistant")]
    said = convert_to_messages([{"role": m["role"], "content": m["content"]} for m in answered])
    return [(m.type, html.unescape(m.text)) for m in said]


def reply(out: dict[str, Any], question: str) -> list[Any]:
    """The finished reply: the answer, then its sources in a panel of their own."""
    sources = out.get("sources") or []
    answer = [chat_message(esc(out["answer"]))]
    if not sources:
        return answer
    shown = format_sources(sources, out.get("standalone"), out.get("question", question))
    return answer + [chat_message(shown, title=f"Sources ({len(sources)})", id="sources")]


def make_respond(chain: Any) -> Any:
    def respond(message: str, history: list[dict[str, Any]], outlets: list[str] | None = None,
                after: str | None = "", before: str | None = "") -> Iterator[list[Any]]:
        try:
            Filters.of(outlets or None, after or None, before or None)
        except ValueError as e:
            yield [chat_message(f"⚠️ Date filter: {esc(e)}", id="notice")]
            return
        request = {"question": message, "chat_history": conversation(history or []), "source": outlets or None,
                   "published_after": after or None, "published_before": before or None}
        out: dict[str, Any] = {"answer": "", "sources": []}
        try:
            for chunk in chain.stream(request):
                out.update({k: out.get(k, "") + v if k == "answer" else v for k, v in chunk.items()})
                if chunk.get("passages") and not out["answer"]:
                    yield [reading(chunk["passages"])]
                if chunk.get("answer"):
                    yield [chat_message(esc(out["answer"]))]
        except BadQuestionError as e:
            yield [chat_message(esc(e), id="notice")]
            return
        except NewsdeskError as e:
            yield [chat_message(f"⚠️ {esc(e)}", id="notice")]
            return
        yield reply(out, message)

    return respond


def reading(passages: list[Any]) -> Any:
    """What the chat shows while the answer is being written: the passages offered to the LLM."""
    n = len(passages)
    return chat_message(format_passage_list(passages), title=f"Reading {n} {_plural(n, 'passage')}…",
                        status="pending", id="reading")


def format_feeds(watcher: Watcher | None) -> str:
    """The followed feeds (NEWSDESK_FEEDS): per feed its last poll, the items it added and its last error."""
    if watcher is None:
        return ""
    rows = "".join(f"<li>{esc(f.url)} — {esc(f.last_poll or 'not polled yet')}, {f.added} added"
                   f"{' (' + str(f.total_added) + ' in all)' if f.total_added != f.added else ''}"
                   f"{', ⚠️ ' + esc(f.error) if f.error else ''}</li>" for f in watcher.statuses)
    problem = f"<p>⚠️ {esc(watcher.error)}</p>" if watcher.error else ""
    return f"<p>Feeds, polled every {esc(watcher.settings.feeds_every)}:</p>{problem}<ul>{rows}</ul>"


def make_refresh(retriever: HybridRetriever, watcher: Watcher | None = None) -> Any:
    import gradio as gr

    def refresh() -> tuple[str, Any]:
        try:
            stats = corpus_stats(retriever.store)
        except NewsdeskError as e:
            return f"<p>⚠️ {esc(e)}</p>", gr.skip()
        return format_corpus(stats) + format_feeds(watcher), gr.Dropdown(choices=list(stats.outlets))

    return refresh


def make_upload(settings: Settings, retriever: HybridRetriever) -> Any:
    import gradio as gr

    refresh = make_refresh(retriever)

    def upload(files: list[str] | None) -> Iterator[tuple[Any, Any, Any]]:
        if not files:
            return
        yield f"Indexing {len(files)} file(s)…", gr.skip(), gr.skip()
        try:
            summary = ingest_uploads(files, settings, store=retriever.store)
        except NewsdeskError as e:
            yield f"⚠️ {esc(e)}", gr.skip(), gr.skip()
            return
        yield (format_summary(summary, str(settings.data_dir / "uploads")), *refresh())

    return upload


def build_app(settings: Settings, chain: Any | None = None, *, retriever: HybridRetriever | None = None) -> Any:
    """The web app; pass `chain` and the `retriever` it uses to serve another chain (tests use a fake LLM)."""
    import gradio as gr

    retriever = retriever or build_retriever(settings)
    chain = chain or build_chain(settings, retriever=retriever)
    watcher = Watcher(settings, retriever.store, retriever.refresh).start() if settings.feeds else None
    with gr.Blocks(title="Newsdesk") as demo:
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                outlets = gr.Dropdown(label="Outlets", multiselect=True, choices=[], elem_id="outlets",
                                      allow_custom_value=True)  # choices come with the page load (refresh)
                after = gr.Textbox(label="Published on or after", placeholder="YYYY-MM-DD", value="",
                                   max_lines=1, elem_id="after")
                before = gr.Textbox(label="Published on or before", placeholder="YYYY-MM-DD", value="",
                                    max_lines=1, elem_id="before")
                files = gr.File(label=f"Add articles ({' '.join(ALLOWED)})", file_count="multiple",
                                elem_id="upload")  # no file_types: refused files get a reason, the rest go in
                status = gr.Markdown(elem_id="upload-status")
                corpus = gr.HTML(elem_id="corpus")
            with gr.Column(scale=3):
                gr.ChatInterface(
                    make_respond(chain), title="Newsdesk", api_name="respond",
                    additional_inputs=[outlets, after, before],
                    description="Ask about the news in your articles; every claim cites its passage.",
                    examples=[[e] for e in EXAMPLES], cache_examples=False,
                    chatbot=gr.Chatbot(height=520, sanitize_html=True, render_markdown=True, allow_tags=False,
                                       elem_id="chat"),
                )
        demo.load(make_refresh(retriever, watcher), outputs=[corpus, outlets], api_visibility="private")
        if watcher is not None:  # the panel follows the background polls
            gr.Timer(30).tick(make_refresh(retriever, watcher), outputs=[corpus, outlets], api_visibility="private")
        files.upload(make_upload(settings, retriever), inputs=files, outputs=[status, corpus, outlets],
                     api_name="upload", concurrency_limit=1, concurrency_id="ingest")
    return demo.queue(default_concurrency_limit=chat_concurrency(settings))


def chat_concurrency(settings: Settings) -> int:
    """Chats answered at once: NEWSDESK_CHAT_CONCURRENCY, else few for a local LLM and many for a server."""
    if settings.chat_concurrency:
        return settings.chat_concurrency
    return LOCAL_CONCURRENCY if settings.llm in LOCAL_LLMS else SERVER_CONCURRENCY


def check_access(settings: Settings) -> tuple[str, str] | None:
    """Gradio auth from NEWSDESK_AUTH; refuses a non-loopback bind without it."""
    if settings.auth:
        user, sep, password = settings.auth.partition(":")
        if not (sep and user and password):
            raise SystemExit("NEWSDESK_AUTH must look like user:password")
        return user, password
    if settings.host not in LOOPBACK:
        raise SystemExit(f"refusing to serve on {settings.host} without a login: set NEWSDESK_AUTH=user:password "
                         "or NEWSDESK_HOST=127.0.0.1")
    return None


def launch(app: Any, settings: Settings, *, auth: tuple[str, str] | None = None) -> Any:
    """Serve `app` where settings say, with the upload size cap, in the background: returns once it listens."""
    return app.launch(server_name=settings.host, server_port=settings.port, share=False, auth=auth,
                      show_error=False, max_file_size=int(settings.max_upload_mb * 1024 * 1024),
                      prevent_thread_lock=True, quiet=True)


def main(argv: list[str] | None = None, *, prog: str = "python app.py") -> None:
    """Serve the chat where NEWSDESK_HOST and NEWSDESK_PORT say, until interrupted."""
    import argparse

    argparse.ArgumentParser(prog=prog, description="Serve the Newsdesk web chat (settings: NEWSDESK_* variables, "
                            "see README).").parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        settings = load_settings()
        auth = check_access(settings)
        app = build_app(settings)
    except NewsdeskError as e:
        sys.exit(f"error: {e}")
    try:
        launch(app, settings, auth=auth)
    except OSError as e:  # the port is taken, or the host is not this machine's
        sys.exit(f"error: cannot serve on {settings.host}:{settings.port} ({e}); set NEWSDESK_PORT or NEWSDESK_HOST")
    print(f"Newsdesk is ready: http://{settings.host}:{settings.port}", flush=True)
    app.block_thread()


if __name__ == "__main__":
    main()
