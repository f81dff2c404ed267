"""rag.eval and rag.scoring: metrics on hand-made data, the command on a tiny corpus, and a regression floor."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document

from rag.eval import each, main, progress_line
from rag.scoring import (
    OUTCOMES,
    answer_figures,
    citation_precision,
    first_sentence,
    hit_rank,
    load_questions,
    outcome,
    retrieval_metrics,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
REPO = Path(__file__).resolve().parents[1]


def doc(text: str) -> Document:
    return Document(page_content=text, metadata={})


def test_hit_rank_is_the_first_passage_holding_every_group() -> None:
    docs = [doc("Nothing here."), doc("Paris is big."), doc("Paris hosted the Olympics in 2024.")]
    assert hit_rank(docs, [["paris"]]) == 2
    assert hit_rank(docs, [["Paris"], ["2024", "twenty-four"]]) == 3
    assert hit_rank(docs, [["Berlin"]]) is None


def test_retrieval_metrics_from_known_ranks() -> None:
    m = retrieval_metrics([1, 3, None, 12])
    assert m["hit@1"] == 0.25 and m["hit@5"] == 0.5 and m["hit@10"] == 0.5 and m["hit@20"] == 0.75
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3) / 4)


def test_first_sentence_only_is_scored() -> None:
    assert first_sentence("Abraham Lincoln [1]. Or maybe Roosevelt.") == "Abraham Lincoln [1]."
    assert first_sentence("") == ""


def test_citation_precision_counts_each_marker() -> None:
    sources = [doc("The storm destroyed 40 homes in Port Ellis."), doc("The council approved a budget.")]
    answer = "The storm destroyed 40 homes in Port Ellis [1]. The council approved a budget [1]."
    assert citation_precision(answer, sources) == (1, 2)
    assert citation_precision("The storm destroyed 40 homes [3].", sources) == (0, 1)


def test_citation_precision_does_not_ask_support_for_the_question_restated() -> None:
    sources = [doc("Officials said the storm destroyed 40 homes.")]
    answer = "The storm in Port Ellis destroyed 40 homes on Friday [1]."
    assert citation_precision(answer, sources) == (0, 1)
    question = "How many homes did the storm in Port Ellis destroy on Friday?"
    assert citation_precision(answer, sources, question) == (1, 1)


@pytest.mark.parametrize(("flags", "expected"), [
    ({"correct": True, "refused": False, "offered": True, "in_prompt": True}, "right"),
    ({"correct": True, "refused": False, "offered": False, "in_prompt": False}, "right"),
    ({"correct": False, "refused": False, "offered": False, "in_prompt": False}, "retrieval_miss"),
    ({"correct": False, "refused": True, "offered": False, "in_prompt": False}, "retrieval_miss"),
    ({"correct": False, "refused": True, "offered": True, "in_prompt": False}, "wrong_refusal"),
    ({"correct": False, "refused": True, "offered": True, "in_prompt": True}, "wrong_refusal"),
    ({"correct": False, "refused": False, "offered": True, "in_prompt": False}, "selection_miss"),
    ({"correct": False, "refused": False, "offered": True, "in_prompt": True}, "model_miss"),
])
def test_each_answerable_question_is_lost_in_exactly_one_place(flags: dict[str, bool], expected: str) -> None:
    assert outcome(**flags) == expected


def test_answer_figures_count_what_the_prompt_keeps_of_what_was_offered() -> None:
    def row(correct: bool, offered: bool, in_prompt: bool, answerable: bool = True) -> dict[str, object]:
        return {"answerable": answerable, "correct": correct, "refused": False, "offered": offered,
                "in_prompt": in_prompt, "citations": (1, 1), "reading": 0.5, "first": 1.0, "full": 2.0}
    rows = [row(True, True, True), row(False, True, False), row(False, False, False), row(False, True, True),
            row(False, False, False, answerable=False)]
    f = answer_figures(rows)
    assert (f["questions"], f["answerable"]) == (5, 4)
    assert f["accuracy"] == 0.25 and f["prompt_keeps_offered"] == pytest.approx(2 / 3)
    assert f["citation_precision"] == 1.0 and f["citations"] == 5


class ScriptedChain:
    """Streams canned turns as the chain would: passages and context first, then the answer in two pieces."""

    def __init__(self, answers: list[str], passage: str) -> None:
        self.answers, self.passage, self.asked = iter(answers), passage, []

    def stream(self, inputs: dict[str, object]) -> list[dict[str, object]]:
        self.asked.append(inputs)
        answer = next(self.answers)
        read = Document(self.passage[:20], metadata={"title": "T", "source": "s", "published": "2025-03-01"})
        return [{"standalone": f"{inputs['question']} (standalone)", "passages": [doc(self.passage)]},
                {"context": [read]}, {"answer": answer[:5]}, {"answer": answer[5:]}]


def test_a_conversation_row_keeps_every_turn_and_where_the_last_answer_was_lost() -> None:
    from rag.eval import _converse

    conv = {"id": "c1", "date": "2025-03-01", "turns": ["Who won?", "Where is she from?"],
            "final_must_include": [["Zimbabwe"]]}
    chain = ScriptedChain(["Kirsty Coventry won [1].", "She is from Harare [1]."],
                          "Kirsty Coventry won the vote. She is from Zimbabwe.")
    row = _converse(chain, conv)
    assert [t["answer"] for t in row["turns"]] == ["Kirsty Coventry won [1].", "She is from Harare [1]."]
    assert row["turns"][1]["standalone"] == "Where is she from? (standalone)"
    assert chain.asked[1]["chat_history"] == [("human", "Who won?"), ("ai", "Kirsty Coventry won [1].")]
    assert (row["correct"], row["offered"], row["in_prompt"], row["outcome"]) == (False, True, False,
                                                                                  "selection_miss")


def test_progress_line_says_how_far_a_run_is_and_how_long_the_rest_takes() -> None:
    assert progress_line("answers", 12, 82, 150.0) == "answers: 12/82 done in 2 min 30 s, about 14 min 35 s left"
    assert progress_line("context", 2, 2, 3.4) == "context: 2/2 done in 3 s, about 0 s left"


def test_a_run_stopped_midway_keeps_the_rows_it_measured(tmp_path: Path) -> None:
    def measure(q: dict[str, Any]) -> dict[str, Any]:
        if q["id"] == "2":
            raise KeyboardInterrupt  # the user stops a half-hour run
        return {"id": q["id"], "right": True}

    out = tmp_path / "rows.jsonl"
    with pytest.raises(KeyboardInterrupt):
        each([{"id": "1"}, {"id": "2"}], measure, "answers", out)
    assert out.read_text() == '{"id": "1", "right": true}\n'


def test_load_questions_reads_both_formats(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [{"id": "a", "question": "Q?", "answer": "Lincoln", "answer_urls": ["u"]},
            {"id": "b", "question": "Q2?", "answer": "X", "answer_urls": []},
            {"id": "c", "question": "Q3?", "must_include": [["NATO"]], "answerable": True}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    qs = load_questions(path)
    assert [q["answerable"] for q in qs] == [True, False, True]
    assert qs[0]["must_include"] == [["Lincoln"]] and qs[2]["must_include"] == [["NATO"]]


TEXTS = {"a1": ("Volcano erupts in Iceland", "Lava reached the town of Grindavik overnight."),
         "a2": ("Heatwave in Madrid", "Thermometers in Madrid reached 44 degrees on Wednesday."),
         "a3": ("Bank lifts rates", "The central bank raised rates to 5.5 percent.")}


def _tiny_slice(tmp_path: Path) -> tuple[Path, Path]:
    """Three one-sentence articles and three questions (two answerable) whose right ranks are known."""
    articles = tmp_path / "articles.jsonl"
    articles.write_text("\n".join(json.dumps({"id": k, "title": t, "text": x, "url": f"https://ex.com/{k}",
                                              "source": "ex.com", "published": "2025-01-0" + k[1]})
                                  for k, (t, x) in TEXTS.items()))
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in [
        {"id": "1", "question": "Which town did the lava reach?", "answer": "Grindavik", "answer_urls": ["x"]},
        {"id": "2", "question": "What did thermometers in Madrid reach?", "answer": "44 degrees", "answer_urls": ["x"]},
        {"id": "3", "question": "Who won the cup?", "answer": "Nobody", "answer_urls": []}]))
    return articles, questions


def test_retrieval_command_on_a_tiny_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    articles, questions = _tiny_slice(tmp_path)
    assert main(["retrieval", "--articles", str(articles), "--questions", str(questions), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"index_build_s", "questions", "hit@1", "hit@5", "hit@10", "hit@20", "mrr@10",
                            "latency_p50_ms", "latency_p95_ms"}
    assert {k: figures[k] for k in ("questions", "hit@1", "hit@5", "hit@10", "hit@20", "mrr@10")} == {
        "questions": 2, "hit@1": 1.0, "hit@5": 1.0, "hit@10": 1.0, "hit@20": 1.0, "mrr@10": 1.0}
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p95_ms"]


def test_context_command_reports_the_answer_in_the_selected_sentences(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """With one window in the prompt, each prompt is exactly the answer's one-sentence article."""
    monkeypatch.setenv("NEWSDESK_CONTEXT_WINDOWS", "1")
    articles, questions = _tiny_slice(tmp_path)
    out = tmp_path / "rows.jsonl"
    argv = ["context", "--articles", str(articles), "--questions", str(questions), "--json", "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    figures = json.loads(captured.out)
    assert [line.split(" done")[0] for line in captured.err.splitlines() if line.startswith("context: ")] == [
        "context: 1/2", "context: 2/2"], "a progress line after each question"
    prompts = [f"[1] {title} (ex.com, 2025-01-0{i}): {text}" for i, (title, text) in enumerate(TEXTS.values(), 1)]
    assert {k: v for k, v in figures.items() if k != "index_build_s"} == {
        "questions": 2, "passages_hit": 1.0, "context_hit": 1.0, "prompt_keeps_offered": 1.0,
        "refused_by_evidence_gate": 0.0, "context_chars_p50": (len(prompts[0]) + len(prompts[1])) / 2}
    digests = [json.loads(line)["prompt"] for line in out.read_text().splitlines()]
    assert digests == [hashlib.sha256(p.encode()).hexdigest()[:16] for p in prompts[:2]], "a digest of each prompt"


@pytest.mark.slow
def test_answers_command_with_a_small_local_llm(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The real chain with the packaged SmolLM2 (temperature 0, so the same answers every run): the question the
    articles cannot answer is refused by the evidence gate, every citation the chain lets through is supported,
    and the outcomes add up."""
    monkeypatch.setenv("NEWSDESK_LLM", "smollm2")
    articles, questions = _tiny_slice(tmp_path)
    argv = ["answers", "--articles", str(articles), "--questions", str(questions), "--json", "--breakdown"]
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {k: figures[k] for k in ("questions", "answerable", "refusal_rate_rest", "prompt_keeps_offered",
                                    "citation_precision")} == {
        "questions": 3, "answerable": 2, "refusal_rate_rest": 1.0, "prompt_keeps_offered": 1.0,
        "citation_precision": 1.0}
    assert sum(figures[o] for o in OUTCOMES) == 2
    assert (figures["accuracy"], figures["wrong_refusals"]) == (figures["right"] / 2, figures["wrong_refusal"] / 2)
    # Grindavik was right on every machine measured; Madrid, missed on most, comes out right on some CPUs: the tiny
    # model's greedy output is not the same float for float everywhere, so only the first is pinned
    assert figures["right"] >= 1 and figures["citations"] == 2
    assert 0 < figures["passages_shown_p50_s"] < figures["first_token_p50_s"] <= figures["full_answer_p50_s"]
    assert figures["first_token_p95_s"] <= figures["full_answer_p95_s"] and figures["chain_ready_s"] > 0


@pytest.mark.slow
def test_a_run_with_the_local_model_exits_without_a_traceback() -> None:
    """The local model is freed before the interpreter tears its modules down: freed during teardown, llama-cpp-python
    printed "TypeError: 'NoneType' object is not callable" at the end of every pytest run that had loaded it."""
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k",
                          "test_answers_command_with_a_small_local_llm"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout
    assert "Traceback" not in run.stderr + run.stdout and "TypeError" not in run.stderr + run.stdout, run.stderr


@pytest.mark.slow
def test_answers_breakdown_places_every_answerable_question(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """--breakdown counts each answerable question once; the on-event figures cover onevent.jsonl's questions;
    --out keeps one row per question with the flags its outcome comes from."""
    monkeypatch.setenv("NEWSDESK_LLM", "smollm2")
    articles, questions = _tiny_slice(tmp_path)
    (tmp_path / "onevent.jsonl").write_text(questions.read_text().splitlines()[0] + "\n")
    rows = tmp_path / "rows.jsonl"
    argv = ["answers", "--articles", str(articles), "--questions", str(questions), "--breakdown", "--json",
            "--out", str(rows)]
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out)
    counts = {o: figures[o] for o in ("right", "retrieval_miss", "selection_miss", "model_miss", "wrong_refusal")}
    assert sum(counts.values()) == 2 and counts["retrieval_miss"] == 0  # three articles: every one is offered
    assert figures["answerable_onevent"] == 1
    kept = [json.loads(line) for line in rows.read_text().splitlines()]
    assert [r["id"] for r in kept] == ["1", "2", "3"]
    assert all(r["offered"] for r in kept[:2]) and kept[2]["refused"]
    assert sorted(r["outcome"] for r in kept[:2]) == sorted(o for o, n in counts.items() for _ in range(n))


def test_ingest_benchmark_compares_pipeline_and_raw_embedder(tmp_path: Path) -> None:
    """bench/ingest_speed.py (which replaced `python -m rag.eval ingest`) on three one-chunk articles."""
    articles, _ = _tiny_slice(tmp_path)
    store = tmp_path / "kept"
    argv = [sys.executable, str(REPO / "bench" / "ingest_speed.py"), "--articles", str(articles), "--store",
            str(store), "--json"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert (figures["articles"], figures["chunks"]) == (3, 3)
    assert figures["articles_per_s"] == pytest.approx(figures["chunks_per_s"])  # one chunk an article
    assert figures["pipeline_vs_raw"] == pytest.approx(figures["chunks_per_s"] / figures["raw_embedder_chunks_per_s"])
    assert any(store.iterdir()), "--store keeps the index the run built"
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "not empty" in again.stderr


@pytest.mark.slow
def test_mini_slice_hit_at_10_stays_above_its_floor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression guard: measured 0.857 answer-hit@10 on realtimeqa-mini (21 questions); the floor leaves margin
    for one question of noise."""
    data = SHARED / "data" / "realtimeqa-mini"
    argv = ["retrieval", "--articles", str(data / "articles.jsonl"), "--questions", str(data / "questions.jsonl"),
            "--store", str(tmp_path / "store"), "--json"]
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["hit@10"] >= 0.80, figures


@pytest.fixture(scope="module")
def slice_articles() -> dict[str, dict[str, Any]]:
    """dev's and confirm's articles by id, read once for the conversation files."""
    files = [SHARED / "data" / f"realtimeqa-{part}" / "articles.jsonl" for part in ("dev", "confirm")]
    return {a["id"]: a for f in files for a in map(json.loads, f.read_text().splitlines())}


@pytest.mark.parametrize("name", ["conversations.jsonl", "conversations_confirm.jsonl"])
def test_every_conversation_s_gold_is_written_in_the_articles_it_names(
        name: str, slice_articles: dict[str, dict[str, Any]]) -> None:
    """An eval conversation is measured against its gold: each group must occur in an article the conversation
    names (the seed article for the seed's), and the date (when given) must not precede that article."""
    articles = slice_articles
    seed = (REPO / "corpus" / "kremlin-open-for-talks.txt").read_text().lower()
    convs = [json.loads(line) for line in (REPO / "tests" / "data" / name).read_text().splitlines() if line.strip()]
    assert len({c["id"] for c in convs}) == len(convs) >= 20
    for c in convs:
        named = [articles[i] for i in c["article_ids"]]
        texts = [a["text"].lower() for a in named] if c["corpus"] != "seed" else [seed]
        assert len(c["turns"]) >= 2 and texts, c["id"]
        for group in c["final_must_include"]:
            assert any(g.lower() in t for g in group for t in texts), (c["id"], group)
        assert all(c["date"] >= a["published"] for a in named), c["id"]
