"""The two candidate feature blocks that stayed in the experiment (the package has `lmword` and `lex`).

Both come from SmolLM2's stored per-token statistics (`lm_token_stats`, rows in lm.TOKEN_STATS
order: logp, entropy, rank, mu, var, lpmax; column k belongs to text token k), with tokens classed
by the word they start as `fabscore.features.lmword.token_word_classes` does.

- `lmuni` (4 numbers): the context-free prior of the content words, from `uni`, SmolLM2's
  log-distribution over its vocabulary after the start token alone (how common a token is, for the
  model). The experiment's `lmword` block was the package's `lmword` plus these four; variant `_nouni`
  measured it without them (the package's `lmword`).
- `lment` (21 numbers): the shape of the predictive entropy (how open each next-token choice was),
  overall and at function- vs content-word positions, and what the text did at confident and at
  open positions (variants E).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from fabscore.features.lmword import CONTENT, FUNCTION

RARE = -12.0  # prior log p (nats) below which a content word counts as rare
LMUNI_FEATURES = ("lmw_content_uni",        # mean prior log p of the content words
                  "lmw_content_gain",       # log p in context minus prior
                  "lmw_content_rare_share",  # content words with prior log p < RARE
                  "lmw_content_rare_top5")  # of those rare content words, the share the model ranked <= 5

ENT_EDGES = (0.1, 0.3, 0.6, 1.0, 1.5, 2.0, 3.0, 4.0, 5.5)  # 10 bins of the predictive entropy (nats)
LMENT_FEATURES = (
    *(f"lme_ent_bin{i}" for i in range(len(ENT_EDGES) + 1)),
    "lme_func_ent_q25", "lme_func_ent_q50", "lme_func_ent_q75",
    "lme_cont_ent_q25", "lme_cont_ent_q50", "lme_cont_ent_q75",
    "lme_func_lowent_share", "lme_cont_lowent_share",
    "lme_confident_top1",  # positions where the model's top choice had p > 0.6: share where the text took it
    "lme_open_logrank",    # positions with entropy > 3 (an open choice): mean log rank of the chosen token
    "lme_open_share",
)


def unigram_prior(tok, model) -> np.ndarray:
    """SmolLM2's log-distribution over the vocabulary after the start token alone, in float64 (one
    forward pass of a float32 copy: the scorer's model is left as it is)."""
    with torch.inference_mode():
        logits = copy.deepcopy(model).float()(torch.tensor([[tok.bos_token_id or tok.eos_token_id]])).logits[0, -1]
    return torch.log_softmax(logits.double(), -1).numpy()


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else 0.0


def lmuni(stats: np.ndarray, ids, cls: np.ndarray, uni: np.ndarray) -> np.ndarray:
    """LMUNI_FEATURES. ids: the text's token ids (as the statistics), cls: token_word_classes."""
    logp, rank = stats[0].astype(np.float64), stats[2].astype(np.float64)
    c = cls == CONTENT
    u = uni[np.asarray(ids)[c]] if c.any() else np.zeros(0)
    rare = u < RARE
    return np.array([_mean(u), _mean(logp[c] - u), _mean(rare), _mean(rank[c][rare] <= 5) if rare.any() else 0.0],
                    dtype=np.float64)


def _q(x: np.ndarray, qs) -> list[float]:
    return list(np.quantile(x, qs)) if x.size else [0.0] * len(qs)


def lment(stats: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """LMENT_FEATURES. cls: token_word_classes."""
    ent, rank, lpmax = (stats[i].astype(np.float64) for i in (1, 2, 5))
    fw, cw = cls == FUNCTION, cls == CONTENT
    shares = np.bincount(np.searchsorted(np.asarray(ENT_EDGES), ent, side="right"),
                         minlength=len(ENT_EDGES) + 1) / max(len(ent), 1)
    conf = lpmax > np.log(0.6)
    op = ent > 3.0
    return np.array([*shares, *_q(ent[fw], [.25, .5, .75]), *_q(ent[cw], [.25, .5, .75]),
                     _mean(ent[fw] < 1.0), _mean(ent[cw] < 1.5),
                     _mean(rank[conf] == 1), _mean(np.log(rank[op])), _mean(op)], dtype=np.float64)
