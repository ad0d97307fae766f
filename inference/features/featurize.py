"""From a prepared Article to the feature blocks the heads read.

Sentence features come from the same forward passes as the article features:
each token's statistics are computed in the article's context, then pooled
over the tokens that fall inside the sentence.
"""
from __future__ import annotations

import numpy as np
import torch

from fabscore.features import FROM_TOKEN_STATS, KINDS, LM_KINDS, embed, lex, lm, lmdist, lmword, style
from fabscore.models import backbones
from fabscore.models.threads import pass_threads
from fabscore.text.sentences import Article

# Per kind, so changing one featurizer invalidates only its own cached features and models. Raise a
# kind's number whenever what it computes changes: a model directory records the numbers it was
# trained with, and loading refuses a model whose featurizer this installation no longer has.
FEATURIZER_VERSIONS = {"embed": "3", "lm": "2", "lmdist": "1", "style": "1", "lmword": "1", "lex": "1",
                       "sentence_embed": "1"}
_OWN_FEATURES = {"lm": lm.LM_FEATURES, "lmdist": lmdist.LMDIST_FEATURES, "lmword": lmword.LMWORD_FEATURES,
                 "lex": lex.LEX_FEATURES}


def feature_names(kinds: tuple[str, ...], level: str) -> list[str]:
    """Column names of the article ('article') or sentence ('sentence') matrix."""
    names: list[str] = []
    for kind in kinds:
        if kind == "embed":
            names += [f"{'sent_' if level == 'sentence' else ''}embed_{i}" for i in range(embed.DIM)]
        elif kind in _OWN_FEATURES:
            own = _OWN_FEATURES[kind]
            names += [f"sent_{n}" for n in own] if level == "sentence" else list(own)
            if level == "sentence":
                names += list(own)  # the article's context, so sentence and article scores agree
        elif kind == "style":
            names += list(style.SENTENCE_STYLE_FEATURES if level == "sentence" else style.STYLE_FEATURES)
        else:
            raise ValueError(f"unknown feature kind {kind!r}; expected some of {', '.join(KINDS)}")
    return names


def backbone_infos(kinds: tuple[str, ...], encoder_sha256: str | None = None) -> dict[str, dict]:
    """What each kind's backbone is; a fine-tuned encoder is named by its own weights' hash."""
    out = {}
    if "embed" in kinds:
        out["embed"] = backbones.minilm_info().as_dict()
        if encoder_sha256:
            out["embed"].update(name=out["embed"]["name"] + " (fine-tuned)",
                                base_weights_sha256=out["embed"]["weights_sha256"], weights_sha256=encoder_sha256)
    for kind in LM_KINDS:
        if kind in kinds:
            out[kind] = backbones.smollm_info().as_dict()
    return out


def sentence_token_index(article: Article, offsets: list[tuple[int, int]]) -> np.ndarray:
    """For each token (by its character offsets), the index of the sentence its last
    character lies in (-1: none)."""
    starts, ends, pos = [], [], 0
    for s in article.sentences:
        starts.append(pos)
        ends.append(pos + len(s.norm))
        pos += len(s.norm) + 1
    last = np.array([max(e - 1, b) for b, e in offsets], dtype=np.int64)
    j = np.searchsorted(np.array(starts), last, side="right") - 1
    ok = (j >= 0) & (last < np.array(ends)[np.clip(j, 0, None)])
    return np.where(ok, j, -1)


def lm_pass(article: Article, device: str | None = None, aggregates: bool = True) -> dict[str, np.ndarray]:
    """One SmolLM2 pass over the article: the `lm` block (aggregates, per-sentence aggregates with
    the article's context) and the per-token statistics it keeps (`lm_token_stats`, float32, in
    lm.TOKEN_STATS order; `lm_token_owner`, each token's sentence), from which `lmdist` is made.
    aggregates=False: the token statistics alone (scoring a model that reads only `lmdist`)."""
    sents = article.sentences
    tok, model = backbones.load_smollm(device=device)
    enc = tok(article.norm, add_special_tokens=False, return_offsets_mapping=True)
    ids = [tok.bos_token_id or tok.eos_token_id, *enc["input_ids"]]  # a start token gives token 1 context
    stats = lm.token_statistics(ids, model)
    owner = sentence_token_index(article, enc["offset_mapping"])  # stats[k] belongs to text token k
    out = {"lm_tokens": np.array([len(enc["input_ids"])]),
           "lm_token_stats": np.stack([stats[k] for k in lm.TOKEN_STATS]).astype(np.float32),
           "lm_token_owner": owner.astype(np.int32)}
    if aggregates:
        art = lm.aggregate(stats)
        sent = np.zeros((len(sents), 2 * len(lm.LM_FEATURES)))
        for j in range(len(sents)):
            sent[j] = np.concatenate([lm.aggregate(stats, np.flatnonzero(owner == j)), art])
        out.update(lm=art, sent_lm=sent)
    return out


def lmword_blocks(token_stats: np.ndarray, owner: np.ndarray, article: Article,
                  device: str | None = None) -> dict[str, np.ndarray]:
    """The `lmword` blocks from an `lm` block's stored per-token statistics; which token starts
    which word comes from re-tokenizing the article's normalized text with SmolLM2's tokenizer."""
    tok, _ = backbones.load_smollm(device=device)
    offsets = tok(article.norm, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    cls = lmword.token_word_classes(article.norm, offsets)
    if len(cls) != token_stats.shape[1]:
        raise ValueError(f"lmword: {len(cls)} tokens in the text but {token_stats.shape[1]} token statistics")
    art = lmword.aggregate(token_stats, cls, owner)
    n = len(article.sentences)
    sent = np.zeros((n, 2 * len(lmword.LMWORD_FEATURES)))
    for j in range(n):
        sent[j] = np.concatenate([lmword.aggregate(token_stats, cls, idx=np.flatnonzero(owner == j)), art])
    return {"lmword": art, "sent_lmword": sent}


def lex_blocks(article: Article) -> dict[str, np.ndarray]:
    """The `lex` blocks: the article's, and each sentence's own beside the article's."""
    sents = [s.norm for s in article.sentences]
    art = lex.aggregate(article.norm, sents)
    sent = np.array([np.concatenate([lex.aggregate(s, [s]), art]) for s in sents]).reshape(len(sents), -1)
    return {"lex": art, "sent_lex": sent}


def lmdist_blocks(token_stats: np.ndarray, owner: np.ndarray, n_sentences: int) -> dict[str, np.ndarray]:
    """The `lmdist` blocks from an `lm` block's stored per-token statistics (the same float32
    values whether they were just computed or read from a feature cache)."""
    stats = {k: token_stats[i].astype(np.float64) for i, k in enumerate(lm.TOKEN_STATS)}
    art = lmdist.aggregate(stats)
    sent = np.zeros((n_sentences, 2 * len(lmdist.LMDIST_FEATURES)))
    for j in range(n_sentences):
        sent[j] = np.concatenate([lmdist.aggregate(stats, np.flatnonzero(owner == j)), art])
    return {"lmdist": art, "sent_lmdist": sent}


def featurize_kind(article: Article, kind: str, encoder: str | None = None, device: str | None = None,
                   lm_block: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """One kind's blocks: '<kind>' (article vector) and 'sent_<kind>' (per-sentence matrix).
    encoder: a fine-tuned MiniLM's safetensors file, used for 'embed' instead of the packaged one.
    device: where the backbones run (backbones.resolve_device: cpu unless asked).
    lm_block: the article's `lm` blocks when already computed (or cached): `lmdist` is made from
    them without another SmolLM2 pass."""
    sents = [s.norm for s in article.sentences]
    text = article.norm
    if kind == "embed":
        tok, model = (backbones.load_minilm_weights(encoder, device=device) if encoder
                      else backbones.load_minilm(device=device))
        art, sent = embed.encode_article(text, tok, model, lambda offsets: sentence_token_index(article, offsets),
                                         len(sents))
        return {"embed": art, "sent_embed": sent}
    if kind == "sentence_embed":  # not a head feature: isolated fp32 embeddings that align sentences with a source
        tok, model = backbones.load_minilm(torch.float32, device=device)
        return {"sentence_embed": embed.encode_texts(sents, tok, model)}
    if kind == "style":
        return {"style": style.article_style(sents),
                "sent_style": np.array([style.sentence_style(s) for s in sents]).reshape(len(sents), -1)}
    if kind == "lm":
        return lm_pass(article, device)
    if kind in FROM_TOKEN_STATS:
        block = lm_block if lm_block is not None else lm_pass(article, device, aggregates=False)
        if kind == "lmdist":
            return lmdist_blocks(block["lm_token_stats"], block["lm_token_owner"], len(sents))
        return lmword_blocks(block["lm_token_stats"].astype(np.float64), block["lm_token_owner"], article, device)
    if kind == "lex":
        return lex_blocks(article)
    raise ValueError(f"unknown feature kind {kind!r}; expected some of {', '.join(KINDS)}")


def featurize_kinds(article: Article, kinds: tuple[str, ...], encoder: str | None = None,
                    device: str | None = None, lm_block: dict[str, np.ndarray] | None = None
                    ) -> dict[str, dict[str, np.ndarray]]:
    """Each kind's blocks, from at most one SmolLM2 pass: `lm` first, whose per-token statistics the
    kinds made from them (FROM_TOKEN_STATS) reuse; lm_block: the article's `lm` blocks already at
    hand (from a feature cache), so those kinds need no pass at all."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with pass_threads():  # the same numbers whatever the caller's thread count
        if lm_block is None and "lm" not in kinds and any(k in FROM_TOKEN_STATS for k in kinds):
            lm_block = lm_pass(article, device, aggregates=False)  # one pass for every kind made from it
        for kind in sorted(kinds, key=lambda k: k != "lm"):
            out[kind] = featurize_kind(article, kind, encoder, device, lm_block)
            if kind == "lm":
                lm_block = out[kind]
    return out


def featurize(article: Article, kinds: tuple[str, ...], encoder: str | None = None,
              device: str | None = None) -> dict[str, np.ndarray]:
    blocks: dict[str, np.ndarray] = {}
    for named in featurize_kinds(article, tuple(kinds), encoder, device).values():
        blocks.update(named)
    return blocks


def stack(blocks: dict[str, np.ndarray], kinds: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(article vector, sentence matrix) in feature_names order."""
    art = np.concatenate([blocks[k] for k in kinds])
    sent = np.concatenate([blocks[f"sent_{k}"] for k in kinds], axis=1)
    return art, sent
