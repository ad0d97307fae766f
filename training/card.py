"""The model card: README.md of a model directory, rendered from its config.json with
the Jinja2 template templates/model_card.md.j2 (Hugging Face-style YAML front matter,
then Markdown). `refresh` re-renders the card of an existing model without retraining."""
from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from fabscore.training.eval.metrics import min_humans
from fabscore.training.eval.shortcuts import NEAR_MODEL, close_cues

TEMPLATE = "model_card.md.j2"
TABLE_COLUMNS = ("n", "n_human", "n_machine", "auroc", "tpr_at_1pct_fpr", "tpr_at_5pct_fpr", "ece")
FRONT_METRICS = (("auroc", "held-out AUROC"), ("tpr_at_1pct_fpr", "held-out TPR at 1% FPR"),
                 ("ece", "held-out expected calibration error"))
# columns that need this many human rows to mean anything (else shown as "-")
NEEDS_HUMANS = {"tpr_at_1pct_fpr": min_humans(0.01), "tpr_at_5pct_fpr": min_humans(0.05)}


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _cell(v) -> str:
    """A value safe inside a Markdown table cell (no column breaks, no raw HTML)."""
    return _fmt(v).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def table(rows: dict[str, dict], cols: tuple[str, ...] = TABLE_COLUMNS) -> str:
    """Rows of metrics; 'FPR@t' is the human share flagged at the 1%-FPR threshold."""
    out = ["| group | " + " | ".join(cols) + " | FPR@t(1%) |", "|---" * (len(cols) + 2) + "|"]
    for name, m in rows.items():
        at = (m.get("at_threshold_0.01") or {}).get("fpr")
        one_class = not (m.get("n_human") and m.get("n_machine"))  # auroc, ece say nothing about one class
        vals = [None if m.get("n_human", 0) < NEEDS_HUMANS.get(c, 0) or (one_class and c in ("auroc", "ece"))
                else m.get(c) for c in cols]
        out.append(f"| {_cell(name)} | " + " | ".join(_cell(v) for v in vals) + f" | {_cell(at)} |")
    return "\n".join(out)


def attack_table(rows: dict[str, dict]) -> str:
    """`table` for attacked copies: FPR@t is the flagged share of the attack's human copies."""
    return table({name: dict(m, **{"at_threshold_0.01": {"fpr": m.get("fpr_attacked_human_at_1pct")}})
                  for name, m in rows.items()})


# `fabscore evaluate`'s agreement rows (eval.evaluate.agreement): key, what is counted, out of what
AGREEMENT_ROWS = (
    ("labelled_fabricated", "articles labelled fabricated", "articles scored"),
    ("fabricated_with_flagged_sentence", "... with at least one flagged sentence", "labelled fabricated"),
    ("fabricated_with_flagged_or_driver_sentence", "... with at least one flagged or driver sentence",
     "labelled fabricated"),
    ("human_labelled_human", "human articles labelled human", "human articles scored"),
    ("human_labelled_human_sentences_flagged", "... their sentences flagged", "sentences in them"),
    ("machine_labelled_human", "machine articles labelled human", "machine articles scored"),
    ("machine_labelled_human_with_flagged_sentence", "... with at least one flagged sentence",
     "machine labelled human"),
)


def agreement_table(agreement: dict) -> str:
    """The article/sentence agreement of an evaluation as a Markdown table: count, out of what,
    share; then the driver threshold and the article score's rank correlation with its highest
    sentence score. Rows missing from `agreement` are left out."""
    out = ["| counted | n | out of | share |", "|---|---|---|---|"]
    for key, what, of in AGREEMENT_ROWS:
        row = agreement.get(key)
        if isinstance(row, dict):
            out.append(f"| {_cell(what)} | {_cell(row.get('n'))} | {_cell(row.get('of'))} {_cell(of)} | "
                       f"{_cell(row.get('share'))} |")
    notes = []
    if agreement.get("driver_threshold") is not None:
        notes.append(f"a driver is one of the (up to 3) highest sentences of an article labelled fabricated scoring "
                     f"at or above {agreement['driver_threshold']:.4f}")
    if agreement.get("spearman_article_vs_max_sentence") is not None:
        notes.append("Spearman correlation of the article score with its highest sentence score "
                     f"{agreement['spearman_article_vs_max_sentence']:.3f}")
    text = "; ".join(notes)
    return "\n".join(out + (["", text[:1].upper() + text[1:] + "."] if notes else []))


def _fpr_cell(t: dict, level: str = "article") -> str:
    """The held-out FPR of a threshold, marked when too few humans stand behind it
    (fewer than 10 / target FPR: under 10 expected false positives)."""
    if t["n_human"] >= 10 / t["target_fpr"]:
        return f"{t['fpr_held_out']:.4f}"
    if level == "article":
        return f"{t['fpr_held_out']:.4f} (only {t['n_human']} humans: see warning)"
    return f"{t['fpr_held_out']:.4f} (only {t['n_human']} human sentences, {round(10 / t['target_fpr'])} needed)"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("fabscore.training", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "htm", "xml"]), keep_trailing_newline=True)
    env.filters["cell"] = _cell
    return env


def render(config: dict) -> str:
    m = config["metrics"]
    return _environment().get_template(TEMPLATE).render(
        config=config, m=m, data=config["training_data"], enc=config.get("encoder"),
        sent=config.get("sentence_head"), table=table, attack_table=attack_table, agreement_table=agreement_table,
        fmt=_fmt, fpr_cell=_fpr_cell,
        front_metrics=FRONT_METRICS, near=NEAR_MODEL, close=close_cues(m.get("shortcuts") or {}),
        by_generator={k: v for k, v in (m.get("by_generator") or {}).items() if k != "human"},
        by_generator_method={k: v for k, v in (m.get("by_generator_method") or {}).items() if k != "human"},
        cv_auroc=json.dumps({str(k): round(v, 4) for k, v in config["article_head"]["cv_auroc"].items()}))


def refresh(model: str | Path) -> Path:
    """Re-render README.md of an existing model directory from its config.json and rewrite
    its MANIFEST.json; config and heads are verified first and left byte-identical."""
    from fabscore.models import directory as md

    loaded = md.load(model)  # checks config, heads and backbones against the manifest
    (loaded.path / md.CARD).write_text(render(loaded.config))
    md.write_manifest(loaded.path)
    return loaded.path / md.CARD
