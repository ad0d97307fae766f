"""Helpers behind notebooks/evaluate.ipynb and notebooks/data.ipynb.

The notebooks only plot and display: every number they show comes from here,
from `training.evaluate` (scoring goes through the Detector exactly as
`fabscore evaluate` does) or from `training.metrics`, so a notebook can never
disagree with the command line about what a model scores.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from fabscore.detector import Detector
from fabscore.io.report import shade
from fabscore.models import directory as md
from fabscore.training.data.examples import Example, Fields, cap_rows, load
from fabscore.training.data.generators import dataset_name
from fabscore.training.eval.metrics import auroc, group_summaries, min_humans, reliability, summary
from fabscore.training.eval.scoring import detector_for, group_keys, score_examples  # noqa: F401 - detector_for is for the notebooks
from fabscore.training.eval.shortcuts import cue_values, one_cue_aurocs
from fabscore.training.fit.feature_cache import FeatureCache
from fabscore.training.paths import DATA_ENV, SEEDS, data_dir  # noqa: F401 - the notebooks' names


# ---------------------------------------------------------------- inputs
def resolve_spec(spec: str, base: str | Path | None = None, data: str | Path | None = None) -> str:
    """A data SPEC as given: absolute, relative to `base` (default: the working folder),
    or a file name in the shared data folder (see data_dir), so a notebook runs from
    any folder once the package is installed."""
    p = Path(spec)
    if p.is_absolute():
        return str(p)
    for cand in (Path(base or Path.cwd()) / p, data_dir(data) / p.name):
        if cand.exists():
            return str(cand.resolve())
    return spec  # maybe a hub data set name; `load` says why if it is not


def load_examples(specs: Iterable[str], max_rows: int | None = None, exclude_meta: str | None = None,
                  base: str | Path | None = None, fields: Fields = Fields(),
                  data: str | Path | None = None) -> list[tuple[Example, dict]]:
    """(example, group keys) pairs from every SPEC; rows whose meta[exclude_meta] is
    true are left out (e.g. in_llmfake: stories a model trained on llmfake saw);
    max_rows caps each SPEC separately (half of each label, hash-chosen: data.cap_rows)."""
    out = []
    for spec in specs:
        path = resolve_spec(spec, base, data)
        exs = [e for e in load(path, fields) if not (exclude_meta and e.meta.get(exclude_meta))]
        out += [(e, group_keys(e, dataset_name(path))) for e in cap_rows(exs, max_rows, "notebook")]
    return out


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
    the threshold, and the reliability diagram of metrics.reliability (as metrics.ece)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    fpr, tpr, thr = roc_curve(y, p)
    prec, rec, _ = precision_recall_curve(y, p)
    grid = np.linspace(0, 1, 201)
    sweep = {"threshold": grid, "tpr": np.array([(p[y == 1] >= t).mean() for t in grid]),
             "fpr": np.array([(p[y == 0] >= t).mean() for t in grid])}
    return {"roc": {"fpr": fpr, "tpr": tpr, "threshold": thr, "auroc": auroc(y, p)},
            "pr": {"precision": prec, "recall": rec, "base_rate": float(y.mean())},
            "sweep": sweep, "reliability": reliability(y, p, bins)}


def not_measurable(df: pd.DataFrame) -> dict[str, str]:
    """Metric -> why it shows '-' on these rows (too few human articles, or one class only)."""
    s = scored(df)
    n_human, classes = int((s["label"] == 0).sum()), s["label"].nunique()
    out = {}
    for metric, fpr in (("tpr_at_1pct_fpr", 0.01), ("tpr_at_5pct_fpr", 0.05)):
        if n_human < min_humans(fpr):
            out[metric] = f"needs at least {min_humans(fpr)} human articles, these rows have {n_human}"
    if classes < 2:
        out["auroc"] = out["ece"] = "needs both human and machine articles"
    return out


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
        parts.append(f'<span title="sentence score {s["score"]:.2f}" style="background:{shade(s["score"])};'
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
    """One row per example with its keys, its text, and the shortcut cues a classifier
    could learn instead of style (training.shortcuts): length, final punctuation,
    web-page junk words."""
    from fabscore.text.sentences import head, prepare

    cues = cue_values([e.text for e, _ in rows])
    recs = []
    for i, (e, keys) in enumerate(rows):
        recs.append({"id": e.id, "label": e.label, "class": "machine" if e.label else "human", "group": e.group,
                     **keys, "text": e.text, "words": max(len(e.text.split()), 1),
                     "head_words": head(prepare(e.text), chunk_words).n_words,
                     "final_punct": bool(cues["final_punct"][i]), "page_junk": bool(cues["page_junk"][i])})
    return pd.DataFrame.from_records(recs)


def cue_aurocs(df: pd.DataFrame, seed: int = 0) -> pd.Series:
    """Held-out AUROC of a one-cue logistic classifier per cue (training.shortcuts, as the
    card's audit), plus the length of the training head: how far each cue alone goes."""
    cues = cue_values(list(df["text"]))
    cues["head_length"] = np.log(np.maximum(df["head_words"].to_numpy(float), 1))
    names = {"length": "length-only (log words of the full text)",
             "head_length": "length of the training head (log words)",
             "final_punct": "final-punctuation-only", "page_junk": "page-junk-words-only"}
    got = one_cue_aurocs(cues, df["label"].to_numpy(), df["group"].to_numpy(), seed)
    return pd.Series({names[k]: v for k, v in got.items()}, name="AUROC on this sample")


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


def shown(frame):
    """A table for display with '-' where a metric is not measurable (NaN), without filling a
    numeric column with a string (which pandas deprecates)."""
    return frame.astype(object).where(frame.notna(), "-")
