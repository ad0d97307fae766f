"""Do completion-style news continuations made here (gemma-3-270m, `fabscore.training.data.generate`)
teach the detector what chat-model data cannot: completion models' text?

    .venv/bin/python -m fabscore.training.data.generate \
        --data ../shared/data/{llmfake,aiclf_news,iu_news,usnews_mar2023_human}.clean.jsonl \
        --out ~/.cache/fabscore/generated/gemma_news.jsonl
    .venv/bin/python experiments/completions_ablation.py [--generated PATH] [--max-rows 2000]

Two heads on `lmdist` + style (--features; embed,style for the fast model) with the default model's
recipe (the four news sets, at most --max-rows per set, attacked copies of half the rows): without and
with the generated continuations (and their attacked copies). Both are measured on
- story-grouped CV over the real news rows that both share (the generated rows are out of these
  folds' metrics), AUROC / TPR at 1% FPR, and FPR per human source at the 1% threshold;
- PolitiFact++ stories not in llmfake (unseen outlet), and after each attack;
- completion models never trained on: OUTFOX essays by text-davinci-003 and by flan-t5-xxl, each
  against OUTFOX human essays (and gpt-3.5 essays, a chat model, for comparison), first 200 words,
  at most --essays per class. Within one genre, so the score reads the generator, not the genre;
- the generated continuations against the news humans (out of fold where trained on, else never seen).
The third variant keeps the news-only head and adds a second head (news humans against the
continuations); an article's score is the higher of the two, and the 1% threshold is chosen on that.
Writes experiments/completions_ablation.json. Nothing is asserted.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from common import SHARED, parser
from generalization_ablation import NEWS, PF_ATTACKS, attacked_auroc, matrix, politifact_rows

from fabscore.training.data.augment import DEFAULT_AUGMENT
from fabscore.training.data.examples import cap_rows, load
from fabscore.training.eval.metrics import auroc, threshold_for_fpr, tpr_at_fpr
from fabscore.training.fit.feature_cache import FeatureCache, fill
from fabscore.training.fit.heads import fit_head
from fabscore.training.train import TrainSettings, feature_matrices, prepare_examples


def main() -> int:
    ap = parser(__doc__, "completions_ablation.json", max_rows=2000, share=0.5)
    ap.add_argument("--generated", default=str(Path.home() / ".cache/fabscore/generated/gemma_news.jsonl"))
    ap.add_argument("--essays", type=int, default=150)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--features", default="lmdist,style", help="feature kinds (the fast model: embed,style)")
    args = ap.parse_args()
    kinds = tuple(args.features.split(","))
    t0 = time.time()
    cache = FeatureCache()
    settings = TrainSettings(max_rows=args.max_rows, augment=DEFAULT_AUGMENT, augment_share=args.share)
    prep = prepare_examples([str(SHARED / f"{d}.clean.jsonl") for d in NEWS] + [args.generated], settings, cache)
    X, _ = feature_matrices(prep, kinds, cache, workers=args.workers)
    y, groups, aug = prep.y, prep.groups, prep.augmented
    gen = np.array([d == Path(args.generated).stem for d in prep.dataset])
    src = prep.keys("source")

    pf = politifact_rows(cache, settings.chunk_words, args.workers)  # unseen outlet, clean and attacked
    # completion models within one genre
    essays = load(str(SHARED / "outfox_essays.clean.jsonl"))
    ess = {"human": cap_rows([e for e in essays if e.label == 0], args.essays, "essays")}
    for g in ("davinci", "flan", "gpt-3.5"):
        ess[g] = cap_rows([e for e in essays if e.label == 1 and g in (e.generator or "")], args.essays, "essays")
    ess = {k: [cache.prepare(e.text, settings.chunk_words) for e in v] for k, v in ess.items()}
    fill([a for arts, _ in pf.values() for a in arts] + [a for v in ess.values() for a in v], kinds, cache,
         workers=args.workers, desc="featurizing tests")
    pf_X = {k: matrix(a, cache, kinds) for k, (a, _) in pf.items()}
    ess_X = {k: matrix(v, cache, kinds) for k, v in ess.items()}

    out = {"features": list(kinds),
           "rows": {"real_news": int((~aug & ~gen).sum()), "generated": int((~aug & gen).sum()),
                    "copies": int(aug.sum()), "essays_per_class": {k: len(v) for k, v in ess.items()}},
           "variants": {}}

    def one_head(rows: np.ndarray):
        """A head fitted on rows: out-of-fold scores there, the final head's scores elsewhere."""
        fit = fit_head(X[rows], y[rows], groups[rows], augmented=aug[rows], fprs=(0.01,))
        oof = fit.head.predict_proba(X)[:, 1]
        oof[rows] = fit.oof
        return oof, (lambda M: fit.head.predict_proba(M)[:, 1]), fit.C

    news_only = one_head(~gen)
    completion = one_head(gen | (~gen & (y == 0)))
    # Leave one generator family out, within news: the news-only head never saw a completion model
    # (its score on the continuations, above as "generated"), and the completion head never saw a chat model.
    real_news, real_gen = ~aug & ~gen, ~aug & gen
    news_humans = real_news & (y == 0)
    out["leave_one_family_out_news"] = {
        "completion model held out (trained on chat models): continuations vs news humans":
            attacked_auroc(news_only[0][news_humans], news_only[0], real_gen.astype(int)),
        "chat model held out (trained on continuations): chat-model news vs news humans":
            attacked_auroc(completion[0][news_humans], completion[0], (real_news & (y == 1)).astype(int))}
    print(out["leave_one_family_out_news"], flush=True)
    variants = {"news only": news_only, "news + gemma continuations": one_head(np.ones(len(y), bool)),
                "two heads, the higher score: news only | news humans vs gemma continuations": (
                    np.maximum(news_only[0], completion[0]),
                    lambda M: np.maximum(news_only[1](M), completion[1](M)), None)}
    for name, (oof, score, C) in variants.items():
        t = threshold_for_fpr(oof[news_humans], 0.01)
        res = {"C": C, "cv_auroc_news": auroc(y[real_news], oof[real_news]),
               "cv_tpr_at_1pct_fpr_news": tpr_at_fpr(y[real_news], oof[real_news], 0.01), "threshold_1pct": t,
               "cv_fpr_at_threshold_by_source": {s: float((oof[real_news & (src == s) & (y == 0)] >= t).mean())
                                                 for s in sorted(set(src[real_news & (y == 0)].tolist()))}}
        res["generated_vs_news_humans"] = attacked_auroc(oof[news_humans], oof, real_gen.astype(int))
        res["generated_tpr_at_threshold"] = float((oof[real_gen] >= t).mean())
        p = score(pf_X["none"])
        yc = pf["none"][1]
        res["politifact_pp"] = {"auroc": auroc(yc, p), "tpr_at_1pct_fpr": tpr_at_fpr(yc, p, 0.01),
                                "fpr_at_threshold": float((p[yc == 0] >= t).mean())}
        hum = p[yc == 0]  # the unattacked PolitiFact++ humans every attack is measured against
        res["politifact_pp_attacked"] = {}
        for a in PF_ATTACKS:
            ya = pf[a][1]
            pa = score(pf_X[a])
            res["politifact_pp_attacked"][a] = attacked_auroc(hum, pa, ya)
        ph = score(ess_X["human"])
        res["essays_vs_human_essays"] = {}
        for g in ("davinci", "flan", "gpt-3.5"):
            pg = score(ess_X[g])
            res["essays_vs_human_essays"][g] = {
                "auroc": auroc(np.r_[np.zeros(len(ph)), np.ones(len(pg))], np.r_[ph, pg]),
                "tpr_at_news_threshold": float((pg >= t).mean())}
        res["human_essays_fpr_at_news_threshold"] = float((ph >= t).mean())
        out["variants"][name] = res
        e = res["essays_vs_human_essays"]
        print(f"{name}: CV {res['cv_auroc_news']:.3f}/{res['cv_tpr_at_1pct_fpr_news']:.3f} "
              f"PF++ {res['politifact_pp']['auroc']:.3f}/{res['politifact_pp']['tpr_at_1pct_fpr']:.3f}/"
              f"{res['politifact_pp']['fpr_at_threshold']:.3f} attacked "
              + " ".join(f"{v:.3f}" for v in res["politifact_pp_attacked"].values())
              + f"; essays davinci {e['davinci']['auroc']:.3f} flan {e['flan']['auroc']:.3f}"
              + f" gpt-3.5 {e['gpt-3.5']['auroc']:.3f}"
              + f"; FPR by source {res['cv_fpr_at_threshold_by_source']}"
              + f"; generated {res['generated_vs_news_humans']:.3f} (TPR@t {res['generated_tpr_at_threshold']:.3f})",
              flush=True)
    out["seconds"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
