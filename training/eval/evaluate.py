"""`fabscore evaluate`: a model's metrics on labelled data, per group, with plots.

Scores go through the Detector exactly as `fabscore score` does (every chunk of
every article), with features read from and written to the training cache.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from fabscore.detector import Detector
from fabscore.training.card import agreement_table, table
from fabscore.training.data.examples import Fields, cap_rows, load
from fabscore.training.data.generators import dataset_name
from fabscore.training.eval.metrics import group_summaries, min_humans, summary
from fabscore.training.eval.scoring import detector_for, group_keys, score_examples
from fabscore.training.fit.feature_cache import FeatureCache


def _count(n: int, of: int) -> dict:
    return {"n": n, "of": of, "share": n / of if of else None}


def agreement(results: list[dict], labels: list[int]) -> dict:
    """Do article and sentence scores tell the same story? Over the scored articles with sentence
    scores (results: records or ArticleScore.as_dict; labels: their true labels, 1 = machine), rows
    of {n, of, share} (AGREEMENT_ROWS says what each counts), and the rank correlation of the article
    score with its highest sentence score."""
    pairs = [(r, y) for r, y in zip(results, labels) if r["score"] is not None and r["sentences"]]

    def flagged(r: dict) -> bool:
        return any(s["flagged"] for s in r["sentences"])

    fab = [r for r, _ in pairs if r["label"] == "fabricated"]
    humans = [r for r, y in pairs if y == 0]
    kept = [r for r in humans if r["label"] == "human"]
    missed = [r for r, y in pairs if y == 1 and r["label"] == "human"]
    sents = [s for r in kept for s in r["sentences"]]
    return {"n_articles": len(pairs),
            "driver_threshold": next((r.get("driver_threshold") for r, _ in pairs), None),
            "labelled_fabricated": _count(len(fab), len(pairs)),
            "fabricated_with_flagged_sentence": _count(sum(map(flagged, fab)), len(fab)),
            "fabricated_with_flagged_or_driver_sentence": _count(
                sum(any(s["flagged"] or s.get("driver") for s in r["sentences"]) for r in fab), len(fab)),
            "human_labelled_human": _count(len(kept), len(humans)),
            "human_labelled_human_sentences_flagged": _count(sum(bool(s["flagged"]) for s in sents), len(sents)),
            "machine_labelled_human": _count(len(missed), len(pairs) - len(humans)),
            "machine_labelled_human_with_flagged_sentence": _count(sum(map(flagged, missed)), len(missed)),
            "spearman_article_vs_max_sentence": _spearman([r["score"] for r, _ in pairs],
                                                          [max(s["score"] for s in r["sentences"]) for r, _ in pairs])}


def _spearman(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) > 2 else None


def plots(y: np.ndarray, p: np.ndarray, thresholds: list[dict], out: Path) -> list[str]:
    """roc.png (RocCurveDisplay, log FPR, target FPRs dotted), reliability.png
    (CalibrationDisplay, 10 equal-width bins as metrics.ece) and histogram.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import RocCurveDisplay

    def save(fig, name: str) -> str:
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        return name

    fig, ax = plt.subplots(figsize=(5, 4))
    RocCurveDisplay.from_predictions(y, p, ax=ax, name="model")
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1)
    ax.set_title("ROC (false-positive rate on a log axis)")
    for th in thresholds:
        ax.axvline(th["target_fpr"], ls=":", c="grey")
    files = [save(fig, "roc.png")]

    fig, ax = plt.subplots(figsize=(5, 4))
    CalibrationDisplay.from_predictions(y, p, n_bins=10, strategy="uniform", ax=ax, name="model")
    ax.set_title("Reliability")
    files.append(save(fig, "reliability.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.hist(p[y == 0], bins=40, range=(0, 1), alpha=0.6, label="human")
    ax.hist(p[y == 1], bins=40, range=(0, 1), alpha=0.6, label="machine")
    for th in thresholds:
        ax.axvline(th["threshold"], ls=":", c="k")
    ax.set_yscale("log")
    ax.set_xlabel("score")
    ax.legend()
    ax.set_title("Scores by class")
    files.append(save(fig, "histogram.png"))
    return files


def fpr_warnings(report: dict, thresholds: dict[float, float], factor: float = 2.0) -> list[str]:
    """A warning per stored threshold whose measured false-positive rate on these human
    articles exceeds `factor` times its target: the threshold does not hold on this data."""
    out = []
    overall = report["overall"]
    for fpr in thresholds:
        a = overall.get(f"at_threshold_{fpr:g}") or {}
        if a.get("fpr") is not None and a["fpr"] > factor * fpr:
            flagged = round(a["fpr"] * overall["n_human"])
            out.append(f"WARNING: at the threshold for a {fpr:.2%} false-positive rate, {flagged} of "
                       f"{overall['n_human']} human articles ({a['fpr']:.2%}) were flagged, more than {factor:g}x the "
                       "target: on data like this the model's flags are less reliable than its card says")
    return out


def evaluate(model: str | None, specs: list[str], by: tuple[str, ...] = ("source", "generator"),
             out: str | None = None, fields: Fields = Fields(), max_words: int | None = None, workers: int = 1,
             cache_dir: str | None = None, exclude=None, max_rows: int | None = None,
             log=lambda m: print(m, file=sys.stderr), attacks: list | None = None,
             evidence: dict | None = None, generator_map: dict | None = None) -> dict:
    """Metrics of `model` on `specs` (at most max_rows per SPEC, half of each label where
    possible, hash-chosen); `exclude(example)` drops rows (e.g. stories trained on);
    `attacks` (training.data.attacks.Attack) adds a table on attacked copies (see eval.attacks);
    `evidence` (settings of evidence.evaluate.evidence_report, {} for its defaults) adds evidence
    mode's metrics on held-out stories; generator_map names generators (data.generators). With no
    specs, only the evidence metrics."""
    cache = FeatureCache(cache_dir) if cache_dir else FeatureCache()
    detector = detector_for(model, cache)
    if not specs:
        report = {"model": detector.model_id, "data": []}
        return _finish(report, detector, evidence, out, log)
    examples, keys = [], []
    for spec in specs:
        kept = [ex for ex in load(spec, fields) if exclude is None or not exclude(ex)]
        for ex in cap_rows(kept, max_rows):
            examples.append(ex)
            keys.append(group_keys(ex, dataset_name(spec), generator_map))
    log(f"scoring {len(examples)} articles with {detector.model.name}")
    results = score_examples(detector, examples, cache, max_words, workers)
    scored = [i for i, r in enumerate(results) if r["score"] is not None]
    y = np.array([examples[i].label for i in scored], dtype=int)
    p = np.array([results[i]["score"] for i in scored], dtype=float)
    thresholds = detector.model.thresholds()
    report = {"model": detector.model_id, "data": specs, "max_words": max_words, "max_rows_per_spec": max_rows,
              "thresholds": {f"{fpr:g}": t for fpr, t in thresholds.items()},
              "n_examples": len(examples), "n_abstained": len(examples) - len(scored),
              "overall": summary(y, p, thresholds), "agreement": agreement(results, [ex.label for ex in examples]),
              "groups": {}}
    for key in by:
        report["groups"][key] = group_summaries([keys[i].get(key, "") for i in scored], y, p, thresholds)
    report["warnings"] = fpr_warnings(report, thresholds)
    for w in report["warnings"]:
        log(w)
    if attacks:  # --attacks: the same articles after each attack (see eval.attacks)
        from fabscore.training.eval.attacks import attack_report

        report["attacks"] = attack_report(detector, examples, keys, results, cache, max_words, workers, attacks,
                                          by, log=log)
    if out:
        outp = Path(out)
        outp.mkdir(parents=True, exist_ok=True)
        if len(set(y.tolist())) == 2:
            report["plots"] = plots(y, p, detector.model.config["thresholds"]["article"], outp)
        with (outp / "scores.jsonl").open("w") as f:
            for ex, k, r in zip(examples, keys, results):
                f.write(json.dumps({"id": ex.id, "label": ex.label, "score": r["score"], "result": r["label"],
                                    "reason": r["reason"], **k}) + "\n")
    return _finish(report, detector, evidence, out, log)


def _finish(report: dict, detector: Detector, evidence: dict | None, out: str | None, log) -> dict:
    """Add the evidence metrics (when asked for) and write metrics.json (when `out`)."""
    if evidence is not None:  # --evidence: the consistency head on held-out stories (see training.evidence.evaluate)
        from fabscore.training.evidence.evaluate import evidence_report

        report["evidence"] = evidence_report(detector.model, detector=detector, log=log, **evidence)
    if out:
        outp = Path(out)
        outp.mkdir(parents=True, exist_ok=True)
        (outp / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {outp / 'metrics.json'}")
    return report


def report_text(report: dict) -> str:
    """The human-readable tables `fabscore evaluate` prints."""
    model = report["model"]
    if "overall" not in report:  # evidence metrics only
        from fabscore.training.evidence.evaluate import evidence_text

        return (f"model {model.get('name')} ({str(model.get('sha256', ''))[:12]})\n\n"
                + evidence_text(report["evidence"]))
    lines = [f"model {model.get('name')} ({str(model.get('sha256', ''))[:12]}): {report['n_examples']} articles, "
             f"{report['n_abstained']} abstained", "",
             table({"all": report["overall"]})]
    for key, rows in report["groups"].items():
        lines += ["", f"by {key}:", table(rows)]
    lines += ["", "article and sentence agreement:", agreement_table(report["agreement"])]
    for fpr, t in report["thresholds"].items():
        a = report["overall"][f"at_threshold_{fpr}"]
        lines.append(f"threshold for target FPR {fpr}: {t:.4f} -> FPR {_rate(a['fpr'])}, TPR {_rate(a['tpr'])}")
    notes = [f"{m}: needs at least {min_humans(f)} human articles" for m, f in
             (("tpr_at_1pct_fpr", 0.01), ("tpr_at_5pct_fpr", 0.05)) if report["overall"]["n_human"] < min_humans(f)]
    if notes:
        lines += ["", "'-' = not measurable on these rows (" + "; ".join(notes) + "; ece and auroc need both classes)"]
    if report.get("attacks"):
        from fabscore.training.eval.attacks import attack_text

        lines += ["", attack_text(report["attacks"])]
    if report.get("evidence"):
        from fabscore.training.evidence.evaluate import evidence_text

        lines += ["", evidence_text(report["evidence"])]
    return "\n".join(lines)


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"
