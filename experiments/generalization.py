"""Generalization of a model to text it never trained on.

    .venv/bin/python experiments/generalization.py --model inference/models/default [--record]

1. PolitiFact++ stories that are not in llmfake (an outlet crawl and a generator setup no shipped
   model trained on), first 200 words: AUROC, TPR at 1% FPR, FPR at the model's 1% threshold,
   through `fabscore evaluate` exactly.
2. --attack-rows of the same articles (half of each label) after every fast attack: attacked machine
   vs unattacked human AUROC, and the FPR of attacked humans for attacks that keep a text human.
3. The seeds: the real seed 000 after every attack that keeps it human-written must stay under the
   1% threshold; the fabricated seed 002 is scored too.
4. Completion models, which no shipped model trained on: gemma-3-270m continuations of news openings
   (`python -m fabscore.training.data.generate`, --generated) against the same PolitiFact++ human pages; and
   OUTFOX essays per generator (text-davinci-003, flan-t5-xxl; gpt-3.5 for comparison) against human
   essays, --essay-rows hash-chosen, first 200 words: within one genre, so the score reads the generator.

Writes experiments/generalization.json (one entry per model). With --record, the PolitiFact++ and
attack tables also go into the model's config.json under "evaluations" and its card is re-rendered
(the manifest is rewritten; heads and weights are untouched).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from common import HERE, REPO, SHARED

from fabscore.models import directory as md
from fabscore.training.data import attacks as atk
from fabscore.training.data import generate
from fabscore.training.data.examples import load, stories_per_group
from fabscore.training.eval.evaluate import evaluate
from fabscore.training.eval.scoring import detector_for
from fabscore.training.fit.feature_cache import FeatureCache

SEEDS = {"real": REPO / "seeds" / "000_e0349e775a64605f.txt", "fabricated": REPO / "seeds" / "002_3ca293cc838cf24e.txt"}


def in_llmfake(ex) -> bool:
    return bool(ex.meta.get("in_llmfake"))


def politifact(model: str, workers: int, attack_rows: int, log) -> dict:
    spec = [str(SHARED / "politifact_pp.clean.jsonl")]
    full = evaluate(model, spec, by=("generator",), max_words=200, workers=workers, exclude=in_llmfake, log=log)
    attacked = evaluate(model, spec, by=("generator",), max_words=200, workers=workers, exclude=in_llmfake,
                        max_rows=attack_rows, attacks=atk.select("fast"), log=log)
    return {"unattacked": full["overall"], "n_abstained": full["n_abstained"], "agreement": full.get("agreement"),
            "attacks_sample": {"max_rows": attack_rows, "overall_unattacked": attacked["overall"],
                               "attacks": {name: attack_summary(a) for name, a in attacked["attacks"].items()}}}


def attack_summary(a: dict) -> dict:
    """One attack's figures from `evaluate --attacks`, with the raw entry."""
    return {"auroc": a["attacked"].get("auroc"),
            "tpr_at_1pct_threshold": (a["attacked"].get("at_threshold_0.01") or {}).get("tpr"),
            "n_machine": a["attacked"].get("n_machine"), "n_human": a["attacked"].get("n_human"),
            "human_fpr_at_1pct": ((a.get("human") or {}).get("fpr_at_0.01") or {}).get("attacked"),
            "n_machine_abstained": a.get("n_machine_abstained"), "n_failed": a.get("n_failed"), "raw": a}


def completions(model: str, workers: int, generated: str | None, essay_rows: int, log) -> dict:
    """Completion-model text against humans of its own genre (item 4 of the docstring). The gemma
    row needs the continuations file (`generated`; None: that row is left out, the essays are not)."""
    def not_gemma_vs_pf_humans(ex) -> bool:
        return in_llmfake(ex) or (ex.label == 1 and ex.source != generate.SOURCE)

    rows, abstained = {}, {}
    if generated:
        news = evaluate(model, [generated, str(SHARED / "politifact_pp.clean.jsonl")], by=("generator",),
                        max_words=200, workers=workers, exclude=not_gemma_vs_pf_humans, log=log)
        rows["gemma-3-270m news continuations vs PolitiFact++ human pages"] = news["overall"]
        abstained["news"] = news["n_abstained"]
    essays = evaluate(model, [str(SHARED / "outfox_essays.clean.jsonl")], by=("generator",), max_words=200,
                      workers=workers, max_rows=essay_rows, log=log)
    by_generator = dict(essays["groups"]["generator"])
    humans = by_generator.pop("human", None)
    rows.update({f"OUTFOX essays: {g} vs human essays": r for g, r in by_generator.items()})
    abstained["essays"] = essays["n_abstained"]
    return {"rows": rows, "n_abstained": abstained, "essay_humans": humans}


def trained_stories(model: str, spec: str) -> set[str]:
    """The story groups of `spec` the model trained on as auxiliary data (re-drawn exactly as
    training drew them), so a table can leave them out."""
    config = md.load(model).config
    aux = config["training_data"].get("auxiliary") or {}
    if not any(Path(s).name == Path(spec).name for s in aux.get("specs", ())):
        return set()
    rows = stories_per_group(load(spec), aux["stories_per_group"], aux["group_field"], f"{config['seed']}:aux")
    return {e.group for e in rows}


def rewrites_2024(model: str, workers: int, rows: int, log) -> dict:
    """2024 models: real texts reworded (l2r_rewrites, stories not trained on) and openings continued
    (glimpse_other, never trained on), per generator against the humans of the same set, first 200 words."""
    l2r = str(SHARED / "l2r_rewrites.clean.jsonl")
    seen = trained_stories(model, l2r)
    reworded = evaluate(model, [l2r], by=("generator",), max_words=200, workers=workers, max_rows=rows,
                        exclude=lambda ex: ex.group in seen, log=log)
    continued = evaluate(model, [str(SHARED / "glimpse_other.clean.jsonl")], by=("generator",), max_words=200,
                         workers=workers, max_rows=rows, log=log)
    out = {}
    for name, res in (("reworded", reworded), ("continued", continued)):
        gens = dict(res["groups"]["generator"])
        humans = gens.pop("human", None)
        out[name] = {"all": res["overall"], **gens, "n_abstained": res["n_abstained"], "humans": humans}
    out["l2r_stories_trained_on_left_out"] = len(seen)
    return out


def seeds(model: str) -> dict:
    det = detector_for(model, FeatureCache())
    t = det.model.threshold(0.01)
    real = SEEDS["real"].read_text()
    out = {"threshold_1pct": t, "fabricated": det.score_one(SEEDS["fabricated"].read_text()).score,
           "real": det.score_one(real).score, "real_attacked": {}}
    for a in atk.ATTACKS.values():
        if a.keeps_human and not a.slow:
            s = det.score_one(a(real, 0)).score
            out["real_attacked"][a.name] = {"score": s, "under_threshold": s is not None and s < t}
    out["real_stays_under_threshold_with_every_human_keeping_attack"] = all(
        v["under_threshold"] for v in out["real_attacked"].values()) and out["real"] < t
    return out


def record(model: str, res: dict) -> None:
    """The PolitiFact++ rows and the attack rows into config['evaluations']; card re-rendered."""
    from fabscore.training.card import refresh

    path = Path(model)
    config = json.loads((path / md.CONFIG).read_text())
    pf = res["politifact_pp"]
    att = {"unattacked (same rows)": pf["attacks_sample"]["overall_unattacked"]}
    for name, a in pf["attacks_sample"]["attacks"].items():
        row = dict(a["raw"]["attacked"])
        row["at_threshold_0.01"] = {"fpr": a["human_fpr_at_1pct"]}
        att[name] = row
    config["evaluations"] = {
        "PolitiFact++ (stories not in llmfake; never trained on), first 200 words": {
            "note": "`fabscore evaluate --data politifact_pp.clean.jsonl --exclude-meta in_llmfake --max-words 200`",
            "rows": {"all": pf["unattacked"]}, **({"agreement": pf["agreement"]} if pf.get("agreement") else {})},
        "PolitiFact++ after attacks (attacked machine vs unattacked human)": {
            "note": (f"{pf['attacks_sample']['max_rows']} articles (half of each label, hash-chosen), first 200 words; "
                     "FPR@t(1%) is the share of attacked **human** articles flagged, for attacks that keep a text "
                     "human-written ('-' for the others). `experiments/generalization.py`"),
            "rows": att}}
    if "rewrites_2024" in res:
        r = res["rewrites_2024"]
        title = "2024 models rewording real texts (l2r_rewrites, stories not trained on), first 200 words"
        config["evaluations"][title] = {
            "note": ("Each generator's rewrites against the human originals of the same set (20 non-news domains; "
                     f"{r['l2r_stories_trained_on_left_out']} stories the model trained on left out). "
                     "`experiments/generalization.py`"),
            "rows": {k: v for k, v in r["reworded"].items() if k not in ("n_abstained", "humans")}}
        config["evaluations"]["2024 models continuing an opening (glimpse_other: stories, PubMed answers; never "
                              "trained on), first 200 words"] = {
            "note": "Each generator against the human texts of the same set. `experiments/generalization.py`",
            "rows": {k: v for k, v in r["continued"].items() if k not in ("n_abstained", "humans")}}
    if "completions" in res:
        rows = res["completions"]["rows"]
        gemma = ("gemma-3-270m continuations of news openings (`python -m fabscore.training.data.generate`) against "
                 "the PolitiFact++ human pages above; " if any(k.startswith("gemma") for k in rows) else
                 "the gemma-3-270m continuation row is left out: this run had no continuations file "
                 "(`python -m fabscore.training.data.generate` makes it); ")
        config["evaluations"]["Completion models (never trained on), first 200 words"] = {
            "note": (gemma + "OUTFOX essays of each generator against human essays (a generator row is scored "
                     "against all human essays). `experiments/generalization.py`"),
            "rows": rows}
    (path / md.CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    md.write_manifest(path)
    refresh(path)  # checks the model against the new manifest, re-renders the card


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--attack-rows", type=int, default=40, help="articles in the attack sample (half of each label)")
    ap.add_argument("--out", default=str(HERE / "generalization.json"))
    ap.add_argument("--record", action="store_true", help="write the tables into the model's config and card")
    ap.add_argument("--generated", default=str(Path.home() / ".cache" / "fabscore" / "generated" / "gemma_news.jsonl"),
                    help="completion-style continuations from `python -m fabscore.training.data.generate` "
                         "(skipped if absent)")
    ap.add_argument("--essay-rows", type=int, default=600, help="OUTFOX essays scored (half of each label)")
    ap.add_argument("--rewrite-rows", type=int, default=800,
                    help="l2r_rewrites and glimpse_other rows scored, each (half of each label, hash-chosen)")
    args = ap.parse_args()

    def log(m):
        print(m, file=sys.stderr, flush=True)

    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.is_file() else {}
    for model in args.model:
        t0 = time.time()
        name = md.load(model).name
        res = {"model": model, "politifact_pp": politifact(model, args.workers, args.attack_rows, log),
               "rewrites_2024": rewrites_2024(model, args.workers, args.rewrite_rows, log),
               "seeds": seeds(model), "load_average_end": os.getloadavg()}
        for part, rows in res["rewrites_2024"].items():
            if isinstance(rows, dict):
                print(f"  {part}: " + ", ".join(f"{g} {v['auroc']:.3f}" for g, v in rows.items()
                                                if isinstance(v, dict) and v.get("auroc") is not None))
        generated = args.generated if Path(args.generated).is_file() else None
        if generated is None:
            log(f"{args.generated}: not found, the gemma continuation row is skipped (the essays are not)")
        res["completions"] = completions(model, args.workers, generated, args.essay_rows, log)
        for k, v in res["completions"]["rows"].items():
            print(f"  {k}: AUROC {v['auroc']:.3f}, TPR at the 1% threshold {v['at_threshold_0.01']['tpr']:.3f}")
        res["seconds"] = round(time.time() - t0, 1)
        results[name] = res
        pf = res["politifact_pp"]["unattacked"]
        print(f"{name}: PolitiFact++ AUROC {pf['auroc']:.3f}, TPR@1%FPR {pf['tpr_at_1pct_fpr']}, "
              f"FPR at 1% threshold {pf['at_threshold_0.01']['fpr']:.3f}")
        for a, v in res["politifact_pp"]["attacks_sample"]["attacks"].items():
            print(f"  {a:18s} AUROC {v['auroc'] if v['auroc'] is None else round(v['auroc'], 3)}  "
                  f"human FPR {v['human_fpr_at_1pct']}")
        print(f"  seeds: real {res['seeds']['real']:.3f}, fabricated {res['seeds']['fabricated']:.3f}, real under "
              f"threshold after every human-keeping attack: "
              f"{res['seeds']['real_stays_under_threshold_with_every_human_keeping_attack']}")
        out_path.write_text(json.dumps(results, indent=2, default=float) + "\n")
        if args.record:
            record(model, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
