"""Does SmolLM2's reading of claim given passage carry support to sets it never saw?

For a subsample of every human-labelled set (whole groups), each claim's tokens are scored by
SmolLM2-135M twice: after its passage (the TOP_K source sentences nearest the claim, best first, as
scoring retrieves them) and after nothing. Features: mean / min / 10th percentile of the conditional
log-probability, the same of the gain over the unconditioned pass (pointwise mutual information),
the share of tokens the passage makes more likely, and the share it makes much less likely.
Then leave-one-dataset-out logistic regressions on these, on today's overlap features, and on both.

    python experiments/verifier/lm_probe.py --per-dataset 300 --out experiments/verifier/lm_probe.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

from fabscore.models.backbones import load_smollm
from fabscore.text.normalize import normalize
from fabscore.training.evidence import human_pairs as H
from fabscore.training.evidence import human_passages as F

LM_FEATURES = ("cond_mean", "cond_min", "cond_p10", "pmi_mean", "pmi_min", "pmi_p10", "share_gain", "share_loss")
PASSAGE_MAX = 192


def token_logps(model, ids: list[list[int]], starts: list[int]) -> list[np.ndarray]:
    """Log-probability of each token from starts[i] on, for each sequence (batched, right-padded)."""
    width = max(len(x) for x in ids)
    inp = torch.zeros((len(ids), width), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        inp[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
    with torch.inference_mode():
        logits = model(input_ids=inp, attention_mask=mask).logits.float()
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, inp[:, 1:, None])[..., 0].numpy()
    return [lp[i, s - 1:len(x) - 1] for i, (x, s) in enumerate(zip(ids, starts))]


def lm_features(claims: list[str], passages: list[str], log) -> np.ndarray:
    tok, model = load_smollm()
    out = np.zeros((len(claims), len(LM_FEATURES)))
    sep = tok("\n\n", add_special_tokens=False)["input_ids"]
    t = time.monotonic()
    items = []
    for c, p in zip(claims, passages):
        cid = tok(" " + normalize(c), add_special_tokens=False)["input_ids"][:64]
        pid = tok(normalize(p), add_special_tokens=False)["input_ids"][:PASSAGE_MAX]
        items.append((pid + sep + cid, len(pid) + len(sep), sep + cid, len(sep)))
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    for b in range(0, len(order), 8):
        rows = order[b:b + 8]
        cond = token_logps(model, [items[i][0] for i in rows], [items[i][1] for i in rows])
        free = token_logps(model, [items[i][2] for i in rows], [items[i][3] for i in rows])
        for i, lc, lf in zip(rows, cond, free):
            g = lc - lf
            out[i] = [lc.mean(), lc.min(), np.quantile(lc, 0.1), g.mean(), g.min(), np.quantile(g, 0.1),
                      (g > 0.5).mean(), (g < -0.5).mean()]
        if b % 400 == 0:
            log(f"lm features {b}/{len(items)} ({time.monotonic() - t:.0f} s)")
    return out


def lodo(X, y, ds, fam, C=0.3):
    res = {}
    for held in H.REPORTED:
        te = ds == held
        if not te.any():
            continue
        tr = (fam != fam[te][0]) & ~np.isin(ds, ["qags_cnndm", "climate_fever"])
        sc = StandardScaler().fit(X[tr])
        lr = LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(sc.transform(X[tr]), y[tr])
        p = lr.predict_proba(sc.transform(X[te]))[:, 1]
        res[held] = {"n": int(te.sum()), "auroc": round(float(roc_auc_score(y[te], p)), 4),
                     "bacc": round(float(balanced_accuracy_score(y[te], p >= 0.5)), 4)}
    res["mean_auroc"] = round(float(np.mean([v["auroc"] for v in res.values()])), 4)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-dataset", type=int, default=300)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(2)
    log = lambda m: print(m, flush=True)  # noqa: E731
    pairs = H.load(per_dataset=2500, seed=0)
    passages, overlap = F.build(pairs, log=log)  # the cached passages of the verifier's training pairs
    ds = np.array([p.dataset for p in pairs])
    rng = np.random.default_rng(0)
    keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(ds == d))[:a.per_dataset] for d in np.unique(ds)]))
    sub = [pairs[i] for i in keep]
    L = lm_features([p.claim for p in sub], [passages[i] for i in keep], log)
    y = np.array([p.label for p in sub])
    d, fam = ds[keep], np.array([p.family for p in sub])
    Xo = overlap[keep]
    res = {"n": len(sub), "per_dataset": a.per_dataset}
    for name, X in (("overlap", Xo), ("lm", L), ("overlap+lm", np.hstack([Xo, L]))):
        res[name] = lodo(X, y, d, fam)
        print(name, json.dumps(res[name]), flush=True)
    if a.out:
        a.out.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
