"""Helpers behind notebooks/evaluate.ipynb and notebooks/data.ipynb.

The notebooks only plot and display: every number they show comes from here,
from `training.evaluate` (scoring goes through the Detector exactly as
`fabscore evaluate` does) or from `training.metrics`, so a notebook can never
disagree with the command line about what a model scores.
"""
from __future__ import annotations

import hashlib
import json
from html import escape
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from fabscore import model_dir as md
from fabscore.detector import Detector
from fabscore.report import N_BUCKETS, PALETTE

from .data import Example, Fields, load
from .evaluate import group_keys, score_examples
from .feature_cache import FeatureCache
from .fit import fit_head
from .metrics import auroc, group_summaries, summary
from .train import FINAL_PUNCT, PAGE_JUNK, dataset_name

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SEEDS = REPO / "seeds"


# ---------------------------------------------------------------- inputs
def resolve_spec(spec: str, base: str | Path | None = None) -> str:
    """A data SPEC as given, relative to `base` (the notebook's folder), to the
    repository, or by file name in the shared data folder: notebooks run from
    notebooks/, from the repository root, or from a test's temp folder."""
    p = Path(spec)
    if p.is_absolute():
        return str(p)
    for root in (Path(base) if base else Path.cwd(), REPO, SHARED_DATA):
        cand = (root / p) if root is not SHARED_DATA else (root / p.name)
        if cand.exists():
            return str(cand.resolve())
    return spec  # maybe a hub data set name; `load` says why if it is not


def stable_sample(examples: list[Example], max_rows: int | None, salt: str = "notebook") -> list[Example]:
    """At most max_rows examples, half of each label where possible, chosen by a
    hash of the id: the same rows on every run and independent of file order."""
    if not max_rows or len(examples) <= max_rows:
        return examples
    by_label = {c: sorted((e for e in examples if e.label == c),
                          key=lambda e: hashlib.sha256(f"{salt}:{e.id}".encode()).hexdigest()) for c in (0, 1)}
    n_h = min(len(by_label[0]), max(max_rows // 2, max_rows - len(by_label[1])))
    keep = {e.id for e in by_label[0][:n_h] + by_label[1][: max_rows - n_h]}
    return [e for e in examples if e.id in keep]


def load_examples(specs: Iterable[str], max_rows: int | None = None, exclude_meta: str | None = None,
                  base: str | Path | None = None, fields: Fields = Fields()) -> list[tuple[Example, dict]]:
    """(example, group keys) pairs from every SPEC; rows whose meta[exclude_meta] is
    true are left out (e.g. in_llmfake: stories a model trained on llmfake saw);
    max_rows caps each SPEC separately."""
    out = []
    for spec in specs:
        path = resolve_spec(spec, base)
        exs = [e for e in load(path, fields) if not (exclude_meta and e.meta.get(exclude_meta))]
        out += [(e, group_keys(e, dataset_name(path))) for e in stable_sample(exs, max_rows)]
    return out


def detector_for(model: str | Path | None, cache: FeatureCache) -> Detector:
    """The model's Detector with features read from (and added to) `cache`, as in fabscore evaluate."""
    det = Detector(md.load(model))
    det.featurizer = cache.features
    return det


# ---------------------------------------------------------------- per-example results
def results_table(detector: Detector, rows: list[tuple[Example, dict]], cache: FeatureCache,
                  max_words: int | None, workers: int = 1) -> pd.DataFrame:
    """One row per example: its keys, label, score, verdict and the full result dict
    (with sentences) in column `result`; abstentions keep score NaN."""
    results = score_examples(detector, [e for e, _ in rows], cache, max_words, workers)
    recs = []
    for (e, keys), r in zip(rows, results):
        recs.append({"id": e.id, "label": e.label, "class": "machine" if e.label else "human", **keys,
                     "score": np.nan if r["score"] is None else r["score"], "verdict": r["label"],
                     "reason": r["reason"], "n_words": r["n_words"],
                     "n_flagged": sum(s["flagged"] for s in r["sentences"]), "result": r})
    return pd.DataFrame.from_records(recs)


def scored(df: pd.DataFrame) -> pd.DataFrame:
    """The rows the detector did not abstain on."""
    return df[df["score"].notna()]


def thresholds_of(detector: Detector) -> dict[float, float]:
    """Stored article thresholds, target FPR -> threshold."""
    return detector.model.thresholds()


def overall(df: pd.DataFrame, thresholds: dict[float, float]) -> dict:
    """training.metrics.summary over the scored rows."""
    s = scored(df)
    return summary(s["label"].to_numpy(), s["score"].to_numpy(), thresholds)


def group_table(df: pd.DataFrame, key: str, thresholds: dict[float, float]) -> pd.DataFrame:
    """summary() per value of `key`; a machine-only group is scored against all human
    rows, as fabscore evaluate and the model card do, so its AUROC is defined."""
    s = scored(df)
    groups = group_summaries(s[key].to_numpy(), s["label"].to_numpy(), s["score"].to_numpy(), thresholds)
    return pd.DataFrame.from_dict({v: _flat(m) for v, m in groups.items()}, orient="index")


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def summary_frame(d: dict) -> pd.DataFrame:
    """A nested metrics dict as a one-column table for display."""
    return pd.DataFrame.from_dict(_flat(d), orient="index", columns=["value"])


# ---------------------------------------------------------------- curves
def curves(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, dict[str, np.ndarray]]:
    """Everything the evaluation plots draw: ROC, precision-recall, TPR/FPR against
    the threshold, and a reliability diagram with equal-width bins (as metrics.ece)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    fpr, tpr, thr = roc_curve(y, p)
    prec, rec, _ = precision_recall_curve(y, p)
    grid = np.linspace(0, 1, 201)
    sweep = {"threshold": grid, "tpr": np.array([(p[y == 1] >= t).mean() for t in grid]),
             "fpr": np.array([(p[y == 0] >= t).mean() for t in grid])}
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    have = [b for b in range(bins) if (idx == b).any()]
    reliability = {"predicted": np.array([p[idx == b].mean() for b in have]),
                   "observed": np.array([y[idx == b].mean() for b in have]),
                   "count": np.array([(idx == b).sum() for b in have])}
    return {"roc": {"fpr": fpr, "tpr": tpr, "threshold": thr, "auroc": auroc(y, p)},
            "pr": {"precision": prec, "recall": rec, "base_rate": float(y.mean())},
            "sweep": sweep, "reliability": reliability}


# ---------------------------------------------------------------- errors and shading
def worst(df: pd.DataFrame, kind: str, n: int = 3) -> pd.DataFrame:
    """The n worst errors: 'fp' = human articles with the highest scores, 'fn' =
    machine articles with the lowest; the first things to read when a threshold moves."""
    s = scored(df)
    if kind == "fp":
        return s[s["label"] == 0].sort_values("score", ascending=False).head(n)
    if kind == "fn":
        return s[s["label"] == 1].sort_values("score", ascending=True).head(n)
    raise ValueError(f"kind must be 'fp' or 'fn', not {kind!r}")


def _shade(score: float) -> str:
    return PALETTE[min(N_BUCKETS - 1, max(0, int(score * N_BUCKETS)))]


def shaded_html(result: dict, title: str = "") -> str:
    """One article's sentences shaded by score (the report's palette), flagged ones
    underlined, every string escaped: article text is untrusted input."""
    head = (f"<b>{escape(title)}</b> &mdash; " if title else "") + (
        f"score <b>{'&mdash;' if result['score'] is None else format(result['score'], '.3f')}</b>, "
        f"{escape(str(result['label']))}, threshold {result['threshold']:.4f}, {result['n_words']} words")
    if result.get("reason"):
        head += f" ({escape(result['reason'])})"
    parts = [f'<div style="border:1px solid #d8dde3;border-radius:6px;padding:.5em .8em;margin:.6em 0;'
             f'color:#1b1f24;background:#fff"><p style="margin:.2em 0 .5em">{head}</p><p style="line-height:1.7">']
    for s in result.get("sentences", []):
        deco = "text-decoration:underline 2px #5c0a0d;" if s["flagged"] else ""
        parts.append(f'<span title="sentence score {s["score"]:.2f}" style="background:{_shade(s["score"])};'
                     f'{deco}">{escape(s["text"])}</span> ')
    if not result.get("sentences"):
        parts.append("<i>no per-sentence scores (abstained, or the model has no sentence head)</i>")
    parts.append("</p></div>")
    return "".join(parts)


# ---------------------------------------------------------------- seeds
def seed_labels(path: Path) -> dict[str, str]:
    """file -> label from seeds/labels.csv; its free-text note may hold unquoted commas,
    so only the first two fields of each line are read."""
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return {f.strip(): lab.strip() for f, lab, *_ in (ln.split(",", 2) for ln in lines if ln.count(",") >= 1)}


def seed_results(detector: Detector, seeds: str | Path = SEEDS) -> tuple[list[tuple[str, str, dict]], pd.DataFrame]:
    """Each seed file scored: [(file, expected label, result)] and one row per sentence."""
    labels = seed_labels(Path(seeds) / "labels.csv")
    out, rows = [], []
    for path in sorted(Path(seeds).glob("*.txt")):
        r = detector.score_one(path.read_text(encoding="utf-8")).as_dict()
        out.append((path.name, labels.get(path.name, "?"), r))
        rows += [{"file": path.name, "expected": labels.get(path.name, "?"), "sentence": i, "score": s["score"],
                  "flagged": s["flagged"], "text": s["text"]} for i, s in enumerate(r["sentences"])]
    return out, pd.DataFrame.from_records(rows, columns=["file", "expected", "sentence", "score", "flagged", "text"])


# ---------------------------------------------------------------- training-set contents
def data_table(rows: list[tuple[Example, dict]], chunk_words: int = 200) -> pd.DataFrame:
    """One row per example with its keys and the shortcut cues a classifier could
    learn instead of style: length, final punctuation, web-page junk words."""
    from fabscore.text import head, prepare

    recs = []
    for e, keys in rows:
        text = e.text.rstrip()
        recs.append({"id": e.id, "label": e.label, "class": "machine" if e.label else "human", "group": e.group,
                     **keys, "words": max(len(e.text.split()), 1),
                     "head_words": head(prepare(e.text), chunk_words).n_words,
                     "final_punct": text[-1:] in FINAL_PUNCT, "page_junk": bool(PAGE_JUNK.search(e.text))})
    return pd.DataFrame.from_records(recs)


def cue_aurocs(df: pd.DataFrame, seed: int = 0) -> pd.Series:
    """Held-out AUROC of a one-cue logistic classifier per cue, under the same grouped
    CV as training: how far each shortcut alone would go on this data."""
    y, groups = df["label"].to_numpy(), df["group"].to_numpy()
    cues = {"length-only (log words of the full text)": np.log(df["words"].to_numpy(float)),
            "length of the training head (log words)": np.log(np.maximum(df["head_words"].to_numpy(float), 1)),
            "final-punctuation-only": df["final_punct"].to_numpy(float),
            "page-junk-words-only": df["page_junk"].to_numpy(float)}
    out = {}
    for name, x in cues.items():
        fit = fit_head(x[:, None], y, groups, seed=seed, Cs=(1.0,), fprs=())
        out[name] = auroc(y, fit.oof)
    return pd.Series(out, name="AUROC on this sample")


def card_metrics(model: str | Path | None) -> dict:
    """The model card's config.json (read via model_dir.load, which checks the manifest)."""
    return md.load(model).config


def card_shortcuts(model: str | Path | None) -> pd.Series:
    """metrics.shortcuts of the model card: one-cue classifiers' AUROC beside the model's,
    and the model's AUROC where the cue cannot help (length-matched, punctuation strata)."""
    sc = card_metrics(model).get("metrics", {}).get("shortcuts", {})
    return pd.Series(sc, name="from the model card", dtype=float)


def dump(obj) -> str:
    """JSON for display, with numpy scalars made plain."""
    return json.dumps(obj, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
