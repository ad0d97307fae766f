"""Training: data formats, grouped splits, FPR thresholds, the model
directory round trip, `fabscore train` / `fabscore evaluate`, sentence labels.

Everything runs on real data (llmfake rows from ../shared) and the real packaged
backbones; features go to the session `feature_cache` or to tmp dirs, never to
~/.cache/fabscore/features.
"""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabscore.cli import commands as cli
from fabscore.detector import Detector
from fabscore.models import directory as md
from fabscore.training.data.examples import DataError, Example, Fields, fingerprint, load
from fabscore.training.eval.metrics import threshold_for_fpr
from fabscore.training.fit.heads import folds

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    with path.open("w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return path


def tiny_rows(tiny_data: Path) -> list[dict]:
    return [json.loads(line) for line in tiny_data.open()]


# ---------------------------------------------------------------- data formats
def test_load_jsonl(tiny_data):
    rows = tiny_rows(tiny_data)
    exs = load(str(tiny_data))
    assert len(exs) == len(rows) == 40
    by_id = {e.id: e for e in exs}
    for r in rows:
        e = by_id[r["id"]]
        assert e.text == r["text"]
        assert e.label == (1 if r["label"] == "machine" else 0)
        assert e.group == (r["pair_id"] if r["label"] == "machine" and r["pair_id"] else r["id"])
        assert e.source == r["source"] and e.subset == r["meta"]["subset"]
        assert e.generator == (r["generator"] or "")
    assert sum(e.label for e in exs) == 20


def test_load_csv_with_custom_fields(tmp_path, tiny_data):
    rows = tiny_rows(tiny_data)[:6] + tiny_rows(tiny_data)[-6:]
    path = tmp_path / "mine.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["doc", "body", "is_fake", "story"])
        for i, r in enumerate(rows):
            w.writerow([f"d{i}", r["text"], "fabricated" if r["label"] == "machine" else "real", f"s{i // 2}"])
    exs = load(str(path), Fields(text="body", label="is_fake", id="doc", group="story"))
    assert [e.id for e in exs] == [f"d{i}" for i in range(len(rows))]
    assert [e.text for e in exs] == [r["text"] for r in rows]
    assert [e.label for e in exs] == [int(r["label"] == "machine") for r in rows]
    assert [e.group for e in exs] == [f"s{i // 2}" for i in range(len(rows))]


def test_load_csv_default_fields_missing_names_file_and_fields(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("body,is_fake\nSome text here.,real\n")
    with pytest.raises(DataError) as e:
        load(str(path))
    msg = str(e.value)
    assert str(path) in msg and "row 0" in msg and "--text-field" in msg


def test_load_folder_of_txt_files(tmp_path, tiny_data):
    rows = tiny_rows(tiny_data)
    root = tmp_path / "corpus"
    (root / "human").mkdir(parents=True)
    (root / "machine" / "batch2").mkdir(parents=True)
    humans = [r for r in rows if r["label"] == "human"][:3]
    machines = [r for r in rows if r["label"] == "machine"][:3]
    for i, r in enumerate(humans):
        (root / "human" / f"h{i}.txt").write_text(r["text"] + "\n", encoding="utf-8")
    for i, r in enumerate(machines):
        sub = root / "machine" / ("batch2" if i == 2 else "")
        (sub / f"m{i}.txt").write_text(r["text"] + "\n", encoding="utf-8")
    (root / "notes").mkdir()  # not a label folder: ignored
    (root / "notes" / "x.txt").write_text("ignore me")
    exs = load(str(root))
    got = {e.id: e for e in exs}
    assert set(got) == {"human/h0.txt", "human/h1.txt", "human/h2.txt", "machine/m0.txt", "machine/m1.txt",
                        "machine/batch2/m2.txt"}
    for i, r in enumerate(humans):
        e = got[f"human/h{i}.txt"]
        assert e.label == 0 and e.text.strip() == r["text"].strip() and e.group == e.id
    assert got["machine/batch2/m2.txt"].label == 1
    assert got["machine/batch2/m2.txt"].text.strip() == machines[2]["text"].strip()


def test_folder_without_label_subfolders_is_an_error(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("text")
    with pytest.raises(DataError, match="human/ and machine/"):
        load(str(tmp_path))


@pytest.mark.parametrize("as_dict", [False, True], ids=["Dataset", "DatasetDict"])
def test_load_datasets_save_to_disk(tmp_path, tiny_data, as_dict):
    import datasets

    rows = tiny_rows(tiny_data)
    ds = datasets.Dataset.from_list(rows)
    if as_dict:
        ds = datasets.DatasetDict({"train": ds.select(range(30)), "test": ds.select(range(30, 40))})
    ds.save_to_disk(str(tmp_path / "ds"))
    exs = load(str(tmp_path / "ds"))
    assert sorted((e.id, e.label, e.group, e.text) for e in exs) == \
        sorted((e.id, e.label, e.group, e.text) for e in load(str(tiny_data)))
    assert fingerprint(exs) == fingerprint(load(str(tiny_data)))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_bad_label_names_file_and_row(tmp_path, fmt):
    labels = ["human", "machine", "maybe", "human"]
    path = tmp_path / f"bad.{fmt}"
    if fmt == "jsonl":
        write_jsonl(path, [{"id": f"r{i}", "text": f"Article number {i} text.", "label": lab}
                           for i, lab in enumerate(labels)])
    else:
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "text", "label"])
            for i, lab in enumerate(labels):
                w.writerow([f"r{i}", f"Article number {i} text.", lab])
    with pytest.raises(DataError) as e:
        load(str(path))
    msg = str(e.value)
    assert str(path) in msg and "row 2" in msg and "'maybe'" in msg


def test_unknown_file_type_is_an_error(tmp_path):
    p = tmp_path / "data.parquetx"
    p.write_text("x")
    with pytest.raises(DataError, match="unknown data file type"):
        load(str(p))


# ---------------------------------------------------------------- grouped split
@pytest.fixture(scope="module")
def llmfake_pairs(tmp_path_factory, shared_data) -> Path:
    """Real llmfake rows with many rewrites per story: 25 human stories with all their
    rewrites (up to 6), 15 human stories without rewrites in the sample, 12
    machine rows whose human source is not in the sample and 6 machine rows
    written from a title alone (no pair_id)."""
    rows = [json.loads(line) for line in (shared_data / "llmfake.clean.jsonl").open()]
    def key(r: dict) -> str:
        return hashlib.sha256(f"split:{r['id']}".encode()).hexdigest()

    humans = sorted((r for r in rows if r["label"] == "human"), key=key)
    by_pair: dict[str, list[dict]] = {}
    for r in rows:
        if r["label"] == "machine" and r["pair_id"]:
            by_pair.setdefault(r["pair_id"], []).append(r)
    paired = [h for h in humans if len(by_pair.get(h["id"], [])) >= 3][:25]
    lone = [h for h in humans if h["id"] not in by_pair][:15]
    human_ids = {h["id"] for h in rows if h["label"] == "human"}
    orphans = sorted((r for r in rows if r["label"] == "machine" and r["pair_id"]
                      and r["pair_id"] not in human_ids), key=key)[:12]
    unpaired = sorted((r for r in rows if r["label"] == "machine" and not r["pair_id"]), key=key)[:6]
    sample = lone + orphans + unpaired
    for h in paired:
        sample += [h] + sorted(by_pair[h["id"]], key=key)[:6]
    sample.sort(key=key)  # interleave, as in a real file
    return write_jsonl(tmp_path_factory.mktemp("pairs") / "llmfake_sample.jsonl", sample)


def test_groups_are_story_keys(llmfake_pairs):
    rows = {r["id"]: r for r in map(json.loads, llmfake_pairs.open())}
    exs = load(str(llmfake_pairs))
    assert len(exs) == len(rows)
    for e in exs:
        r = rows[e.id]
        assert e.group == (r["pair_id"] if r["label"] == "machine" and r["pair_id"] else r["id"])
    assert sum(1 for r in rows.values() if r["label"] == "machine" and not r["pair_id"]) == 6
    # each of the 25 paired stories is one group holding a human article and >= 3 rewrites
    sizes = {}
    for e in exs:
        sizes.setdefault(e.group, []).append(e.label)
    big = [g for g, labels in sizes.items() if len(labels) >= 4]
    assert len(big) == 25 and all(labels.count(0) == 1 for g, labels in sizes.items() if g in big)


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("n_splits", [2, 5])
def test_folds_never_split_a_story(llmfake_pairs, seed, n_splits):
    exs = load(str(llmfake_pairs))
    y = np.array([e.label for e in exs])
    groups = np.array([e.group for e in exs])
    fold = folds(y, groups, n_splits, seed)
    assert (fold >= 0).all()
    assert len(set(fold.tolist())) == n_splits
    for g in set(groups.tolist()):
        assert len(set(fold[groups == g].tolist())) == 1, f"group {g} spans folds"
    for k in range(n_splits):  # every held-out fold has both classes, and train/test share no story
        test, train = fold == k, fold != k
        assert set(y[test].tolist()) == {0, 1}
        assert not set(groups[test].tolist()) & set(groups[train].tolist())


# ---------------------------------------------------------------- FPR thresholds
SCORES = st.one_of(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=300),
    # heavy ties: few distinct values
    st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5000001, 0.9, 1.0]), min_size=1, max_size=300),
    st.integers(1, 400).map(lambda n: [0.5] * n),
)
FPRS = st.sampled_from([0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 0.999])


@FAST
@given(SCORES, FPRS)
def test_threshold_for_fpr_holds_on_its_own_scores(scores, fpr):
    h = np.array(scores)
    t = threshold_for_fpr(h, fpr)
    achieved = (h >= t).mean()
    if np.floor(fpr * len(h) + 1e-9) >= len(h):
        assert t == h.min()  # every human may be flagged
    else:
        assert achieved <= fpr + 1e-12
        # smallest such threshold: the next human score at or below t already breaks the target
        below = h[h < t]
        if below.size:
            assert (h >= below.max()).mean() > fpr


def test_threshold_for_fpr_random_arrays_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(500):
        n = int(rng.integers(1, 2000))
        h = np.round(rng.beta(2, 5, n), int(rng.integers(1, 4)))  # rounding makes ties
        for fpr in (0.001, 0.01, 0.05):
            t = threshold_for_fpr(h, fpr)
            assert (h >= t).mean() <= fpr
            assert t > h.max() or (h >= t).sum() <= np.floor(fpr * n + 1e-9)


@pytest.mark.slow  # trains (or reuses) the tiny model: minutes of featurizing
def test_tiny_model_card_warns_about_thresholds_on_few_humans(tiny_model_dir):
    """20 human articles cannot show a 0.1%, 1% or 5% false-positive rate: the card says
    so beside each threshold instead of printing a bare held-out FPR."""
    config = json.loads((tiny_model_dir / "config.json").read_text())
    card = (tiny_model_dir / md.CARD).read_text()
    table = config["thresholds"]["article"]
    assert [t["target_fpr"] for t in table] == [0.001, 0.01, 0.05] and {t["n_human"] for t in table} == {20}
    for t in table:
        assert f"**Warning, target FPR {t['target_fpr']:g}:** chosen on only 20 human articles" in card
    assert "(only 20 humans: see warning)" in card
    assert "leave-one-out table" not in card  # the tiny model ran none


# ---------------------------------------------------------------- model directory round trip
@pytest.mark.slow  # trains (or reuses) the tiny model: minutes of featurizing
def test_model_dir_save_load_round_trip_scores_identically(tiny_model_dir, tmp_path, seed_texts, feature_cache):
    """load -> save into a new dir -> load gives the same heads, config and scores, exactly."""
    a = md.load(tiny_model_dir)
    card = (tiny_model_dir / md.CARD).read_text()
    md.save(tmp_path / "copy", a.config, a.article_head, a.sentence_head, card)
    b = md.load(tmp_path / "copy")
    assert b.config == a.config
    assert (tmp_path / "copy" / md.CARD).read_text() == card
    for ha, hb in ((a.article_head, b.article_head), (a.sentence_head, b.sentence_head)):
        for k, v in ha.tensors().items():
            assert np.array_equal(v, hb.tensors()[k]), k
    # the real featurizer, computed once per chunk and shared through the cache
    da, db = Detector(a, featurizer=feature_cache.features), Detector(b, featurizer=feature_cache.features)
    for text in seed_texts.values():
        ra, rb = da.score_one(text), db.score_one(text)
        assert ra.score is not None and ra.score == rb.score
        assert [(s.start, s.end, s.score, s.flagged) for s in ra.sentences] == \
            [(s.start, s.end, s.score, s.flagged) for s in rb.sentences]
        assert len(ra.sentences) > 5


# ---------------------------------------------------------------- CLI: train, evaluate
@pytest.mark.slow  # trains (or reuses) the tiny model: minutes of featurizing
def test_cli_train_writes_loadable_model_with_card(tiny_data, feature_cache, tmp_path, seed_texts, capsys):
    out = tmp_path / "model"
    code = cli.main(["train", "--data", str(tiny_data), "--out", str(out), "--cache", str(feature_cache.root),
                     "--features", "embed,style", "--workers", "1", "--seed", "0"])
    assert code == 0, capsys.readouterr().err
    model = md.load(out)
    assert model.kinds == ("embed", "style")
    config = model.config
    assert config["training_data"]["fingerprint"] == fingerprint(load(str(tiny_data)))
    assert config["training_data"]["n"] == 40
    card = (out / "README.md").read_text()
    assert config["training_data"]["fingerprint"] in card and "fingerprint" in card
    assert "## Thresholds" in card
    for t in config["thresholds"]["article"]:
        assert f"| {t['target_fpr']:g} | {t['threshold']:.4f} |" in card
    assert card.startswith("---\nlibrary_name: fabscore\n")  # Hugging Face-style front matter
    result = Detector(model, featurizer=feature_cache.features).score_one(seed_texts["machine"])
    assert result.score is not None and len(result.sentences) > 5
    assert result.label == ("fabricated" if result.score >= result.threshold else "human")


def test_cli_train_finetune_without_embed_is_a_usage_error(tiny_data, tmp_path, capsys):
    out = tmp_path / "never"
    code = cli.main(["train", "--data", str(tiny_data), "--out", str(out), "--finetune", "--features", "style",
                     "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--finetune" in err and "embed" in err
    assert not out.exists()


@pytest.mark.slow  # trains (or reuses) the tiny model: minutes of featurizing
def test_cli_train_finetune_ships_its_encoder_and_reports_only_held_out_stories(tiny_data, feature_cache, tmp_path,
                                                                                 seed_texts, capsys):
    """The real MiniLM fine-tuned for one epoch on 32 real articles: the model directory
    carries the new weights (safetensors, in the manifest), scoring uses them, and
    thresholds and metrics come from the held-out fold alone."""
    from safetensors.numpy import load_file

    from fabscore import load_detector
    from fabscore.features.featurize import featurize_kind
    from fabscore.models import backbones
    from fabscore.text.sentences import prepare

    out = tmp_path / "ft"
    code = cli.main(["train", "--data", str(tiny_data), "--out", str(out), "--cache", str(feature_cache.root),
                     "--features", "embed,style", "--finetune", "--finetune-epochs", "1", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "fine-tuning epoch 1/1" in err
    model = md.load(out)
    assert (out / md.ENCODER_FILE).is_file() and md.ENCODER_FILE in json.loads((out / md.MANIFEST).read_text())["files"]
    enc = model.config["encoder"]
    examples = load(str(tiny_data))
    y = np.array([e.label for e in examples])
    held = folds(y, np.array([f"tiny/{e.group}" for e in examples]), 5, 0) == 0
    assert enc["n_articles"] == 40 - held.sum() and model.config["metrics"]["oof"]["n"] == held.sum()
    assert all("held-out" in t["chosen_on"] for t in model.config["thresholds"]["article"])
    assert model.config["backbones"]["embed"]["weights_sha256"] == backbones.sha256_file(model.encoder)
    assert "## Fine-tuned encoder" in (out / md.CARD).read_text()
    # the weights moved, and scoring reads them (not the packaged encoder)
    tuned = load_file(model.encoder)
    base = load_file(str(backbones.minilm_path() / "model.safetensors"))
    key = "encoder.layer.5.output.dense.weight"
    assert not np.allclose(tuned[key], base.get(key, base.get("bert." + key)))
    art = prepare(seed_texts["machine"])
    assert not np.allclose(featurize_kind(art, "embed", model.encoder)["embed"], featurize_kind(art, "embed")["embed"])
    r = load_detector(out).score_one(seed_texts["machine"])
    assert r.score is not None
    assert (model.sentence_head is None) == (not r.sentences)  # 8 held-out articles may give too few sentence labels
    # a changed encoder file is refused like any other tampering
    (out / md.ENCODER_FILE).write_bytes((out / md.ENCODER_FILE).read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(md.ModelDirError, match="sha256"):
        md.load(out)


def test_cli_train_bad_data_exits_2(tmp_path, capsys):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"text": "x y z", "label": "perhaps"}])
    code = cli.main(["train", "--data", str(bad), "--out", str(tmp_path / "m"), "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and str(bad) in err and "row 0" in err


@pytest.mark.slow  # trains (or reuses) the tiny model: minutes of featurizing
def test_cli_evaluate_writes_metrics_and_plots(tiny_model_dir, tiny_data, feature_cache, tmp_path, capsys):
    out = tmp_path / "eval"
    code = cli.main(["evaluate", "--model", str(tiny_model_dir), "--data", str(tiny_data), "--out", str(out),
                     "--cache", str(feature_cache.root), "--workers", "1", "--max-words", "200"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["max_words"] == 200  # first 200 words: the chunks training already featurized
    overall = metrics["overall"]
    for key in ("auroc", "ece"):
        assert isinstance(overall[key], float) and 0.0 <= overall[key] <= 1.0, key
    # 20 human articles cannot measure a 1% false-positive rate: not reported, and said why
    assert overall["n_human"] < 100 and overall["tpr_at_1pct_fpr"] is None
    assert "tpr_at_1pct_fpr: needs at least 100 human articles" in printed.out
    assert overall["n"] + metrics["n_abstained"] == metrics["n_examples"] == 40
    assert set(metrics["groups"]) == {"source", "generator"}
    # the tables go to stdout, progress and log lines to stderr; per source = the rows' source column
    assert "| all | 40 |" in printed.out and "by source:" in printed.out
    assert "| LLMFake |" in printed.out and "scoring 40 articles" in printed.err and "| all |" not in printed.err
    assert metrics["agreement"]["labelled_fabricated"]["of"] == metrics["agreement"]["n_articles"] == overall["n"]
    assert "article and sentence agreement:\n| counted | n | out of | share |" in printed.out
    for name in ("roc.png", "reliability.png", "histogram.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, name
    assert sorted(metrics["plots"]) == ["histogram.png", "reliability.png", "roc.png"]
    scores = [json.loads(line) for line in (out / "scores.jsonl").open()]
    assert len(scores) == 40


@pytest.mark.slow  # trains (or reuses) the tiny model: minutes of featurizing
def test_cli_evaluate_json_and_max_rows(tiny_model_dir, tiny_data, feature_cache, capsys):
    code = cli.main(["evaluate", "--model", str(tiny_model_dir), "--data", str(tiny_data), "--json",
                     "--max-rows", "10", "--cache", str(feature_cache.root), "--workers", "1", "--max-words", "200"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    report = json.loads(printed.out)  # stdout is the metrics dict alone
    assert report["n_examples"] == 10 and report["max_rows_per_spec"] == 10
    assert report["overall"]["n_human"] + report["overall"]["n_machine"] + report["n_abstained"] == 10
    assert report["overall"]["n_human"] == 5  # half of each label


def test_fpr_warning_when_a_threshold_does_not_hold():
    from fabscore.training.eval.evaluate import fpr_warnings

    report = {"overall": {"n_human": 200, "at_threshold_0.01": {"fpr": 0.03, "tpr": 0.5},
                          "at_threshold_0.05": {"fpr": 0.06, "tpr": 0.7}}}
    warnings = fpr_warnings(report, {0.01: 0.9, 0.05: 0.7})
    assert len(warnings) == 1
    assert warnings[0].startswith("WARNING:") and "6 of 200 human articles (3.00%)" in warnings[0]


def _result(label: str, score: float, flagged: list[bool], driver: list[bool] | None = None) -> dict:
    driver = driver or [False] * len(flagged)
    return {"score": score, "label": label, "driver_threshold": 0.7,
            "sentences": [{"score": 0.99 if f else 0.8 if d else 0.1, "flagged": f, "driver": d}
                          for f, d in zip(flagged, driver)]}


def test_agreement_counts_articles_and_sentences():
    """The agreement rows on hand-made results: what is counted, out of what."""
    from fabscore.training.card import agreement_table
    from fabscore.training.eval.evaluate import agreement

    results = [_result("fabricated", 0.99, [True, False, False]),               # machine, a flagged sentence
               _result("fabricated", 0.95, [False, False], [True, False]),      # machine, a driver only
               _result("fabricated", 0.91, [False, False, False]),              # human, nothing stands out
               _result("human", 0.20, [True, False, False, False]),             # human, 1 of 4 flagged
               _result("human", 0.10, [False] * 6),                             # human, quiet
               _result("human", 0.30, [False, True]),                           # machine missed, a flag
               _result("human", 0.40, [False]),                                 # machine missed, quiet
               {"score": None, "label": "abstain", "sentences": []}]            # not counted
    labels = [1, 1, 0, 0, 0, 1, 1, 0]
    a = agreement(results, labels)
    n = {k: (v["n"], v["of"]) for k, v in a.items() if isinstance(v, dict)}
    assert n == {"labelled_fabricated": (3, 7), "fabricated_with_flagged_sentence": (1, 3),
                 "fabricated_with_flagged_or_driver_sentence": (2, 3), "human_labelled_human": (2, 3),
                 "human_labelled_human_sentences_flagged": (1, 10), "machine_labelled_human": (2, 4),
                 "machine_labelled_human_with_flagged_sentence": (1, 2)}
    assert a["n_articles"] == 7 and a["driver_threshold"] == 0.7
    assert a["fabricated_with_flagged_or_driver_sentence"]["share"] == pytest.approx(2 / 3)
    assert a["human_labelled_human_sentences_flagged"]["share"] == pytest.approx(0.1)
    json.dumps(a)  # goes into metrics.json as it is
    text = agreement_table(a)
    assert "| ... with at least one flagged or driver sentence | 2 | 3 labelled fabricated | 0.667 |" in text
    assert "| ... their sentences flagged | 1 | 10 sentences in them | 0.100 |" in text
    assert "at or above 0.7000" in text
    empty = agreement([], [])
    assert empty["labelled_fabricated"] == {"n": 0, "of": 0, "share": None} and "| - |" in agreement_table(empty)


def test_evaluate_reports_agreement_as_a_table(tmp_path, capsys):
    """`fabscore evaluate` with the shipped fast model on a few real PolitiFact++ articles: agreement
    in metrics.json under clear keys, counts that match scores.jsonl, printed as a table."""
    from conftest import shared_file, small_sample

    data = write_jsonl(tmp_path / "pp.jsonl", small_sample(shared_file("politifact_pp.clean.jsonl"), 4))
    out = tmp_path / "eval"
    code = cli.main(["evaluate", "--model", "fast", "--data", str(data), "--out", str(out), "--cache",
                     str(tmp_path / "cache"), "--workers", "1", "--max-words", "200", "--by", "source"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    a = json.loads((out / "metrics.json").read_text())["agreement"]
    scores = [json.loads(line) for line in (out / "scores.jsonl").open()]
    scored = [r for r in scores if r["score"] is not None]
    assert a["n_articles"] == len(scored) == 8
    assert a["labelled_fabricated"]["n"] == sum(r["result"] == "fabricated" for r in scored)
    assert a["human_labelled_human"] == {"n": sum(r["result"] == "human" for r in scored if r["label"] == 0),
                                         "of": 4, "share": a["human_labelled_human"]["n"] / 4}
    fab = a["labelled_fabricated"]["n"]
    assert a["fabricated_with_flagged_sentence"]["n"] <= a["fabricated_with_flagged_or_driver_sentence"]["n"] <= fab
    assert "article and sentence agreement:\n| counted | n | out of | share |" in printed.out
    assert "{" not in printed.out.split("article and sentence agreement:")[1].split("threshold for")[0]


def test_card_shows_an_evaluations_agreement_when_it_has_one():
    """The shipped cards render as they are; an evaluation gets the agreement table exactly when it
    has an agreement."""
    import copy

    from fabscore.training.card import render

    model = md.load("default")
    assert render(model.config) == (model.path / md.CARD).read_text()
    config = copy.deepcopy(model.config)
    title = next(t for t in config["evaluations"] if t.startswith("PolitiFact++ ("))
    config["evaluations"][title].pop("agreement", None)
    assert "Article and sentence agreement" not in render(config)
    config["evaluations"][title]["agreement"] = {
        "n_articles": 259, "driver_threshold": 0.7018,
        "labelled_fabricated": {"n": 64, "of": 259, "share": 64 / 259},
        "fabricated_with_flagged_or_driver_sentence": {"n": 59, "of": 64, "share": 59 / 64}}
    card = render(config)
    section = card.split(f"### {title}")[1].split("\n### ")[0]
    assert "#### Article and sentence agreement" in section
    assert "| ... with at least one flagged or driver sentence | 59 | 64 labelled fabricated | 0.922 |" in section
    assert card.count("#### Article and sentence agreement") == 1


def test_train_help_shows_defaults_and_default_features():
    import argparse

    from fabscore.training.cli import add_train_parser

    sub = argparse.ArgumentParser().add_subparsers()
    parser = add_train_parser(sub)
    args = parser.parse_args(["--data", "x.jsonl", "--out", "m"])
    assert args.features == ("lmdist", "style", "lmword", "lex") and args.max_rows is None
    text = " ".join(parser.format_help().split())  # whatever the terminal's width wraps
    assert "(default: lmdist,style,lmword,lex)" in text and "(default: 200)" in text and "--max-rows" in text


# ---------------------------------------------------------------- sentence labels
SOURCE = ("The city council approved a new budget for public schools on Tuesday. "
          "The plan adds funding for teachers and repairs to three school buildings. "
          "Parents at the meeting asked for more bus routes in the northern districts. "
          "The mayor said the budget would be balanced without raising property taxes.")
COPIED = "The plan adds funding for teachers and repairs to three school buildings."
INVENTED = "In a letter to the court's president, the minister warned of missiles on March 14th."
REWRITE = [
    "On Tuesday, the city council approved a new budget for public schools.",
    COPIED,
    INVENTED,
    "The mayor said the budget would be balanced without raising property taxes.",
]


def test_sentence_labels_copied_vs_invented():
    from fabscore.features.embed import encode_texts
    from fabscore.models import backbones
    from fabscore.text.sentences import prepare
    from fabscore.training.data.sentence_labels import align, label_example

    tok, model = backbones.load_minilm()
    src_sents = [s.norm for s in prepare(SOURCE).sentences]
    assert len(src_sents) == 4
    src_emb = encode_texts(src_sents, tok, model)
    emb = encode_texts(REWRITE, tok, model)
    labels, overlap, cos = align(REWRITE, emb, SOURCE, src_emb)
    assert labels[REWRITE.index(COPIED)] != 1 and overlap[1] == 1.0 and cos[1] > 0.99
    assert labels[REWRITE.index(INVENTED)] == 1
    assert overlap[2] < 0.5 and cos[2] < 0.6
    assert labels[0] != 1 and labels[3] != 1  # restated sentences are not "inserted" either
    # the same through label_example, as training calls it (group = the human source's id)
    ex = Example(id="m1", text=" ".join(REWRITE), label=1, group="h1", method="rewrite")
    got = label_example(ex, REWRITE, emb, {"h1": (SOURCE, src_emb)})
    assert got.tolist() == labels.tolist()
    human = Example(id="h1", text=SOURCE, label=0, group="h1")
    assert label_example(human, src_sents, src_emb, {}).tolist() == [0, 0, 0, 0]


def test_stories_per_group_keeps_whole_pairs():
    from fabscore.training.data.examples import stories_per_group

    rows = [Example(f"h{d}{i}", "t", 0, f"h{d}{i}", meta={"domain": d}) for d in "ab" for i in range(4)]
    rows += [Example(f"m{d}{i}{g}", "t", 1, f"h{d}{i}", generator=g, meta={"domain": d})
             for d in "ab" for i in range(4) for g in ("x", "y")]
    kept = stories_per_group(rows, 2, "meta.domain", "s")
    humans = [e for e in kept if e.label == 0]
    assert sorted(e.meta["domain"] for e in humans) == ["a", "a", "b", "b"]
    assert {e.group for e in kept if e.label == 1} == {e.id for e in humans}  # every rewrite of a kept story
    assert len(kept) == 4 * 3 and stories_per_group(rows, 2, "meta.domain", "s") == kept  # stable
    assert stories_per_group(rows, None, "meta.domain") == rows


def test_auxiliary_rows_are_fitted_on_but_never_set_a_threshold(tiny_data, feature_cache, tmp_path):
    """--aux-data rows (another genre) enter the fit, not the calibration, thresholds or metrics."""
    from fabscore.training.train import train

    aux = tmp_path / "aux.jsonl"
    rows = [json.loads(line) for line in tiny_data.open()]
    with aux.open("w") as f:  # the same texts as another data set: a genre the thresholds must not see
        for r in rows[:10] + rows[-10:]:
            f.write(json.dumps({**r, "id": "aux-" + r["id"], "meta": {"domain": "d"}}) + "\n")
    path = train([str(tiny_data)], tmp_path / "m", cache=feature_cache, kinds=("style",), aux=(str(aux),),
                 sentence_head=False, log=lambda *a: None)
    config = json.loads((path / "config.json").read_text())
    n_human_real = sum(r["label"] == "human" for r in rows)
    assert config["training_data"]["auxiliary"]["human"] == 10
    assert {t["n_human"] for t in config["thresholds"]["article"]} == {n_human_real}
    assert config["metrics"]["oof"]["n"] == len(rows)
