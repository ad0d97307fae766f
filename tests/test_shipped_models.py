"""The shipped models: both load and label the seed articles, the default
scores exactly as its stored arrays say, and it beats chance on shared data it did not
train on."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import SEED_HUMAN, SEED_MACHINE, shared_file
from safetensors.numpy import load_file

from fabscore import load_detector
from fabscore.features.featurize import stack
from fabscore.models import directory as md
from fabscore.text.sentences import chunks

pytestmark = pytest.mark.slow  # each model loads its backbones and scores whole articles


@pytest.mark.parametrize("model", ["default", "fast"])
def test_shipped_model_labels_the_seeds(model):
    """seeds/000 is a real article, seeds/002 a fabricated account of the same story."""
    det = load_detector(model)
    human = det.score_one(SEED_HUMAN.read_text(encoding="utf-8"))
    machine = det.score_one(SEED_MACHINE.read_text(encoding="utf-8"))
    assert human.label == "human" and human.score < det.threshold, (model, human.score, det.threshold)
    assert machine.label == "fabricated" and machine.score >= det.threshold, (model, machine.score, det.threshold)
    assert machine.score > human.score
    assert human.sentences and machine.sentences


def test_default_model_scores_the_seeds_as_its_stored_arrays_say():
    """The estimator head changes nothing: per chunk, the stored linear map over the real
    features; word-weighted mean; the stored Platt map. Bit for bit."""
    det = load_detector("default")
    t = load_file(str(md.SHIPPED / "default" / md.HEAD_FILES["article"]))
    ts = load_file(str(md.SHIPPED / "default" / md.HEAD_FILES["sentence"]))
    for seed in (SEED_HUMAN, SEED_MACHINE):
        text = seed.read_text(encoding="utf-8")
        decisions, weights, sentence_scores = [], [], []
        for piece in chunks(det.preparer(text), det.chunk_words):
            x_art, x_sent = stack(det.featurizer(piece, det.kinds), det.kinds)
            decisions.append(float((((x_art[None] - t["mean"]) / t["scale"]) @ t["coef"] + t["intercept"][0])[0]))
            weights.append(piece.n_words)
            z = ((x_sent - ts["mean"]) / ts["scale"]) @ ts["coef"] + ts["intercept"][0]
            logit = np.clip(ts["calibration"][0] * z + ts["calibration"][1], -500, 500)
            sentence_scores += list(1 / (1 + np.exp(-logit)))
        a, b = t["calibration"]
        z = float(np.average(decisions, weights=weights))
        want = float(1 / (1 + np.exp(-np.clip(a * z + b, -500, 500))))
        got = det.score_one(text)
        assert got.score == want, seed.name
        assert [s.score for s in got.sentences] == [float(s) for s in sentence_scores], seed.name


def test_default_model_beats_chance_on_unseen_shared_data():
    """40 politifact_pp articles (20 human, 20 machine, hash-chosen) from stories the
    default model never trained on (meta.in_llmfake false), first 200 words: AUROC well above 0.5."""
    from fabscore.training.data.examples import cap_rows, load
    from fabscore.training.eval.metrics import auroc

    unseen = [e for e in load(str(shared_file("politifact_pp.clean.jsonl"))) if not e.meta.get("in_llmfake")]
    rows = cap_rows(unseen, 40, "shipped-test")
    det = load_detector("default")
    results = det.score([" ".join(e.text.split()[:200]) for e in rows])
    scored = [(e.label, r["score"]) for e, r in zip(rows, results) if r["score"] is not None]
    y, p = np.array([a for a, _ in scored]), np.array([b for _, b in scored])
    assert len(scored) >= 30 and set(y.tolist()) == {0, 1}
    assert auroc(y, p) > 0.7, auroc(y, p)
