"""Labelled articles from the places users keep them, loaded through `datasets`.

A SPEC is a folder with one subfolder per label (human/, machine/ or
fabricated/), a JSONL or CSV file, a `datasets.save_to_disk` folder, or a hub
data set name (only where the user's machine reaches a hub). Every example
carries a story group so that an article and its rewrites are split together.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

HUMAN_LABELS = {"human", "real", "0", "false", "h"}
MACHINE_LABELS = {"machine", "fabricated", "ai", "generated", "llm", "1", "true", "m"}
FOLDER_LABELS = {"human": 0, "machine": 1, "fabricated": 1}


class DataError(ValueError):
    """A data SPEC that cannot be used, with the file and the reason."""


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    label: int  # 1 = machine-written / fabricated
    group: str  # story key: never on both sides of a split
    source: str = ""
    generator: str = ""
    subset: str = ""
    method: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Fields:
    text: str = "text"
    label: str = "label"
    id: str = "id"
    group: str = "group"


def parse_label(value, where: str) -> int:
    v = str(value).strip().lower()
    if v in HUMAN_LABELS:
        return 0
    if v in MACHINE_LABELS:
        return 1
    raise DataError(f"{where}: label {value!r} is neither human ({'/'.join(sorted(HUMAN_LABELS))}) "
                    f"nor machine ({'/'.join(sorted(MACHINE_LABELS))})")


def _group_of(row: dict, fields: Fields, label: int, rid: str) -> str:
    if row.get(fields.group) not in (None, ""):
        return str(row[fields.group])
    if label == 1 and row.get("pair_id") not in (None, ""):
        return str(row["pair_id"])
    return rid


def _from_rows(rows, where: str, fields: Fields, title_groups: bool) -> list[Example]:
    out = []
    for i, row in enumerate(rows):
        if fields.text not in row or fields.label not in row:
            raise DataError(f"{where}: row {i} has no {fields.text!r} or {fields.label!r} field "
                            f"(fields: {', '.join(row)}); set --text-field/--label-field")
        text = row[fields.text]
        if not isinstance(text, str) or not text.strip():
            continue
        label = parse_label(row[fields.label], f"{where} row {i}")
        rid = str(row.get(fields.id) if row.get(fields.id) not in (None, "") else f"{Path(where).name}:{i}")
        meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
        group = _group_of(row, fields, label, rid)
        if title_groups and row.get("title"):
            group = "title:" + str(row["title"]).strip().lower()
        out.append(Example(
            id=rid, text=text, label=label, group=group,
            source=str(row.get("source") or ""), generator=str(row.get("generator") or ""),
            subset=str(meta.get("subset") or row.get("subset") or ""), method=str(meta.get("method") or ""),
            meta=meta,
        ))
    return out


def _load_folder(root: Path) -> list[Example]:
    from fabscore.io.reading import ReadError, read_document

    subdirs = [d for d in sorted(root.iterdir()) if d.is_dir() and d.name.lower() in FOLDER_LABELS]
    if not subdirs:
        raise DataError(f"{root}: a folder SPEC needs subfolders named human/ and machine/ (or fabricated/)")
    out = []
    for d in subdirs:
        for p in sorted(d.rglob("*")):
            if not p.is_file():
                continue
            try:
                text = read_document(p).text
            except ReadError as e:
                print(f"skipped {p}: {e.reason}")
                continue
            rid = str(p.relative_to(root))
            out.append(Example(id=rid, text=text, label=FOLDER_LABELS[d.name.lower()], group=rid, source=root.name))
    return out


def load(spec: str, fields: Fields = Fields(), title_groups: bool | None = None) -> list[Example]:
    """Examples from one SPEC. title_groups groups rows by shared title (None: only
    when the rows have no pair_id, as in data sets whose pairs share a title)."""
    import datasets

    datasets.disable_progress_bars()
    path = Path(spec)
    if path.is_dir():
        if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                ds = datasets.concatenate_datasets(list(ds.values()))
        else:
            return _load_folder(path)
    elif path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".json"):
            ds = datasets.load_dataset("json", data_files=str(path), split="train")
        elif suffix in (".csv", ".tsv"):
            ds = datasets.load_dataset("csv", data_files=str(path), split="train",
                                       delimiter="\t" if suffix == ".tsv" else ",")
        else:
            raise DataError(f"{path}: unknown data file type {suffix!r} (expected .jsonl, .json, .csv or .tsv)")
    elif os.path.exists(spec):
        raise DataError(f"{spec}: not a regular file or folder")
    else:
        try:
            ds = datasets.load_dataset(spec, split="train")
        except Exception as e:  # noqa: BLE001 - datasets raises many types; the user needs the reason
            raise DataError(f"{spec}: no such file or folder, and not a loadable data set ({e})") from e
    rows = ds.to_list()
    if title_groups is None:
        title_groups = bool(rows) and "pair_id" not in rows[0] and "title" in rows[0] and fields.group not in rows[0]
    return _from_rows(rows, str(spec), fields, title_groups)


def fingerprint(examples: list[Example]) -> str:
    """A hash of the exact texts and labels a model was trained on."""
    h = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: e.id):
        h.update(json.dumps([ex.id, ex.label, ex.group, ex.text], ensure_ascii=False).encode())
    return h.hexdigest()


def cap_machine(examples: list[Example], n: int | None, seed: int = 0) -> list[Example]:
    """Keep every human example and at most n machine ones, chosen by a seeded hash
    of the id: the choice does not depend on file order and is reproducible."""
    if n is None:
        return examples
    machine = sorted((e for e in examples if e.label == 1),
                     key=lambda e: hashlib.sha256(f"{seed}:{e.id}".encode()).hexdigest())
    keep = {e.id for e in machine[:n]}
    return [e for e in examples if e.label == 0 or e.id in keep]


def cap_rows(examples: list[Example], n: int | None, salt: str = "0") -> list[Example]:
    """At most n examples, half of each label where possible (the rest from the larger
    label), chosen by a salted hash of the id: the same rows on every run, whatever the
    file order. File order is kept."""
    if not n or len(examples) <= n:
        return examples
    by_label = {c: sorted((e for e in examples if e.label == c),
                          key=lambda e: hashlib.sha256(f"{salt}:{e.id}".encode()).hexdigest()) for c in (0, 1)}
    n_human = min(len(by_label[0]), max(n // 2, n - len(by_label[1])))
    keep = {e.id for e in by_label[0][:n_human] + by_label[1][: n - n_human]}
    return [e for e in examples if e.id in keep]


def field_value(ex: Example, path: str) -> str:
    """A row's value for a field name as the data gives it: an Example attribute (source,
    generator, subset, method) or a dotted path into its meta ('meta.domain')."""
    head, _, rest = path.partition(".")
    if head == "meta" and rest:
        return str(ex.meta.get(rest, ""))
    return str(getattr(ex, path, "") or "")


def stories_per_group(examples: list[Example], n: int | None, field: str, salt: str = "0") -> list[Example]:
    """At most n human stories per value of `field` (chosen by a salted hash of the id), each with
    every machine row made from it (same story group): whole pairs, never half of one. n None:
    every row. File order is kept."""
    if not n:
        return examples
    by_value: dict[str, list[Example]] = {}
    for e in examples:
        if e.label == 0:
            by_value.setdefault(field_value(e, field), []).append(e)
    kept: set[str] = set()
    for humans in by_value.values():
        humans.sort(key=lambda e: hashlib.sha256(f"{salt}:{e.id}".encode()).hexdigest())
        kept |= {e.group for e in humans[:n]}
    return [e for e in examples if e.group in kept]

