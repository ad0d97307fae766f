"""Claim/source pairs judged by people: what the verifier learns support from.

Every file of `<data>/evidence/claims/`, plus QAGS-CNNDM (each summary sentence against its
article, majority vote) and Climate-FEVER (each claim against each annotated evidence sentence),
as one list of `HumanPair`. A pair's `label` is 1 when people judged the claim supported and 0
otherwise (not supported, refuted, not enough information); `refuted` is True / False where the set
tells a source that says otherwise from one that is silent, None where it does not. `generic`
pairs (no factual claim) are left out.

`dataset` is the unit of leave-one-dataset-out; `family` groups sets that share material (BEGIN
and FaithDial draw on the same dialogues; WiCE's sub-claims come from its claims), so a held-out
set's family is never in training. `group` keeps rows that share a claim or a source document
together in any split: `group_id` where the file has one, else the source text.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabscore.training.paths import data_dir

CLAIM_FILES = {"summedits": "summedits.jsonl", "bump": "bump.jsonl", "wice": "wice_claims_dev.jsonl",
               "wice_sub": "wice_subclaim_nonsupported_tokens.jsonl", "covidfact": "covidfact.jsonl",
               "healthver": "healthver.jsonl", "begin": "begin.jsonl", "faithdial": "faithdial_audit.jsonl",
               "dialfact": "dialfact_testsmall.jsonl"}
FAMILY = {"faithdial": "begin", "wice_sub": "wice"}
EVAL_ONLY = ("qags_cnndm", "climate_fever")  # never fitted on: `fabscore evaluate --evidence` measures on them
# the sets reported as held out (wice_sub is one label only: training material, not a test)
REPORTED = ("summedits", "bump", "wice", "covidfact", "healthver", "begin", "faithdial", "dialfact", "qags_cnndm",
            "climate_fever")
REFUTING = {"refuted", "contradicted"}
NOT_SUPPORTED = {"not_supported", "refuted", "contradicted", "not_enough_info"}
THREE_WAY = frozenset({"covidfact", "healthver", "dialfact", "climate_fever"})  # sets that tell refuted apart
CLIMATE_LABELS = {"SUPPORTS": "supported", "REFUTES": "refuted", "NOT_ENOUGH_INFO": "not_enough_info"}


@dataclass(frozen=True)
class HumanPair:
    dataset: str
    group: str
    claim: str
    evidence: str  # the whole source as the set gives it
    label: int  # 1 = judged supported
    refuted: bool | None  # the source says otherwise (None: the set does not tell)

    @property
    def family(self) -> str:
        return FAMILY.get(self.dataset, self.dataset)


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _pair(dataset: str, group: str, claim: str, evidence: str, label: str) -> HumanPair | None:
    label = label.lower()
    if label != "supported" and label not in NOT_SUPPORTED:
        return None
    refuted = (label in REFUTING) if dataset in THREE_WAY else None
    return HumanPair(dataset, group, claim.strip(), evidence.strip(), int(label == "supported"), refuted)


def claim_file(name: str, data: Path | None = None) -> list[HumanPair]:
    path = data_dir(data) / "evidence" / "claims" / CLAIM_FILES[name]
    out = []
    for line in path.open():
        r = json.loads(line)
        if not r.get("claim", "").strip() or not r.get("evidence", "").strip():
            continue
        p = _pair(name, f"{name}:{r.get('group_id') or _h(r['evidence'])}", r["claim"], r["evidence"], r["label"])
        if p is not None:
            out.append(p)
    return out


def qags(data: Path | None = None) -> list[HumanPair]:
    """Each QAGS-CNNDM summary sentence against its own article; supported = the majority said yes."""
    path = data_dir(data) / "evidence" / "qags_cnndm.jsonl"
    out = []
    for n, line in enumerate(path.open()):
        r = json.loads(line)
        for s in r["summary_sentences"]:
            yes = sum(x["response"] == "yes" for x in s["responses"])
            out.append(HumanPair("qags_cnndm", f"qags:{n}", s["sentence"], r["article"],
                                 int(2 * yes > len(s["responses"])), None))
    return out


def climate_fever(data: Path | None = None) -> list[HumanPair]:
    """Each Climate-FEVER claim against each of its annotated evidence sentences (pair labels)."""
    path = data_dir(data) / "evidence" / "climate_fever.jsonl"
    out = []
    for line in path.open():
        c = json.loads(line)
        for e in c["evidences"]:
            label = CLIMATE_LABELS.get(e["evidence_label"])
            if label:
                out.append(_pair("climate_fever", f"cf:{c['claim_id']}", c["claim"], e["evidence"], label))
    return out


def load(data: Path | None = None, per_dataset: int | None = None, seed: int = 0) -> list[HumanPair]:
    """Every human-labelled pair there is (a file that is not there is skipped); per_dataset: at most
    that many pairs of each set, whole groups drawn at random (so a group is never cut in two)."""
    out: list[HumanPair] = []
    readers = [lambda name=name: claim_file(name, data) for name in CLAIM_FILES]
    readers += [lambda: qags(data), lambda: climate_fever(data)]
    for read in readers:
        try:
            pairs = read()
        except FileNotFoundError:
            continue
        out += subsample(pairs, per_dataset, seed) if per_dataset else pairs
    return out


def subsample(pairs: list[HumanPair], n: int, seed: int) -> list[HumanPair]:
    """Whole groups, in a random order, until n pairs are taken."""
    groups: dict[str, list[HumanPair]] = {}
    for p in pairs:
        groups.setdefault(p.group, []).append(p)
    keys = sorted(groups)
    np.random.default_rng(seed).shuffle(keys)
    out: list[HumanPair] = []
    for k in keys:
        if len(out) >= n:
            break
        out += groups[k]
    return out
