"""`fabscore train`: from labelled articles to a model directory with its card."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from fabscore.features.featurize import FEATURIZER_VERSIONS, backbone_infos, feature_names, stack
from fabscore.models import backbones
from fabscore.models import directory as md
from fabscore.text.normalize import NORMALIZATION_VERSION
from fabscore.text.sentences import Article
from fabscore.training import card
from fabscore.training.data.augment import attacked_copies, attacks_for
from fabscore.training.data.examples import Example, Fields, cap_machine, cap_rows, fingerprint, load, stories_per_group
from fabscore.training.data.generators import dataset_name, generator_family, generator_kind
from fabscore.training.data.sentence_labels import label_example
from fabscore.training.eval.loo import leave_one_attack_out, leave_one_out
from fabscore.training.eval.metrics import group_summaries, summary
from fabscore.training.eval.shortcuts import shortcut_audit
from fabscore.training.fit.feature_cache import FeatureCache, fill
from fabscore.training.fit.finetune import FinetuneSettings, finetune_encoder
from fabscore.training.fit.heads import HeadFit, fit_head, fit_head_on_holdout, folds

CHUNK_WORDS = 200
MIN_WORDS = 40
HOLDOUT_SPLITS = 5  # --finetune holds out one grouped fold in this many
SENTENCE_LABELS = (
    "human articles' sentences = 0; a machine article's sentence = 1 when it has no counterpart in its "
    "human source (content-word overlap < 0.5 and max MiniLM cosine < 0.6), or when the article was "
    "written from a title alone; restated sentences are left out")


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides what `train` produces (recorded in the model's config)."""

    kinds: tuple[str, ...] = ("lmdist", "style", "lmword", "lex")  # what the shipped default model uses
    seed: int = 0
    fields: Fields = field(default_factory=Fields)
    max_machine: int | None = None  # machine articles kept per SPEC (hash-chosen)
    max_rows: int | None = None  # articles kept per SPEC, half of each label where possible (hash-chosen)
    chunk_words: int = CHUNK_WORDS
    min_words: int = MIN_WORDS
    workers: int = 1
    engine: str = "local"  # where featurizing runs: local (processes) or ray (fit.ray_featurize)
    address: str | None = None  # with engine ray: the cluster (host:port); None starts Ray locally
    sentence_head: bool = True
    name: str | None = None
    command: str | None = None
    loo: tuple[str, ...] = ()  # leave-one-out evaluations: source, generator, dataset, family, attack
    augment: tuple[str, ...] = ()  # attacks whose copies are added to training (training.augment)
    augment_share: float = 0.3  # share of rows that get one attacked copy
    finetune: FinetuneSettings | None = None
    generator_map: dict = field(default_factory=dict)  # generator name -> family / kind (data.generators)
    # Auxiliary data (other genres, say): fitted on, never used for calibration, thresholds or the
    # headline metrics, so no threshold is chosen on text unlike what the model will score.
    aux: tuple[str, ...] = ()
    aux_stories_per_group: int | None = None  # human stories kept per value of aux_group_field, with their rewrites
    aux_group_field: str = "meta.domain"


@dataclass
class Prepared:
    """The training rows: examples long enough to score, their first chunk, their data set."""

    examples: list[Example]
    articles: list[Article]  # the first chunk of each example
    dataset: list[str]
    attack: list[str] = field(default_factory=list)  # per row: the attack of an attacked copy, "" for real text
    generator_map: dict = field(default_factory=dict)  # names generators in the tables (data.generators)
    aux: list[bool] = field(default_factory=list)  # per row: from the auxiliary data

    @property
    def augmented(self) -> np.ndarray:
        """Rows that are attacked copies."""
        return np.array([bool(a) for a in self.attack]) if self.attack else np.zeros(len(self.examples), bool)

    @property
    def auxiliary(self) -> np.ndarray:
        """Rows of the auxiliary data."""
        return np.array(self.aux, bool) if self.aux else np.zeros(len(self.examples), bool)

    @property
    def training_only(self) -> np.ndarray:
        """Rows fitted on but never calibrated, thresholded or reported on as the model's own
        kind of text: attacked copies and auxiliary rows."""
        return self.augmented | self.auxiliary

    @property
    def y(self) -> np.ndarray:
        return np.array([e.label for e in self.examples])

    @property
    def groups(self) -> np.ndarray:
        """Story keys, prefixed by data set so two files' ids never merge."""
        return np.array([f"{d}/{e.group}" for d, e in zip(self.dataset, self.examples)])

    def keys(self, key: str) -> np.ndarray:
        """Per row: its 'source' (data set:subset), 'generator' family or 'dataset'."""
        if key == "source":
            return np.array([f"{d}:{e.subset}" if e.subset else d for d, e in zip(self.dataset, self.examples)])
        if key == "generator":
            return np.array([generator_family(e.generator, self.generator_map) if e.label else "human"
                             for e in self.examples])
        if key == "dataset":
            return np.array(self.dataset)
        if key == "family":
            return np.array([generator_kind(e.generator, self.generator_map) if e.label else "human"
                             for e in self.examples])
        raise ValueError(f"unknown group key {key!r}; choose source, generator, dataset or family")


def prepare_examples(specs: list[str], settings: TrainSettings, cache: FeatureCache) -> Prepared:
    """Load every SPEC, apply the per-SPEC caps, keep articles of at least min_words words."""
    exs, arts, names, attack, aux = [], [], [], [], []

    def add(ex, name: str, attacked: str = "", auxiliary: bool = False) -> None:
        """Keep ex (with its dataset name, attack and auxiliary flag) if it has min_words words."""
        art = cache.prepare(ex.text, settings.chunk_words)
        if art.n_words >= settings.min_words:
            exs.append(ex)
            arts.append(art)
            names.append(name)
            attack.append(attacked)
            aux.append(auxiliary)

    for spec in specs:
        for ex in cap_rows(cap_machine(load(spec, settings.fields), settings.max_machine, settings.seed),
                           settings.max_rows, str(settings.seed)):
            add(ex, dataset_name(spec))
    if len({e.label for e in exs}) < 2:
        raise ValueError("training needs both human and machine articles of at least "
                         f"{settings.min_words} words; got labels {sorted({e.label for e in exs})}")
    for i, copy in attacked_copies(exs, attacks_for(settings.augment), settings.augment_share, settings.seed):
        add(copy, names[i], copy.meta["attack"])
    for spec in settings.aux:
        for ex in stories_per_group(load(spec, settings.fields), settings.aux_stories_per_group,
                                    settings.aux_group_field, f"{settings.seed}:aux"):
            add(ex, dataset_name(spec), auxiliary=True)
    return Prepared(exs, arts, names, attack, settings.generator_map, aux)


def feature_matrices(prep: Prepared, kinds: tuple[str, ...], cache: FeatureCache, workers: int,
                     engine: str = "local", address: str | None = None
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Article features (one row per example) and sentence features (one matrix per example)."""
    fill(prep.articles, kinds, cache, workers=workers, desc="featurizing", engine=engine, address=address)
    stacked = [stack(cache.features(a, kinds), kinds) for a in prep.articles]
    return np.stack([s[0] for s in stacked]), [s[1] for s in stacked]


def finetune_on_training_part(prep: Prepared, settings: TrainSettings, cache: FeatureCache, workdir: Path,
                              log) -> tuple[np.ndarray, dict, FeatureCache]:
    """Fine-tune the encoder on 4 of 5 grouped folds; returns the held-out mask, what the
    card says about the encoder, and a cache keyed by the new encoder."""
    if "embed" not in settings.kinds:
        raise ValueError("--finetune fine-tunes the encoder behind the embed features: add embed to --features")
    y, groups = prep.y, prep.groups
    holdout = folds(y, groups, HOLDOUT_SPLITS, settings.seed) == 0
    encoder = str(workdir / md.ENCODER_FILE)
    info = finetune_encoder([a for a, h in zip(prep.articles, holdout) if not h], y[~holdout], encoder,
                            settings.finetune, log)
    info["held_out"] = (f"{int(holdout.sum())} articles in {len(set(groups[holdout]))} story groups "
                        "(1 of 5 grouped folds): calibration, thresholds and metrics")
    return holdout, info, FeatureCache(cache.root, encoder=encoder)


def evaluate_article_head(prep: Prepared, X: np.ndarray, art: HeadFit, settings: TrainSettings,
                          finetuned: bool, log) -> dict:
    """Held-out metrics overall, per source and generator, the shortcut audit and the
    leave-one-out runs asked for, all on rows whose scores are honest."""
    y, groups, ev = prep.y, prep.groups, art.held  # held: real rows only, never attacked copies
    thresholds = md.threshold_map(art.thresholds)
    src, gen = prep.keys("source"), prep.keys("generator")
    how = np.array([f"{g} / {e.method}" if e.label and e.method else g for g, e in zip(gen, prep.examples)])
    metrics = {"oof": summary(y[ev], art.oof[ev], thresholds),
               "by_source": group_summaries(list(src[ev]), y[ev], art.oof[ev], thresholds),
               "by_generator": group_summaries(list(gen[ev]), y[ev], art.oof[ev], thresholds),
               "by_generator_method": group_summaries(list(how[ev]), y[ev], art.oof[ev], thresholds),
               "shortcuts": shortcut_audit([e.text for e, k in zip(prep.examples, ev) if k], y[ev], art.oof[ev],
                                           groups[ev], settings.seed)}
    if prep.augmented.any():
        metrics["attacked_copies"] = attacked_copy_metrics(prep, art, thresholds)
    loo = settings.loo
    if loo and finetuned:
        log("leave-one-out skipped: the fine-tuned encoder saw every source and generator")
        loo = ()
    if loo:
        metrics["leave_one_out"] = {}
        for key in loo:
            if key == "attack":
                res = leave_one_attack_out(X, y, groups, np.array(prep.attack), art.C, settings.seed,
                                           prep.auxiliary)
            else:
                res = leave_one_out(X, y, groups, prep.keys(key), art.C, settings.seed,
                                    machine_only=(key in ("generator", "family")), augmented=prep.training_only,
                                    datasets=np.array(prep.dataset))
            metrics["leave_one_out"].update({f"{key}: {k}": v for k, v in res.items()})
            log(f"leave-one-{key}-out AUROC: " + ", ".join(f"{k} {v['auroc']:.3f}" for k, v in res.items()))
    return metrics


def attacked_copy_metrics(prep: Prepared, art: HeadFit, thresholds: dict) -> dict:
    """Per attack, out of fold: its attacked machine copies against the real human rows
    (AUROC, TPR at the thresholds), and the false-positive rate of its attacked human copies."""
    y, attack, real = prep.y, np.array(prep.attack), ~prep.training_only
    humans = real & (y == 0)
    out = {}
    for name in sorted(set(attack[~real].tolist())):
        rows = attack == name
        m = rows & (y == 1)
        res = summary(np.r_[np.zeros(humans.sum()), np.ones(m.sum())], np.r_[art.oof[humans], art.oof[m]], thresholds)
        res["n_attacked_machine"] = int(m.sum())
        h = rows & (y == 0)
        res["n_attacked_human"] = int(h.sum())
        t = thresholds.get(0.01)
        res["fpr_attacked_human_at_1pct"] = float((art.oof[h] >= t).mean()) if h.any() and t is not None else None
        out[name] = res
    return out


def fit_sentence_head(prep: Prepared, X_sent: list[np.ndarray], cache: FeatureCache, groups: np.ndarray,
                      seed: int, workers: int = 1, holdout: np.ndarray | None = None, engine: str = "local",
                      address: str | None = None) -> tuple[HeadFit | None, dict]:
    """Sentence labels come from aligning isolated-sentence embeddings (fp32, so labels
    do not depend on the CPU) with the human source, whatever features the head uses."""
    synthetic = prep.training_only  # attacked copies have no sentence labels, auxiliary rows are another genre
    real = [a for a, syn in zip(prep.articles, synthetic) if not syn]
    fill(real, ("sentence_embed",), cache, workers=workers, desc="sentence labels", engine=engine, address=address)
    emb = [None if syn else cache.features(a, ("sentence_embed",))["sentence_embed"]
           for a, syn in zip(prep.articles, synthetic)]
    sources = {ex.id: (ex.text, e) for ex, e, syn in zip(prep.examples, emb, synthetic) if ex.label == 0 and not syn}
    rows, labels, sgroups, held = [], [], [], []
    for k, (ex, a, xs, e) in enumerate(zip(prep.examples, prep.articles, X_sent, emb)):
        if synthetic[k]:
            continue
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


def model_config(prep: Prepared, settings: TrainSettings, out: Path, cache: FeatureCache, art: HeadFit,
                 metrics: dict, sent: tuple[HeadFit | None, dict], encoder_info: dict | None) -> dict:
    """config.json: what the model computes, how it was trained, and what it measured."""
    real = ~prep.augmented  # counts describe real articles; attacked copies are listed apart
    y, dataset = prep.y[real], np.array(prep.dataset)[real]
    kinds = settings.kinds
    config = {
        "name": settings.name or out.name,
        "normalization_version": NORMALIZATION_VERSION,
        "featurizer_versions": {k: FEATURIZER_VERSIONS[k] for k in kinds},
        "features": list(kinds),
        "feature_names": {"article": feature_names(kinds, "article"), "sentence": feature_names(kinds, "sentence")},
        "backbones": backbone_infos(kinds, backbones.sha256_file(cache.encoder) if cache.encoder else None),
        "chunk_words": settings.chunk_words,
        "min_words": settings.min_words,
        "default_fpr": 0.01,
        "seed": settings.seed,
        "command": settings.command or "",
        "thresholds": {"article": art.thresholds},
        "article_head": {"C": art.C, "cv_auroc": {str(k): v for k, v in art.cv_auroc.items()}},
        "training_data": {"fingerprint": fingerprint(prep.examples), "n": int(len(y)),
                          "n_human": int((y == 0).sum()), "n_machine": int((y == 1).sum()),
                          "n_groups": int(len(set(prep.groups))),
                          "specs": {d: f"{int((y[dataset == d] == 0).sum())} human, "
                                       f"{int((y[dataset == d] == 1).sum())} machine" for d in sorted(set(dataset))},
                          "max_machine_per_spec": settings.max_machine},
        "metrics": metrics,
    }
    if settings.max_rows:
        config["training_data"]["max_rows_per_spec"] = settings.max_rows
    if prep.augmented.any():
        aug, y = np.array(prep.attack), prep.y
        config["training_data"]["augmented"] = {
            "share": settings.augment_share, "attacks": list(settings.augment),
            "note": "attacked copies keep their original's label and story group; fitted on, never used for "
                    "calibration, thresholds or the real-text metrics",
            "copies": {a: {"human": int(((aug == a) & (y == 0)).sum()), "machine": int(((aug == a) & (y == 1)).sum())}
                       for a in sorted(set(aug.tolist()) - {""})}}

    if prep.auxiliary.any():
        aux, y = prep.auxiliary, prep.y
        config["training_data"]["auxiliary"] = {
            "specs": list(settings.aux), "stories_per_group": settings.aux_stories_per_group,
            "group_field": settings.aux_group_field,
            "human": int((aux & (y == 0)).sum()), "machine": int((aux & (y == 1)).sum()),
            "note": "fitted on, never used for calibration, thresholds or the metrics of the model's own kind of "
                    "text; the sentence head does not see them"}
    if encoder_info is not None:
        config["encoder"] = dict(encoder_info, file=md.ENCODER_FILE)
    sent_fit, sent_info = sent
    if sent_fit is not None:
        config["thresholds"]["sentence"] = sent_fit.thresholds
        config["sentence_head"] = dict(sent_info, C=sent_fit.C, labels=SENTENCE_LABELS)
    return config


def train(specs: list[str], out: str | Path, settings: TrainSettings | None = None, cache: FeatureCache | None = None,
          log=print, **overrides) -> Path:
    """Featurize (cached), fit and calibrate the heads, write the model directory and card.

    Steps: prepare rows -> (fine-tune the encoder) -> featurize -> fit the article head
    -> evaluate it on held-out scores -> fit the sentence head -> config -> save.
    `overrides` replace fields of `settings` (e.g. train(specs, out, seed=1)).

    With `settings.finetune`, the MiniLM encoder is first fine-tuned on 80% of the story
    groups; the heads are fitted on those too, and calibration, thresholds and every
    metric come from the other 20%, which neither the encoder nor the heads saw."""
    settings = replace(settings or TrainSettings(), **overrides)
    if settings.augment and settings.finetune is not None:
        raise ValueError("--augment and --finetune together are not supported: the fine-tuned encoder's "
                         "held-out part would need its own attacked copies")
    out, t0 = Path(out), time.time()
    cache = cache or FeatureCache()
    prep = prepare_examples(specs, settings, cache)
    y, groups = prep.y, prep.groups
    log(f"{len(y)} articles ({(y == 0).sum()} human, {(y == 1).sum()} machine), {len(set(groups))} story groups")
    with tempfile.TemporaryDirectory(prefix="fabscore-encoder-") as workdir:  # removed on any exception too
        holdout, encoder_info = None, None
        if settings.finetune is not None:
            holdout, encoder_info, cache = finetune_on_training_part(prep, settings, cache, Path(workdir), log)
        X, X_sent = feature_matrices(prep, settings.kinds, cache, settings.workers, settings.engine, settings.address)
        t_feat = time.time() - t0
        log("fitting the article head (C by grouped CV, Platt scaling on out-of-fold decisions)")
        art = (fit_head(X, y, groups, seed=settings.seed, augmented=prep.training_only) if holdout is None
               else fit_head_on_holdout(X, y, groups, holdout, settings.seed))
        metrics = evaluate_article_head(prep, X, art, settings, holdout is not None, log)
        sent = (fit_sentence_head(prep, X_sent, cache, groups, settings.seed, settings.workers, holdout,
                                  settings.engine, settings.address)
                if settings.sentence_head else (None, {}))
        config = model_config(prep, settings, out, cache, art, metrics, sent, encoder_info)
        path = md.save(out, config, art.head, sent[0].head if sent[0] else None, card.render(config), cache.encoder)
    tpr = metrics["oof"]["tpr_at_1pct_fpr"]  # None below 100 human articles
    log(f"wrote {path} in {time.time() - t0:.0f} s ({t_feat:.0f} s featurizing): held-out AUROC "
        f"{metrics['oof']['auroc']:.4f}, TPR@1%FPR {'-' if tpr is None else format(tpr, '.3f')}")
    return path
