"""`fabscore train` and `fabscore evaluate`, registered on the one `fabscore` command
through the `fabscore.commands` entry points (see pyproject.toml).

Importing this module is cheap (no torch, no datasets), so `fabscore --help` stays
fast; it raises ImportError, naming the extra to install, when the training
dependencies are missing, and the command then lists these subcommands as not installed.
"""
from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys

_MISSING = [m for m in ("datasets", "matplotlib", "pandas") if importlib.util.find_spec(m) is None]
if _MISSING:
    raise ImportError(f"needs the training extra ({', '.join(_MISSING)} not installed): "
                      "pip install 'fabscore[train]'")

from fabscore.features import KINDS  # noqa: E402 - torch-free


def _kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"unknown feature kinds {bad}; choose from {','.join(KINDS)}")
    return tuple(k for k in KINDS if k in kinds)  # canonical order


def _attacks(value: str):
    from fabscore.training.data.attacks import select

    try:
        return select(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _fields(args):
    from fabscore.training.data.examples import Fields

    return Fields(text=args.text_field, label=args.label_field, id=args.id_field, group=args.group_field)


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-field", default="text", help="column/key holding the article text")
    p.add_argument("--label-field", default="label", help="column/key holding human/machine (or real/fabricated, 0/1)")
    p.add_argument("--id-field", default="id", help="column/key holding a unique row id")
    p.add_argument("--group-field", default="group", help="story key; rows sharing it are never split apart")
    p.add_argument("--generator-map", default=None, metavar="FILE",
                   help="JSON naming generators as your data names them: {name: family} or {name: {family, kind}} "
                        "(default: families from the names themselves, kinds of the shared data's generators)")
    p.add_argument("--cache", default=None, help="feature cache folder (None = ~/.cache/fabscore/features)")
    p.add_argument("--max-rows", type=int, default=None, metavar="N",
                   help="keep at most N articles per SPEC, half of each label where possible, chosen by a hash "
                        "of the id (stable across runs and file orders); None = all")


def run_train(args) -> int:
    from fabscore.training.fit.feature_cache import FeatureCache
    from fabscore.training.fit.finetune import FinetuneSettings
    from fabscore.training.train import TrainSettings, train

    finetune = (FinetuneSettings(epochs=args.finetune_epochs, lr=args.finetune_lr, batch=args.finetune_batch,
                                 seed=args.seed) if args.finetune else None)
    from fabscore.engines import plan
    from fabscore.training.data.generators import read_mapping

    if args.address and args.engine != "ray":
        raise ValueError("--address needs --engine ray")
    if args.workers != "auto":
        workers = max(1, plan(args.workers).workers)  # validated as `score` validates it
    elif args.engine == "ray":
        workers = 0  # every CPU of the cluster (fit.ray_featurize)
    else:  # what `fabscore score --workers auto` uses: one process per core, capped by memory
        workers = plan("auto").workers or 1
    settings = TrainSettings(kinds=args.features, seed=args.seed, fields=_fields(args), max_machine=args.max_machine,
                             max_rows=args.max_rows, chunk_words=args.chunk_words, min_words=args.min_words,
                             workers=workers, engine=args.engine, address=args.address, name=args.name,
                             loo=args.loo, finetune=finetune, augment=args.augment, augment_share=args.augment_share,
                             generator_map=read_mapping(args.generator_map), aux=tuple(args.aux_data or ()),
                             aux_stories_per_group=args.aux_stories_per_group, aux_group_field=args.aux_group_field,
                             command="fabscore " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    train(args.data, args.out, settings, cache=FeatureCache(args.cache) if args.cache else None,
          log=lambda m: print(m, file=sys.stderr))
    return 0


def run_evaluate(args) -> int:
    import json

    from fabscore.training.data.generators import read_mapping
    from fabscore.training.eval.evaluate import evaluate, report_text

    if not args.data and not args.evidence:
        raise ValueError("evaluate needs --data SPEC..., --evidence, or both")
    if args.attacks and not args.data:
        raise ValueError("--attacks attacks the articles of --data: give --data SPEC...")
    skip = args.exclude_meta
    evidence = None if not args.evidence else {
        "n_stories": args.evidence_stories, "rewrites": args.evidence_rewrites, "data_dir": args.evidence_data,
        "human": args.evidence_human}
    report = evaluate(args.model, args.data or [], by=args.by, out=args.out, fields=_fields(args),
                      max_words=args.max_words, workers=args.workers, cache_dir=args.cache, max_rows=args.max_rows,
                      exclude=(lambda ex: bool(ex.meta.get(skip))) if skip else None, attacks=args.attacks,
                      evidence=evidence, generator_map=read_mapping(args.generator_map))
    print(json.dumps(report, indent=2) if args.json else report_text(report))
    return 0


def _csv(value: str) -> tuple[str, ...]:
    return tuple(x for x in value.split(",") if x)


def add_train_parser(sub) -> argparse.ArgumentParser:
    t = sub.add_parser("train", help="train a model directory from labelled articles",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Featurize labelled articles (cached), fit and calibrate the article and sentence "
                                   "heads under grouped cross-validation, and write a model directory with its card.")
    t.add_argument("--data", nargs="+", action="extend", required=True, metavar="SPEC",
                   help="folder with human/ and machine/ subfolders, JSONL/CSV file, or datasets folder/name")
    t.add_argument("--out", required=True, help="model directory to write")
    t.add_argument("--features", type=_kinds, default="lmdist,style,lmword,lex",
                   help=f"comma list of {','.join(KINDS)}; the default is the default model's")
    t.add_argument("--finetune", action="store_true",
                   help="fine-tune the MiniLM encoder end to end first (needs embed in --features; 20%% of story "
                        "groups are held out for calibration, thresholds and metrics)")
    t.add_argument("--finetune-epochs", type=int, default=2, help="epochs of --finetune")
    t.add_argument("--finetune-lr", type=float, default=3e-5, help="learning rate of --finetune")
    t.add_argument("--finetune-batch", type=int, default=8, help="articles per batch in --finetune")
    t.add_argument("--seed", type=int, default=0, help="folds, row caps and solvers")
    t.add_argument("--max-machine", type=int, default=None, help="cap machine articles per SPEC (hash-chosen); "
                                                                  "None = all")
    t.add_argument("--chunk-words", type=int, default=200, help="words per scored chunk (training sees the first)")
    t.add_argument("--min-words", type=int, default=40, help="shorter articles are left out (and abstained on)")
    t.add_argument("--name", default=None, help="model name in config and card (None = the --out folder's name)")
    t.add_argument("--loo", default=(), type=_csv,
                   help="leave-one-out evaluations to put in the card: any of source,generator,dataset,family,"
                        "attack (family: chat model vs completion model; attack: train without one attack's "
                        "copies, test on them)")
    t.add_argument("--augment", default=(), type=_csv, metavar="LIST",
                   help="add attacked copies (label and story kept) of a share of the rows: attack names, "
                        "families, 'fast' or 'default' (char_typos,char_spacing,word_synonym,word_delete)")
    t.add_argument("--augment-share", type=float, default=0.3, help="share of rows given one attacked copy")
    t.add_argument("--aux-data", nargs="+", action="extend", default=None, metavar="SPEC",
                   help="auxiliary labelled data (another genre, say): fitted on, but never used for calibration, "
                        "thresholds or the card's metrics, so the thresholds stay those of --data's kind of text")
    t.add_argument("--aux-stories-per-group", type=int, default=None, metavar="N",
                   help="keep at most N human stories of --aux-data per value of --aux-group-field (hash-chosen), "
                        "each with every machine rewrite of it; None = all")
    t.add_argument("--aux-group-field", default="meta.domain", metavar="FIELD",
                   help="what --aux-stories-per-group counts per: a row field or meta.KEY")
    add_data_arguments(t)
    from fabscore.engines import add_engine_arguments

    add_engine_arguments(t, workers_help=(
        "featurizing processes, one thread each (auto = one per core, as `score --workers auto`: 1.5 GiB of free "
        "memory each); with --engine ray, Ray actors (auto = one per CPU of a local instance, or every CPU of "
        "the --address cluster but one); features go to this machine's feature cache whatever the engine"))
    t.set_defaults(func=_guarded(run_train))
    return t


def add_evaluate_parser(sub) -> argparse.ArgumentParser:
    e = sub.add_parser("evaluate", help="metrics, tables and plots of a model on labelled data",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Score labelled articles exactly as `fabscore score` does and print metrics per "
                                   "group to stdout (progress and warnings go to stderr).")
    e.add_argument("--model", default=None, help="model directory or shipped name (None = default)")
    e.add_argument("--data", nargs="+", action="extend", default=None, metavar="SPEC",
                   help="folder with human/ and machine/ subfolders, JSONL/CSV file, or datasets folder/name "
                        "(may be left out with --evidence)")
    e.add_argument("--by", default="source,generator", type=_csv,
                   help="group tables: any of source (the rows' source column, else the data set), dataset, "
                        "subset, generator, method")
    e.add_argument("--out", default=None, help="folder for metrics.json, scores.jsonl and PNG plots")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON instead of tables")
    e.add_argument("--max-words", type=int, default=None, help="score only each article's first N words")
    e.add_argument("--exclude-meta", default=None, metavar="KEY",
                   help="leave out rows whose meta.KEY is true (e.g. in_llmfake: stories the default model saw)")
    e.add_argument("--attacks", default=None, type=_attacks, metavar="LIST",
                   help="also score attacked copies: comma list of attacks or families (char, surface, word, "
                        "sentence, rewrite), 'fast' (all but the slow SmolLM2 rewrites) or 'all'")
    e.add_argument("--evidence", action="store_true",
                   help="also measure evidence mode (the model's consistency head) on held-out stories: AUROC per "
                        "corruption type, statuses and claim verdicts, natural rewrites, the seeds, and the "
                        "human-labelled QAGS-CNNDM and Climate-FEVER")
    e.add_argument("--evidence-stories", type=int, default=160, metavar="N",
                   help="--evidence: at most N held-out stories (their originals are the evidence pool)")
    e.add_argument("--evidence-rewrites", type=int, default=250, metavar="N",
                   help="--evidence: at most N llmfake machine rewrites of those stories (natural pairs)")
    e.add_argument("--evidence-human", type=int, default=None, metavar="N",
                   help="--evidence: at most N QAGS summaries and N Climate-FEVER claims from DATA/evidence/ "
                        "(default: all; 0: skip the human-labelled sets)")
    e.add_argument("--evidence-data", default=None, metavar="DIR",
                   help="--evidence: the shared data folder (None = ../shared/data beside the repository)")
    add_data_arguments(e)
    e.add_argument("--workers", type=int, default=2, help="featurizing processes (one thread each)")
    e.set_defaults(func=_guarded(run_evaluate))
    return e


def _guarded(run):
    """Exit 2 with the message on a data or usage problem, as `score` does."""
    def wrapper(args) -> int:
        from fabscore.engines import EngineError
        from fabscore.training.data.examples import DataError

        try:
            return run(args)
        except (DataError, EngineError, ValueError, FileNotFoundError) as e:
            print(f"fabscore: error: {e}", file=sys.stderr)
            return 2
    return wrapper
