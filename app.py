"""Gradio UI only: calls the chain, formats the answer and its numbered sources."""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from rag import BadQuestionError, NewsdeskError, Settings, build_chain

EXAMPLES = ["What are Russia's terms?", "Who is Dmitry Peskov?", "When will Trump be inaugurated?"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def safe_link(url: str) -> str:
    """An http(s) URL, escaped for an attribute; anything else (javascript:, data:) becomes ''."""
    parsed = urlparse(url.strip())
    return html.escape(url.strip(), quote=True) if parsed.scheme in ("http", "https") and parsed.netloc else ""


def format_source(doc: Any) -> str:
    """One numbered source as HTML: title, outlet, date, link, and the passage with its supporting span marked."""
    m = doc.metadata
    title = html.escape(m.get("title") or "Untitled")
    link = safe_link(m.get("url", ""))
    head = f'<a href="{link}" target="_blank" rel="noopener noreferrer">{title}</a>' if link else title
    meta = " · ".join(html.escape(x) for x in (m.get("source"), m.get("published")) if x)
    return (f"<details><summary>[{m.get('n', '?')}] {head}{' — ' + meta if meta else ''}</summary>"
            f"<blockquote>{highlight(doc.page_content, m.get('support_spans', []))}</blockquote></details>")


def highlight(text: str, spans: list[list[int]]) -> str:
    """The passage, escaped, with each supporting span in <mark>."""
    out, pos = [], 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out += [html.escape(text[pos:start]), f"<mark>{html.escape(text[start:end])}</mark>"]
        pos = end
    return "".join(out) + html.escape(text[pos:])


def format_reply(answer: str, sources: list[Any], standalone: str | None, question: str) -> str:
    parts = [html.escape(answer)]
    if standalone and standalone.strip() != question.strip():
        parts.append(f"<p><em>Searched for: {html.escape(standalone)}</em></p>")
    if sources:
        parts.append("<p><strong>Sources</strong></p>" + "".join(format_source(d) for d in sources))
    return "\n\n".join(parts)


def make_respond(chain: Any) -> Any:
    def respond(message: str, history: list[dict[str, Any]]) -> Iterator[str]:
        out: dict[str, Any] = {"answer": "", "sources": []}
        try:
            for chunk in chain.stream({"question": message, "chat_history": history}):
                out.update({k: out.get(k, "") + v if k == "answer" else v for k, v in chunk.items()})
                if chunk.get("answer"):
                    yield html.escape(out["answer"])
        except BadQuestionError as e:
            yield str(e)
            return
        except NewsdeskError as e:
            yield f"⚠️ {e}"
            return
        yield format_reply(out["answer"], out["sources"], out.get("standalone"), out.get("question", message))

    return respond


def build_app(settings: Settings, chain: Any | None = None) -> Any:
    import gradio as gr

    respond = make_respond(chain or build_chain(settings))
    return gr.ChatInterface(
        respond, title="Newsdesk", description="Ask about the news in your articles; every claim cites its passage.",
        examples=EXAMPLES, cache_examples=False, api_name="respond",
        chatbot=gr.Chatbot(height=520, sanitize_html=True, render_markdown=True),
    )


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


def main() -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings()
    auth = check_access(settings)
    try:
        app = build_app(settings)
    except NewsdeskError as e:
        sys.exit(f"error: {e}")
    print(f"Newsdesk is ready: http://{settings.host}:{settings.port}", flush=True)
    app.queue(default_concurrency_limit=4).launch(server_name=settings.host, server_port=settings.port,
                                                  share=False, auth=auth, show_error=False)


if __name__ == "__main__":
    main()
