"""`fabscore evaluate --evidence`: evidence mode's metrics on held-out stories and human labels.

The held-out split of `training.evidence.pairs` (stories whose id hash puts them in the
test share, drawn with the test split's own random stream, so the same pairs the
consistency head was measured on when it was trained with the same settings). The
evidence pool is every sentence of all these held-out originals. Reported:

- per corruption type (a same-article name swap included), the sentence-level AUROC of
  `support` (corrupted vs original sentences), and what the records say: the share of each
  status, and the verdict of the changed claim;
- the natural rewrites' AUROC (llmfake sentences inserted vs restated);
- claim level: recall of the changed claims marked absent or conflicting, precision against
  every claim of the originals (and of the restated rewrites);
- human labels in `<data>/evidence/` (when there): QAGS-CNNDM (each summary sentence checked
  against its own article: sentence AUROC with the annotators' majority "no" as positive,
  summary Spearman of mean support against the share of sentences judged supported, the naive
  share-of-content-words baseline beside them, and the statuses by label) and Climate-FEVER
  (claim vs each annotated evidence sentence: AUROC of SUPPORTS vs REFUTES, and 3-way macro-F1);
- the seeds (when the repository's seeds/ folder is there): seed 002 checked against
  seed 000, seed 000 against itself and against unrelated news.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np

from fabscore.training.evidence.metrics import evaluate
from fabscore.training.evidence.pairs import N_OUTSIDE, Sources, read, split
from fabscore.training.paths import SEEDS, data_dir

SEED_HUMAN, SEED_MACHINE = "000_e0349e775a64605f.txt", "002_3ca293cc838cf24e.txt"
# Seed 002's invented specifics -> the text a marked (absent or conflicting) claim must contain
INVENTED = {"Eboe-Osuji": "Eboe-Osuji", "Lavrov": "Lavrov", "Lavrov's letter (its quotation)":
            "instrument of Western imperialism", "Lavrov's letter (harsh response)": "harsh response",
            "March 14th": "March 14th", "March 15th": "March 15th", "Borrell": "Borrell",
            "Borrell's quotation": "refrain from any action", "Blinken": "Blinken",
            "Blinken's quotation": "stands with the ICC", "Dutch security forces": "Dutch"}
# Names seed 000 contains: never to be marked in seed 002 (outside an invented quotation)
NEVER_MARKED = ("Russia", "Russian", "Ukraine", "ICC", "International Criminal Court", "The Hague", "Putin")
TARGETS = {"corruption_auroc": 0.95, "natural_auroc": 0.93, "qags_sentence_auroc": 0.88, "qags_summary_spearman": 0.72,
           "climate_sr_auroc_gain": 0.10}
BASELINES = {"climate_sr_auroc": 0.576, "qags_sentence_auroc": 0.665, "qags_summary_spearman": 0.343,
             "natural_auroc": 0.901}  # the head shipped before the same-article swaps and corrupted rewrites
TYPE_NAMES = {"entity": "entity swapped (other story)", "number": "number changed", "date": "date changed",
              "speaker": "quotation speaker swapped", "negation": "negation added/removed",
              "insert": "sentence from another story", "name_same": "name swapped (same article)"}
STATUSES = ("supported", "contradicted", "unverified", "no_evidence")
CLIMATE_LABELS = ("SUPPORTS", "REFUTES", "NOT_ENOUGH_INFO")
CLIMATE_TEST_SHARE = 0.3  # of the claims (by a hash of claim_id): the 3-way mapping is fitted on the rest


def unrelated_news(n: int, data_dir: Path | None = None) -> list[str]:
    """n human articles from usnews_mar2023 (22-26 March 2023) that do not mention the seeds' ICC story."""
    story = ("ICC", "Criminal Court", "Putin", "Medvedev", "Hague")
    rows = read("usnews_mar2023_human.clean.jsonl", data_dir)
    return [r["text"] for r in rows if not any(w in r["text"] for w in story)][:n]


def statuses(rec: dict) -> dict:
    return {k: sum(s["status"] == k for s in rec["sentences"]) for k in STATUSES}


def marked_claims(rec: dict) -> list[tuple[str, str, str]]:
    """(text, verdict, kind) of every absent or conflicting claim of a record."""
    return [(c["text"], c["verdict"], c["kind"]) for s in rec["sentences"] for c in s["claims"]
            if c["verdict"] in ("absent", "conflicting")]


def seed_checks(det, seeds: Path = SEEDS, data_dir: Path | None = None, n_unrelated: int = 50) -> dict:
    """The seeds' targets: seed 002 checked against seed 000 marks every invented specific absent or
    conflicting, and none of the names seed 000 contains (NEVER_MARKED, outside an invented
    quotation); seed 000 against itself is all supported; against unrelated news all no_evidence."""
    from fabscore.evidence import build

    human, machine = seeds / SEED_HUMAN, seeds / SEED_MACHINE
    idx = build([str(human)])
    rec = det.score(machine.read_text(), evidence=idx)[0]
    marked = marked_claims(rec)
    invented = {k: any(w.lower() in t.lower() for t, _, _ in marked) for k, w in INVENTED.items()}
    wrong = {w: [t for t, _, kind in marked if kind != "quote" and re.search(rf"\b{re.escape(w)}\b", t)]
             for w in NEVER_MARKED}
    wrong = {w: v for w, v in wrong.items() if v}
    own = det.score(human.read_text(), evidence=idx)[0]
    far = det.score(human.read_text(), evidence=unrelated_news(n_unrelated, data_dir))[0]
    return {"002_vs_000": {"statuses": statuses(rec), "invented_marked": invented, "never_marked_violations": wrong,
                           "met": all(invented.values()) and not wrong, "marked": marked,
                           "sentences": [(s["support"], s["status"], s["text"][:80]) for s in rec["sentences"]]},
            "000_vs_000": {"statuses": statuses(own), "met": statuses(own)["supported"] == len(own["sentences"])},
            f"000_vs_{n_unrelated}_unrelated": {
                "statuses": statuses(far), "met": statuses(far)["no_evidence"] == len(far["sentences"]),
                "max_similarity": max(s["evidence"][0]["similarity"] for s in far["sentences"])}}


# ---------------------------------------------------------------- human labels
def _auroc_low(y_pos, support) -> float | None:
    """AUROC with y_pos = 1 for the unsupported class, ranked by low support."""
    from fabscore.training.eval.metrics import auroc

    y = np.asarray(y_pos)
    return None if len(set(y.tolist())) < 2 else auroc(y, -np.asarray(support, dtype=float))


def naive_share(sentence: str, evidence_tokens: set[str]) -> float:
    """The naive baseline: share of the sentence's content words found in the evidence."""
    from fabscore.evidence.features import content_tokens

    words = content_tokens(sentence)
    return len(words & evidence_tokens) / len(words) if words else 1.0


def qags_report(checker, data: Path | None = None, limit: int | None = None, log=lambda m: None) -> dict | None:
    """QAGS-CNNDM: each summary sentence checked against an index of its own article (None when the
    data set is not there). Label 1 = the annotators' majority said "no" (not supported)."""
    from scipy.stats import spearmanr

    from fabscore.evidence.annotate import EvidenceCheck, check_sentences
    from fabscore.evidence.claims import key_tokens
    from fabscore.evidence.index import build_from_texts

    path = data_dir(data) / "evidence" / "qags_cnndm.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.open()][:limit]
    log(f"evidence: QAGS-CNNDM, {len(rows)} summaries checked against their articles")
    y, support, naive, status, per_summary = [], [], [], [], []
    for n, r in enumerate(rows):
        sents = [s["sentence"] for s in r["summary_sentences"]]
        labels = [int(2 * sum(x["response"] == "no" for x in s["responses"]) > len(s["responses"]))
                  for s in r["summary_sentences"]]
        check = EvidenceCheck(build_from_texts([r["article"]], [f"qags-{n}"]), checker)
        checked = check_sentences(sents, check.index, checker.top_k)
        sup = checker.head.predict_proba(checked.X)[:, 1]
        got = check.check(sents, checked=checked)
        article = set(key_tokens(r["article"]))
        nv = [naive_share(s, article) for s in sents]
        y += labels
        support += sup.tolist()
        naive += nv
        status += [g.status for g in got]
        per_summary.append((1 - float(np.mean(labels)), float(np.mean(sup)), float(np.mean(nv))))
    y, support, naive = np.array(y), np.array(support), np.array(naive)
    human, mean_sup, mean_naive = map(np.array, zip(*per_summary))
    by_label = {("not_supported" if lab else "supported"): {k: round(float(np.mean(
        [s == k for s, yy in zip(status, y) if yy == lab])), 4) for k in STATUSES}
        for lab in (0, 1) if (y == lab).any()}
    return {"n_summaries": len(rows), "n_sentences": int(len(y)), "n_not_supported": int(y.sum()),
            "sentence_auroc": _auroc_low(y, support), "summary_spearman": float(spearmanr(mean_sup, human).correlation),
            "naive": {"sentence_auroc": _auroc_low(y, naive),
                      "summary_spearman": float(spearmanr(mean_naive, human).correlation)},
            "statuses_by_label": by_label,
            "protocol": "each summary sentence vs an index of its own article; label 1 = majority 'no'; summary "
                        "Spearman of mean support vs the share of sentences judged supported; naive = share of the "
                        "sentence's content words found in the article"}


def _climate_split(claim_id: str) -> str:
    h = int(hashlib.sha256(f"cf:{claim_id}".encode()).hexdigest()[:8], 16)
    return "test" if h % 1000 < 1000 * CLIMATE_TEST_SHARE else "train"


def climate_report(checker, data: Path | None = None, limit: int | None = None, log=lambda m: None) -> dict | None:
    """Climate-FEVER: each claim against each of its annotated evidence sentences (pair level). The
    AUROC of SUPPORTS vs REFUTES pairs by support, on the test claims (CLIMATE_TEST_SHARE by a hash
    of the claim id); 3-way macro-F1 (SUPPORTS / REFUTES / NOT_ENOUGH_INFO) two ways: a multinomial
    logistic regression on support fitted on the other claims' pairs, and the statuses themselves
    (supported -> SUPPORTS, contradicted -> REFUTES, else NOT_ENOUGH_INFO), the evidence sentence
    being its own one-sentence pool."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from fabscore.evidence.annotate import EvidenceCheck, check_sentences
    from fabscore.evidence.claims import key_tokens
    from fabscore.evidence.index import EvidenceIndex, encode
    from fabscore.evidence.table import EvidenceSentence, SentenceTable
    from fabscore.text.normalize import normalize

    path = data_dir(data) / "evidence" / "climate_fever.jsonl"
    if not path.is_file():
        return None
    claims = [json.loads(line) for line in path.open()][:limit]
    pairs = [(c["claim"], e["evidence"], e["evidence_label"], _climate_split(c["claim_id"]))
             for c in claims for e in c["evidences"] if e["evidence_label"] in CLIMATE_LABELS]
    log(f"evidence: Climate-FEVER, {len(claims)} claims, {len(pairs)} (claim, evidence) pairs")
    # every evidence sentence is one row of one index, each its own article; a claim is checked against
    # its own annotated sentence only (rows), through the same check as scoring
    ev_texts = sorted({p[1] for p in pairs})
    row = {t: i for i, t in enumerate(ev_texts)}
    table = SentenceTable.from_sentences(EvidenceSentence("<climate-fever>", f"cf-ev-{i}", 0, len(t), t, None, None)
                                         for i, t in enumerate(ev_texts))
    check = EvidenceCheck(EvidenceIndex(table, encode([normalize(t) for t in ev_texts])), checker, pool_size=1)
    texts = [p[0] for p in pairs]
    rows = np.array([[row[p[1]]] for p in pairs])
    checked = check_sentences(texts, check.index, 1, rows=rows)
    support = checker.head.predict_proba(checked.X)[:, 1]
    status = [g.status for g in check.check(texts, checked=checked)]
    labels = np.array([CLIMATE_LABELS.index(p[2]) for p in pairs])
    test = np.array([p[3] == "test" for p in pairs])
    sr = test & (labels != 2)
    out = {"n_claims": len(claims), "n_pairs": len(pairs), "n_test_pairs": int(test.sum()),
           "by_label": {k: int((labels == i).sum()) for i, k in enumerate(CLIMATE_LABELS)},
           "sr_auroc": _auroc_low((labels[sr] == 1).astype(int), support[sr]),
           "naive_sr_auroc": _auroc_low((labels[sr] == 1).astype(int),
                                        [naive_share(pairs[i][0], set(key_tokens(pairs[i][1])))
                                         for i in np.flatnonzero(sr)])}
    if (~test).any() and len(set(labels[~test].tolist())) == 3 and test.any():
        lr = LogisticRegression(max_iter=1000).fit(support[~test].reshape(-1, 1), labels[~test])
        out["macro_f1"] = float(f1_score(labels[test], lr.predict(support[test].reshape(-1, 1)), average="macro"))
    mapped = np.array([{"supported": 0, "contradicted": 1}.get(s, 2) for s in status])
    out["macro_f1_statuses"] = float(f1_score(labels[test], mapped[test], average="macro")) if test.any() else None
    out["statuses_by_label"] = {k: {s: round(float(np.mean([x == s for x, t in zip(status, test & (labels == i))
                                                           if t])), 4) for s in STATUSES}
                                for i, k in enumerate(CLIMATE_LABELS) if (test & (labels == i)).any()}
    out["protocol"] = (f"claim vs each annotated evidence sentence; test = {CLIMATE_TEST_SHARE:.0%} of the claims by "
                       "sha256('cf:' + claim_id); sr_auroc: REFUTES positive, ranked by low support; macro_f1: "
                       "a logistic regression on support fitted on the other claims' pairs; macro_f1_statuses: "
                       "supported/contradicted/other as SUPPORTS/REFUTES/NOT_ENOUGH_INFO")
    return out


def human_sets_report(checker, data: Path | None = None, limit: int | None = None, log=lambda m: None) -> dict | None:
    """The head on every human-labelled set (per set: AUROC of support, balanced accuracy at the status
    cut), each claim against the sentences of its source nearest it, as scoring retrieves evidence.
    Sets the head was fitted on are marked (`fitted_on`: an in-sample figure); the honest forecast for
    them is the leave-one-dataset-out table stored when the head was trained."""
    from fabscore.training.evidence import human_pairs, human_passages
    from fabscore.training.evidence.human_metrics import scores

    if not (data_dir(data) / "evidence" / "claims").is_dir():
        return None
    pairs = human_pairs.load(data, per_dataset=limit or human_passages.POOL, seed=0)
    log(f"evidence: {len(pairs)} human-labelled pairs of {len({p.dataset for p in pairs})} sets")
    _, X = human_passages.build(pairs, log=log)
    support = checker.head.predict_proba(X)[:, 1]
    datasets, y = np.array([p.dataset for p in pairs]), np.array([p.label for p in pairs])
    lodo = (checker.info.get("held_out") or {}).get("leave_one_dataset_out") or {}
    fitted = set(checker.info.get("human_sets") or [d for d in lodo if d not in human_pairs.EVAL_ONLY])
    return {"sets": {d: {**scores(y[datasets == d], support[datasets == d]), "fitted_on": d in fitted}
                     for d in human_pairs.REPORTED if (datasets == d).any()},
            "leave_one_dataset_out": lodo or None,
            "protocol": "each claim against the TOP_K sentences of its source nearest it (MiniLM cosine), best "
                        "first; AUROC of support for judged supported vs not; balanced accuracy at support >= "
                        "the status cut; at most per_dataset pairs a set, whole groups",
            "per_dataset": limit or human_passages.POOL}


def evidence_report(model=None, n_stories: int = 160, per_article: int = 3, rewrites: int = 250,
                    n_outside: int | None = None, test_share: float = 0.3, seed: int = 0,
                    data_dir: str | Path | None = None, human: int | None = None,
                    detector=None, seeds: Path | None = SEEDS, log=lambda m: None) -> dict:
    """Evidence metrics of `model`'s consistency head (a ModelDir, a path or a shipped name) on
    the held-out stories and the human-labelled sets (see the module docstring); `detector`
    (scoring with that model) adds the seed checks when the seeds folder exists. n_outside
    (articles the inserted sentences come from): None = a quarter of n_stories, 3 to N_OUTSIDE
    (as in training). human: at most this many QAGS summaries and Climate-FEVER claims (None: all;
    0: none)."""
    from fabscore.evidence.annotate import EvidenceCheck, check_sentences
    from fabscore.evidence.checker import SUPPORT_CUT, load_checker

    data = Path(data_dir) if data_dir else None
    n_outside = min(N_OUTSIDE, max(3, n_stories // 4)) if n_outside is None else n_outside
    started = time.monotonic()
    checker = load_checker(model)
    src = Sources.read(data)
    log(f"evidence: building held-out pairs (at most {n_stories} stories)")
    pool, pairs = split("test", src, n_stories, test_share, seed, per_article, rewrites, n_outside, log=log)
    checked = check_sentences([p.text for p in pairs], pool, checker.top_k)
    support = checker.head.predict_proba(checked.X)[:, 1]
    results = EvidenceCheck(pool, checker).check([p.text for p in pairs], checked=checked)
    log(f"evidence: {len(pairs)} pairs checked against a pool of {len(pool)} sentences")
    report = evaluate(pairs, support, results)
    cut = checker.relevance_cut(len(pool))
    report["settings"] = {"n_stories": len({p.story for p in pairs if p.kind == "original"}),
                          "max_stories": n_stories, "per_article": per_article, "rewrites": rewrites,
                          "n_outside": n_outside, "test_share": test_share, "seed": seed,
                          "pool_sentences": len(pool), "pairs": len(pairs), "top_k": checker.top_k,
                          "relevance_cut": cut, "relevance_line": checker.relevance.as_dict(),
                          "support_cut": SUPPORT_CUT}
    report["targets"] = TARGETS
    report["baselines"] = BASELINES
    if human != 0:
        report["qags"] = qags_report(checker, data, human, log)
        report["climate_fever"] = climate_report(checker, data, human, log)
        report["human_sets"] = human_sets_report(checker, data, human, log)
    if detector is not None and seeds is not None and (Path(seeds) / SEED_MACHINE).is_file():
        log("evidence: checking the seeds")
        report["seeds"] = seed_checks(detector, Path(seeds), data)
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


# ---------------------------------------------------------------- the printed tables
def _md(header: tuple[str, ...], rows: list[tuple]) -> str:
    def cell(v) -> str:
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    out = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return "\n".join(out + ["| " + " | ".join(map(cell, r)) + " |" for r in rows])


def _met(value: float | None, target: float) -> str:
    return "-" if value is None else "met" if value >= target else "NOT met"


def _statuses(counts: dict) -> str:
    return " ".join(f"{k}={counts[k]}" for k in STATUSES)


def evidence_text(rep: dict) -> str:
    """The tables `fabscore evaluate --evidence` prints."""
    st, t = rep["settings"], rep["targets"]
    lines = [f"evidence mode on {st['n_stories']} held-out stories ({st['pairs']} sentences checked against a pool of "
             f"{st['pool_sentences']} sentences; relevance cut {st['relevance_cut']:.3f}, support cut "
             f"{st['support_cut']:g}):", ""]
    verdicts = rep.get("verdicts") or {}
    rows = []
    for k, v in rep["corruption_auroc"].items():
        vd = verdicts.get(k, {})
        changed = vd.get("changed_claim") or {}
        rows.append((TYPE_NAMES.get(k, k), v["n"], v["auroc"], (vd.get("status") or {}).get("contradicted"),
                     (vd.get("status") or {}).get("supported"), changed.get("conflicting"), changed.get("absent"),
                     f">= {t['corruption_auroc']:g}", _met(v["auroc"], t["corruption_auroc"])))
    nat = rep["natural_n"]
    rows.append((f"natural: inserted ({nat['inserted']}) vs restated ({nat['restated']})",
                 nat["inserted"] + nat["restated"], rep["natural_auroc"], None, None, None, None,
                 f">= {t['natural_auroc']:g}", _met(rep["natural_auroc"], t["natural_auroc"])))
    lines.append(_md(("sentences (vs originals)", "n", "auroc", "contradicted", "supported",
                      "changed claim conflicting", "changed claim absent", "target", ""), rows))
    share = rep["originals_share_supported"]
    lines.append(f"originals: {rep['n_originals']}, share with support >= 0.5 "
                 f"{'-' if share is None else format(share, '.3f')}")
    if verdicts:
        lines += ["", "statuses by kind of sentence (share):",
                  _md(("kind", "n", *STATUSES, "claims marked"),
                      [(k, v["n"], *(v["status"][s] for s in STATUSES), v["claims_marked"])
                       for k, v in verdicts.items()])]
    for key, what in (("claim_level", "the originals' claims"),
                      ("claim_level_with_restated", "also the restated rewrites' claims")):
        c = rep.get(key)
        if c:
            lines += ["", f"claims marked absent or conflicting: {c['n_changed_claims']} changed by a corruption "
                          f"({c['n_not_extracted']} not extracted by spaCy), negatives {c['n_negative_claims']} "
                          f"({what}): recall {_f(c['recall'])}, precision {_f(c['precision'])}, "
                          f"{c['false_marks']} false marks"]
    q = rep.get("qags")
    if q:
        b = rep.get("baselines", BASELINES)
        lines += ["", f"QAGS-CNNDM ({q['n_summaries']} summaries, {q['n_sentences']} sentences, {q['n_not_supported']} "
                      "judged not supported by most annotators; each checked against its own article):",
                  _md(("metric", "fabscore", "naive word share", "before", "target", ""),
                      [("sentence AUROC", q["sentence_auroc"], q["naive"]["sentence_auroc"], b["qags_sentence_auroc"],
                        f">= {t['qags_sentence_auroc']:g}", _met(q["sentence_auroc"], t["qags_sentence_auroc"])),
                       ("summary Spearman", q["summary_spearman"], q["naive"]["summary_spearman"],
                        b["qags_summary_spearman"], f">= {t['qags_summary_spearman']:g}",
                        _met(q["summary_spearman"], t["qags_summary_spearman"]))])]
    c = rep.get("climate_fever")
    if c:
        b = rep.get("baselines", BASELINES)
        target = b["climate_sr_auroc"] + t["climate_sr_auroc_gain"]
        lines += ["", f"Climate-FEVER ({c['n_claims']} claims, {c['n_pairs']} claim-evidence pairs, "
                      f"{c['n_test_pairs']} of the test claims):",
                  _md(("metric", "fabscore", "naive word share", "before", "target", ""),
                      [("SUPPORTS vs REFUTES AUROC", c["sr_auroc"], c["naive_sr_auroc"], b["climate_sr_auroc"],
                        f">= {target:.3f}", _met(c["sr_auroc"], target)),
                       ("3-way macro-F1 (support, fitted)", c.get("macro_f1"), None, None, None, ""),
                       ("3-way macro-F1 (statuses)", c.get("macro_f1_statuses"), None, None, None, "")])]
    hs = rep.get("human_sets")
    if hs:
        lodo = hs.get("leave_one_dataset_out") or {}
        lines += ["", f"human-labelled sets (at most {hs['per_dataset']} pairs a set): the shipped head, and the "
                      "head refitted without each set's family when it was trained (leave one dataset out: the "
                      "forecast for a set never seen)",
                  _md(("set", "n", "supported", "AUROC", "bal. acc.", "fitted on", "LODO AUROC", "LODO bal. acc."),
                      [(d, v["n"], v.get("n_supported"), v["auroc"], v["bacc"], "yes" if v["fitted_on"] else "no",
                        (lodo.get(d) or {}).get("auroc"), (lodo.get(d) or {}).get("bacc"))
                       for d, v in hs["sets"].items()])]
        if not any(v["fitted_on"] for v in hs["sets"].values()):
            au = [v["auroc"] for v in hs["sets"].values() if v["auroc"] is not None]
            ba = [v["bacc"] for v in hs["sets"].values() if v["bacc"] is not None]
            lines.append(f"the head was fitted on none of these sets: every figure is held out; mean over {len(au)} "
                         f"sets: AUROC {np.mean(au):.3f}, balanced accuracy {np.mean(ba):.3f}")
        if lodo:
            au = [v["auroc"] for v in lodo.values() if v.get("auroc") is not None]
            ba = [v["bacc"] for v in lodo.values() if v.get("bacc") is not None]
            lines.append(f"leave one dataset out, mean over {len(au)} sets: AUROC {np.mean(au):.3f}, balanced "
                         f"accuracy {np.mean(ba):.3f}")
    if rep.get("seeds"):
        s = rep["seeds"]
        inv = s["002_vs_000"]["invented_marked"]
        far_key = next(k for k in s if k.startswith("000_vs_") and k.endswith("_unrelated"))
        lines += ["", _md(("seeds", "statuses", "target", ""), [
            ("002 vs 000", _statuses(s["002_vs_000"]["statuses"]),
             f"invented specifics marked ({sum(inv.values())}/{len(inv)}), none of seed 000's names "
             f"({len(s['002_vs_000']['never_marked_violations'])} marked)",
             "met" if s["002_vs_000"]["met"] else "NOT met"),
            ("000 vs 000", _statuses(s["000_vs_000"]["statuses"]), "all supported",
             "met" if s["000_vs_000"]["met"] else "NOT met"),
            (f"000 vs {far_key.split('_')[2]} unrelated", _statuses(s[far_key]["statuses"]), "all no_evidence",
             "met" if s[far_key]["met"] else "NOT met")])]
    return "\n".join(lines)


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"
