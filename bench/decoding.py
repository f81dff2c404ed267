"""How the default LLM reads a prompt that holds the answer: the first sentence of its answer under decoding variants.

    python bench/decoding.py --store data/bench-confirm \
        --questions ../shared/data/realtimeqa-confirm/questions.jsonl [--variants plain,contrast:0.5,letters]

For every answerable question whose prompt (the product's retrieval and selection) holds the gold answer, each
variant reads the same prompt with the local Qwen GGUF through llama.cpp directly:
- `plain`: greedy, as the chain's model decodes (its first sentence, before the chain's citation checks);
- `contrast:A`: context-aware decoding, logits (1 + A) * l(prompt) - A * l(the same turn without the passages),
  among the tokens the prompt's reading finds plausible (p >= 0.1 * max p);
- `letters`: the windows' sentences lettered A, B, … under their passage headers, and the letter the model's next
  token favours after "which sentence answers it?"; its sentence is the answer.
Prints one JSON line of figures (right, and on-event right, per variant, with the gains and losses against the
first variant); --out keeps the per-question sentences.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.chain import answer_messages
from rag.config import Settings
from rag.context import Context
from rag.eval import _onevent_ids, question_context
from rag.local import local_gguf
from rag.retrieve import build_retriever
from rag.scoring import contains, load_questions
from rag.sources import format_passages, passage_header
from rag.text import sentence_spans

LETTERS = "ABCDEFGHIJKLMNOPQRST"
LETTER_SYSTEM = ("You find the sentence that answers a question about the news. The user gives lettered sentences "
                 "from news articles, grouped under each article's title, outlet and date. Reply with the letter of "
                 "the one sentence that answers the question, and nothing else.")
PLAUSIBLE = np.log(0.1)
MAX_TOKENS = 60


class Reader:
    """Two llama.cpp contexts of one model file: the prompt, and the prompt without its passages."""

    def __init__(self, path: str, threads: int) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        kw: dict[str, Any] = dict(n_ctx=2048, n_threads=threads, n_batch=512, verbose=False, rope_freq_base=0.0,
                                  rope_freq_scale=0.0)
        # one context per prompt kind, so that each keeps its fixed prefix cached
        self.full, self.bare, self.lettered = (Llama(model_path=path, **kw) for _ in range(3))
        m = self.full
        self.format = Jinja2ChatFormatter(template=m.metadata["tokenizer.chat_template"],
                                          eos_token=m._model.token_get_text(m.token_eos()),
                                          bos_token=m._model.token_get_text(m.token_bos()))
        self.stop = {m.token_eos(), *m.tokenize(b"<|im_end|>", add_bos=False, special=True)}
        self.letters = [m.tokenize(c.encode(), add_bos=False, special=False)[0] for c in LETTERS]

    def tokens(self, messages: list[tuple[str, str]]) -> list[int]:
        role = {"system": "system", "human": "user", "ai": "assistant"}
        out = self.format(messages=[{"role": role[r], "content": t} for r, t in messages])
        return self.full.tokenize(out.prompt.encode(), add_bos=not out.added_special, special=True)

    @staticmethod
    def _prefill(llm: Any, tokens: list[int]) -> np.ndarray:
        have = list(llm.input_ids[: llm.n_tokens])
        n = 0
        while n < min(len(have), len(tokens)) and have[n] == tokens[n]:
            n += 1
        llm.n_tokens = min(n, len(tokens) - 1)  # the cached prefix is kept; at least one token is read again
        llm.eval(tokens[llm.n_tokens:])
        return Reader._logits(llm)

    @staticmethod
    def _logits(llm: Any) -> np.ndarray:
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)

    def first_sentence(self, full: list[int], bare: list[int], alpha: float) -> str:
        la = self._prefill(self.full, full)
        lb = self._prefill(self.bare, bare) if alpha else la
        out: list[int] = []
        for _ in range(MAX_TOKENS):
            score = np.where(la - la.max() >= PLAUSIBLE, (1 + alpha) * la - alpha * lb, -np.inf) if alpha else la
            token = int(np.argmax(score))
            if token in self.stop:
                break
            out.append(token)
            if len(sentence_spans(self.full.detokenize(out).decode("utf-8", "ignore"))) > 1:
                break
            self.full.eval([token])
            la = self._logits(self.full)
            if alpha:
                self.bare.eval([token])
                lb = self._logits(self.bare)
        text = self.full.detokenize(out).decode("utf-8", "ignore")
        spans = sentence_spans(text)
        return text[spans[0][0]:spans[0][1]] if spans else text

    def letter(self, question: str, as_of: str, ctx: Context) -> str:
        lines, sentences = [], []
        for i, (doc, text) in enumerate(zip(ctx.passages, ctx.excerpts, strict=True), 1):
            lines.append(f"[{i}] {passage_header(doc)}:")
            for s, e in sentence_spans(text)[: len(LETTERS) - len(sentences)]:
                lines.append(f"{LETTERS[len(sentences)]}. {text[s:e]}")
                sentences.append(text[s:e])
            lines.append("")
        user = f"Today's date: {as_of}\n\nSentences:\n" + "\n".join(lines) + f"\nQuestion: {question}"
        logits = self._prefill(self.lettered, self.tokens([("system", LETTER_SYSTEM), ("human", user)]))
        return sentences[int(np.argmax([logits[t] for t in self.letters[: len(sentences)]]))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--variants", default="plain,contrast:0.5,contrast:1.0")
    parser.add_argument("--limit", type=int, default=0, help="the first N answerable questions only")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = Settings(store_dir=args.store)
    retriever = build_retriever(settings)
    llm = Reader(str(local_gguf(settings)), settings.llm_threads)
    variants = args.variants.split(",")
    onevent = _onevent_ids(argparse.Namespace(questions=args.questions, onevent=None))
    rows = []
    for q in [q for q in load_questions(args.questions) if q["answerable"]][: args.limit or None]:
        _, ctx = question_context(q, retriever, settings)
        if ctx is None or not contains(format_passages(ctx.passages, ctx.excerpts), q["must_include"]):
            continue
        as_of = q.get("date") or ""
        messages = answer_messages(q["question"], as_of, ctx)
        full = llm.tokens(messages)
        bare = llm.tokens([*messages[:-1], ("human", f"Today's date: {as_of}\n\nQuestion: {q['question']}")])
        row: dict[str, Any] = {"id": str(q["id"]), "onevent": str(q["id"]) in onevent}
        for v in variants:
            started = time.perf_counter()
            kind, _, alpha = v.partition(":")
            text = llm.letter(q["question"], as_of, ctx) if kind == "letters" else \
                llm.first_sentence(full, bare, float(alpha) if kind == "contrast" else 0.0)
            row[v] = {"sentence": text, "right": contains(text, q["must_include"]),
                      "s": round(time.perf_counter() - started, 2)}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = variants[0]
    figures: dict[str, Any] = {"prompt_holds_gold": len(rows), "onevent": sum(r["onevent"] for r in rows)}
    for v in variants:
        figures[v] = {"right": sum(r[v]["right"] for r in rows),
                      "onevent_right": sum(r[v]["right"] for r in rows if r["onevent"]),
                      "gained": sum(r[v]["right"] and not r[base]["right"] for r in rows),
                      "lost": sum(r[base]["right"] and not r[v]["right"] for r in rows)}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
