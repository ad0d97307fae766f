"""Leave-one-group-out: does the detector generalize to a source or generator it never saw?

Train on everything but one source (or generator family), test on it. Story
groups that appear in the test part are removed from the training part, so a
held-out generator's rewrites never meet their human originals in training.
"""
from __future__ import annotations

import numpy as np

from fabscore.training.eval.metrics import summary
from fabscore.training.fit.heads import fit_head


def _split_humans(groups: np.ndarray, y: np.ndarray, seed: int, share: float = 0.25) -> np.ndarray:
    """A stable share of human story groups held out as the test's negatives."""
    rng = np.random.default_rng(seed)
    hg = np.unique(groups[y == 0])
    held = set(rng.choice(hg, max(1, int(share * len(hg))), replace=False).tolist())
    return np.array([g in held for g in groups]) & (y == 0)


def leave_one_out(X: np.ndarray, y: np.ndarray, groups: np.ndarray, keys: np.ndarray, C: float, seed: int,
                  machine_only: bool, augmented: np.ndarray | None = None,
                  datasets: np.ndarray | None = None) -> dict[str, dict]:
    """One held-out value of `keys` at a time. machine_only: the key names machine rows only
    (a generator), so the test's humans are a held-out share of human stories.
    augmented: attacked copies; trained on with their story, never tested on.
    datasets (with machine_only): each row's data set. The held-out machine rows are then also
    scored against only the held-out humans of their own data sets ("... vs its data sets'
    humans"): within one genre, so the score reads the generator, not essays against news."""
    out = {}
    synthetic = np.zeros(len(y), bool) if augmented is None else np.asarray(augmented, bool)
    values = sorted(set(keys[y == 1].tolist())) if machine_only else sorted(set(keys.tolist()))
    human_test = _split_humans(groups, y, seed) if machine_only else None
    for v in values:
        test = ((keys == v) & (y == 1)) | human_test if machine_only else keys == v
        test &= ~synthetic
        if len(set(y[test].tolist())) < 2:
            continue
        test_groups = set(groups[test].tolist())
        train = ~test & ~np.isin(groups, list(test_groups))
        if machine_only:
            train &= ~((keys == v) & (y == 1))
        if len(set(y[train & ~synthetic].tolist())) < 2:  # calibration needs both classes of real text
            continue
        fit = fit_head(X[train], y[train], groups[train], seed=seed, Cs=(C,), fprs=(0.01,),
                       augmented=synthetic[train])
        p = fit.head.predict_proba(X[test])[:, 1]
        t = {0.01: fit.thresholds[0]["threshold"]}
        out[f"held out {v}"] = summary(y[test], p, t)
        if machine_only and datasets is not None:
            own = np.isin(datasets[test], list(set(datasets[test & (y == 1)].tolist())))
            same = own | (y[test] == 1)
            if not same.all() and len(set(y[test][same].tolist())) == 2:
                out[f"held out {v} vs its data sets' humans"] = summary(y[test][same], p[same], t)
    return out


def leave_one_attack_out(X: np.ndarray, y: np.ndarray, groups: np.ndarray, attack: np.ndarray, C: float,
                         seed: int, auxiliary: np.ndarray | None = None) -> dict[str, dict]:
    """Does training on some attacks help against one it never saw? For each attack: train
    without any of its copies and without a held-out quarter of the story groups; test
    that attack's machine copies from the held-out stories against their real human rows.
    auxiliary: rows of auxiliary data, trained on and never tested on."""
    aux = np.zeros(len(y), bool) if auxiliary is None else np.asarray(auxiliary, bool)
    out = {}
    held_groups = set(np.random.default_rng(seed).choice(np.unique(groups), max(1, len(np.unique(groups)) // 4),
                                                          replace=False).tolist())
    in_test = np.isin(groups, list(held_groups))
    for a in sorted(set(attack.tolist()) - {""}):
        test = in_test & ~aux & (((attack == a) & (y == 1)) | ((attack == "") & (y == 0)))
        train = ~in_test & (attack != a)
        if len(set(y[test].tolist())) < 2 or len(set(y[train & (attack == "") & ~aux].tolist())) < 2:
            continue
        fit = fit_head(X[train], y[train], groups[train], seed=seed, Cs=(C,), fprs=(0.01,),
                       augmented=(attack[train] != "") | aux[train])
        p = fit.head.predict_proba(X[test])[:, 1]
        out[f"held out {a}"] = summary(y[test], p, {0.01: fit.thresholds[0]["threshold"]})
    return out
