"""`fabscore evaluate --attacks`: the model's metrics on attacked copies.

For every attack, the evaluated machine articles are attacked (the part that is
scored: each article cut to --max-words first) and scored against the
*unattacked* human articles: does the attack hide machine text? Attacks that
keep a text human-written (typos, reordering, ...) are also applied to the
human articles, and their false-positive rate at the model's thresholds is
reported beside the unattacked one: does the attack make the model accuse
people? Articles the attack makes the detector abstain on, and attacks that
fail on an article, are counted in the table, never silently dropped.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from fabscore.detector import Detector
from fabscore.training.card import table
from fabscore.training.data.attacks import Attack
from fabscore.training.data.examples import Example
from fabscore.training.eval.metrics import auroc, group_summaries, rate_at, summary
from fabscore.training.eval.scoring import cut_text, score_examples
from fabscore.training.fit.feature_cache import FeatureCache


def _attack_all(attack: Attack, examples: list[Example], texts: list[str], seed: int
                ) -> tuple[list[int], list[Example], dict[str, int]]:
    """(indices attacked, attacked copies, failures by error type)."""
    idx, out, failed = [], [], {}
    for i, (ex, t) in enumerate(zip(examples, texts)):
        try:
            out.append(replace(ex, text=attack(t, seed)))
            idx.append(i)
        except Exception as e:  # noqa: BLE001 - a failure is a result to count, whatever its type
            failed[type(e).__name__] = failed.get(type(e).__name__, 0) + 1
    return idx, out, failed


def attack_report(detector: Detector, examples: list[Example], keys: list[dict[str, str]], results: list[dict],
                  cache: FeatureCache, max_words: int | None, workers: int, attacks: list[Attack],
                  by: tuple[str, ...] = (), seed: int = 0, log=print, attack_rows_mask=None) -> dict[str, dict]:
    """One entry per attack; `results` are the unattacked scores of `examples`.
    attack_rows_mask: attack only these rows (every unattacked human stays a negative)."""
    thresholds = detector.model.thresholds()
    texts = [cut_text(e.text, max_words, cache) for e in examples]
    base = np.array([np.nan if r["score"] is None else r["score"] for r in results])
    y = np.array([e.label for e in examples])
    humans = np.flatnonzero((y == 0) & ~np.isnan(base))
    out: dict[str, dict] = {}
    for attack in attacks:
        targets = [i for i in range(len(examples)) if (y[i] == 1 or attack.keeps_human)
                   and (attack_rows_mask is None or attack_rows_mask[i])]
        idx, attacked, failed = _attack_all(attack, [examples[i] for i in targets], [texts[i] for i in targets], seed)
        idx = [targets[k] for k in idx]
        try:
            res = score_examples(detector, attacked, cache, None, workers)
        except Exception as e:  # noqa: BLE001 - say which attack broke scoring, keep the other attacks
            out[attack.name] = {"error": f"{type(e).__name__}: {e}"}
            log(f"attack {attack.name}: scoring failed: {type(e).__name__}: {e}")
            continue
        score = np.full(len(examples), np.nan)
        score[idx] = [np.nan if r["score"] is None else r["score"] for r in res]
        done = np.zeros(len(examples), bool)
        done[idx] = True
        mach = np.flatnonzero((y == 1) & done)
        m_ok = mach[~np.isnan(score[mach])]
        rows = np.concatenate([humans, m_ok])
        y_mix, p_mix = y[rows], np.concatenate([base[humans], score[m_ok]])
        both = m_ok[~np.isnan(base[m_ok])]
        entry = {
            "family": attack.family, "undone_by_normalize": attack.undone_by_normalize,
            "keeps_human": attack.keeps_human,
            "n_machine": int(sum(y[i] == 1 for i in targets)), "n_failed": int(sum(failed.values())),
            "failures": failed,
            "n_machine_abstained": int(len(mach) - len(m_ok)),
            "n_machine_abstained_only_when_attacked": int(np.sum(np.isnan(score[mach]) & ~np.isnan(base[mach]))),
            "unattacked_auroc_same_rows": auroc(np.r_[np.zeros(len(humans)), np.ones(len(both))],
                                                np.r_[base[humans], base[both]]),
            "attacked": summary(y_mix, p_mix, thresholds),
            "groups": {k: group_summaries([keys[i].get(k, "") for i in rows], y_mix, p_mix, thresholds) for k in by},
            "machine_mean_score_shift": float(np.mean(score[both] - base[both])) if len(both) else None,
        }
        if attack.keeps_human:
            hum = np.flatnonzero((y == 0) & done)
            h_ok = hum[~np.isnan(score[hum])]
            entry["human"] = {
                "n": int(len(hum)), "n_abstained": int(len(hum) - len(h_ok)),
                "mean_score_shift": float(np.mean(score[h_ok] - base[h_ok])) if len(h_ok) else None,
                **{f"fpr_at_{f:g}": {"attacked": rate_at(score[h_ok], t), "unattacked": rate_at(base[h_ok], t)}
                   for f, t in thresholds.items()}}
        out[attack.name] = entry
    return out


def attack_text(report: dict[str, dict]) -> str:
    """The attack table `fabscore evaluate --attacks` prints."""
    return ("attacks (attacked machine vs unattacked human; human FPR: attacked humans, where the attack keeps "
            "them human-written):\n" + table(attack_rows(report), ROW_COLUMNS))


ROW_COLUMNS = ("undone", "auroc_before", "auroc", "tpr_at_1pct_fpr", "tpr_at_threshold", "human_fpr_before",
               "abstained", "failed")


def attack_rows(report: dict[str, dict]) -> dict[str, dict]:
    """The attack report as rows for card.table (its last column, FPR@t(1%), is the
    attacked humans' FPR at the 1% threshold; '-' where the attack is not applied to humans)."""
    rows = {}
    for name, e in report.items():
        if "error" in e:
            rows[name] = {"undone": "error: " + e["error"]}
            continue
        h = e.get("human", {}).get("fpr_at_0.01", {})
        rows[name] = {"undone": e["undone_by_normalize"], "auroc_before": e["unattacked_auroc_same_rows"],
                      "auroc": e["attacked"]["auroc"], "tpr_at_1pct_fpr": e["attacked"]["tpr_at_1pct_fpr"],
                      "tpr_at_threshold": e["attacked"].get("at_threshold_0.01", {}).get("tpr"),
                      "human_fpr_before": h.get("unattacked"), "at_threshold_0.01": {"fpr": h.get("attacked")},
                      "abstained": e["n_machine_abstained"] + e.get("human", {}).get("n_abstained", 0),
                      "failed": e["n_failed"]}
    return rows
