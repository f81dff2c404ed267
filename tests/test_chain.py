"""build_chain with the real retriever over the seed store; only the LLM is a FakeListChatModel."""

from __future__ import annotations

import re
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

import rag
from rag import prompts
from rag.text import sentence_spans

QUESTION = "What did Peskov say about relations between the two nuclear powers?"
LOWEST = "historically lowest point"
WORSEN = "almost impossible to worsen them further"
SOURCE_KEYS = {"title", "source", "url", "published", "article_id", "chunk_index", "start_index", "n",
               "support_spans"}


class Prompts(BaseCallbackHandler):
    """Records the messages of every call the fake model receives."""

    def __init__(self) -> None:
        self.calls: list[list[BaseMessage]] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]],
                            **kwargs: Any) -> None:
        self.calls.extend(messages)


def fake(*responses: str) -> tuple[FakeListChatModel, Prompts]:
    record = Prompts()
    return FakeListChatModel(responses=list(responses), callbacks=[record]), record


def numbered(prompt: str) -> dict[int, str]:
    """Passage number -> its line in the answer prompt."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\[(\d+)\] (.*)$", prompt, re.M)}


def number_of(prompt: str, phrase: str) -> int:
    (n,) = [n for n, line in numbered(prompt).items() if phrase in line]
    return n


@pytest.fixture
def prompt(seed_settings: rag.Settings) -> str:
    """The answer prompt the chain builds for QUESTION (the fake declines, so the run costs nothing else)."""
    llm, record = fake(prompts.REFUSAL)
    rag.build_chain(seed_settings, llm=llm).invoke({"question": QUESTION, "as_of": "2024-11-07"})
    (call,) = record.calls
    system, user = call[0], call[-1]
    assert system.content == prompts.ANSWER_SYSTEM
    assert str(user.content).startswith("Today's date: 2024-11-07\n\nPassages:\n[1] ")
    assert str(user.content).endswith(f"Question: {QUESTION}")
    return str(user.content)


def chain_with(settings: rag.Settings, *responses: str) -> tuple[Runnable, FakeListChatModel, Prompts]:
    llm, record = fake(*responses)
    return rag.build_chain(settings, llm=llm), llm, record


def test_everything_before_the_question_is_the_same_prompt_prefix(seed_settings: rag.Settings) -> None:
    """llama.cpp reuses its KV cache for the longest common prefix: instructions and examples must not vary."""
    chain, _, record = chain_with(seed_settings, prompts.REFUSAL, prompts.REFUSAL)
    chain.invoke({"question": QUESTION, "as_of": "2024-11-07"})
    chain.invoke({"question": "When will Trump be inaugurated?", "as_of": "2025-01-02"})
    first, second = record.calls
    assert [m.content for m in first[:-1]] == [m.content for m in second[:-1]]
    assert len(first) == 2 + 2 * len(prompts.EXAMPLES) and first[-1].content != second[-1].content


def test_prompt_numbers_passages_with_their_headers(prompt: str) -> None:
    lines = numbered(prompt)
    assert list(lines) == list(range(1, len(lines) + 1))
    assert 1 < len(lines) <= 5
    title = "Kremlin says Moscow is still open for talks with US despite Trump election victory"
    assert all(line.startswith(f"{title} (unknown outlet, undated): ") for line in lines.values())


def test_correct_citations_are_kept_with_their_sources(seed_settings: rag.Settings, prompt: str) -> None:
    lowest, worsen = number_of(prompt, LOWEST), number_of(prompt, WORSEN)
    assert lowest != worsen
    chain, _, _ = chain_with(seed_settings, f"Peskov said it is almost impossible to worsen relations further "
                                            f"[{worsen}]. He said relations between the two nuclear powers are at "
                                            f"their historically lowest point [{lowest}].")
    out = chain.invoke({"question": QUESTION, "as_of": "2024-11-07"})
    assert out["answer"] == ("Peskov said it is almost impossible to worsen relations further [1]. He said relations "
                             "between the two nuclear powers are at their historically lowest point [2].")
    first, second = out["sources"]
    assert WORSEN in first.page_content and LOWEST in second.page_content
    for n, source in enumerate(out["sources"], 1):
        assert SOURCE_KEYS <= set(source.metadata)
        assert source.metadata["n"] == n
        assert source.id == f"{source.metadata['article_id']}:{source.metadata['chunk_index']}"
    (span,) = second.metadata["support_spans"]
    assert second.page_content[span[0]:span[1]] == ("Relations between the two nuclear powers, he said, “are at "
                                                    "their historically lowest point.”")


def test_wrong_citation_is_corrected(seed_settings: rag.Settings, prompt: str) -> None:
    wrong = next(n for n in numbered(prompt) if n != number_of(prompt, LOWEST))
    chain, _, _ = chain_with(seed_settings, f"Relations between the two nuclear powers are at their historically "
                                            f"lowest point [{wrong}].")
    out = chain.invoke({"question": QUESTION})
    assert out["answer"] == "Relations between the two nuclear powers are at their historically lowest point [1]."
    (source,) = out["sources"]
    assert LOWEST in source.page_content


def test_fabricated_sentence_is_replaced_by_a_quoted_passage_sentence(seed_settings: rag.Settings) -> None:
    chain, _, record = chain_with(seed_settings, "Putin signed a peace treaty with Ukraine in Geneva last Friday [1].")
    out = chain.invoke({"question": QUESTION})
    assert "Geneva" not in out["answer"]
    quoted = out["answer"].removesuffix(" [1]").removesuffix(" [1].")
    assert len(out["sources"]) == 1
    assert quoted.rstrip(".") in out["sources"][0].page_content
    assert len(record.calls) == 1


def test_fabricated_sentence_is_dropped_but_supported_one_kept(seed_settings: rag.Settings) -> None:
    chain, _, _ = chain_with(seed_settings, "Putin signed a peace treaty in Geneva last Friday [1]. Relations "
                                            "between the two nuclear powers are at their historically lowest point "
                                            "[2].")
    out = chain.invoke({"question": QUESTION})
    assert out["answer"] == "Relations between the two nuclear powers are at their historically lowest point [1]."
    assert len(out["sources"]) == 1


def test_model_refusal_is_passed_on_without_sources(seed_settings: rag.Settings) -> None:
    chain, _, _ = chain_with(seed_settings, "The articles don't say. Maybe Peskov said relations are at a low [1].")
    out = chain.invoke({"question": QUESTION})
    assert out["answer"].startswith(prompts.REFUSAL + " The closest articles are about: Kremlin says")
    assert out["sources"] == []


def test_unanswerable_question_refuses_without_calling_the_llm(seed_settings: rag.Settings) -> None:
    chain, llm, record = chain_with(seed_settings)  # no responses: any call would raise IndexError
    out = chain.invoke({"question": "What is the population of Brazil?"})
    assert out["answer"].startswith(prompts.REFUSAL)
    assert out["sources"] == []
    assert record.calls == [] and llm.i == 0


def test_filters_that_exclude_everything_refuse_without_the_llm(seed_settings: rag.Settings) -> None:
    chain, _, record = chain_with(seed_settings)
    out = chain.invoke({"question": QUESTION, "source": "nowhere.example"})
    assert (out["answer"], out["sources"]) == (
        f"{prompts.REFUSAL} No article matches the filters (outlet nowhere.example).", [])
    out = chain.invoke({"question": QUESTION, "published_after": "2001-01-01", "published_before": "2001-12-31"})
    assert out["answer"].endswith("No article matches the filters (published from 2001-01-01 to 2001-12-31).")
    assert record.calls == []


def test_empty_store_says_how_to_add_articles(settings: rag.Settings) -> None:
    chain, _, record = chain_with(settings)
    out = chain.invoke({"question": QUESTION})
    assert (out["answer"], out["sources"]) == (prompts.NO_ARTICLES, [])
    assert "python -m ingest" in out["answer"]
    assert record.calls == []


@pytest.mark.parametrize("question", ["", "   ", "\n\t \x00 "])
def test_empty_question_raises_a_helpful_error(seed_settings: rag.Settings, question: str) -> None:
    chain, _, record = chain_with(seed_settings)
    with pytest.raises(rag.BadQuestionError, match="Please type a question about the news"):
        chain.invoke({"question": question})
    with pytest.raises(rag.BadQuestionError):
        chain.invoke(question)  # a bare string is accepted as the question
    assert record.calls == []


def test_missing_or_oversized_question_is_refused(seed_settings: rag.Settings) -> None:
    chain, _, _ = chain_with(seed_settings)
    with pytest.raises(rag.BadQuestionError, match="Expected the question as text"):
        chain.invoke({})
    with pytest.raises(rag.BadQuestionError, match="please keep it under 2,000"):
        chain.invoke({"question": "why " * 600})


def test_stream_yields_the_same_answer_as_invoke(seed_settings: rag.Settings, prompt: str) -> None:
    answer = (f"Peskov said it is almost impossible to worsen relations further [{number_of(prompt, WORSEN)}]. "
              f"Relations between the two nuclear powers are at their historically lowest point "
              f"[{number_of(prompt, LOWEST)}].")
    streamed_chain, _, _ = chain_with(seed_settings, answer)
    chunks = list(streamed_chain.stream({"question": QUESTION}))
    invoked_chain, _, _ = chain_with(seed_settings, answer)
    invoked = invoked_chain.invoke({"question": QUESTION})

    assert set(chunks[0]) == {"question", "standalone", "passages"}  # the passages come before any answer
    assert (chunks[0]["question"], chunks[0]["standalone"]) == (QUESTION, QUESTION)
    assert [d.id for d in chunks[0]["passages"]] == [d.id for d in invoked["passages"]]
    pieces = [c["answer"] for c in chunks if "answer" in c]
    first = invoked["answer"].split(" [1]. ")[0]
    assert pieces[0] == "Peskov said it is almost impossible"  # shown before the first sentence is complete
    assert "".join(pieces[:-1]).endswith(" further [1].")  # the first sentence arrives word by word
    assert len(pieces) > 2 and first.startswith(pieces[0])
    assert pieces[-1] == " Relations between the two nuclear powers are at their historically lowest point [2]."
    assert "".join(pieces) == invoked["answer"]
    assert invoked["answer"].endswith("lowest point [2].")
    assert "sources" in chunks[-1]
    assert [d.id for d in chunks[-1]["sources"]] == [d.id for d in invoked["sources"]]


def test_chat_history_triggers_a_standalone_rewrite(seed_settings: rag.Settings) -> None:
    standalone = "How did Kremlin spokesman Dmitry Peskov describe the United States?"
    chain, _, record = chain_with(seed_settings, standalone,
                                  "Peskov described the United States as an unfriendly country [1].")
    history = [("human", "What did the Kremlin spokesman say about talks with the US?"),
               ("ai", "Moscow is still prepared to hold talks with the United States [1].")]
    out = chain.invoke({"question": "How did he describe America?", "chat_history": history})

    assert out["question"] == "How did he describe America?"
    assert out["standalone"] == standalone
    assert out["answer"] == "Peskov described the United States as an unfriendly country [1]."
    assert "unfriendly country" in out["sources"][0].page_content
    rewrite, answer = record.calls
    assert rewrite[0].content == prompts.REWRITE_SYSTEM
    shown = [(m.type, m.content) for m in rewrite[1:-1]]  # the worked examples, as earlier turns
    assert len(shown) == 2 * len(prompts.REWRITE_EXAMPLES) and shown[1] == ("ai", prompts.REWRITE_EXAMPLES[0][2])
    assert "User: What did the Kremlin spokesman say about talks with the US?" in str(rewrite[-1].content)
    assert "Assistant: Moscow is still prepared" in str(rewrite[-1].content)
    assert str(rewrite[-1].content).endswith("Last question: How did he describe America?\n\nStandalone question:")
    assert str(answer[-1].content).endswith(f"Question: {standalone}")


def test_history_is_written_out_for_the_rewriter_from_any_message_form() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from rag.history import history_text

    history = [("human", "Who is  Peskov?"), {"role": "assistant", "content": [{"type": "text", "text": "The "
               "Kremlin\nspokesman [1]."}]}, HumanMessage("And Lavrov?"), {"role": "user", "content": ""},
               AIMessage("x" * 900)]
    lines = history_text(history).split("\n")
    assert lines[:3] == ["User: Who is Peskov?", "Assistant: The Kremlin spokesman [1].", "User: And Lavrov?"]
    assert lines[3] == "Assistant: " + "x" * 600  # each turn at most 600 characters; empty turns left out
    assert history_text([(f"{'user' if i % 2 == 0 else 'ai'}", f"turn {i}") for i in range(10)]).startswith(
        "User: turn 4\n")  # the last 6 turns
    with pytest.raises(rag.BadQuestionError, match="Expected chat_history as messages.* Got Unexpected message type"):
        history_text([{"role": "bot", "content": "hi"}])


def test_without_history_the_question_is_not_rewritten(seed_settings: rag.Settings) -> None:
    chain, _, record = chain_with(seed_settings, prompts.REFUSAL)
    out = chain.invoke({"question": QUESTION, "chat_history": []})
    assert out["standalone"] == QUESTION
    assert len(record.calls) == 1  # the answer only


def test_a_question_of_its_own_in_a_conversation_is_not_rewritten(seed_settings: rag.Settings) -> None:
    """It changes the subject: searched as asked, without a call to the rewriter."""
    chain, _, record = chain_with(seed_settings, prompts.REFUSAL)
    history = [("human", "Who won the mayoral race?"), ("ai", "Ana Ruiz won the mayoral race [1].")]
    out = chain.invoke({"question": QUESTION, "chat_history": history})
    assert out["standalone"] == QUESTION
    assert len(record.calls) == 1  # the answer only


def test_first_sentence_that_goes_beyond_the_passages_ends_where_their_support_ends(
        seed_settings: rag.Settings) -> None:
    chain, _, _ = chain_with(seed_settings, "Peskov said relations between the two nuclear powers are at their "
                                            "historically lowest point because of a secret treaty signed in Geneva by "
                                            "Biden last Friday [2].")
    chunks = [c["answer"] for c in chain.stream({"question": QUESTION}) if "answer" in c]
    answer = "".join(chunks)
    assert answer == "Peskov said relations between the two nuclear powers are at their historically lowest point [1]."
    assert len(chunks) > 1 and "[" not in chunks[0]


def test_nothing_is_shown_early_that_one_passage_does_not_wholly_support(seed_settings: rag.Settings) -> None:
    """"Putin" is in the passages, "signed" and "Geneva" are not: the sentence is never shown, a quote replaces it."""
    chain, _, _ = chain_with(seed_settings, "Putin signed a peace treaty with Ukraine in Geneva last Friday [1].")
    chunks = [c["answer"] for c in chain.stream({"question": QUESTION}) if "answer" in c]
    assert len(chunks) == 1 and not chunks[0].startswith("Putin signed")


def test_warm_up_evaluates_the_fixed_start_of_every_answer_prompt(seed_settings: rag.Settings) -> None:
    """What the warm-up gives the model is, up to the passages, what every real question gives it, so llama.cpp
    finds that prefix cached."""
    from rag.chain import warm_up

    llm, record = fake("Warm.")
    warm_up(rag.build_retriever(seed_settings), llm)
    (warm,) = record.calls
    chain, _, real_record = chain_with(seed_settings, prompts.REFUSAL)
    chain.invoke({"question": QUESTION})
    (real,) = real_record.calls
    assert warm[0].content == prompts.ANSWER_SYSTEM
    assert [m.content for m in warm[:-1]] == [m.content for m in real[:-1]]
    start = str(warm[-1].content).split("Passages:", 1)[0] + "Passages:"
    assert start.startswith("Today's date: ")
    assert str(real[-1].content).startswith(start + "\n[1] ")


def test_a_question_the_model_writes_is_dropped(seed_settings: rag.Settings) -> None:
    """Small models sometimes echo the question, or copy a question a passage asks, before answering."""
    chain, _, _ = chain_with(seed_settings, "How does the Kremlin describe relations with the United States? [1] "
                                            "Relations between the two nuclear powers are at their historically "
                                            "lowest point [1].")
    chunks = [c["answer"] for c in chain.stream({"question": QUESTION}) if "answer" in c]
    assert "".join(chunks) == ("Relations between the two nuclear powers are at their historically lowest point "
                               "[1].")
    assert not any("?" in c for c in chunks)


def test_an_echoed_follow_up_is_resolved_from_the_last_answer(seed_settings: rag.Settings) -> None:
    """The model gives "Who said that?" back unchanged: the standalone question carries what "that" points at, so
    the search finds the passage of the last answer again."""
    chain, _, record = chain_with(seed_settings, "Who said that?", "Putin laid down the terms [1].")
    history = [("human", "What are Russia's terms?"),
               ("ai", "The withdrawal of Ukrainian forces and guarantees that Ukraine will never join NATO [1].")]
    out = chain.invoke({"question": "Who said that?", "chat_history": history})
    assert out["standalone"].startswith("Who said that? (What are Russia's terms: The withdrawal of Ukrainian")
    assert "[1]" not in str(record.calls[0][-1].content), "citation markers are not shown to the rewriter"
    assert any("never join NATO" in d.page_content for d in out["passages"])


def test_the_stream_names_the_passages_before_the_answer_starts(seed_settings: rag.Settings) -> None:
    chain, _, _ = chain_with(seed_settings, "Peskov said relations are at their historically lowest point [1].")
    keys = [sorted(c) for c in chain.stream({"question": QUESTION})]
    first_answer = next(i for i, k in enumerate(keys) if "answer" in k)
    passages = next(i for i, k in enumerate(keys) if "passages" in k)
    context = next(i for i, k in enumerate(keys) if "context" in k)
    assert passages < context < first_answer
    out = chain.invoke({"question": QUESTION})
    assert 0 < len(out["passages"]) <= seed_settings.context_passages
    assert all(d.metadata["title"] for d in out["passages"])
    offered = {d.id: d.page_content for d in out["passages"]}
    for excerpt in out["context"]:  # what the LLM read: sentences of the passages offered
        start, end = sentence_spans(excerpt.page_content)[0]
        assert excerpt.page_content[start:end] in offered[excerpt.id]


def test_a_passage_question_is_never_quoted_as_the_answer() -> None:
    """When nothing the model said is supported, the most relevant passage sentence stands in for it, unless that
    sentence is itself a question (a headline like "Why is the Pope in hospital?" answers nothing)."""
    from langchain_core.documents import Document

    from rag.chain import _verified
    from rag.sources import Citer

    passage = Document(page_content="Why is the pope in hospital? He was admitted to Gemelli with bronchitis.",
                       metadata={"title": "Pope", "source": "x.example"}, id="p:0")
    invented = [("The pope flew to Lisbon on Monday [1].", True)]
    assert list(_verified(iter(invented), Citer([passage]), "Why is the pope in hospital?")) == []
    assert list(_verified(iter(invented), Citer([passage]), "He was admitted to Gemelli with bronchitis.")) == [
        "He was admitted to Gemelli with bronchitis [1]."]


def test_an_answer_leads_with_what_it_adds_to_the_question() -> None:
    """A first sentence that only restates the question answers nothing: the next sentence leads instead."""
    from langchain_core.documents import Document

    from rag.chain import _verified
    from rag.sources import Citer

    passage = Document(page_content="Blue Origin launched a new rocket to orbit this week. It is called New Glenn.",
                       metadata={"title": "Launch", "source": "x.example"}, id="p:0")
    citer = Citer([passage], question="Blue Origin launched a new rocket to orbit this week. What is its name?")
    drafts = [("Blue Origin launched a new rocket to orbit this week [1].", True),
              ("The rocket is called New Glenn [1].", True)]
    assert list(_verified(iter(drafts), citer, "")) == ["The rocket is called New Glenn [1]."]
