"""The model directory: config.json, safetensors heads, a manifest and a model card.

A model directory may come from a stranger, so loading only ever parses JSON
and safetensors, checks the sha256 of every file that decides a score (config,
heads, encoder, consistency head) against MANIFEST.json, refuses any file it did
not write (a pickle, say), and refuses a format, normalization, featurizer or
backbone that differs from what this installation computes. The model card
(README.md) is documentation: it is outside the manifest, so editing it is fine.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from fabscore.features.featurize import FEATURIZER_VERSIONS, KINDS, backbone_infos, feature_names
from fabscore.models.hashing import sha256_file as _sha256
from fabscore.models.head import LinearHead
from fabscore.text.normalize import NORMALIZATION_VERSION

FORMAT = "fabscore-model"
FORMAT_VERSION = 1
CONFIG = "config.json"
MANIFEST = "MANIFEST.json"
CARD = "README.md"
HEAD_FILES = {"article": "article_head.safetensors", "sentence": "sentence_head.safetensors"}
ENCODER_FILE = "encoder.safetensors"  # a fine-tuned MiniLM (fabscore train --finetune)
# evidence mode's consistency head (fabscore.training.evidence): optional, independent of the
# writing heads, so re-training those keeps it (see `save`)
CONSISTENCY_FILES = ("consistency_head.safetensors", "consistency.json")
SHIPPED = Path(__file__).resolve().parent  # the shipped model directories sit beside this module


def threshold_map(table: list[dict]) -> dict[float, float]:
    """A stored threshold table ([{target_fpr, threshold, ...}]) as {target FPR: threshold}."""
    return {float(t["target_fpr"]): float(t["threshold"]) for t in table}


class ModelDirError(ValueError):
    """A model directory that must not be used, with the reason."""


@dataclass
class ModelDir:
    path: Path
    config: dict
    article_head: LinearHead
    sentence_head: LinearHead | None
    manifest_sha256: str  # identifies this exact model in every output record

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.config["features"])

    @property
    def name(self) -> str:
        return self.config.get("name") or self.path.name

    def thresholds(self, level: str = "article") -> dict[float, float]:
        """{target false-positive rate: threshold} stored for the 'article' or 'sentence' head."""
        return threshold_map(self.config["thresholds"].get(level) or [])

    def threshold(self, fpr: float, level: str = "article") -> float:
        """The stored threshold for a target FPR; ValueError naming the rates there are."""
        table = self.thresholds(level)
        for target, t in table.items():
            if abs(target - fpr) < 1e-12:
                return t
        have = ", ".join(f"{f:g}" for f in table) or "none"
        raise ValueError(f"{self.path}: no {level} threshold stored for target FPR {fpr:g}; this model has {have}")

    @property
    def encoder(self) -> str | None:
        """The fine-tuned encoder's weights file, when the model has one."""
        return str(self.path / ENCODER_FILE) if self.config.get("encoder") else None


def shipped_names() -> list[str]:
    """The models shipped in the package ('default', 'fast'): the folders beside this module
    that hold a manifest."""
    return sorted(p.name for p in SHIPPED.iterdir() if (p / MANIFEST).is_file())


def resolve(path: str | Path | None) -> Path:
    """A path, or the name of a model shipped in the package ('default', 'fast')."""
    if path is None:
        return SHIPPED / "default"
    p = Path(path)
    if not p.exists() and str(path) in shipped_names():
        return SHIPPED / str(path)
    return p


def save(path: str | Path, config: dict, article_head: LinearHead, sentence_head: LinearHead | None,
         card: str, encoder: str | Path | None = None) -> Path:
    """Write a model directory; the manifest is written last, over every other file.
    encoder: a fine-tuned encoder's safetensors file, copied in as ENCODER_FILE."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.iterdir():
        if stale.is_file() and stale.name not in CONSISTENCY_FILES:
            stale.unlink()
    article_head.save(path / HEAD_FILES["article"])
    if sentence_head is not None:
        sentence_head.save(path / HEAD_FILES["sentence"])
    if encoder is not None:
        shutil.copyfile(encoder, path / ENCODER_FILE)
    config = dict(config, format=FORMAT, format_version=FORMAT_VERSION,
                  heads={k: v for k, v in HEAD_FILES.items() if (path / v).is_file()})
    (path / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (path / CARD).write_text(card)
    write_manifest(path)
    return path


DOCS = (CARD,)  # documentation: may be edited or deleted, never verified, never decides a score


def write_manifest(path: str | Path) -> dict[str, str]:
    """MANIFEST.json over every file in the directory but the documentation: written last."""
    path = Path(path)
    files = {p.name: _sha256(p) for p in sorted(path.iterdir())
             if p.is_file() and p.name != MANIFEST and p.name not in DOCS}
    (path / MANIFEST).write_text(json.dumps({"files": files}, indent=2, sort_keys=True) + "\n")
    return files


def check_manifest(path: Path, allowed: tuple[str, ...], what: str = "model",
                   error: type[Exception] = ModelDirError) -> dict[str, str]:
    """Every file listed in MANIFEST.json is one of `allowed`, present and unchanged, and
    nothing else but documentation (DOCS, a regular file) is in the directory; raises
    `error` naming the file and the problem."""
    mf = path / MANIFEST
    if not mf.is_file():
        raise error(f"{path}: no {MANIFEST}; not a fabscore {what} directory")
    try:
        files = json.loads(mf.read_text())["files"]
    except (ValueError, KeyError, TypeError) as e:
        raise error(f"{mf}: unreadable manifest ({e})") from e
    if not isinstance(files, dict):
        raise error(f"{mf}: 'files' must map file names to sha256")
    for name, digest in files.items():
        if not isinstance(name, str) or "/" in name or "\\" in name or name in ("", ".", "..") or name.startswith("."):
            raise error(f"{mf}: refusing file name {name!r} (must be a plain name inside the directory)")
        if name not in allowed:
            raise error(f"{mf}: refusing {name!r}: not a file a fabscore {what} contains")
        if name in DOCS:
            continue  # older manifests list the card: documentation, editable, may be missing
        f = path / name
        if not f.is_file() or f.is_symlink():
            raise error(f"{path}: {name} is listed in the manifest but missing")
        if _sha256(f) != digest:
            raise error(f"{path}: {name} was changed after the {what} was saved (sha256 mismatch)")
    for f in path.iterdir():
        if f.name in DOCS and f.is_file() and not f.is_symlink():
            continue
        if f.name not in files and f.name != MANIFEST:
            raise error(f"{path}: unexpected file {f.name!r} is not part of the {what}; "
                        f"refusing to load a directory that holds files the {what} did not write")
    return files


def open_checked(path: Path, allowed: tuple[str, ...], config_name: str, fmt: str, version: int,
                 what: str = "model", error: type[Exception] = ModelDirError,
                 remedy: str = "upgrade fabscore or re-train") -> dict:
    """The config of a directory whose manifest checks out and whose format and version are ours."""
    if not path.is_dir():
        raise error(f"{path}: no such {what} directory")
    check_manifest(path, allowed, what, error)
    try:
        config = json.loads((path / config_name).read_text())
    except (OSError, ValueError) as e:
        raise error(f"{path / config_name}: unreadable ({e})") from e
    if not isinstance(config, dict):
        raise error(f"{path / config_name}: not a JSON object")
    if config.get("format") != fmt:
        raise error(f"{path}: not a fabscore {what} (format {config.get('format')!r})")
    if config.get("format_version") != version:
        raise error(f"{path}: {what} format version {config.get('format_version')!r}; this fabscore "
                    f"reads version {version} ({remedy})")
    return config


def load(path: str | Path | None = None) -> ModelDir:
    path = resolve(path)
    config = open_checked(path, (CONFIG, CARD, ENCODER_FILE, *HEAD_FILES.values(), *CONSISTENCY_FILES), CONFIG,
                          FORMAT, FORMAT_VERSION)
    if config.get("normalization_version") != NORMALIZATION_VERSION:
        raise ModelDirError(f"{path}: trained with normalization {config.get('normalization_version')!r}, "
                            f"this fabscore normalizes as {NORMALIZATION_VERSION!r}")
    kinds = tuple(config.get("features") or ())
    if not kinds or set(kinds) - set(KINDS):
        raise ModelDirError(f"{path}: unknown features {kinds!r}")
    trained = config.get("featurizer_versions") or {k: config.get("featurizer_version") for k in kinds}
    for kind in kinds:
        if not isinstance(trained, dict) or trained.get(kind) != FEATURIZER_VERSIONS[kind]:
            got = trained.get(kind) if isinstance(trained, dict) else trained
            raise ModelDirError(f"{path}: its {kind} features were computed by featurizer version {got!r}, "
                                f"this fabscore computes version {FEATURIZER_VERSIONS[kind]!r} (re-train the model)")
    encoder_sha = None
    if config.get("encoder"):
        if "embed" not in kinds or not (path / ENCODER_FILE).is_file():
            raise ModelDirError(f"{path}: config names a fine-tuned encoder but {ENCODER_FILE} or the embed "
                                "features are missing")
        encoder_sha = _sha256(path / ENCODER_FILE)
    have = backbone_infos(kinds, encoder_sha)
    for kind, info in have.items():
        want = (config.get("backbones") or {}).get(kind, {})
        if want.get("weights_sha256") != info["weights_sha256"] or \
                want.get("base_weights_sha256") != info.get("base_weights_sha256"):
            raise ModelDirError(f"{path}: the {kind} backbone differs from the one it was trained with "
                                f"({info['package']} {info['version']} weights {info['weights_sha256'][:12]} vs "
                                f"{want.get('package')} {want.get('version')} {str(want.get('weights_sha256'))[:12]})")
    heads = config.get("heads") or {}
    if heads.get("article") != HEAD_FILES["article"]:
        raise ModelDirError(f"{path}: config names no article head")
    try:
        art = LinearHead.load(path / HEAD_FILES["article"])
        sent = LinearHead.load(path / HEAD_FILES["sentence"]) if heads.get("sentence") else None
    except Exception as e:  # noqa: BLE001 - a corrupt safetensors file raises various types
        raise ModelDirError(f"{path}: head weights unreadable ({e})") from e
    for level, head in (("article", art), ("sentence", sent)):
        if head is not None and head.n_features_in_ != len(feature_names(kinds, level)):
            raise ModelDirError(f"{path}: {level} head has {head.n_features_in_} weights for "
                                f"{len(feature_names(kinds, level))} features")
    return ModelDir(path, config, art, sent, _sha256(path / MANIFEST))
