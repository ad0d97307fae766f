"""Feature tables (build.py's output) as arrays, and the metrics the experiments report."""
from __future__ import annotations

import json

import numpy as np
from common import REPO, TABLES

from fabscore.models import directory as md
from fabscore.training.eval.metrics import auroc, tpr_at_fpr

META_ATTR = {"id": "ids"}  # meta keys stored under another attribute name


class Tab:
    """One table: `blocks` {kind: matrix}, `meta` (one dict per row) and each meta key as an array
    attribute (`ids`, label, group, dataset, source, generator, method, domain, attack, pair_id,
    n_words, n_tokens), plus `y` and `n`."""

    def __init__(self, name: str):
        p = TABLES / f"tab_{name}.npz"
        if not p.is_file():
            raise FileNotFoundError(f"{p} is missing: run experiments/rewrites/build.py {name}")
        with np.load(p) as z:
            self._set({k: z[k] for k in z.files}, json.loads((TABLES / f"tab_{name}.meta.json").read_text()))

    def _set(self, blocks: dict[str, np.ndarray], meta: list[dict]) -> None:
        self.blocks, self.meta = blocks, meta
        for key in meta[0]:
            setattr(self, META_ATTR.get(key, key), np.array([m[key] for m in meta]))
        self.y = self.label.astype(int)
        self.n = len(meta)

    @classmethod
    def of(cls, blocks: dict[str, np.ndarray], meta: list[dict]) -> Tab:
        t = object.__new__(cls)
        t._set(blocks, meta)
        return t

    def X(self, kinds) -> np.ndarray:
        return np.concatenate([self.blocks[k] for k in kinds], axis=1)

    def sub(self, mask: np.ndarray) -> Tab:
        return Tab.of({k: v[mask] for k, v in self.blocks.items()}, [m for m, keep in zip(self.meta, mask) if keep])


def cat(*tabs: Tab) -> Tab:
    return Tab.of({k: np.concatenate([t.blocks[k] for t in tabs]) for k in tabs[0].blocks},
                  [m for t in tabs for m in t.meta])


def default_model() -> md.ModelDir:
    """The shipped default model of this checkout."""
    return md.load(REPO / "inference" / "models" / "default")


def brief(y, p, t=None) -> dict:
    """AUROC, TPR at 1% FPR (with at least 100 humans), and at a threshold t: humans flagged
    (count and rate) and machine rows flagged."""
    y, p = np.asarray(y), np.asarray(p)
    out = {"n_h": int((y == 0).sum()), "n_m": int((y == 1).sum()), "auroc": auroc(y, p),
           "tpr1": tpr_at_fpr(y, p, 0.01) if (y == 0).sum() >= 100 else None}
    if t is not None:
        out["fp_at_t"] = int((p[y == 0] >= t).sum())
        out["fpr_at_t"] = float((p[y == 0] >= t).mean()) if (y == 0).any() else None
        out["tpr_at_t"] = float((p[y == 1] >= t).mean()) if (y == 1).any() else None
    return out


def fmt(r: dict) -> str:
    def f(v):
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
    s = f"n={r['n_h']}/{r['n_m']} auc={f(r['auroc'])} tpr1={f(r['tpr1'])}"
    if "fp_at_t" in r:
        s += f" fpr@t={r['fp_at_t']}/{r['n_h']} tpr@t={f(r['tpr_at_t'])}"
    return s
