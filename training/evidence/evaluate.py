"""`fabscore evaluate --evidence`: evidence mode's metrics on held-out stories.

The held-out split of `training.evidence.pairs` (stories whose id hash puts them in the
test share, drawn with the test split's own random stream, so the same pairs the
consistency head was measured on when it was trained with the same settings). The
evidence pool is every sentence of all these held-out originals. Reported:

- per corruption type, the sentence-level AUROC of `support` (corrupted vs original
  sentences) and the share of corrupted sentences below the support cut;
- the natural rewrites' AUROC (llmfake sentences inserted vs restated);
- claim level: recall of the changed claims and precision against every claim of
  the originals, as shipped and at the best thresholds (`consistency.claim_scores`);
- the seeds (when the repository's seeds/ folder is there): seed 002 checked against
  seed 000, seed 000 against itself and against unrelated news.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from fabscore.training.evidence.metrics import evaluate
from fabscore.training.evidence.pairs import N_OUTSIDE, Sources, read, split
from fabscore.training.paths import SEEDS

SEED_HUMAN, SEED_MACHINE = "000_e0349e775a64605f.txt", "002_3ca293cc838cf24e.txt"
INVENTED = ("Lavrov", "Eboe-Osuji", "March 14th", "March 15th", "Borrell", "Blinken", "Dutch security forces")
TARGETS = {"corruption_auroc": 0.95, "natural_auroc": 0.90, "claim_recall": 0.9, "claim_precision": 0.9}
TYPE_NAMES = {"entity": "entity swapped", "number": "number changed", "date": "date changed",
              "speaker": "quotation speaker swapped", "negation": "negation added/removed",
              "insert": "sentence from another story"}
STATUSES = ("supported", "unsupported", "no_evidence")


def unrelated_news(n: int, data_dir: Path | None = None) -> list[str]:
    """n human articles from usnews_mar2023 (22-26 March 2023) that do not mention the seeds' ICC story."""
    story = ("ICC", "Criminal Court", "Putin", "Medvedev", "Hague")
    rows = read("usnews_mar2023_human.clean.jsonl", data_dir)
    return [r["text"] for r in rows if not any(w in r["text"] for w in story)][:n]


def seed_checks(det, seeds: Path = SEEDS, data_dir: Path | None = None, n_unrelated: int = 50) -> dict:
    """The seeds' targets: are the three lowest-support sentences of seed 002 (checked
    against seed 000) ones with invented specifics; is seed 000 supported against itself; does
    it get no_evidence, never unsupported, against unrelated news."""
    from fabscore.evidence import build

    human, machine = seeds / SEED_HUMAN, seeds / SEED_MACHINE
    idx = build([str(human)])
    rec = det.score(machine.read_text(), evidence=idx)[0]
    ranked = sorted(rec["sentences"], key=lambda s: (s["support"] is None, s["support"] or 0))
    lowest = [{"support": s["support"], "status": s["status"], "text": s["text"],
               "invented": [w for w in INVENTED if w in s["text"]]} for s in ranked[:3]]
    own = det.score(human.read_text(), evidence=idx)[0]
    far = det.score(human.read_text(), evidence=unrelated_news(n_unrelated, data_dir))[0]

    def statuses(r: dict) -> dict:
        return {k: sum(s["status"] == k for s in r["sentences"]) for k in STATUSES}

    return {"002_vs_000": {"three_lowest": lowest, "met": all(x["invented"] for x in lowest), "statuses": statuses(rec),
                           "all": [(round(s["support"], 3) if s["support"] is not None else None, s["status"],
                                    s["text"][:80]) for s in rec["sentences"]]},
            "000_vs_000": {"statuses": statuses(own), "met": statuses(own)["supported"] == len(own["sentences"])},
            f"000_vs_{n_unrelated}_unrelated": {
                "statuses": statuses(far), "met": statuses(far)["unsupported"] == 0,
                "max_similarity": max(s["evidence"][0]["similarity"] for s in far["sentences"])}}


def evidence_report(model=None, n_stories: int = 160, per_article: int = 3, rewrites: int = 250,
                    n_outside: int | None = None, test_share: float = 0.3, seed: int = 0,
                    data_dir: str | Path | None = None,
                    detector=None, seeds: Path | None = SEEDS, log=lambda m: None) -> dict:
    """Evidence metrics of `model`'s consistency head (a ModelDir, a path or a shipped name) on
    the held-out stories (see the module docstring); `detector` (scoring with that model) adds
    the seed checks when the seeds folder exists. n_outside (articles the inserted sentences
    come from): None = a quarter of n_stories, 3 to N_OUTSIDE (as in training)."""
    from fabscore.evidence.annotate import check_sentences
    from fabscore.evidence.checker import SUPPORT_CUT, load_checker

    data_dir = Path(data_dir) if data_dir else None
    n_outside = min(N_OUTSIDE, max(3, n_stories // 4)) if n_outside is None else n_outside
    started = time.monotonic()
    checker = load_checker(model)
    src = Sources.read(data_dir)
    log(f"evidence: building held-out pairs (at most {n_stories} stories)")
    pool, pairs = split("test", src, n_stories, test_share, seed, per_article, rewrites, n_outside, log=log)
    checked = check_sentences([p.text for p in pairs], pool, checker.top_k)
    support = checker.head.predict_proba(checked.X)[:, 1]
    log(f"evidence: {len(pairs)} pairs checked against a pool of {len(pool)} sentences")
    report = evaluate(pairs, support, checked, checker.claim_support_cut)
    kinds = np.array([p.kind for p in pairs])
    cut = checker.relevance_cut(len(pool))
    relevant = checked.sims[:, 0] >= cut if len(pairs) else np.zeros(0, bool)
    report["share_no_evidence"] = {k: float((~relevant[kinds == k]).mean()) for k in sorted(set(kinds.tolist()))}
    report["settings"] = {"n_stories": len({p.story for p in pairs if p.kind == "original"}),
                          "max_stories": n_stories, "per_article": per_article, "rewrites": rewrites,
                          "n_outside": n_outside, "test_share": test_share, "seed": seed,
                          "pool_sentences": len(pool), "pairs": len(pairs), "top_k": checker.top_k,
                          "relevance_cut": cut, "relevance_line": checker.relevance.as_dict(),
                          "support_cut": SUPPORT_CUT, "claim_support_cut": checker.claim_support_cut}
    report["targets"] = TARGETS
    if detector is not None and seeds is not None and (Path(seeds) / SEED_MACHINE).is_file():
        log("evidence: checking the seeds")
        report["seeds"] = seed_checks(detector, Path(seeds), data_dir)
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def _md(header: tuple[str, ...], rows: list[tuple]) -> str:
    def cell(v) -> str:
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    out = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return "\n".join(out + ["| " + " | ".join(map(cell, r)) + " |" for r in rows])


def _met(value: float | None, target: float) -> str:
    return "-" if value is None else "met" if value >= target else "NOT met"


def evidence_text(rep: dict) -> str:
    """The tables `fabscore evaluate --evidence` prints."""
    st, t = rep["settings"], rep["targets"]
    lines = [f"evidence mode on {st['n_stories']} held-out stories ({st['pairs']} sentences checked against a pool of "
             f"{st['pool_sentences']} sentences; relevance cut {st['relevance_cut']:.3f}, support cut "
             f"{st['support_cut']:g}):", ""]
    rows = [(TYPE_NAMES.get(k, k), v["n"], v["auroc"], v["share_unsupported"], f">= {t['corruption_auroc']:g}",
             _met(v["auroc"], t["corruption_auroc"])) for k, v in rep["corruption_auroc"].items()]
    nat = rep["natural_n"]
    rows.append((f"natural: inserted ({nat['inserted']}) vs restated ({nat['restated']})",
                 nat["inserted"] + nat["restated"], rep["natural_auroc"], None, f">= {t['natural_auroc']:g}",
                 _met(rep["natural_auroc"], t["natural_auroc"])))
    lines.append(_md(("sentences (vs originals)", "n", "auroc", "share_unsupported", "target", ""), rows))
    share = rep["originals_share_supported"]
    lines.append(f"originals: {rep['n_originals']}, share supported "
                 f"{'-' if share is None else format(share, '.3f')}")
    c = rep["claim_level"]
    target_ok = c["recall"] >= t["claim_recall"] and (c["precision"] or 0) >= t["claim_precision"]
    lines += ["", f"claims ({c['n_corrupted_claims']} changed entity/number/date/speaker claims, "
              f"{c['n_not_extracted']} of them not extracted by spaCy; shipped rule: `supported: false` when the "
              f"words are not in the evidence, or not in its best sentence and the sentence's support <= "
              f"{c['claim_support_cut']:g}):"]
    for key, negatives in (("claim_level", "the originals' claims"),
                           ("claim_level_with_restated", "also the restated rewrites' claims")):
        c = rep.get(key)
        if not c:
            continue
        at_p, best = c["recall_at_precision"], c["best_f1"] or {}
        lines += [f"negatives: {c['n_negative_claims']} ({negatives})",
                  _md(("claims flagged", "threshold", "recall", "precision", "false_flags"),
                      [("as shipped (`supported: false`)", None, c["recall"], c["precision"], c["false_flags"]),
                       ("words not in the evidence (`found: false`)", None, c["not_found_only"]["recall"],
                        c["not_found_only"]["precision"], c["not_found_only"]["false_flags"]),
                       (f"best recall at precision >= {c['min_precision']:g}", at_p["threshold"], at_p["recall"],
                        at_p["precision"], at_p.get("false_flags")),
                       ("best F1", best.get("threshold"), best.get("recall"), best.get("precision"),
                        best.get("false_flags"))])]
    lines.append(f"claim target recall >= {t['claim_recall']:g} at precision >= {t['claim_precision']:g} "
                 f"(negatives: the originals' claims): {'met' if target_ok else 'NOT met'} as shipped")
    if rep.get("seeds"):
        s = rep["seeds"]
        low = s["002_vs_000"]["three_lowest"]
        far_key = next(k for k in s if k.startswith("000_vs_") and k.endswith("_unrelated"))
        lines += ["", _md(("seeds", "statuses", "target", ""), [
            ("002 vs 000", _statuses(s["002_vs_000"]["statuses"]),
             f"3 lowest invented ({sum(bool(x['invented']) for x in low)}/3)",
             "met" if s["002_vs_000"]["met"] else "NOT met"),
            ("000 vs 000", _statuses(s["000_vs_000"]["statuses"]), "all supported",
             "met" if s["000_vs_000"]["met"] else "NOT met"),
            (f"000 vs {far_key.split('_')[2]} unrelated", _statuses(s[far_key]["statuses"]), "none unsupported",
             "met" if s[far_key]["met"] else "NOT met")])]
    return "\n".join(lines)


def _statuses(counts: dict) -> str:
    return " ".join(f"{k}={counts[k]}" for k in STATUSES)
