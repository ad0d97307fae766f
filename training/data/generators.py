"""What the tables call a data set, a generator and its kind, read from the data's own names.

A generator's family is its name as the data gives it, less what only tells sizes, dates and
point releases apart ("llama-2-70b-chat" and "llama-2-7b-chat" are both "llama-2-chat";
"claude-3-opus-20240229" is "claude-3-opus"; "gpt-3.5-turbo (ChatGPT)" is "gpt-3.5-turbo"),
so a new model is always a new row, never merged into an older one by a substring rule.
Its kind (chat model, completion model) comes from a mapping: the user's, or the one
shipped beside this module for the generators of the shared data sets; a family that no
mapping names has the kind "unknown", reported as such.

A user's mapping (`--generator-map FILE`, JSON) names a generator exactly as the data does:
{"my-model-v2": {"family": "my-model", "kind": "chat model"}} (either key may be left out),
or {"my-model-v2": "my-model"} for the family alone.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

KINDS_FILE = Path(__file__).with_name("generator_kinds.json")
UNKNOWN_KIND = "unknown"

_NOTE = re.compile(r"\s*\([^)]*\)")  # "(ChatGPT)", "(per paper; ...)"
_DATE = re.compile(r"-(\d{8}|\d{4})$")  # a release date: -20240229, -0613
_VERSION = re.compile(r"-v\d+(\.\d+)*$")  # a point release: -v1.3
_SIZE = re.compile(r"-\d+(\.\d+)?[bm](?=-|$)")  # a parameter count: -7b, -70b, -270m


def dataset_name(spec: str) -> str:
    """A data file's name without its folder and extensions: '../x/llmfake.clean.jsonl' -> 'llmfake'."""
    name = Path(spec.rstrip("/")).name
    return re.sub(r"(\.clean)?\.(jsonl|json|csv|tsv)$", "", name)


def _entry(mapping: dict | None, name: str) -> dict:
    got = (mapping or {}).get(name)
    return {"family": got} if isinstance(got, str) else dict(got or {})


def generator_family(name: str | None, mapping: dict | None = None) -> str:
    """The family of a generator name as the data gives it ('human' for none)."""
    if not name:
        return "human"
    family = _entry(mapping, name).get("family")
    if family:
        return str(family)
    g = _NOTE.sub("", name).strip().lower()
    for pattern in (_DATE, _VERSION, _SIZE):
        g = pattern.sub("", g)
    return g or name.lower()


@lru_cache(maxsize=1)
def shipped_kinds() -> dict[str, str]:
    """family -> kind for the generators of the shared data sets (generator_kinds.json)."""
    return json.loads(KINDS_FILE.read_text())


def generator_kind(name: str | None, mapping: dict | None = None) -> str:
    """'chat model', 'completion model', ... from the mapping (by exact name, then by family),
    else the shipped kinds; 'unknown' when no mapping names it."""
    if not name:
        return "human"
    family = generator_family(name, mapping)
    kind = _entry(mapping, name).get("kind") or _entry(mapping, family).get("kind")
    return str(kind or shipped_kinds().get(family, UNKNOWN_KIND))


def read_mapping(path: str | Path | None) -> dict:
    """A user's generator mapping file (JSON object), or {} for none; ValueError naming the problem."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the generator mapping ({type(e).__name__}: {e})") from e
    if not isinstance(data, dict) or not all(isinstance(v, (str, dict)) for v in data.values()):
        raise ValueError(f"{path}: a generator mapping is a JSON object of name -> family or "
                         "name -> {\"family\": ..., \"kind\": ...}")
    return data
