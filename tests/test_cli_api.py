"""The command line and the Python API on a real model (the shipped fast one, no shared data needed):
data-set checks, --resume rules, output formats, the Python API's conventions and
its cache, one record shape and rounding, exit codes, parser behaviour, devices."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fabscore.cli import commands as cli
from fabscore.models.directory import SHIPPED

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
FAST = SHIPPED / "fast"


def run(argv: list, capsys) -> tuple[int, str, str]:
    code = cli.main(["score", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Two real articles (the seeds), each one chunk of the fast model."""
    words = " ".join(p.read_text(encoding="utf-8") for p in SEEDS).split()
    return [" ".join(words[:120]) + ".", " ".join(words[200:330]) + "."]


@pytest.fixture(scope="module")
def det():
    from fabscore import load_detector

    return load_detector("fast")


@pytest.fixture
def dataset(tmp_path, texts) -> Path:
    path = tmp_path / "rows.jsonl"
    rows = [{"uid": "u1", "body": texts[0], "source": "wire", "year": 2023},
            {"uid": "u2", "body": texts[1], "source": "blog", "year": 2024}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---------------------------------------------------------------- A. data sets
def test_missing_text_field_exits_2_at_once_listing_fields(dataset, capsys):
    code, out, err = run([dataset, "--model", FAST, "--text-field", "content"], capsys)
    assert code == 2 and out == ""
    assert "no row has the field 'content' (--text-field)" in err
    assert "its fields are: uid, body, source, year" in err
    assert "scored=" not in err, "nothing was scored, not even one error record per row"
    table = dataset.with_suffix(".csv")
    table.write_text("uid,body\nu1,some text\n")
    code, out, err = run([table, "--model", FAST], capsys)
    assert code == 2 and out == "" and "no row has the field 'text' (--text-field); its fields are: uid, body" in err


def test_kept_fields_that_clash_with_record_columns_are_prefixed(tmp_path, capsys):
    data = tmp_path / "labelled.jsonl"
    rows = [{"id": f"r{i}", "text": "The council met on Monday to discuss the new budget. " * 12,
             "label": "human", "generator": None} for i in range(2)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o.csv"
    code, _, err = run([data, "--model", FAST, "--out", out, "--keep-fields", "label,generator"], capsys)
    assert code == 0, err
    header = out.read_text().splitlines()[0].split(",")
    assert header.count("label") == 1 and header[-2:] == ["field.label", "generator"]
    code, _, err = run([data, "--model", FAST, "--out", out, "--keep-fields", "label,generator", "--resume"], capsys)
    assert code == 0 and "skipped=2" in err  # the prefixed header is fabscore's own on resume


def test_id_field_and_keep_fields(dataset, capsys):
    code, out, err = run([dataset, "--model", FAST, "--text-field", "body", "--id-field", "uid",
                          "--keep-fields", "source,year"], capsys)
    assert code == 0, err
    records = jsonl(out)
    assert [r["id"] for r in records] == ["u1", "u2"]
    assert [r["fields"] for r in records] == [{"source": "wire", "year": 2023}, {"source": "blog", "year": 2024}]
    assert {r["text_field"] for r in records} == {"body"}
    code, _, err = run([dataset, "--model", FAST, "--text-field", "body", "--keep-fields", "nope"], capsys)
    assert code == 2 and "'nope' (--keep-fields)" in err


def test_resume_retries_errors_and_refuses_a_different_run(dataset, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    bad = tmp_path / "gone.txt"  # missing: an error record the first time
    code, _, err = run([dataset, bad, "--model", FAST, "--text-field", "body", "--id-field", "uid", "--out", out],
                       capsys)
    assert code == 0, err
    assert [r["label"] for r in jsonl(out.read_text())][-1] == "error"
    bad.write_text(" ".join(SEEDS[0].read_text(encoding="utf-8").split()[:120]))
    common = [dataset, bad, "--model", FAST, "--text-field", "body", "--id-field", "uid", "--out", out]
    code, _, err = run([*common, "--resume"], capsys)
    assert code == 0, err
    records = jsonl(out.read_text())
    assert [r["id"] for r in records] == ["u1", "u2", str(bad)], "the failed input is retried, once"
    assert records[-1]["error"] is None and "scored=1" in err and "skipped=2" in err
    before = out.read_text()
    for extra, why in ((["--fpr", "0.05"], "target FPR"), (["--model", SHIPPED / "default"], "model")):
        argv = [*common, "--resume", *extra]
        if extra[0] == "--model":
            argv = [dataset, bad, *extra, "--text-field", "body", "--id-field", "uid", "--out", out, "--resume"]
        code, _, err = run(argv, capsys)
        assert code == 2 and f"cannot resume {out}" in err and why in err, err
    (tmp_path / "alt.jsonl").write_text("".join(
        json.dumps({"uid": r["uid"], "content": r["body"]}) + "\n" for r in map(json.loads, dataset.open())))
    code, _, err = run([tmp_path / "alt.jsonl", "--model", FAST, "--text-field", "content", "--id-field", "uid",
                        "--out", out, "--resume"], capsys)
    assert code == 2 and "text field 'body'" in err
    assert out.read_text() == before, "a refused resume leaves the output as it was"


def test_csv_keeps_fields_as_columns_and_resumes(dataset, tmp_path, capsys):
    import csv

    out, late = tmp_path / "o.csv", tmp_path / "late.txt"  # late.txt is missing on the first run
    argv = [dataset, late, "--model", FAST, "--text-field", "body", "--id-field", "uid", "--keep-fields", "source",
            "--out", out]
    assert run(argv, capsys)[0] == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["id"], r["source"], r["text_field"]) for r in rows[:2]] == [("u1", "wire", "body"),
                                                                          ("u2", "blog", "body")]
    assert all(float(r["sentence_threshold"]) > 0 for r in rows) and rows[2]["label"] == "error"
    late.write_text(" ".join(SEEDS[1].read_text(encoding="utf-8").split()[:100]))
    code, _, err = run([*argv, "--resume"], capsys)
    assert code == 0 and "skipped=2" in err and "retrying 1 input" in err
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["u1", "u2", str(late)] and rows[2]["label"] != "error"
    code, _, err = run([*argv[:-4], "--out", out, "--resume"], capsys)  # without --keep-fields: other columns
    assert code == 2 and "not fabscore CSV output with these columns" in err


# ---------------------------------------------------------------- B. output
def test_table_keeps_the_input_order_and_wide_shows_whole_lines(tmp_path, capsys, monkeypatch):
    """Records come back in completion order; the table is read top to bottom in input order."""
    from fabscore.cli.score import InputOrder

    order = InputOrder()
    assert order.add(1, {"id": "b"}) == [] and order.add(2, {"id": "c"}) == []
    assert [r["id"] for r in order.add(0, {"id": "a"})] == ["a", "b", "c"]
    assert order.add(4, {"id": "e"}) == [] and [r["id"] for r in order.rest()] == ["e"]
    names = [f"{c}.txt" for c in "dcab"]  # not the order a folder walk gives
    for i, name in enumerate(names):
        (tmp_path / name).write_text(f"Article number {i} about the council budget vote. " * 8)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run([tmp_path / n for n in names] + ["--model", FAST, "--workers", "2"], capsys)
    assert code == 0
    rows = [line.split()[-1] for line in out.splitlines()[2:] if not line.startswith(" ")]  # not why/driver lines
    assert [Path(r).name for r in rows] == names



def test_terminal_gets_a_table_and_a_pipe_gets_jsonl(texts, tmp_path, capsys, monkeypatch):
    article = tmp_path / "story.txt"
    article.write_text(texts[0])
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run([article, "--model", FAST], capsys)
    assert code == 0
    legend, *lines = out.splitlines()
    assert legend.startswith("# model fabscore-fast") and "label fabricated at score >=" in legend
    assert "driver = one of the 3 highest sentences of an article labelled fabricated" in legend
    from fabscore import load_detector

    fast = load_detector(FAST)
    assert f"if at or above {fast.driver_threshold(fast.fpr):.3f}, the sentence threshold for a 5% FPR" in legend
    assert lines[0].split() == ["label", "score", "flagged", "path"]
    label, score, flagged, path = lines[1].split()
    assert label in ("human", "fabricated") and 0 <= float(score) <= 1 and path == str(article)
    assert "/" in flagged and "{" not in out
    code, out, _ = run([article, "--model", FAST, "--format", "jsonl"], capsys)
    assert jsonl(out)[0]["path"] == str(article)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    code, out, _ = run([article, "--model", FAST], capsys)
    assert jsonl(out)[0]["score"] == pytest.approx(float(score), abs=5e-4)


# ---------------------------------------------------------------- C. the Python API
def test_one_string_is_one_text_everywhere(det, texts):
    [rec] = det.score(texts[0])
    assert rec["score"] == det.score([texts[0]])[0]["score"]
    proba = det.predict_proba(texts[0])
    assert proba.shape == (1, 2) and proba[0, 1] == pytest.approx(rec["score"])
    assert det(texts[0]).shape == (1,)


def test_predict_proba_is_n_by_2_with_nan_rows_for_abstentions(det, texts):
    p = det.predict_proba([texts[0], "Too short.", texts[1]])
    assert p.shape == (3, 2)
    assert np.isnan(p[1]).all() and not np.isnan(p[[0, 2]]).any()
    assert np.allclose(p[[0, 2]].sum(axis=1), 1.0)
    assert np.array_equal(det([texts[0], texts[1]]), p[[0, 2], 1])


def test_non_strings_are_error_records_not_exceptions(det, texts):
    records = det.score([None, b"bytes", 42, texts[0]])
    assert [r["label"] for r in records[:3]] == ["error"] * 3
    assert records[0]["error"] == "not a string: got NoneType" and "bytes" in records[1]["error"]
    assert records[3]["label"] in ("human", "fabricated")
    assert [r["label"] for r in det.score(b"raw bytes")] == ["error"]
    assert np.isnan(det([None, 3.5])).all()


def test_api_records_have_the_cli_keys_and_fpr_per_call(det, texts, tmp_path, capsys):
    article = tmp_path / "a.txt"
    article.write_text(texts[0])
    code, out, _ = run([article, "--model", FAST, "--fpr", "0.05"], capsys)
    [cli_rec] = jsonl(out)
    [api_rec] = det.score([texts[0]], fpr=0.05)
    assert list(api_rec) == list(cli_rec)
    assert api_rec["path"] is None and api_rec["id"] == "0" and api_rec["model"] == cli_rec["model"]
    assert {k: cli_rec[k] for k in ("score", "label", "threshold", "sentence_threshold", "target_fpr")} == \
        {k: api_rec[k] for k in ("score", "label", "threshold", "sentence_threshold", "target_fpr")}
    low = det.score([texts[0]], fpr=0.001)[0]
    assert low["target_fpr"] == 0.001 and low["threshold"] > api_rec["threshold"]
    assert low["sentence_threshold"] >= api_rec["sentence_threshold"]
    with pytest.raises(ValueError, match="no article threshold stored for target FPR 0.2"):
        det.score([texts[0]], fpr=0.2)


def test_scores_are_cached_across_score_and_predict_proba(texts):
    from fabscore.detector import Detector
    from fabscore.features.featurize import featurize
    from fabscore.models.directory import load

    model = load("fast")
    calls = []

    def counting(article, kinds):  # the real featurizer, counted
        calls.append(article.norm[:20])
        return featurize(article, kinds, encoder=model.encoder)

    det = Detector(model, featurizer=counting)
    first = det.score(texts)
    n = len(calls)
    assert n >= 2
    p = det.predict_proba(texts)
    again = det.score(texts, fpr=0.05)
    assert len(calls) == n, "the backbones ran again for texts already scored"
    assert np.allclose(p[:, 1], [r["score"] for r in first])
    assert [r["score"] for r in again] == [r["score"] for r in first]
    det.score(["A different article. " * 30])
    assert len(calls) > n


# ---------------------------------------------------------------- D. records, exit codes, size limit
def test_every_record_is_rounded_and_has_a_sentence_threshold(tmp_path, texts, capsys):
    (tmp_path / "ok.txt").write_text(texts[1])
    (tmp_path / "empty.txt").write_text("")
    code, out, _ = run([tmp_path, "--model", FAST, "--fpr", "0.05"], capsys)
    assert code == 0
    records = {Path(r["path"]).name: r for r in jsonl(out)}
    config = json.loads((FAST / "config.json").read_text())
    want = {t["target_fpr"]: t["threshold"] for t in config["thresholds"]["sentence"]}[0.05]
    for rec in records.values():
        assert rec["sentence_threshold"] == round(want, 6)
        for value in [rec["threshold"], rec["score"], *(s["score"] for s in rec["sentences"])]:
            assert value is None or value == round(value, 6)
    assert records["empty.txt"]["label"] == "error"
    assert records["empty.txt"]["threshold"] == records["ok.txt"]["threshold"]
    assert len(repr(records["empty.txt"]["threshold"]).split(".")[1]) <= 6


def test_strict_exits_1_when_any_input_failed(tmp_path, texts, capsys):
    (tmp_path / "ok.txt").write_text(texts[0])
    argv = [tmp_path / "ok.txt", tmp_path / "missing.txt", "--model", FAST]
    assert run(argv, capsys)[0] == 0
    assert run([*argv, "--strict"], capsys)[0] == 1
    assert run([tmp_path / "ok.txt", "--model", FAST, "--strict"], capsys)[0] == 0


def test_max_mb_names_the_limit_as_given(tmp_path, capsys):
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 1_200_000)  # 6,000,000 bytes
    code, out, _ = run([big, "--model", FAST, "--max-mb", "5"], capsys)
    assert code == 1
    assert jsonl(out)[0]["error"] == "too large: 6.0 MB, the limit is 5 MB"


# ---------------------------------------------------------------- E. the command line
def _python(code: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], input=stdin, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_help_and_version_do_not_import_torch():
    probe = ("import sys\nfrom fabscore.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")
    for argv in (["--help"], ["--version"], ["score", "--help"]):
        proc = _python(probe, *argv)
        assert proc.stderr.strip().endswith("NO-TORCH"), (argv, proc.stderr[-500:])
        assert "fabscore" in proc.stdout


def test_bad_option_prints_the_subcommand_usage(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["score", "x.txt", "--bogus"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith("usage: fabscore score ") and "unrecognized arguments: --bogus" in err


def test_unknown_model_lists_the_shipped_ones(tmp_path, capsys):
    code, _, err = run([tmp_path, "--model", "fastest"], capsys)
    assert code == 2 and "the shipped models are default, fast" in err


def test_stdin_is_one_article(texts):
    proc = _python("import sys\nfrom fabscore.cli import main\nsys.exit(main(sys.argv[1:]))",
                   "score", "-", "--model", "fast", stdin=texts[0])
    assert proc.returncode == 0, proc.stderr[-1000:]
    [rec] = jsonl(proc.stdout)
    assert (rec["id"], rec["path"]) == ("-", "<stdin>")
    assert rec["label"] in ("human", "fabricated") and rec["sentences"][0]["text"] in texts[0]


# ---------------------------------------------------------------- G. device and import side effects
def test_device_reaches_the_backbone_loads(texts, monkeypatch):
    from fabscore.detector import Detector
    from fabscore.models import backbones
    from fabscore.models.directory import load

    asked = []
    real = backbones.load_minilm

    def spy(dtype=None, device=None):  # the real loader, recording the device it was asked for
        asked.append(device)
        return real(dtype, device=device)

    monkeypatch.setattr(backbones, "load_minilm", spy)
    det = Detector(load("fast"), device="cpu")
    det.score(texts[:1])
    assert asked and set(asked) == {"cpu"}
    assert next(real(device="cpu")[1].parameters()).device.type == "cpu"


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_an_absent_device_is_a_clear_error(device, tmp_path, capsys, monkeypatch):
    import torch

    present = torch.cuda.is_available() if device == "cuda" else torch.backends.mps.is_available()
    if present:
        pytest.skip(f"this machine has {device}")
    code, _, err = run([tmp_path, "--model", FAST, "--device", device], capsys)
    assert code == 2 and f"device '{device}' asked for" in err
    monkeypatch.setenv("FABSCORE_DEVICE", device)
    from fabscore.models import backbones

    with pytest.raises(backbones.DeviceError, match="use --device cpu"):
        backbones.resolve_device()


def test_importing_backbones_leaves_the_host_process_alone():
    probe = ("import os, transformers\nfrom transformers.utils import logging\nbefore = logging.get_verbosity()\n"
             "import fabscore.models.backbones\nprint(os.environ.get('HF_HUB_OFFLINE'),"
             " os.environ.get('TRANSFORMERS_OFFLINE'), logging.get_verbosity() == before,"
             " logging.is_progress_bar_enabled())")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, env=env)
    assert proc.stdout.split() == ["None", "None", "True", "True"], proc.stderr[-1000:]


def test_one_sha256_helper_without_torch():
    proc = _python("import sys, fabscore.models.hashing, fabscore.models.directory as md\n"
                   "print(md._sha256 is fabscore.models.hashing.sha256_file, 'torch' in sys.modules)")
    assert proc.stdout.split()[0] == "True", proc.stderr
    proc = _python("import sys, fabscore.models.hashing\nprint('torch' in sys.modules)")
    assert proc.stdout.strip() == "False"


# ---------------------------------------------------------------- D, F. the HTML report (no browser needed)
def _report_records() -> list[dict]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_report_browser import handmade_records

    return handmade_records()


def test_report_is_autoescaped_and_its_csp_hashes_its_own_blocks():
    import base64
    import hashlib
    import re

    from fabscore.io.report import PALETTE, TEMPLATES, render

    page = render(_report_records())
    assert "<script>window.__pwned" not in page and "&lt;script&gt;" in page
    assert '<img src="x"' not in page and page.count("<script>") == 1
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    for tag, name in (("style", "report.css"), ("script", "report.js")):
        block = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S).group(1)
        expected = (TEMPLATES / name).read_text(encoding="utf-8")
        if tag == "style":  # the file, then one rule per sentence-score colour
            expected += "".join(f".b{i}{{background:{c}}}" for i, c in enumerate(PALETTE))
        assert block == expected
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert f"&#39;sha256-{digest}&#39;" in csp


def test_report_explains_flagged_sentences_in_a_human_article(det, texts):
    from fabscore.io.report import render

    page = render(_report_records())
    assert page.count('class="explain"') == 1  # one human article has a flagged sentence
    assert "sentence threshold (0.7000)" in page and "labelled <b>human</b>" in page
    assert "<span>sentence threshold <b>0.7000</b></span>" in page
    real = det.score(texts, fpr=0.05)
    humans_with_flags = sum(r["label"] == "human" and any(s["flagged"] for s in r["sentences"]) for r in real)
    assert render(real).count('class="explain"') == humans_with_flags


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_a_present_accelerator_scores_like_the_cpu(device, seed_texts):
    """Where a GPU exists: the fast model on it labels the seeds as on the CPU, scores within
    rounding of another device's arithmetic. Skipped (and said so) on a CPU-only machine."""
    import torch

    present = torch.cuda.is_available() if device == "cuda" else torch.backends.mps.is_available()
    if not present:
        pytest.skip(f"no {device} device on this machine: the accelerator path cannot be run here")
    from fabscore.detector import Detector
    from fabscore.models.directory import load

    texts = list(seed_texts.values())
    cpu = Detector(load("fast"), device="cpu").score(texts)
    acc = Detector(load("fast"), device=device).score(texts)
    assert [r["label"] for r in acc] == [r["label"] for r in cpu]
    assert all(abs(a["score"] - c["score"]) < 0.02 for a, c in zip(acc, cpu))
