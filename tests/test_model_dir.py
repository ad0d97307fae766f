"""Model directories are untrusted input: every tampering must be refused, with a reason.

Each case copies the real shipped default model, damages the copy in one
way, and checks both `inference.model_dir.load` (ModelDirError naming the
problem) and the CLI (exit code 2, the reason on stderr). Cases that edit
config.json also re-hash it in the manifest where the point is to reach a
later check, so the test proves that check itself refuses the directory.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fabscore import load_detector
from fabscore.models import directory as md

REPO = Path(__file__).resolve().parents[1]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))


# ---------------------------------------------------------------- helpers

def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(model: Path) -> dict:
    return json.loads((model / md.MANIFEST).read_text())


def write_manifest(model: Path, manifest: dict) -> None:
    (model / md.MANIFEST).write_text(json.dumps(manifest, indent=2))


def rehash(model: Path, name: str) -> None:
    """Record the current sha256 of `name`, as an attacker who edits the manifest would."""
    manifest = read_manifest(model)
    manifest["files"][name] = sha256(model / name)
    write_manifest(model, manifest)


def edit_config(model: Path, change: Callable[[dict], None], rehash_manifest: bool) -> None:
    config = json.loads((model / md.CONFIG).read_text())
    change(config)
    (model / md.CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if rehash_manifest:
        rehash(model, md.CONFIG)


class Touch:
    """Unpickling this runs `open(marker, 'w')`: the classic pickle payload, made harmless."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# ---------------------------------------------------------------- tamperings
# Each takes the copied model dir and returns a regex the refusal must match.

def flip_head_bytes(model: Path) -> str:
    head = model / md.HEAD_FILES["article"]
    data = bytearray(head.read_bytes())
    for i in range(len(data) - 8, len(data)):  # inside the last tensor's values
        data[i] ^= 0xFF
    head.write_bytes(bytes(data))
    return r"article_head\.safetensors was changed after the model was saved \(sha256 mismatch\)"


def edit_threshold(model: Path) -> str:
    def lower(config: dict) -> None:
        config["thresholds"]["article"][0]["threshold"] = 0.01

    edit_config(model, lower, rehash_manifest=False)
    return r"config\.json was changed after the model was saved \(sha256 mismatch\)"


def delete_head(model: Path) -> str:
    (model / md.HEAD_FILES["article"]).unlink()
    return r"article_head\.safetensors is listed in the manifest but missing"


def add_pickle(model: Path) -> str:
    marker = model.parent / "PWNED-marker"
    (model / "evil.pkl").write_bytes(pickle.dumps(Touch(marker)))
    return r"unexpected file 'evil\.pkl'"


def add_pickle_to_manifest(model: Path) -> str:
    """The pickle also listed (with its true hash): still not a file the loader reads."""
    add_pickle(model)
    rehash(model, "evil.pkl")
    return r"evil\.pkl|unexpected|not part of the model"


def traversal(name: str, target: Path | None) -> Callable[[Path], str]:
    """A manifest entry `name` whose hash matches the file it points at, so only the name check refuses."""
    def tamper(model: Path) -> str:
        outside = target or (model / name)
        if target is None:
            outside.write_text("outside the model directory\n")
        manifest = read_manifest(model)
        manifest["files"][name] = sha256(outside)
        write_manifest(model, manifest)
        return "refusing file name " + re.escape(repr(name))
    return tamper


def future_format(model: Path) -> str:
    edit_config(model, lambda c: c.update(format_version=md.FORMAT_VERSION + 1), rehash_manifest=True)
    return rf"model format version {md.FORMAT_VERSION + 1}; this fabscore reads version {md.FORMAT_VERSION}"


def other_normalization(model: Path) -> str:
    edit_config(model, lambda c: c.update(normalization_version="0-other"), rehash_manifest=True)
    return r"trained with normalization '0-other'"


def other_featurizer(model: Path) -> str:
    edit_config(model, lambda c: c["featurizer_versions"].update({c["features"][0]: "0-other"}), rehash_manifest=True)
    return r"featurizer version '0-other'"


TAMPERINGS = {
    "head-bytes-flipped": flip_head_bytes,
    "config-threshold-edited": edit_threshold,
    "head-file-missing": delete_head,
    "extra-pickle": add_pickle,
    "pickle-in-manifest": add_pickle_to_manifest,
    "manifest-dotdot": traversal("../x", None),
    "manifest-absolute": traversal("/etc/passwd", Path("/etc/passwd")),
    "future-format-version": future_format,
    "other-normalization": other_normalization,
    "other-featurizer": other_featurizer,
}


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped default model, safe to damage (no training needed)."""
    return Path(shutil.copytree(md.SHIPPED / "default", tmp_path / "model"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fabscore", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------- tests

def test_untouched_copy_loads(model_copy: Path):
    """The control: a faithful copy loads, so every refusal below is due to its tampering."""
    model = md.load(model_copy)
    assert model.manifest_sha256 == sha256(model_copy / md.MANIFEST)


CASES = [pytest.param(name, id=name) for name in TAMPERINGS]


@pytest.mark.parametrize("case", CASES)
def test_tampered_model_refused_by_load(model_copy: Path, case: str):
    message = TAMPERINGS[case](model_copy)
    with pytest.raises(md.ModelDirError, match=message):
        md.load(model_copy)
    assert not (model_copy.parent / "PWNED-marker").exists()


@pytest.mark.slow  # one fabscore process per case
@pytest.mark.parametrize("case", CASES)
def test_tampered_model_refused_by_cli(model_copy: Path, case: str):
    message = TAMPERINGS[case](model_copy)
    out = model_copy.parent / "out.jsonl"
    proc = run_cli("score", str(SEEDS[0]), "--model", str(model_copy), "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
    assert not (model_copy.parent / "PWNED-marker").exists()
    assert not out.exists() or out.read_text() == "", "nothing may be scored with a refused model"


def test_pickle_payload_is_live_but_never_loaded(model_copy: Path, tmp_path: Path):
    """The payload really creates its marker when unpickled, so its absence above means something."""
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(Touch(control)))
    assert control.exists()
    add_pickle(model_copy)
    with pytest.raises(md.ModelDirError):
        load_detector(model_copy)
    assert not (model_copy.parent / "PWNED-marker").exists()


@pytest.mark.slow  # the tiny model fixture
def test_save_load_round_trip_scores_identically(tiny_model_dir: Path, tmp_path: Path):
    texts = [p.read_text(encoding="utf-8") for p in SEEDS]
    assert len(texts) == 2
    loaded = md.load(tiny_model_dir)
    before = load_detector(tiny_model_dir).score(texts)
    assert all(r["score"] is not None for r in before), "the seeds must be scored, not abstained"

    copy = md.save(tmp_path / "resaved", loaded.config, loaded.article_head, loaded.sentence_head,
                   (tiny_model_dir / md.CARD).read_text())
    reloaded = md.load(copy)
    assert reloaded.config == loaded.config
    after = load_detector(copy).score(texts)
    # the records name their model's path, the only field that differs
    assert [dict(r, model=None) for r in after] == [dict(r, model=None) for r in before]
    assert [r["model"]["sha256"] for r in after] == [r["model"]["sha256"] for r in before]


# ---------------------------------------------------------------- the card is documentation
def test_card_is_outside_the_integrity_check(model_copy: Path):
    """An edited or deleted README.md still loads (it decides no score); the manifest
    covers config and heads; an unexpected file is still refused."""
    assert md.CARD not in read_manifest(model_copy)["files"]
    assert {md.CONFIG, md.HEAD_FILES["article"]} <= set(read_manifest(model_copy)["files"])
    (model_copy / md.CARD).write_text("# my notes on this model\n")
    assert md.load(model_copy).config["name"] == "fabscore-default"
    (model_copy / md.CARD).unlink()
    assert md.load(model_copy).config["name"] == "fabscore-default"
    (model_copy / "notes.txt").write_text("extra")
    with pytest.raises(md.ModelDirError, match="unexpected file 'notes.txt'"):
        md.load(model_copy)


def test_refresh_rerenders_card_and_keeps_weights_and_config(model_copy: Path):
    from fabscore.training.card import refresh

    before = {n: sha256(model_copy / n) for n in read_manifest(model_copy)["files"]}
    (model_copy / md.CARD).write_text("stale")
    refresh(model_copy)
    card = (model_copy / md.CARD).read_text()
    assert card.startswith("---\nlibrary_name: fabscore\nlanguage: en\n")
    assert "## Thresholds" in card and "| human |" not in card
    assert {n: sha256(model_copy / n) for n in read_manifest(model_copy)["files"]} == before
    assert md.load(model_copy).config == json.loads((md.SHIPPED / "default" / md.CONFIG).read_text())
