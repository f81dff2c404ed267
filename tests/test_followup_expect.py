"""rag.followup (standalone follow-ups) and rag.expect (the kind of answer a question asks for)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import WriteArticle

import rag
from ingest.index import ingest_paths
from rag.expect import names
from rag.followup import refers_back, standalone
from rag.text import key_terms

REPO = Path(__file__).resolve().parents[1]
CORPUS, DATA = REPO / "corpus", REPO / "tests" / "data"
SEED_QUESTIONS = REPO.parent / "shared" / "eval" / "seed_questions.jsonl"
TERMS_Q = "What are Russia's terms?"
TERMS_A = "The withdrawal of Ukrainian forces and a guarantee that Ukraine never joins NATO [1]."


@pytest.mark.parametrize(("question", "refers"), [
    ("Who said that?", True), ("Has Kyiv accepted them?", True), ("When did he say it?", True),
    ("Why?", True), ("And Japan?", True), ("Where was the flight coming from?", True),
    ("How many prisoners will each side release?", True), ("What has Ukraine vowed to do instead?", True),
    ("Who is Dmitry Peskov?", False), ("What did Zakharova say about Trump's domestic focus?", False),
    ("Which state did the US spare?", False), ("Which holiday did Jews celebrate this week?", False),
    ("Which airline said it will cut a third of its flights to Denver?", False),
    ("Which state is investigating a measles outbreak involving at least 58 cases?", False)])
def test_a_follow_up_refers_back_through_pronouns_missing_words_or_no_name(question: str, refers: bool) -> None:
    assert refers_back(question) is refers


def test_a_rewrite_that_names_what_it_points_at_is_kept() -> None:
    rewritten = "Who said that Russia's terms include a Ukrainian withdrawal?"
    assert standalone("Who said that?", rewritten, TERMS_Q, TERMS_A) == rewritten


def test_an_echo_is_resolved_from_the_last_answer_without_its_citations() -> None:
    out = standalone("Who said that?", "Who said that?", TERMS_Q, TERMS_A)
    assert out == ("Who said that? (What are Russia's terms: The withdrawal of Ukrainian forces and a guarantee "
                   "that Ukraine never joins NATO)")


def test_a_follow_up_that_names_nothing_is_resolved_when_the_model_echoes_it() -> None:
    out = standalone("Where was the flight coming from?", "Where was the flight coming from?",
                     "Was anyone hurt on the Delta plane?", "Yes, 18 people were hurt on the Delta plane [1].")
    assert out == ("Where was the flight coming from? (Was anyone hurt on the Delta plane: Yes, 18 people were hurt "
                   "on the Delta plane)")


def test_after_a_refusal_the_last_question_is_what_a_follow_up_points_at() -> None:
    out = standalone("Why?", "", "Did the talks fail?", "The articles don't say. The closest articles are about: X.")
    assert out == "Why? (Did the talks fail)"


def test_a_question_that_stands_alone_is_searched_as_asked() -> None:
    """A new subject: neither the model's rewrite, which drags the last story in, nor the last exchange joins it."""
    assert standalone("Who is Dmitry Peskov?", "", TERMS_Q, TERMS_A) == "Who is Dmitry Peskov?"
    question = "Which airline said it will cut a third of its flights to Denver?"
    rewritten = "Which airline said it will cut a third of its flights to Denver after Russia's terms?"
    assert standalone(question, rewritten, TERMS_Q, TERMS_A) == question
    assert standalone(question, question, TERMS_Q, TERMS_A) == question


def _questions(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_evidence_gate_lets_every_answerable_paraphrase_through(seed_settings: rag.Settings) -> None:
    """Questions in other words than the article's reach the model; those on topics the article never touches
    (none of their key terms in it) are refused without it."""
    from rag.context import build_context
    from rag.retrieve import build_retriever

    retriever = build_retriever(seed_settings)
    article = " ".join(key_terms(CORPUS.joinpath("kremlin-open-for-talks.txt").read_text()))
    for q in _questions(DATA / "seed_paraphrases.jsonl") + _questions(SEED_QUESTIONS):
        question = str(q["question"])
        ctx = build_context(question, retriever.search(question), retriever.store.embeddings, seed_settings,
                            unseen=retriever.lexical().unseen)
        if q["answerable"]:
            assert ctx is not None, question
        elif not set(key_terms(question)) & set(article.split()):
            assert ctx is None, question


def test_names_are_the_capitalised_words_after_the_first() -> None:
    assert names("What is the capital of Australia?") == ["Australia"]
    assert names("Who is Canada's prime minister, according to \"The Globe\"?") == ["Canada", "The", "Globe"]
    assert names("Australia's capital?") == []  # the first word is capitalised anyway


def test_a_question_naming_what_no_article_mentions_is_refused_without_the_model(
        settings: rag.Settings, write_article: WriteArticle, tmp_path: Path) -> None:
    """Half the question's topic terms in the passages ("capital" of capital punishment) let "What is the capital of
    Australia?" through to the model, which answered "Oregon [1]". The store never mentions Australia: refused,
    unless a sentence is close to the question in meaning."""
    from rag.context import build_context
    from rag.retrieve import build_retriever

    write_article(tmp_path / "a" / "oregon.md", title="Oregon ends capital punishment", source="statesman.example",
                  published="2025-01-07", text="Oregon's governor signed a law ending capital punishment in the "
                  "state on Monday. The law takes effect in March.")
    write_article(tmp_path / "a" / "ferry.md", title="Harbour ferry returns", source="coast.example",
                  published="2025-01-08", text="The harbour ferry resumed service after repairs to its engine.")
    ingest_paths([tmp_path / "a"], settings, progress=False)
    retriever = build_retriever(settings)

    def context(question: str, **gate: Any) -> object:
        return build_context(question, retriever.search(question), retriever.store.embeddings, settings, **gate)

    unseen = retriever.lexical().unseen
    assert context("What is the capital of Australia?", unseen=unseen) is None
    assert context("What is the capital of Australia?") is not None  # the share of topic terms alone lets it by
    assert context("What did Oregon's governor sign?", unseen=unseen) is not None


def test_a_rewrite_that_answers_instead_of_asking_is_not_taken() -> None:
    out = standalone("Has Kyiv accepted them?", "Kyiv has not accepted the terms offered by Russia.", TERMS_Q,
                     TERMS_A)
    assert out.startswith("Has Kyiv accepted them? (What are Russia's terms: The withdrawal of Ukrainian forces")
