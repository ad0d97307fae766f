"""`fabscore score` on a real model (the shipped fast one): records, formats,
--resume for JSONL and CSV, exit codes, and failures that cost one record."""
from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import pytest

from fabscore.cli import commands as cli
from fabscore.detector import Detector
from fabscore.io.output import csv_header
from fabscore.io.reading import read_document

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
FIELDS = ["path", "id", "score", "label", "threshold", "sentence_threshold", "target_fpr", "n_words", "reason",
          "sentences", "evidence_summary", "text_field", "model", "error"]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """The shipped fast model (MiniLM + style): real, and needs no shared data to train."""
    from fabscore.models.directory import SHIPPED

    return SHIPPED / "fast"


def run(argv: list, capsys) -> tuple[int, str, str]:
    code = cli.main(["score", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def summary(err: str) -> dict[str, int]:
    line = [ln for ln in err.splitlines() if ln.startswith("fabscore: scored=")][-1]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)\b(?!\.)", line)}


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def min_words(model: Path) -> int:
    return int(json.loads((model / "config.json").read_text()).get("min_words", 0))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, model_dir) -> Path:
    """Six English articles cut from the seeds, each above the model's min_words."""
    words = " ".join(p.read_text() for p in SEEDS).split()
    n = max(60, min_words(model_dir) + 20)
    folder = tmp_path_factory.mktemp("corpus")
    for i in range(6):
        chunk = words[i * 37:i * 37 + n]
        (folder / f"a{i}.txt").write_text(" ".join(chunk) + ".\n")
    return folder


def test_records_have_every_field_and_sentences_index_the_text(model_dir, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    code, _, err = run([*SEEDS, "--model", model_dir, "--out", out], capsys)
    assert code == 0, err
    records = jsonl(out)
    assert [r["path"] for r in records] == [str(p) for p in SEEDS]
    for rec, path in zip(records, SEEDS):
        assert list(rec) == FIELDS
        assert rec["error"] is None and rec["label"] in ("fabricated", "human")
        assert 0.0 <= rec["score"] <= 1.0 and rec["n_words"] > 0
        assert rec["model"]["path"] == str(model_dir) and len(rec["model"]["sha256"]) == 64
        text = read_document(path).text
        assert rec["sentences"], "a scored article lists its sentences"
        for s in rec["sentences"]:
            assert text[s["start"]:s["end"]] == s["text"]
        assert (rec["label"] == "fabricated") == (rec["score"] >= rec["threshold"])
    assert summary(err)["scored"] == 2


def test_stdout_is_jsonl_when_no_out(model_dir, corpus, capsys):
    code, out, err = run([corpus / "a0.txt", "--model", model_dir], capsys)
    assert code == 0
    [rec] = [json.loads(line) for line in out.splitlines()]
    assert rec["id"] == str(corpus / "a0.txt")
    assert "scored=1" in err and "{" not in err


def test_fpr_picks_a_stored_threshold(model_dir, corpus, capsys):
    table = json.loads((model_dir / "config.json").read_text())["thresholds"]["article"]
    for row in table[:2]:
        code, out, _ = run([corpus / "a0.txt", "--model", model_dir, "--fpr", row["target_fpr"]], capsys)
        rec = json.loads(out)
        assert code == 0 and rec["target_fpr"] == row["target_fpr"]
        assert rec["threshold"] == pytest.approx(row["threshold"], abs=1e-6)


@pytest.mark.parametrize("argv, message", [
    (["--fpr", "abc"], "--fpr must be"),
    (["--fpr", "0"], "--fpr must be"),
    (["--fpr", "1.5"], "--fpr must be"),
    (["--fpr", "0.123456"], "threshold stored for target FPR 0.123456"),
    (["--resume"], "--resume needs --out"),
    (["--max-mb", "0"], "--max-mb must be positive"),
])
def test_usage_errors_exit_2(model_dir, corpus, capsys, argv, message):
    code, out, err = run([corpus, "--model", model_dir, *argv], capsys)
    assert code == 2 and out == ""
    assert err.startswith("fabscore: error: ") and message in err


def test_missing_or_broken_model_dir_exits_2(tmp_path, corpus, capsys):
    code, _, err = run([corpus, "--model", tmp_path / "nope"], capsys)
    assert code == 2 and err.startswith("fabscore: error: ") and "no such model directory" in err
    (tmp_path / "empty_model").mkdir()
    code, _, err = run([corpus, "--model", tmp_path / "empty_model"], capsys)
    assert code == 2 and "MANIFEST.json" in err


def test_every_input_failing_exits_1(model_dir, tmp_path, capsys):
    (tmp_path / "empty.txt").write_bytes(b"")
    code, out, err = run([tmp_path / "empty.txt", tmp_path / "missing.txt", "--model", model_dir], capsys)
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["label"], r["error"]) for r in records] == [
        ("error", "empty file"), ("error", "file not found (missing, deleted, or a dangling symlink)")]
    assert f"fabscore: {tmp_path / 'empty.txt'}: empty file" in err
    assert summary(err)["failed"] == 2


def test_existing_out_is_refused_unless_overwrite(model_dir, corpus, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    out.write_text("old junk that is not json\n")
    code, _, err = run([corpus / "a1.txt", "--model", model_dir, "--out", out], capsys)
    assert code == 2 and "already holds output" in err and "--overwrite" in err
    assert out.read_text() == "old junk that is not json\n"
    assert run([corpus / "a1.txt", "--model", model_dir, "--out", out, "--overwrite"], capsys)[0] == 0
    assert [r["id"] for r in jsonl(out)] == [str(corpus / "a1.txt")]


def test_jsonl_resume_drops_partial_line_and_skips_done(model_dir, corpus, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    files = sorted(corpus.glob("*.txt"))
    assert run([corpus, "--model", model_dir, "--out", out], capsys)[0] == 0
    full = out.read_text().splitlines(keepends=True)
    out.write_text("".join(full[:2]) + full[2][:40])  # killed while writing the third record
    code, _, err = run([corpus, "--model", model_dir, "--out", out, "--resume"], capsys)
    assert code == 0 and "dropped a partial last line" in err
    assert summary(err)["skipped"] == 2 and summary(err)["scored"] == len(files) - 2
    records = jsonl(out)
    assert sorted(r["id"] for r in records) == sorted(map(str, files))
    assert [r["score"] for r in records] == [json.loads(line)["score"] for line in full]  # same scores
    code, _, err = run([corpus, "--model", model_dir, "--out", out, "--resume"], capsys)
    assert code == 0 and summary(err)["skipped"] == len(files) and summary(err)["scored"] == 0
    assert len(jsonl(out)) == len(files)


def test_csv_output_and_resume(model_dir, corpus, tmp_path, capsys):
    out = tmp_path / "o.csv"  # format inferred from the suffix
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4")
    try:
        assert run([corpus, "--model", model_dir, "--out", out], capsys)[0] == 0
        lines = out.read_text().splitlines(keepends=True)
        assert lines[0].strip() == ",".join(csv_header())  # evidence columns included, empty here
        out.write_text("".join(lines[:3]) + lines[3][:25])
        code, _, err = run([corpus, "--model", model_dir, "--out", out, "--resume"], capsys)
    finally:
        (corpus / "notes.pdf").unlink()
    assert code == 0 and summary(err)["skipped"] == 2
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(lines) - 1 == 7
    assert len({r["id"] for r in rows}) == len(rows)
    pdf = [r for r in rows if r["path"].endswith("notes.pdf")]
    assert pdf[0]["label"] == "error" and "unsupported file type '.pdf'" in pdf[0]["error"]
    scored = [r for r in rows if r["label"] in ("fabricated", "human")]
    assert scored and all(0 <= float(r["score"]) <= 1 and int(r["n_sentences"]) > 0 for r in scored)


def test_resume_refuses_a_file_that_is_not_ours(model_dir, corpus, tmp_path, capsys):
    out = tmp_path / "o.csv"
    out.write_text("a,b\n1,2\n")
    code, _, err = run([corpus, "--model", model_dir, "--out", out, "--resume"], capsys)
    assert code == 2 and "not fabscore CSV output" in err
    assert out.read_text() == "a,b\n1,2\n"


def test_scoring_exception_is_one_error_record(model_dir, corpus, tmp_path, capsys, monkeypatch):
    real = Detector.score_one

    def flaky(self, text, fpr=None):  # the real detector, except for one poisoned article
        if text.startswith(read_document(corpus / "a2.txt").text[:30]):
            raise MemoryError("simulated out of memory")
        return real(self, text, fpr)

    monkeypatch.setattr(Detector, "score_one", flaky)
    out = tmp_path / "o.jsonl"
    code, _, err = run([corpus, "--model", model_dir, "--out", out], capsys)
    assert code == 0
    records = {Path(r["path"]).name: r for r in jsonl(out)}
    assert records["a2.txt"]["label"] == "error"
    assert records["a2.txt"]["error"] == "scoring failed: MemoryError: simulated out of memory"
    assert all(r["error"] is None for name, r in records.items() if name != "a2.txt")
    assert summary(err)["failed"] == 1 and summary(err)["scored"] == 5


def test_ctrl_c_ends_cleanly_and_resume_finishes(model_dir, corpus, tmp_path, capsys, monkeypatch):
    real, calls = Detector.score_one, []

    def interrupt_third(self, text, fpr=None):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, text, fpr)

    monkeypatch.setattr(Detector, "score_one", interrupt_third)
    out, html = tmp_path / "o.jsonl", tmp_path / "o.html"
    code, _, err = run([corpus, "--model", model_dir, "--out", out, "--html", html], capsys)
    assert code == 130 and "interrupted; rerun with --resume" in err and summary(err)["scored"] == 2
    assert len(jsonl(out)) == 2
    assert "(partial: the run was interrupted" in err and html.read_text().count('<article id=') == 2
    monkeypatch.setattr(Detector, "score_one", real)
    code, _, err = run([corpus, "--model", model_dir, "--out", out, "--resume", "--html", html], capsys)
    assert code == 0 and summary(err)["skipped"] == 2
    assert len({r["id"] for r in jsonl(out)}) == len(jsonl(out)) == 6
    assert html.read_text().count('<article id=') == 6


def test_output_inside_the_scored_folder_is_not_an_input(model_dir, corpus, tmp_path, capsys):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.txt").write_text((corpus / "a0.txt").read_text())
    out = folder / "o.jsonl"
    assert run([folder, "--model", model_dir, "--out", out], capsys)[0] == 0
    assert run([folder, "--model", model_dir, "--out", out, "--resume"], capsys)[0] == 0
    assert [r["path"] for r in jsonl(out)] == [str(folder / "a.txt")]


def test_dataset_rows_and_text_field(model_dir, corpus, tmp_path, capsys):
    data = tmp_path / "rows.jsonl"
    body = (corpus / "a3.txt").read_text()
    data.write_text(json.dumps({"id": "r1", "body": body}) + "\n{broken\n" + json.dumps({"body": body}) + "\n")
    code, out, _ = run([data, "--model", model_dir, "--text-field", "body"], capsys)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["id"] for r in records] == ["r1", f"{data}:2", f"{data}:3"]
    assert records[1]["label"] == "error" and "invalid JSON" in records[1]["error"]
    assert records[0]["score"] == records[2]["score"] is not None


def test_html_report(model_dir, corpus, tmp_path, capsys):
    report = tmp_path / "r" / "report.html"
    code, _, err = run([corpus / "a0.txt", corpus / "a1.txt", "--model", model_dir, "--out",
                        tmp_path / "o.jsonl", "--html", report], capsys)
    assert code == 0, err
    html = report.read_text()
    assert "a0.txt" in html and "a1.txt" in html


def test_html_report_module_missing_is_a_usage_error(model_dir, corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "fabscore.io.report", None)  # as if report.py were not installed
    code, _, err = run([corpus / "a0.txt", "--model", model_dir, "--html", tmp_path / "r.html"], capsys)
    assert code == 2 and "--html needs fabscore.io.report.write_html" in err
    assert not (tmp_path / "r.html").exists()


def test_evidence_takes_one_reference_per_use_and_never_swallows_the_articles(model_dir, tmp_path, capsys):
    """`--evidence REF` is one reference per use: a path after it is an article to score, and a
    command whose only path was read as evidence says so instead of a bare 'PATH required'."""
    ref, article = SEEDS
    code, _, err = run(["--model", model_dir, "--evidence", ref], capsys)
    assert code == 2 and "--evidence takes one reference per use" in err and str(ref) in err
    out = tmp_path / "o.jsonl"
    code, _, err = run(["--evidence", ref, article, "--out", out], capsys)  # the default model checks evidence
    assert code == 0, err
    (rec,) = jsonl(out)
    assert rec["path"] == str(article) and rec["evidence_summary"] is not None
