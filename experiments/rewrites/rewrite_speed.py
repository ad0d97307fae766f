"""How fast can the one language model here (SmolLM2-135M-Instruct) rewrite a text?

    .venv/bin/python experiments/rewrites/rewrite_speed.py [--out-dir DIR]

Detectors that compare a text with a model's own rewrite of it (Raidar, Learning-to-Rewrite) need one
rewrite per scored text. Greedy generation of 64 new tokens from a "rewrite in your own words" prompt
over the first 200 words of seeds/000_*.txt, on one torch thread as the scorer's workers run, against
one scoring forward pass over the same 200 words. Writes results/rewrite_speed.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch
from common import RESULTS, dump

from fabscore.models import backbones
from fabscore.training.paths import SEEDS

NEW_TOKENS = 64
REWRITE_TOKENS = 260  # a rewrite as long as its 200-word original (about 1.3 SmolLM2 tokens a word)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=str(RESULTS))
    args = ap.parse_args()
    torch.set_num_threads(1)
    tok, model = backbones.load_smollm()
    text = " ".join((SEEDS / "000_e0349e775a64605f.txt").read_text().split()[:200])
    msgs = [{"role": "user", "content": "Rewrite the following text in your own words:\n\n" + text}]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt")
    if not isinstance(ids, torch.Tensor):
        ids = ids["input_ids"]
    t0 = time.time()
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False)
    dt = time.time() - t0
    n = out.shape[1] - ids.shape[1]
    t1 = time.time()
    with torch.inference_mode():
        model(tok(text, return_tensors="pt")["input_ids"])
    dt2 = time.time() - t1
    r = {"new_tokens": int(n), "seconds": dt, "tokens_per_s": n / dt, "prompt_tokens": int(ids.shape[1]),
         "est_seconds_for_260_token_rewrite": REWRITE_TOKENS / (n / dt), "one_scoring_forward_200_words_s": dt2,
         "rewrite_over_scoring_pass": REWRITE_TOKENS / (n / dt) / dt2,
         "dtype": str(next(model.parameters()).dtype).removeprefix("torch."), "torch_threads": torch.get_num_threads(),
         "load_average_1min": os.getloadavg()[0],  # the timing depends on what else the machine runs
         "sample": tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)[:300]}
    print(json.dumps(r, indent=1))
    dump(r, "rewrite_speed.json", args.out_dir)


if __name__ == "__main__":
    main()
