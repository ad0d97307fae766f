"""`fabscore train`: from labelled articles to a model directory with its card."""
from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabscore import backbones
from fabscore import model_dir as md
from fabscore.features.featurize import FEATURIZER_VERSIONS, KINDS, backbone_infos, feature_names, stack
from fabscore.normalize import NORMALIZATION_VERSION
from fabscore.text import Article

from . import card
from .data import Example, Fields, cap_machine, fingerprint, load
from .feature_cache import FeatureCache, fill
from .finetune import FinetuneSettings, finetune_encoder
from .fit import HeadFit, fit_head, fit_head_on_holdout, folds
from .loo import leave_one_out
from .metrics import auroc, group_summaries, summary
from .sentence_labels import label_example

CHUNK_WORDS = 200
# Cues a detector could learn instead of style (the shortcut audit and data notebook use these).
FINAL_PUNCT = ".!?\"'"
PAGE_JUNK = re.compile(r"(share|subscribe|click here|advertisement|cookie|sign up)", re.I)
MIN_WORDS = 40
HOLDOUT_SPLITS = 5  # --finetune holds out one grouped fold in this many


def dataset_name(spec: str) -> str:
    name = Path(spec.rstrip("/")).name
    return re.sub(r"(\.clean)?\.(jsonl|json|csv|tsv)$", "", name)


def generator_family(gen: str) -> str:
    g = gen.lower()
    for key, fam in (("gpt-3.5", "gpt-3.5"), ("chatgpt", "gpt-3.5"), ("llama", "llama-2"), ("vicuna", "vicuna"),
                     ("gpt-4o", "gpt-4o"), ("claude", "claude"), ("mistral", "mistral"), ("davinci", "davinci"),
                     ("flan", "flan-t5")):
        if key in g:
            return fam
    return g or "human"


# Leave-one-generator-family-out (issue 15): instruction-tuned chat models vs. older completion
# models, which continue a text rather than answer a request and read differently.
GENERATOR_KINDS = {"gpt-3.5": "chat model", "gpt-4o": "chat model", "claude": "chat model",
                   "llama-2": "chat model", "mistral": "chat model", "vicuna": "chat model",
                   "davinci": "completion model", "flan-t5": "completion model"}


def generator_kind(gen: str) -> str:
    """'chat model', 'completion model', or the generator family when it is neither."""
    fam = generator_family(gen)
    return GENERATOR_KINDS.get(fam, fam)


@dataclass
class Prepared:
    examples: list[Example]
    articles: list[Article]  # the first chunk of each example
    dataset: list[str]


def prepare_examples(specs: list[str], fields: Fields, max_machine: int | None, seed: int,
                     chunk_words: int, min_words: int, cache: FeatureCache) -> Prepared:
    exs, arts, names = [], [], []
    for spec in specs:
        loaded = cap_machine(load(spec, fields), max_machine, seed)
        for ex in loaded:
            art = cache.prepare(ex.text, chunk_words)
            if art.n_words >= min_words:
                exs.append(ex)
                arts.append(art)
                names.append(dataset_name(spec))
    if len({e.label for e in exs}) < 2:
        raise ValueError("training needs both human and machine articles of at least "
                         f"{min_words} words; got labels {sorted({e.label for e in exs})}")
    return Prepared(exs, arts, names)


def feature_matrices(prep: Prepared, kinds: tuple[str, ...], cache: FeatureCache, workers: int,
                     progress=None) -> tuple[np.ndarray, list[np.ndarray]]:
    fill(prep.articles, kinds, cache, workers=workers, progress=progress)
    blocks = [cache.features(a, kinds) for a in prep.articles]
    stacked = [stack(b, kinds) for b in blocks]
    return np.stack([s[0] for s in stacked]), [s[1] for s in stacked]


def length_matched_auroc(y: np.ndarray, p: np.ndarray, words: np.ndarray, seed: int, bins: int = 10) -> float | None:
    """AUROC on a subset where human and machine articles have the same length distribution."""
    rng = np.random.default_rng(seed)
    edges = np.quantile(np.log(words), np.linspace(0, 1, bins + 1)[1:-1])
    b = np.digitize(np.log(words), edges)
    keep = []
    for k in range(bins):
        h, m = np.flatnonzero((b == k) & (y == 0)), np.flatnonzero((b == k) & (y == 1))
        n = min(len(h), len(m))
        keep += list(rng.choice(h, n, replace=False)) + list(rng.choice(m, n, replace=False))
    keep = np.array(keep, dtype=int)
    return auroc(y[keep], p[keep]) if len(keep) else None


def shortcut_audit(examples: list[Example], y: np.ndarray, oof: np.ndarray, groups: np.ndarray, seed: int) -> dict:
    """What a one-cue classifier achieves beside the model, under the same grouped CV."""
    words = np.array([max(len(e.text.split()), 1) for e in examples], dtype=float)
    final_punct = np.array([float(e.text.rstrip()[-1:] in FINAL_PUNCT) for e in examples])
    junk = np.array([float(bool(PAGE_JUNK.search(e.text))) for e in examples])
    out = {}
    for name, x in (("length-only classifier AUROC (log words of the full text)", np.log(words)),
                    ("final-punctuation-only classifier AUROC", final_punct),
                    ("page-junk-words-only classifier AUROC", junk)):
        fit = fit_head(x[:, None], y, groups, seed=seed, Cs=(1.0,), fprs=())
        out[name] = auroc(y, fit.oof)
    out["model AUROC, held out"] = auroc(y, oof)
    out["model AUROC on length-matched human/machine subset"] = length_matched_auroc(y, oof, words, seed)
    out["model AUROC on articles without final punctuation"] = auroc(y[final_punct == 0], oof[final_punct == 0])
    out["model AUROC on articles with final punctuation"] = auroc(y[final_punct == 1], oof[final_punct == 1])
    return out


def fit_sentence_head(prep: Prepared, X_sent: list[np.ndarray], cache: FeatureCache, groups: np.ndarray,
                      seed: int, workers: int = 1, holdout: np.ndarray | None = None) -> tuple[HeadFit | None, dict]:
    """Sentence labels come from aligning isolated-sentence embeddings (fp32, so labels
    do not depend on the CPU) with the human source, whatever features the head uses."""
    fill(prep.articles, ("sentence_embed",), cache, workers=workers)
    emb = [cache.features(a, ("sentence_embed",))["sentence_embed"] for a in prep.articles]
    sources = {ex.id: (ex.text, e) for ex, e in zip(prep.examples, emb) if ex.label == 0}
    rows, labels, sgroups, held = [], [], [], []
    for k, (ex, a, xs, e) in enumerate(zip(prep.examples, prep.articles, X_sent, emb)):
        lab = label_example(ex, [s.norm for s in a.sentences], e, sources)
        keep = lab >= 0
        rows.append(xs[keep])
        labels.append(lab[keep])
        sgroups += [groups[k]] * int(keep.sum())
        held += [bool(holdout[k]) if holdout is not None else True] * int(keep.sum())
    y, held = np.concatenate(labels), np.array(held)
    info = {"n_sentences": int(len(y)), "n_inserted": int((y == 1).sum()), "n_human": int((y == 0).sum())}
    if min((y[held] == 0).sum(), (y[held] == 1).sum(), (y[~held] == 0).sum() if holdout is not None else 10,
           (y[~held] == 1).sum() if holdout is not None else 10) < 10:
        return None, info
    X = np.concatenate(rows)
    fit = (fit_head_on_holdout(X, y, np.array(sgroups), held, seed=seed) if holdout is not None
           else fit_head(X, y, np.array(sgroups), seed=seed))
    info["metrics"] = summary(y[fit.held], fit.oof[fit.held])
    return fit, info


def train(specs: list[str], out: str | Path, kinds: tuple[str, ...] = KINDS, seed: int = 0,
          fields: Fields = Fields(), max_machine: int | None = None, chunk_words: int = CHUNK_WORDS,
          min_words: int = MIN_WORDS, cache: FeatureCache | None = None, workers: int = 1,
          sentence_head: bool = True, name: str | None = None, command: str | None = None,
          loo: tuple[str, ...] = (), finetune: FinetuneSettings | None = None, log=print) -> Path:
    """Featurize (cached), fit and calibrate the heads, write the model directory and card.

    With `finetune`, the MiniLM encoder is first fine-tuned on 80% of the story
    groups; the heads are fitted on those too, and calibration, thresholds and every
    metric come from the other 20%, which neither the encoder nor the heads saw."""
    t0 = time.time()
    cache = cache or FeatureCache()
    prep = prepare_examples(specs, fields, max_machine, seed, chunk_words, min_words, cache)
    y = np.array([e.label for e in prep.examples])
    groups = np.array([f"{d}/{e.group}" for d, e in zip(prep.dataset, prep.examples)])
    log(f"{len(y)} articles ({(y == 0).sum()} human, {(y == 1).sum()} machine), {len(set(groups))} story groups")
    holdout, encoder_info, tmpdir = None, None, None
    if finetune is not None:
        if "embed" not in kinds:
            raise ValueError("--finetune fine-tunes the encoder behind the embed features: add embed to --features")
        holdout = folds(y, groups, HOLDOUT_SPLITS, seed) == 0
        tmpdir = tempfile.TemporaryDirectory(prefix="fabscore-encoder-")
        encoder = str(Path(tmpdir.name) / md.ENCODER_FILE)
        encoder_info = finetune_encoder([a for a, h in zip(prep.articles, holdout) if not h], y[~holdout], encoder,
                                        finetune, log)
        encoder_info["held_out"] = (f"{int(holdout.sum())} articles in {len(set(groups[holdout]))} story groups "
                                    "(1 of 5 grouped folds): calibration, thresholds and metrics")
        cache = FeatureCache(cache.root, encoder=encoder)
    X, X_sent = feature_matrices(prep, kinds, cache, workers)
    t_feat = time.time() - t0
    art = fit_head(X, y, groups, seed=seed) if holdout is None else fit_head_on_holdout(X, y, groups, holdout, seed)
    ev = art.held  # rows whose scores are honest held-out scores
    thresholds = md.threshold_map(art.thresholds)
    src = np.array([f"{d}:{e.subset}" if e.subset else d for d, e in zip(prep.dataset, prep.examples)])
    gen = np.array([generator_family(e.generator) if e.label else "human" for e in prep.examples])
    metrics = {"oof": summary(y[ev], art.oof[ev], thresholds),
               "by_source": group_summaries(list(src[ev]), y[ev], art.oof[ev], thresholds),
               "by_generator": group_summaries(list(gen[ev]), y[ev], art.oof[ev], thresholds),
               "shortcuts": shortcut_audit([e for e, k in zip(prep.examples, ev) if k], y[ev], art.oof[ev],
                                           groups[ev], seed)}
    key_of = {"source": src, "generator": gen, "dataset": np.array(prep.dataset),
              "family": np.array([generator_kind(e.generator) if e.label else "human" for e in prep.examples])}
    if loo and holdout is not None:
        log("leave-one-out skipped: the fine-tuned encoder saw every source and generator")
        loo = ()
    if loo:
        metrics["leave_one_out"] = {}
        for key in loo:
            res = leave_one_out(X, y, groups, key_of[key], art.C, seed, machine_only=(key in ("generator", "family")))
            metrics["leave_one_out"].update({f"{key}: {k}": v for k, v in res.items()})
            log(f"leave-one-{key}-out AUROC: " + ", ".join(f"{k} {v['auroc']:.3f}" for k, v in res.items()))
    sent_fit, sent_info = (fit_sentence_head(prep, X_sent, cache, groups, seed, workers, holdout) if sentence_head
                           else (None, {}))
    specs_info = {}
    for d in sorted(set(prep.dataset)):
        m = np.array(prep.dataset) == d
        specs_info[d] = f"{int((y[m] == 0).sum())} human, {int((y[m] == 1).sum())} machine"
    config = {
        "name": name or Path(out).name,
        "normalization_version": NORMALIZATION_VERSION,
        "featurizer_versions": {k: FEATURIZER_VERSIONS[k] for k in kinds},
        "features": list(kinds),
        "feature_names": {"article": feature_names(kinds, "article"), "sentence": feature_names(kinds, "sentence")},
        "backbones": backbone_infos(kinds, backbones.sha256_file(cache.encoder) if cache.encoder else None),
        "chunk_words": chunk_words,
        "min_words": min_words,
        "default_fpr": 0.01,
        "seed": seed,
        "command": command or "",
        "thresholds": {"article": art.thresholds},
        "article_head": {"C": art.C, "cv_auroc": {str(k): v for k, v in art.cv_auroc.items()}},
        "training_data": {"fingerprint": fingerprint(prep.examples), "n": int(len(y)),
                          "n_human": int((y == 0).sum()), "n_machine": int((y == 1).sum()),
                          "n_groups": int(len(set(groups))), "specs": specs_info,
                          "max_machine_per_spec": max_machine},
        "metrics": metrics,
    }
    if encoder_info is not None:
        config["encoder"] = dict(encoder_info, file=md.ENCODER_FILE)
    if sent_fit is not None:
        config["thresholds"]["sentence"] = sent_fit.thresholds
        config["sentence_head"] = dict(sent_info, C=sent_fit.C, labels=(
            "human articles' sentences = 0; a machine article's sentence = 1 when it has no counterpart in its "
            "human source (content-word overlap < 0.5 and max MiniLM cosine < 0.6), or when the article was "
            "written from a title alone; restated sentences are left out"))
    path = md.save(out, config, art.head, sent_fit.head if sent_fit else None, card.render(config), cache.encoder)
    if tmpdir is not None:
        tmpdir.cleanup()
    log(f"wrote {path} in {time.time() - t0:.0f} s ({t_feat:.0f} s featurizing): held-out AUROC {metrics['oof']['auroc']:.4f}, "
        f"TPR@1%FPR {metrics['oof']['tpr_at_1pct_fpr']:.3f}")
    return path
