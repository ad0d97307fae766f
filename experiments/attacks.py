"""Attacks against a shipped model, on a small held-out sample.

    nice -n 10 .venv/bin/python experiments/attacks.py --stage rewrite --work /tmp/attacks   # SmolLM2 rewrites (slow)
    nice -n 10 .venv/bin/python experiments/attacks.py --stage score --work /tmp/attacks     # everything else

Sample (read from the shared data folder, never copied into the repository), texts cut to
their first 200 words at a sentence end:
- news, machine: llmfake articles the default model did not train on (past its 3,600 hash cap),
  and PolitiFact++ machine articles whose story is not in llmfake;
- news, human: PolitiFact++ human pages whose story is not in llmfake (unseen outlet crawl);
- outfox_essays: text-davinci-003 and flan-t5-xxl essays (completion models) and human essays;
- iu_wiki_en: Wikipedia introductions, human and gpt-3.5-turbo.

It writes experiments/attacks.json: per-attack AUROC of the model (through the same path as
`fabscore evaluate --attacks`), how SmolLM2's rewrites hold up as a paraphrase stand-in, which
LM features invert under character attacks, and a story-grouped logistic-regression check of
robust token aggregates against the shipped ones. Nothing here changes a shipped model.
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

import numpy as np
import torch
from common import HERE, SHARED

from fabscore.features import lm
from fabscore.text.sentences import chunks
from fabscore.training.data import attacks as atk
from fabscore.training.data.examples import cap_machine, load
from fabscore.training.eval.metrics import auroc
from fabscore.training.eval.scoring import cut_text, group_keys, score_examples
from fabscore.training.fit import feature_cache as fc

WORDS = 200
DEFAULT_CAP = 3600  # the default model's --max-machine: llmfake machine rows past it were not trained on


def _pick(rows, n: int, salt: str, min_words: int, max_words: int = 5000):
    ok = [e for e in rows if min_words <= len(e.text.split()) <= max_words]
    return sorted(ok, key=lambda e: hashlib.sha256(f"{salt}:{e.id}".encode()).hexdigest())[:n]


def sample(scale: float = 1.0) -> list[tuple]:
    """[(example, dataset name)] as described in the module docstring."""
    def n(k):
        return max(2, int(k * scale))

    llm = load(str(SHARED / "llmfake.clean.jsonl"))
    trained = {e.id for e in cap_machine(llm, DEFAULT_CAP, 0) if e.label == 1}
    pp = [e for e in load(str(SHARED / "politifact_pp.clean.jsonl")) if not e.meta.get("in_llmfake")]
    fox = load(str(SHARED / "outfox_essays.clean.jsonl"))
    wiki = load(str(SHARED / "iu_wiki_en.clean.jsonl"))
    unseen = [e for e in llm if e.label == 1 and e.id not in trained]
    out = [(e, "llmfake") for e in _pick(unseen, n(50), "atk", 150, 800)]
    out += [(e, "politifact_pp") for e in _pick([e for e in pp if e.label == 1], n(20), "atk", 150)]
    out += [(e, "politifact_pp") for e in _pick([e for e in pp if e.label == 0], n(50), "atk", 150)]
    for gen in ("text-davinci-003", "flan-t5-xxl"):
        out += [(e, "outfox_essays") for e in _pick([e for e in fox if e.generator == gen], n(20), "atk", 120)]
    out += [(e, "outfox_essays") for e in _pick([e for e in fox if e.label == 0], n(25), "atk", 120)]
    out += [(e, "iu_wiki_en") for lab in (0, 1) for e in _pick([e for e in wiki if e.label == lab], n(20), "atk", 120)]
    return out


# ---------------------------------------------------------------- SmolLM2 rewrites
CONTENT = re.compile(r"[a-z0-9]+")


def content_words(s: str) -> set[str]:
    return {w for w in CONTENT.findall(s.lower()) if w not in atk._STOP and len(w) > 2}


def rewrite_stage(work: Path, n_para: int, n_polish: int) -> None:
    cache = fc.FeatureCache(work / "features")
    machines = [e for e, d in sample() if e.label == 1 and d == "llmfake"]
    out = {}
    for mode, n in (("paraphrase", n_para), ("polish", n_polish)):
        arts = []
        t0 = time.time()
        for e in machines[:n]:
            text = cut_text(e.text, WORDS, cache)
            attacked, rows = atk._rewrite(text, mode)
            arts.append({"id": e.id, "text": text, "attacked": attacked,
                         "rows": [{"original": o, "rewrite": r, "degenerate": why} for o, r, why in rows]})
            print(f"{mode} {len(arts)}/{n} {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        out[mode] = {"seconds": time.time() - t0, "articles": arts}
        (work / "rewrites.json").write_text(json.dumps(out, indent=1))


def rewrite_usability(arts: list[dict]) -> dict:
    """Degenerate rewrites are judged by today's attacks.degenerate (the scored texts kept
    the rewrites that the rule of their run let through: `degenerate_share_as_scored`)."""
    rows = [dict(r, degenerate=atk.degenerate(r["original"], r["rewrite"]), as_scored=r["degenerate"])
            for a in arts for r in a["rows"]]
    why = [r["degenerate"] for r in rows]
    ok = [r for r in rows if not r["degenerate"]]

    def norm(s):
        return " ".join(s.split()).strip().lower()

    changed = [r for r in ok if norm(r["rewrite"]) != norm(r["original"])]
    recall = [len(content_words(r["original"]) & content_words(r["rewrite"]))
              / max(len(content_words(r["original"])), 1)
              for r in ok]
    new = [len(content_words(r["rewrite"]) - content_words(r["original"])) / max(len(content_words(r["rewrite"])), 1)
           for r in ok]
    lens = [len(r["rewrite"].split()) / max(len(r["original"].split()), 1) for r in ok]
    return {"articles": len(arts), "sentences": len(rows),
            "degenerate_share": sum(w is not None for w in why) / max(len(rows), 1),
            "degenerate_share_as_scored": sum(r["as_scored"] is not None for r in rows) / max(len(rows), 1),
            "degenerate_by_reason": {k: why.count(k) for k in sorted({w for w in why if w})},
            "changed_share_of_all": len(changed) / max(len(rows), 1),
            "content_word_recall_mean": float(np.mean(recall)) if recall else None,
            "content_word_recall_below_0.5_share": float(np.mean(np.array(recall) < 0.5)) if recall else None,
            "new_content_word_share_mean": float(np.mean(new)) if new else None,
            "length_ratio_median": float(np.median(lens)) if lens else None}  # no texts: the data stays out of the repo


# ---------------------------------------------------------------- token statistics, kept as they are computed
STATS: dict[str, dict[str, np.ndarray]] = {}


def text_key(norm: str) -> str:
    return hashlib.sha256(norm.encode("utf-8", "surrogatepass")).hexdigest()


def record_token_statistics() -> None:
    """Keep each article's per-token statistics (keyed by its normalized text) while the
    feature cache computes them, for the robust-aggregate check: one forward pass serves both."""
    last = {}
    orig_ts, orig_fk = lm.token_statistics, fc.featurize_kind

    def ts(ids, model):
        last["st"] = orig_ts(ids, model)
        return last["st"]

    def fk(article, kind, encoder=None):
        blocks = orig_fk(article, kind, encoder)
        if kind == "lm":
            STATS[text_key(article.norm)] = last.pop("st")
        return blocks

    lm.token_statistics, fc.featurize_kind = ts, fk


def robust_aggregates(st: dict[str, np.ndarray]) -> np.ndarray:
    """Order statistics and top-k shares: one typo moves few of them much (a mean of log p
    is dragged by the handful of tokens a typo makes very unlikely)."""
    logp, rank, ent = st["logp"], st["rank"], st["entropy"]
    lo, hi = np.quantile(logp, [0.1, 0.9])
    return np.array([logp[(logp >= lo) & (logp <= hi)].mean(), np.maximum(logp, -8.0).mean(),
                     *np.quantile(logp, [0.25, 0.5, 0.75]), *[(rank <= k).mean() for k in (1, 5, 10, 50)],
                     np.median(np.log(rank)), np.median(ent), np.quantile(ent, 0.25)])


ROBUST_NAMES = ["trimmed10_logp", "clipped8_logp", "q25_logp", "q50_logp", "q75_logp", "top1", "top5", "top10",
                "top50", "median_logrank", "median_entropy", "q25_entropy"]


def grouped_lr_check(X: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, seed: int = 0) -> dict:
    """X[attack] rows align with y; fit on unattacked rows of 4/5 of the story groups,
    score the other fifth's attacked machine rows against its unattacked human rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    oof = {a: np.full(len(y), np.nan) for a in X}
    for tr, te in GroupKFold(5).split(X["none"], y, groups):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(X["none"][tr], y[tr])
        for a in X:
            ok = te[~np.isnan(X[a][te]).any(1)]
            oof[a][ok] = clf.decision_function(X[a][ok])
    out = {}
    h = (y == 0) & ~np.isnan(oof["none"])
    for a in X:
        m = (y == 1) & ~np.isnan(oof[a])
        out[a] = auroc(np.r_[np.zeros(h.sum()), np.ones(m.sum())], np.r_[oof["none"][h], oof[a][m]])
    return out


def attack_subset(pairs: list[tuple], share: float) -> list[bool]:
    """The first `share` of each (dataset, label, generator) group of the sample (groups are
    already in hash order): the rows that get attacked when scoring time is short."""
    seen: dict[tuple, int] = {}
    sizes: dict[tuple, int] = {}
    for e, d in pairs:
        sizes[(d, e.label, e.generator)] = sizes.get((d, e.label, e.generator), 0) + 1
    mask = []
    for e, d in pairs:
        k = (d, e.label, e.generator)
        seen[k] = seen.get(k, 0) + 1
        mask.append(seen[k] <= max(1, round(share * sizes[k])))
    return mask


def score_stage(work: Path, model: str | None, out_path: Path, scale: float, attack_share: float = 1.0) -> None:
    from fabscore.detector import Detector
    from fabscore.models import directory as md
    from fabscore.training.card import table
    from fabscore.training.eval.attacks import attack_report, attack_rows

    torch.set_num_threads(1)
    record_token_statistics()
    cache = fc.FeatureCache(work / "features")
    detector = Detector(md.load(model))
    pairs = sample(scale)
    examples = [e for e, _ in pairs]
    keys = [group_keys(e, d) for e, d in pairs]
    t0 = time.time()
    base = score_examples(detector, examples, cache, WORDS, 1)
    print(f"base: {len(examples)} articles in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    fast = [a for a in atk.ATTACKS.values() if not a.slow]

    def log(m):
        print(m, file=sys.stderr, flush=True)

    save_stats(work / "stats.npz")
    mask = attack_subset(pairs, attack_share)
    log(f"attacking {int(sum(m and e.label == 1 for m, e in zip(mask, examples)))} machine and "
        f"{int(sum(m and e.label == 0 for m, e in zip(mask, examples)))} human articles")
    report = {}
    for a in fast:  # one at a time, saved as it goes: a stopped run keeps what it measured
        report.update(attack_report(detector, examples, keys, base, cache, WORDS, 1, [a], by=("dataset", "generator"),
                                    log=log, attack_rows_mask=mask))
        save_stats(work / "stats.npz")
        (work / "scored.json").write_text(json.dumps({"report": report, "usability": {},
                                                      "base_scores": [r["score"] for r in base]}, default=float))
    rw_path = work / "rewrites.json"
    rewrites = json.loads(rw_path.read_text()) if rw_path.is_file() else {}
    usability = {}
    for mode, blob in rewrites.items():
        usability[mode] = rewrite_usability(blob["articles"])
        usability[mode]["seconds_per_article"] = blob["seconds"] / max(len(blob["articles"]), 1)
        done = {a["text"]: a["attacked"] for a in blob["articles"]}
        keep = [i for i, e in enumerate(examples) if e.label == 0 or cut_text(e.text, WORDS, cache) in done]
        log(f"{mode}: {sum(examples[i].label == 1 for i in keep)} rewritten machine articles")
        stand_in = atk.Attack(mode, "rewrite", lambda t, s=0, d=done: d[t], undone_by_normalize=False,
                              keeps_human=False, slow=True)
        report.update(attack_report(detector, [examples[i] for i in keep], [keys[i] for i in keep],
                                    [base[i] for i in keep], cache, WORDS, 1, [stand_in], by=("dataset",), log=log))
    columns = ("undone", "auroc_before", "auroc", "tpr_at_1pct_fpr", "tpr_at_threshold", "human_fpr_before",
               "abstained", "failed")
    log("\nall attacks:\n" + table(attack_rows(report), columns))
    save_stats(work / "stats.npz")
    (work / "scored.json").write_text(json.dumps({"report": report, "usability": usability,
                                                        "base_scores": [r["score"] for r in base]}, default=float))
    analyze(work, detector, cache, pairs, report, usability, [r["score"] for r in base], out_path, t0, scale)


def save_stats(path: Path) -> None:
    """STATS (merged with what an earlier run saved) as arrays, so the analysis can be re-run without scoring."""
    if path.is_file():
        STATS.update({k: v for k, v in load_stats(path).items() if k not in STATS})
    arrays = {f"{k}.{name}": v for k, st in STATS.items() for name, v in st.items()}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_stats(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Keyed by text_key of the normalized text."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path, allow_pickle=False) as z:
        for name in z.files:
            k, field = name.split(".")
            out.setdefault(k, {})[field] = z[name]
    return out


def feature_inversion(X_lm: dict, X_rob: dict, y: np.ndarray, scope: np.ndarray) -> dict[str, dict]:
    """Per feature: class means, and its AUROC alone (machine vs unattacked human) before and
    after each attack; 'inverts' when the attack moves the AUROC to the other side of 0.5."""
    out = {}
    for j, fname in enumerate([*lm.LM_FEATURES, *ROBUST_NAMES]):
        col = {a: np.c_[X_lm[a], X_rob[a]][:, j] for a in X_lm}
        h0 = col["none"][(y == 0) & scope & ~np.isnan(col["none"])]
        m0 = col["none"][(y == 1) & scope & ~np.isnan(col["none"])]
        row = {"human_mean": float(h0.mean()) if len(h0) else None,
               "machine_mean": float(m0.mean()) if len(m0) else None,
               "auroc_unattacked": auroc(np.r_[np.zeros(len(h0)), np.ones(len(m0))], np.r_[h0, m0])}
        for a in [k for k in col if k != "none"]:
            h = col[a][(y == 0) & scope & ~np.isnan(col[a])]
            m = col[a][(y == 1) & scope & ~np.isnan(col[a])]
            row[f"machine_mean_{a}"] = float(m.mean()) if len(m) else None
            row[f"human_mean_{a}"] = float(h.mean()) if len(h) else None
            row[f"auroc_{a}"] = auroc(np.r_[np.zeros(len(h0)), np.ones(len(m))], np.r_[h0, m])
            same = col["none"][(y == 1) & scope & ~np.isnan(col[a])]  # the attacked rows, unattacked
            row[f"auroc_unattacked_rows_of_{a}"] = before = auroc(np.r_[np.zeros(len(h0)), np.ones(len(same))],
                                                                 np.r_[h0, same])
            after = row[f"auroc_{a}"]
            row[f"inverts_{a}"] = None if before is None or after is None else bool((before - 0.5) * (after - 0.5) < 0)
        out[fname] = row
    return out


def analyze(work, detector, cache, pairs, report, usability, base_scores, out_path, t0, scale, fill=False) -> None:
    """fill: compute the token statistics a score run did not record (its features came from the cache)
    for the unattacked texts and the attacked ones that were scored."""
    from fabscore.training.eval.attacks import attack_rows

    stats = load_stats(work / "stats.npz")

    def log(m):
        print(m, file=sys.stderr, flush=True)

    if (work / "rewrites.json").is_file():
        for mode, blob in json.loads((work / "rewrites.json").read_text()).items():
            usability[mode] = dict(rewrite_usability(blob["articles"]),
                                   seconds_per_article=blob["seconds"] / max(len(blob["articles"]), 1))
    examples = [e for e, _ in pairs]

    # which LM features invert, and robust aggregates, from the statistics computed above
    y = np.array([e.label for e in examples])
    groups = np.array([f"{d}/{e.group}" for e, d in pairs])
    texts = [cut_text(e.text, WORDS, cache) for e in examples]
    feats = {"none": texts}
    for name in ("char_typos", "char_spacing", "word_synonym", "word_delete"):
        feats[name] = [atk.ATTACKS[name](t, 0) if (e.label == 1 or atk.ATTACKS[name].keeps_human) else None
                       for e, t in zip(examples, texts)]
    X_lm, X_rob = {}, {}
    for name, tx in feats.items():
        lm_rows, rob_rows = [], []
        for t in tx:
            piece = chunks(cache.prepare(t), detector.chunk_words)[0] if t else None
            st = stats.get(text_key(piece.norm)) if piece is not None else None
            if st is None and piece is not None and fill and (name == "none" or cache.has("lm", piece)):
                fc.featurize_kind(piece, "lm")  # recorded by the hook; the features themselves are cached
                st = stats[text_key(piece.norm)] = STATS[text_key(piece.norm)]
            block = cache.get("lm", piece) if piece is not None else None  # the shipped aggregates, as scored
            lm_rows.append(block["lm"] if block is not None else np.full(len(lm.LM_FEATURES), np.nan))
            rob_rows.append(robust_aggregates(st) if st is not None and len(st["logp"])
                            else np.full(len(ROBUST_NAMES), np.nan))
        X_lm[name], X_rob[name] = np.array(lm_rows), np.array(rob_rows)
    if fill and STATS:
        save_stats(work / "stats.npz")
    news = np.array([d in ("llmfake", "politifact_pp") for _, d in pairs])
    inversion = {"all": feature_inversion(X_lm, X_rob, y, np.ones(len(y), bool)),
                 "news (llmfake + PolitiFact++ machine vs PolitiFact++ human)": feature_inversion(X_lm, X_rob, y, news)}
    ok = ~np.isnan(X_lm["none"]).any(1) & ~np.isnan(X_rob["none"]).any(1)
    log(f"token statistics found for {int(ok.sum())} of {len(ok)} unattacked articles")
    lr = ({name: grouped_lr_check({a: X[a][ok] for a in X}, y[ok], groups[ok])
           for name, X in (("shipped_lm_aggregates", X_lm), ("robust_aggregates", X_rob),
                           ("both", {a: np.c_[X_lm[a], X_rob[a]] for a in X_lm}))}
          if min((y[ok] == 0).sum(), (y[ok] == 1).sum()) >= 15
          else {"skipped": f"token statistics for {int(ok.sum())} rows"})
    log("\nstory-grouped LR on LM statistics only (fit unattacked, AUROC attacked machine vs unattacked human):")
    log(f"  {lr}")
    result = {"model": detector.model_id, "words": WORDS, "scale": scale,
              "sample": {d: {"human": sum(1 for e, dd in pairs if dd == d and e.label == 0),
                             "machine": sum(1 for e, dd in pairs if dd == d and e.label == 1)}
                         for d in sorted({d for _, d in pairs})},
              "unattacked_abstained": sum(v is None for v in base_scores),
              "attacks": report, "table": attack_rows(report), "rewrite_usability": usability,
              "lm_feature_inversion": inversion, "lr_check_lm_only": lr,
              "load_average_end": os.getloadavg(), "seconds": time.time() - t0}
    out_path.write_text(json.dumps(result, indent=1, default=float) + "\n")
    log(f"wrote {out_path} after {time.time() - t0:.0f} s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=("rewrite", "score", "analyze"), required=True,
                   help="analyze: redo the feature analysis from a score run's saved work folder")
    p.add_argument("--work", type=Path, required=True, help="scratch folder: feature cache, rewrites.json")
    p.add_argument("--model", default=None, help="model directory (default: the shipped default model)")
    p.add_argument("--out", type=Path, default=HERE / "attacks.json")
    p.add_argument("--scale", type=float, default=1.0, help="sample size factor (0.1 for a smoke run)")
    p.add_argument("--attack-share", type=float, default=1.0,
                   help="attack only this share of each group (all unattacked humans stay negatives)")
    p.add_argument("--n-paraphrase", type=int, default=20)
    p.add_argument("--n-polish", type=int, default=10)
    args = p.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage == "rewrite":
        torch.set_num_threads(1)
        rewrite_stage(args.work, args.n_paraphrase, args.n_polish)
    elif args.stage == "score":
        score_stage(args.work, args.model, args.out, args.scale, args.attack_share)
    else:
        from fabscore.detector import Detector
        from fabscore.models import directory as md

        torch.set_num_threads(1)
        record_token_statistics()
        saved = json.loads((args.work / "scored.json").read_text())
        analyze(args.work, Detector(md.load(args.model)), fc.FeatureCache(args.work / "features"), sample(args.scale),
                saved["report"], saved["usability"], saved["base_scores"], args.out, time.time(), args.scale, fill=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
