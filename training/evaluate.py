"""`fabscore evaluate`: a model's metrics on labelled data, per group, with plots.

Scores go through the Detector exactly as `fabscore score` does (every chunk of
every article), with features read from and written to the training cache.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from fabscore import model_dir as md
from fabscore.detector import Detector
from fabscore.text import chunks

from .card import table
from .data import Example, Fields, load
from .feature_cache import FeatureCache, fill
from .metrics import group_summaries, summary
from .train import dataset_name, generator_family


def cut_text(text: str, max_words: int | None, cache: FeatureCache) -> str:
    """The text up to the end of its sentence that completes max_words words."""
    if not max_words:
        return text
    art = cache.prepare(text, max_words)
    return text[: art.sentences[-1].end] if art.sentences else text


def group_keys(ex: Example, dataset: str) -> dict[str, str]:
    return {"source": f"{dataset}:{ex.subset}" if ex.subset else dataset,
            "dataset": dataset, "subset": ex.subset or dataset,
            "generator": generator_family(ex.generator) if ex.label else "human",
            "method": ex.method or ("human" if ex.label == 0 else "unknown")}


def score_examples(detector: Detector, examples: list[Example], cache: FeatureCache, max_words: int | None,
                   workers: int) -> list[dict]:
    detector.featurizer, detector.preparer = cache.features, cache.prepare
    texts = [cut_text(e.text, max_words, cache) for e in examples]
    pieces = [c for t in texts for c in chunks(cache.prepare(t), detector.chunk_words)]
    fill(pieces, detector.kinds, cache, workers=workers)
    return [detector.score_one(t).as_dict() for t in texts]


def agreement(results: list[dict]) -> dict:
    """Do article and sentence scores tell the same story?"""
    scored = [r for r in results if r["score"] is not None and r["sentences"]]
    flagged = [r for r in scored if r["label"] == "fabricated"]
    quiet = [r for r in scored if not any(s["flagged"] for s in r["sentences"])]
    return {"flagged_articles": len(flagged),
            "flagged_with_a_flagged_sentence": sum(any(s["flagged"] for s in r["sentences"]) for r in flagged),
            "articles_without_flagged_sentence": len(quiet),
            "of_those_flagged": sum(r["label"] == "fabricated" for r in quiet),
            "spearman_article_vs_max_sentence": _spearman([r["score"] for r in scored],
                                                          [max(s["score"] for s in r["sentences"]) for r in scored])}


def _spearman(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) > 2 else None


def plots(y: np.ndarray, p: np.ndarray, thresholds: list[dict], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    files = []
    f, t, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(f, t)
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1)
    ax.set_xlabel("false-positive rate (log)")
    ax.set_ylabel("true-positive rate")
    ax.set_title("ROC")
    for th in thresholds:
        ax.axvline(th["target_fpr"], ls=":", c="grey")
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=100)
    files.append("roc.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    edges = np.linspace(0, 1, 11)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, 9)
    xs = [p[idx == b].mean() for b in range(10) if (idx == b).any()]
    ys = [y[idx == b].mean() for b in range(10) if (idx == b).any()]
    ax.plot([0, 1], [0, 1], ls="--", c="grey")
    ax.plot(xs, ys, marker="o")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed machine share")
    ax.set_title("Reliability")
    fig.tight_layout()
    fig.savefig(out / "reliability.png", dpi=100)
    files.append("reliability.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.hist(p[y == 0], bins=40, range=(0, 1), alpha=0.6, label="human")
    ax.hist(p[y == 1], bins=40, range=(0, 1), alpha=0.6, label="machine")
    for th in thresholds:
        ax.axvline(th["threshold"], ls=":", c="k")
    ax.set_yscale("log")
    ax.set_xlabel("score")
    ax.legend()
    ax.set_title("Scores by class")
    fig.tight_layout()
    fig.savefig(out / "histogram.png", dpi=100)
    files.append("histogram.png")
    plt.close(fig)
    return files


def evaluate(model: str | None, specs: list[str], by: tuple[str, ...] = ("source", "generator"),
             out: str | None = None, fields: Fields = Fields(), max_words: int | None = None, workers: int = 1,
             cache_dir: str | None = None, exclude=None, log=lambda m: print(m, file=sys.stderr),
             attacks: list | None = None) -> dict:
    """Metrics of `model` on `specs`; `exclude(example)` drops rows (e.g. stories trained on);
    `attacks` (training.attacks.Attack) adds a table on attacked copies (see attack_eval)."""
    detector = Detector(md.load(model))
    cache = FeatureCache(cache_dir) if cache_dir else FeatureCache()
    examples, keys = [], []
    for spec in specs:
        for ex in load(spec, fields):
            if exclude is None or not exclude(ex):
                examples.append(ex)
                keys.append(group_keys(ex, dataset_name(spec)))
    results = score_examples(detector, examples, cache, max_words, workers)
    scored = [i for i, r in enumerate(results) if r["score"] is not None]
    y = np.array([examples[i].label for i in scored])
    p = np.array([results[i]["score"] for i in scored])
    th_table = detector.model.config["thresholds"]["article"]
    thresholds = detector.model.thresholds()
    report = {"model": detector.model_id, "data": specs, "max_words": max_words,
              "n_examples": len(examples), "n_abstained": len(examples) - len(scored),
              "overall": summary(y, p, thresholds), "agreement": agreement(results), "groups": {}}
    for key in by:
        report["groups"][key] = group_summaries([keys[i].get(key, "") for i in scored], y, p, thresholds)
    log(table({"all": report["overall"]}))
    for key, rows in report["groups"].items():
        log(f"\nby {key}:\n" + table(rows))
    log(f"article/sentence agreement: {report['agreement']}")
    for fpr, t in thresholds.items():
        a = report["overall"][f"at_threshold_{fpr:g}"]
        log(f"threshold for target FPR {fpr:g}: {t:.4f} -> FPR {a['fpr']}, TPR {a['tpr']}")
    if attacks:  # --attacks (issue 15): see attack_eval
        from .attack_eval import attack_report

        report["attacks"] = attack_report(detector, examples, keys, results, cache, max_words, workers, attacks,
                                          by, log=log)
    if out:
        outp = Path(out)
        outp.mkdir(parents=True, exist_ok=True)
        if len(set(y.tolist())) == 2:
            report["plots"] = plots(y, p, th_table, outp)
        (outp / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        with (outp / "scores.jsonl").open("w") as f:
            for ex, k, r in zip(examples, keys, results):
                f.write(json.dumps({"id": ex.id, "label": ex.label, "score": r["score"], "result": r["label"],
                                    "reason": r["reason"], **k}) + "\n")
    return report
