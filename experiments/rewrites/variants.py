"""The variants of the comparison table, in its row order.

A variant: the feature blocks (`kinds`, columns in this order), whether the l2r rows are trained on
(`l2r`; always as auxiliary rows: fitted on, never calibrated or thresholded on) and with which sample
weight (`l2r_w`), which of them (`l2r_cap`: whole stories in hash order up to that many rows;
`l2r_min_words`), and the logistic regression's C (default 0.3).

Letters: B = lmdist + style (the shipped default's kinds), W = the package's `lmword` plus the
experiment's four unigram-prior features (`lmuni`), L = `lex`, E = the experiment's `lment`;
`_nouni` is W without the prior, i.e. the package's `lmword` alone; `_x2`, `_x3`: l2r rows weighted 2, 3.
The names are the research's, so its results compare row by row.

RECOMMENDED is the mix the package took up: the package's kinds lmdist, style, lmword, lex and the l2r
sample (50 human stories per domain with every rewrite of them) as auxiliary rows at weight 1, i.e.
`fabscore train --features lmdist,style,lmword,lex --aux-data l2r_rewrites --aux-stories-per-group 50`
(which draws its 50 stories per domain with its own salt, so its rows are another sample of the same
size). The research never ran it exactly: its `l2r_WL` had the prior too and its `_nouni` row was at
weight 2.
"""
from __future__ import annotations

B = ("lmdist", "style")
W = B + ("lmword", "lmuni")
WL = W + ("lex",)

VARIANTS = {
    "base": {"kinds": B},
    "l2r": {"kinds": B, "l2r": True},
    "l2r_x2": {"kinds": B, "l2r": True, "l2r_w": 2.0},
    "l2r_x3": {"kinds": B, "l2r": True, "l2r_w": 3.0},
    "base_WL": {"kinds": WL},
    "l2r_W_x2": {"kinds": W, "l2r": True, "l2r_w": 2.0},
    "l2r_lex_x2": {"kinds": B + ("lex",), "l2r": True, "l2r_w": 2.0},
    "l2r_E_x2": {"kinds": B + ("lment",), "l2r": True, "l2r_w": 2.0},
    "l2r_WL": {"kinds": WL, "l2r": True},
    "l2r_WL_x2": {"kinds": WL, "l2r": True, "l2r_w": 2.0},
    "l2r_WL_x3": {"kinds": WL, "l2r": True, "l2r_w": 3.0},
    "l2r_WLE_x2": {"kinds": WL + ("lment",), "l2r": True, "l2r_w": 2.0},
    "l2r_WLlm_x2": {"kinds": WL + ("lm",), "l2r": True, "l2r_w": 2.0},
    "l2r_WL_nouni": {"kinds": B + ("lmword", "lex"), "l2r": True},
    "l2r_WL_x2_nouni": {"kinds": B + ("lmword", "lex"), "l2r": True, "l2r_w": 2.0},
    "l2r_WL_x2_C01": {"kinds": WL, "l2r": True, "l2r_w": 2.0, "C": 0.1},
    "l2r_WL_x2_C1": {"kinds": WL, "l2r": True, "l2r_w": 2.0, "C": 1.0},
    "l2r_WL_cap1000": {"kinds": WL, "l2r": True, "l2r_cap": 1000},
    "l2r_WL_min80": {"kinds": WL, "l2r": True, "l2r_min_words": 80},
}
RECOMMENDED = "l2r_WL_nouni"
# The variants measured again with attacked copies of half the l2r rows in training (table l2rc).
WITH_COPIES = ("l2r", "l2r_WL", "l2r_WL_nouni", "l2r_WL_x2", "l2r_WL_x3", "l2r_WL_x2_nouni")
