"""The bad-input corpus: every file gets exactly one record (a score, an
abstention with its reason, or an error with its reason), the run finishes and
the summary adds up; a run killed with SIGKILL resumes with every file once."""
from __future__ import annotations

import codecs
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fabscore.cli import commands as cli
from fabscore.detector import Detector
from fabscore.io.reading import ReadError, read_document

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))

GERMAN = ("Die Bundesregierung hat am Mittwoch ein neues Gesetz zur Förderung erneuerbarer Energien beschlossen. "
          "Nach Angaben des Wirtschaftsministeriums sollen bis zum Jahr 2030 deutlich mehr Windräder gebaut werden. "
          "Kritiker bemängeln, dass die Genehmigungsverfahren weiterhin zu lange dauern und die Kommunen zu wenig "
          "Geld erhalten. ")
CHINESE = ("国务院周三召开常务会议，部署进一步推动新能源汽车产业发展的措施。会议指出，要加快充电基础设施建设，"
           "完善相关补贴政策，并鼓励地方政府因地制宜出台配套方案。专家表示，这些措施有望在明年显著提升市场需求。")
ARABIC = ("أعلنت وزارة الصحة يوم الثلاثاء عن خطة جديدة لتوسيع الخدمات الطبية في المناطق الريفية. "
          "وقال المتحدث باسم الوزارة إن الخطة تشمل بناء عشرين مستشفى جديدا وتدريب آلاف الممرضين خلال السنوات الخمس المقبلة. ")  # noqa: E501 - a sentence in another script, kept whole on one line
MIXED_RTL = ("The festival opened in Haifa on Monday. \u05d4\u05e4\u05e1\u05d8\u05d9\u05d1\u05dc \u05e0\u05e4\u05ea\u05d7 "  # noqa: E501 - a sentence in another script, kept whole on one line
             "\u200f\u05d1\u05d9\u05d5\u05dd \u05e9\u05e0\u05d9\u200f, organisers said, \u0648\u0642\u0627\u0644 "
             "\u0627\u0644\u0645\u0646\u0638\u0645\u0648\u0646 \u202bإن الحضور كان كبيرا\u202c and tickets sold out. ")
HTML = """<html><head><script>window.SECRET_SCRIPT = 1;</script></head><body>
<nav>Home | World | NAV_ITEM | Sport</nav><article><h1>Harbour reopens</h1><p>{body}</p></article>
<footer>FOOTER_ITEM</footer></body></html>"""


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """The shipped fast model (MiniLM + style): real, and needs no shared data to train."""
    from fabscore.models.directory import SHIPPED

    return SHIPPED / "fast"


def english(n_words: int, seed: int = 0) -> str:
    """An English text of at least n_words words, sentences drawn from the seeds."""
    sentences = [s.strip() for p in SEEDS for s in re.split(r"(?<=[.!?])\s+", p.read_text()) if len(s.split()) > 5]
    rng, out = random.Random(seed), []
    while sum(len(s.split()) for s in out) < n_words:
        out.append(rng.choice(sentences))
    return " ".join(out)


def min_words(model: Path) -> int:
    return int(json.loads((model / "config.json").read_text()).get("min_words", 0))


def repeat(text: str, n_words: int) -> str:
    return text * (n_words // max(1, len(text.split())) + 1)


def summary(err: str) -> dict[str, int]:
    line = [ln for ln in err.splitlines() if ln.startswith("fabscore: scored=")][-1]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)\b(?!\.)", line)}


def make_corpus(folder: Path, need: int) -> dict[str, str]:
    """The bad-input corpus; returns file name -> what its record must be."""
    folder.mkdir()
    n = need + 20
    files = {
        "empty.txt": (b"", "error:empty file"),
        "whitespace.txt": (b" \n\t\r\n  ", "error:only whitespace"),
        "one_word.txt": (b"Hello", "abstain:too short"),
        "image.txt": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "error:binary file"),
        "utf16.txt": (codecs.BOM_UTF16_LE + english(n, 1).encode("utf-16-le"), "scored"),
        "latin1.txt": (english(n, 2).replace("the ", "the caf\u00e9 ", 3).encode("latin-1", "replace"), "scored"),
        "smart_quotes.txt": (("\u201cIt\u2019s over,\u201d he said \u2014 " + english(n, 3)).encode("cp1252"),
                             "scored"),
        "page.html": (HTML.format(body=english(n, 4)).encode(), "scored"),
        "story.md": (f"# Harbour reopens\n\nThe **harbour** [reopened](http://x.org).\n\n{english(n, 5)}\n".encode(),
                     "scored"),
        "german.txt": (repeat(GERMAN, n).encode(), "abstain"),
        "chinese.txt": (repeat(CHINESE, n).encode(), "abstain"),
        "arabic.txt": (repeat(ARABIC, n).encode(), "abstain"),
        "mixed_rtl.txt": (repeat(MIXED_RTL, n).encode(), "not error"),
        "zz_vanishes.txt": (english(n, 6).encode(), "error:file not found"),
        "photo.png": (b"\x89PNG\r\n\x1a\n", "error:unsupported file type"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    for p in SEEDS:
        (folder / p.name).write_bytes(p.read_bytes())
    expect = {name: want for name, (_, want) in files.items()}
    expect.update({p.name: "scored" for p in SEEDS})
    with open(folder / "huge.txt", "wb") as f:  # 50 MB of real text
        block = b"All work and no play makes a dull article. " * 25_000
        while f.tell() < 50 * 1024 * 1024:
            f.write(block)
    expect["huge.txt"] = "error:too large"
    (folder / "dangling.txt").symlink_to(folder / "never_existed.txt")
    expect["dangling.txt"] = "error:file not found"
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    expect["loop.txt"] = "error:symlink loop"
    os.mkfifo(folder / "pipe.txt")
    expect["pipe.txt"] = "error:not a regular file"
    locked = folder / "locked.txt"
    locked.write_text(english(n, 7))
    locked.chmod(0)
    expect["locked.txt"] = "any" if os.geteuid() == 0 else "error:permission denied"  # root reads it anyway
    return expect


def test_huge_file_is_rejected_without_reading_it(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.write(b"word " * (11 * 1024 * 1024))  # 55 MB
    started = time.perf_counter()
    with pytest.raises(ReadError, match="too large: 57.7 MB, the limit is 5 MB"):
        read_document(path)
    assert time.perf_counter() - started < 0.5


def test_every_file_gets_exactly_one_record(model_dir, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "corpus"
    expect = make_corpus(folder, min_words(model_dir))
    real, calls = Detector.score_one, []

    def delete_midway(self, text, fpr=None):  # the file disappears after the run has listed it
        calls.append(1)
        if len(calls) == 1:
            (folder / "zz_vanishes.txt").unlink()
        return real(self, text, fpr)

    monkeypatch.setattr(Detector, "score_one", delete_midway)
    out = tmp_path / "out.jsonl"
    # One process: the patched score_one must run here (worker processes would not see it), and
    # files are read one at a time as they are scored, so the deleted file is read after its deletion.
    code = cli.main(["score", str(folder), "--model", str(model_dir), "--out", str(out), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 0, err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    by_name = {Path(r["path"]).name: r for r in records}
    assert len(by_name) == len(records) == len(expect), "exactly one record per file"
    assert set(by_name) == set(expect)
    for name, want in expect.items():
        rec = by_name[name]
        where = f"{name}: {rec['label']} {rec['reason'] or rec['error']}"
        if want == "scored":
            assert rec["label"] in ("fabricated", "human") and rec["score"] is not None, where
        elif want.startswith("abstain"):
            assert rec["label"] == "abstain" and rec["score"] is None, where
            assert rec["reason"].startswith(("too short", "not English", "no letters")), where
            assert want == "abstain" or rec["reason"].startswith(want.split(":")[1]), where
        elif want.startswith("error:"):
            assert rec["label"] == "error" and want.split(":")[1] in rec["error"], where
            assert f"fabscore: {rec['path']}: {rec['error']}" in err, "the error names the file on stderr"
        elif want == "not error":
            assert rec["label"] != "error", where
    html_text = read_document(folder / "page.html").text
    assert "SECRET_SCRIPT" not in html_text and "NAV_ITEM" not in html_text
    counts = summary(err)
    labels = [r["label"] for r in records]
    assert counts["scored"] == counts["fabricated"] + counts["human"]
    assert counts["fabricated"] == labels.count("fabricated") and counts["human"] == labels.count("human")
    assert counts["abstained"] == labels.count("abstain") and counts["failed"] == labels.count("error")
    assert counts["scored"] + counts["abstained"] + counts["failed"] == len(records)
    assert counts["skipped"] == 0


def make_articles(folder: Path, n_files: int, n_words: int) -> list[str]:
    folder.mkdir()
    names = []
    for i in range(n_files):
        name = f"article_{i:03d}.txt"
        (folder / name).write_text(english(n_words, seed=100 + i) + "\n")
        names.append(str(folder / name))
    return names


@pytest.mark.slow
def test_kill_9_then_resume_gives_every_file_once(model_dir, tmp_path):
    n_words = max(60, min_words(model_dir) + 5)
    names = make_articles(tmp_path / "articles", 200, n_words)
    out = tmp_path / "o.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "fabscore", "score", str(tmp_path / "articles"), "--model",
           str(model_dir), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed: {stderr[-2000:]}"
    before = out.read_bytes()
    assert 3 <= before.count(b"\n") < 200
    if before.endswith(b"\n"):  # the kill fell between records: also cut one mid-write
        with open(out, "ab") as f:
            f.write(b'{"path": "' + names[-1].encode()[:20])
    done = subprocess.run(cmd + ["--resume"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = out.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line parses: no partial line is left
    assert sorted(r["id"] for r in records) == names  # every file exactly once
    assert all(r["error"] is None for r in records)
    counts = summary(done.stderr)
    assert counts["skipped"] == before.count(b"\n")
    assert counts["scored"] + counts["abstained"] == 200 - counts["skipped"] and counts["failed"] == 0
