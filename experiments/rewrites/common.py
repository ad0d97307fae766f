"""What the rewrite experiments share: paths, the samples they study, and result files.

Run each script as `python experiments/rewrites/NAME.py` from the repository: that puts this folder
on the import path, so `import common` finds this module (experiments/common.py, one folder up, is
not on that path). Nothing here asks the Hugging Face hub: SmolLM2 comes from fabscore's backbones.

Every text is scored on its first CHUNK words and kept when it has at least MIN_WORDS, as
`fabscore train` does. The samples are the experiment's own, chosen by a salted hash of the row id
(salt "26", the one the study drew its samples with, kept so these are the rows it measured), so every
run picks the same rows:

- `l2r`: 50 human texts per `meta.domain` of l2r_rewrites and every rewrite of each;
- `l2rc`: `l2r` plus one attacked copy (`--augment default` attacks) of a hash-chosen half of its rows;
- `mix`: the shipped default's training rows (the four news sets, 2,000 per set, copies of half);
- `pp`: the PolitiFact++ stories not in llmfake;
- `glimpse`: glimpse_other, 100 human texts per domain and 30 per generator per domain;
- `lfrw`: llmfake's paraphrase and rewrite rows in the default's training sample, plus 10 more per
  (method, generator).
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

from fabscore.training.data.augment import attacked_copies, attacks_for
from fabscore.training.data.examples import cap_rows, load
from fabscore.training.fit.feature_cache import FeatureCache
from fabscore.training.paths import data_dir
from fabscore.training.train import TrainSettings, prepare_examples

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = data_dir()  # ../shared/data beside the repository, or $FABSCORE_DATA
RESULTS = HERE / "results"  # the committed JSON and markdown
TABLES = HERE / "tables"  # feature tables built from the cache (not committed: derived from the data)
CHUNK = 200
MIN_WORDS = 40
TRAIN_SETS = ("llmfake", "aiclf_news", "iu_news", "usnews_mar2023_human")
SETS = ("mix", "l2r", "l2rc", "pp", "glimpse", "lfrw")


def h(s: str, salt: str = "26") -> str:
    return hashlib.sha256(f"{salt}:{s}".encode()).hexdigest()


def load_set(name: str):
    return load(str(DATA / f"{name}.clean.jsonl"))


def l2r_sample(per_domain: int = 50):
    """per_domain human texts per domain (hash-chosen by id) and every rewrite of each."""
    ex = load_set("l2r_rewrites")
    humans = defaultdict(list)
    for e in ex:
        if e.label == 0:
            humans[e.meta["domain"]].append(e)
    keep = set()
    for hs in humans.values():
        keep |= {e.id for e in sorted(hs, key=lambda e: h(e.id))[:per_domain]}
    return [e for e in ex if (e.label == 0 and e.id in keep) or (e.label == 1 and e.group in keep)]


def l2r_with_copies(per_domain: int = 50, share: float = 0.5):
    """The l2r sample plus one attacked copy of a hash-chosen `share` of its rows (the train recipe's
    --augment default), as (example, attack) pairs; copies keep their original's story group."""
    ex = l2r_sample(per_domain)
    out = [(e, "") for e in ex]
    for _, copy in attacked_copies(ex, attacks_for(("default",)), share, 0):
        out.append((copy, copy.meta["attack"]))
    return out


def politifact_unseen():
    return [e for e in load_set("politifact_pp") if not e.meta.get("in_llmfake")]


def glimpse_sample(n_human_per_domain: int = 100, n_machine_per_cell: int = 30):
    cells = defaultdict(list)
    for e in load_set("glimpse_other"):
        cells[(e.meta.get("domain"), e.generator if e.label else "human")].append(e)
    out = []
    for (_, g), es in cells.items():
        out += sorted(es, key=lambda e: h(e.id))[:n_human_per_domain if g == "human" else n_machine_per_cell]
    return out


def llmfake_rewrites(extra_per_cell: int = 10):
    """llmfake paraphrase and rewrite rows: those in the default's training sample, plus
    extra_per_cell more per (method, generator), hash-chosen."""
    lf = load_set("llmfake")
    in_train = {e.id for e in cap_rows(lf, 2000, "0")}
    cells = defaultdict(list)
    for e in lf:
        if e.method in ("paraphrase_generation", "rewrite_generation"):
            cells[(e.method, e.generator)].append(e)
    out = []
    for es in cells.values():
        out += [e for e in es if e.id in in_train]
        out += sorted((e for e in es if e.id not in in_train), key=lambda e: h(e.id))[:extra_per_cell]
    return out


def rows(name: str, cache: FeatureCache):
    """A sample's rows as (example, article (first CHUNK words), data set, attack ("" for real text))."""
    if name == "mix":  # exactly what `fabscore train --max-rows 2000 --augment default --augment-share 0.5` reads
        specs = [str(DATA / f"{s}.clean.jsonl") for s in TRAIN_SETS]
        prep = prepare_examples(specs, TrainSettings(max_rows=2000, augment=("default",), augment_share=0.5), cache)
        return list(zip(prep.examples, prep.articles, prep.dataset, prep.attack))
    if name == "l2rc":
        pairs, ds = l2r_with_copies(), "l2r_rewrites"
    else:
        sample, ds = {"pp": (politifact_unseen, "politifact_pp"), "l2r": (l2r_sample, "l2r_rewrites"),
                      "glimpse": (glimpse_sample, "glimpse_other"), "lfrw": (llmfake_rewrites, "llmfake")}[name]
        pairs = [(e, "") for e in sample()]
    out = []
    for e, attack in pairs:
        a = cache.prepare(e.text, CHUNK)
        if a.n_words >= MIN_WORDS:
            out.append((e, a, ds, attack))
    return out


def dump(obj, name: str, out_dir: Path = RESULTS) -> Path:
    p = Path(out_dir) / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, indent=1, default=float))
    return p
