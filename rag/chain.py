"""build_chain(): question -> standalone question -> passages -> numbered context -> LLM -> cited answer + sources."""

from __future__ import annotations

import re
import threading
from collections.abc import Generator, Iterator
from datetime import date
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda, RunnablePassthrough
from langchain_core.runnables.utils import AddableDict

from rag import prompts
from rag.config import Settings
from rag.context import Context, build_context
from rag.followup import refers_back, standalone
from rag.history import history_text, last_exchange, validate_question
from rag.models import LOCAL_LLMS, get_llm, get_reader, llm_errors
from rag.retrieve import Filters, HybridRetriever, NewsWeek, build_retriever, news_query
from rag.sources import WH_RE, Citer, format_passages
from rag.text import WORD_RE, key_terms, sentence_spans, strip_citations

REFUSAL_RE = re.compile(r"(don'?t|do not|does not|doesn'?t) (say|mention|specify|state)|no information|not (mentioned|"
                        r"provided|specified|stated|contain)|cannot answer|can't answer|unable to", re.I)
MAX_SENTENCES = 3
WARM_UP_THREAD = "newsdesk-warm-up"


def build_chain(settings: Settings | None = None, *, llm: BaseChatModel | None = None,
                retriever: HybridRetriever | None = None) -> Runnable:
    """The answering chain. Input: {"question", "chat_history"?, "as_of"?, "source"?, "published_after"?,
    "published_before"?}. Output (merged stream): {"question", "standalone", "passages", "context", "answer",
    "sources"}: `passages` (the passages offered, as retrieved) arrives before the answer starts, `context` (the
    excerpts of them the LLM reads, as Documents) before its first words."""
    settings = settings or Settings()
    retriever = retriever or build_retriever(settings)
    model = llm or get_llm(settings)
    rewriter = llm or get_llm(settings, role="rewrite")  # a local model takes one call at a time (rag.models)
    if llm is None and settings.warm_start:
        # not a daemon: the interpreter waits for it (seconds) rather than free the models under it
        threading.Thread(target=warm_up, args=(retriever, model if settings.llm in LOCAL_LLMS else None),
                         name=WARM_UP_THREAD).start()

    def rewrite(x: dict[str, Any]) -> str:
        history = x.get("chat_history")
        if not history or not refers_back(x["question"]):  # a question of its own is searched as asked
            return str(x["question"])
        with llm_errors(settings):
            rewritten = _rewrite(rewriter, x["question"], strip_citations(history_text(history)))
        return standalone(x["question"], rewritten, *last_exchange(history))

    def query(x: dict[str, Any]) -> tuple[Filters, NewsWeek | None]:
        return news_query(x["standalone"], settings, as_of=x["as_of"], source=x.get("source"),
                          published_after=x.get("published_after"), published_before=x.get("published_before"))

    def retrieve(x: dict[str, Any]) -> list[Any]:
        filters, week = x["query"]
        return retriever.search(x["standalone"], filters, week=week)

    def answer(chunks: Iterator[dict[str, Any]]) -> Iterator[AddableDict]:
        x: dict[str, Any] = {}
        for c in chunks:
            x.update(c)
        with llm_errors(settings):
            yield from _answer(x, model, retriever, settings)

    prepare = RunnableLambda(_prepare) | RunnablePassthrough.assign(standalone=rewrite)
    return (prepare | RunnablePassthrough.assign(query=query) | RunnablePassthrough.assign(passages=retrieve)
            | RunnableGenerator(answer))


def warm_up(retriever: HybridRetriever, model: BaseChatModel | None) -> None:
    """Load what the first question would otherwise wait for: the embedding model (~4.5 s here), the sentence
    reader (rag.models.get_reader), the lexical index, and for a local LLM (`model`) the fixed start of the answer
    prompt, whose instructions and worked example (~3 s) llama.cpp then keeps cached."""
    try:
        retriever.store.embeddings.embed_query("news")
        if reader := get_reader(retriever.settings):
            reader.embed_query("news")
        retriever.lexical()
        if model is None:
            return
        stream = cast(Generator[Any, None, None], model.stream(answer_messages("", date.today().isoformat(),
                                                                               Context([], []))))
        next(stream, None)
        stream.close()  # now, not when collected: a local model holds its lock until its stream ends
    except Exception:  # noqa: BLE001 - best effort: if it fails, the first question loads these itself
        return


def wait_for_warm_up() -> None:
    """Block until every warm-up that `build_chain` started has finished (benchmarks time questions after it)."""
    for thread in threading.enumerate():
        if thread.name == WARM_UP_THREAD:
            thread.join()


def _prepare(x: dict[str, Any] | str) -> dict[str, Any]:
    x = {"question": x} if isinstance(x, str) else dict(x)
    x["question"] = validate_question(x.get("question"))
    x["as_of"] = Filters.of(published_before=x.get("as_of") or date.today()).published_before
    return x


def _rewrite(model: BaseChatModel, question: str, history: str) -> str:
    """The model's standalone version of `question` ("" when it gave nothing usable)."""
    shown = [m for h, q, s in prompts.REWRITE_EXAMPLES
             for m in (("human", prompts.REWRITE_USER.format(history=h, question=q)), ("ai", s))]
    messages = [("system", prompts.REWRITE_SYSTEM), *shown,
                ("human", prompts.REWRITE_USER.format(history=history, question=question))]
    text = str(model.invoke(messages).content).strip().splitlines()
    line = text[0].strip().strip('"') if text else ""
    return line if 3 <= len(line) <= 300 else ""


def _answer(x: dict[str, Any], model: BaseChatModel, retriever: HybridRetriever,
            settings: Settings) -> Iterator[AddableDict]:
    passages = x["passages"][: settings.context_passages]
    yield AddableDict(question=x["question"], standalone=x["standalone"], passages=passages)
    if not passages:  # an empty store, or filters that exclude every article (they are named: a typo shows)
        filters = x["query"][0].describe()
        refusal = prompts.REFUSAL + (" " + prompts.NO_MATCH.format(filters=filters) if filters else "")
        yield AddableDict(answer=prompts.NO_ARTICLES if retriever.store.count() == 0 else refusal, sources=[])
        return
    ctx = build_context(x["standalone"], passages, retriever.store.embeddings, settings, asked=x["question"],
                        week=x["query"][1], neighbours=retriever.store.around, reader=get_reader(settings),
                        unseen=retriever.unseen)
    if ctx is None:
        yield AddableDict(answer=_refusal(passages), sources=[])
        return
    yield AddableDict(context=ctx.documents())
    citer = Citer(ctx.passages, question=x["standalone"])
    messages = answer_messages(x["standalone"], x["as_of"], ctx)
    said = False
    for text in _verified(_drafts(model, messages), citer, ctx.best):
        yield AddableDict(answer=text)
        said = True
    if not said:
        yield AddableDict(answer=_refusal(passages), sources=[])
        return
    yield AddableDict(sources=citer.sources())


def answer_messages(question: str, as_of: str, ctx: Context) -> list[tuple[str, str]]:
    """The answer prompt: the fixed instructions and worked examples (a prefix llama.cpp keeps cached), then the
    date, the selected passages and the question."""
    user = prompts.ANSWER_USER.format(as_of=as_of, passages=format_passages(ctx.passages, ctx.excerpts),
                                      question=question)
    shown = [m for q, a in prompts.EXAMPLES for m in (("human", q), ("ai", a))]
    return [("system", prompts.ANSWER_SYSTEM), *shown, ("human", user)]


def _verified(drafts: Iterator[tuple[str, bool]], citer: Citer, best: str) -> Iterator[str]:
    """The answer as text to append, every claim checked against the passages.

    Sentences are checked whole, their citations corrected, and dropped when no passage supports them. The first
    sentence is shown while it is being written, up to its last key term, as long as one passage supports all it
    claims so far: the reader sees the answer start without waiting for the whole sentence. If that sentence then
    goes beyond the passages, it ends where their support ends. A question the model writes (it may echo the one
    asked, or one a passage asks) answers nothing and is dropped, and so is a first sentence that only restates the
    question (Citer.restates): the answer then leads with the next one. When the model answered but nothing it said
    is supported, the single most relevant passage sentence is quoted instead (never a question); when it declined,
    nothing is said."""
    said, shown = 0, ""
    for text, done in drafts:
        if not done:
            start = _supported_start(text, citer) if said == 0 else ""
            if len(start) > len(shown):
                yield start[len(shown):]
                shown = start
            continue
        if said == 0 and not shown and REFUSAL_RE.search(text):
            return
        if not shown and (_is_question(text) or (said == 0 and citer.restates(text))):
            continue
        checked = citer.check(text)
        if shown:
            if not (checked and checked.startswith(shown)):
                checked = citer.check(shown + ".") or shown
            checked = checked[len(shown):]
        elif not checked:
            continue
        yield ("" if said == 0 or shown else " ") + checked
        said, shown = said + 1, ""
        if said == MAX_SENTENCES:
            return
    fallback = citer.check(best) if said == 0 and best and not _is_question(best) else None
    if fallback:
        yield fallback


def _supported_start(draft: str, citer: Citer) -> str:
    """The start of a sentence being written that may be shown already: complete words up to the last key term,
    before any citation marker, not a refusal or what may become a question, and at least two claims that one
    passage supports ("" if none)."""
    text = draft.split("[", 1)[0]
    if WH_RE.match(text):
        return ""
    ends = [m.end() for m in WORD_RE.finditer(text) if m.end() < len(text) and key_terms(m.group())]
    start = text[: ends[-1]] if ends else ""
    return start if start and not REFUSAL_RE.search(start) and citer.holds_whole(start) else ""


def _is_question(sentence: str) -> bool:
    return sentence.split("[", 1)[0].rstrip().endswith("?")  # not a quoted one: 'Peskov asked "why?"' is a claim


def _refusal(passages: list[Any]) -> str:
    titles = list(dict.fromkeys(d.metadata.get("title", "") for d in passages[:3] if d.metadata.get("title")))
    return prompts.REFUSAL + (" " + prompts.COVERAGE.format(titles="; ".join(titles)) if titles else "")


def _drafts(model: BaseChatModel, messages: list[tuple[str, str]]) -> Iterator[tuple[str, bool]]:
    """The model's answer as it streams: (sentence so far, False) after every chunk, (sentence, True) once one is
    complete."""
    buffer = ""
    for chunk in model.stream(messages):
        buffer += str(chunk.content)
        spans = sentence_spans(buffer)
        if len(spans) > 1:
            for s, e in spans[:-1]:
                yield buffer[s:e], True
            buffer = buffer[spans[-1][0]:]
        yield buffer.lstrip(), False
    for s, e in sentence_spans(buffer):
        yield buffer[s:e], True
