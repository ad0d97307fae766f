"""MiniLM sentence-encoder embeddings: what the text is about and how it is phrased.

`encode_texts` embeds texts in isolation (sentence-transformers' embedding: used
to align sentences with their source); `encode_article` gives the feature
vectors of an article and its sentences from one pass. Mean pooling over the attention mask
followed by L2 normalization reproduces
sentence-transformers' all-MiniLM-L6-v2 embedding.
"""
from __future__ import annotations

import numpy as np
import torch

WINDOW = 256  # the encoder's trained length
SENTENCE_MAX = 128
DIM = 384
BATCH = 32


def pad(batch_ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input ids, attention mask) of a batch of token-id lists, right-padded."""
    width = max(len(x) for x in batch_ids)
    ids = torch.full((len(batch_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
    for i, x in enumerate(batch_ids):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    return ids, mask


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sentence-transformers' embedding: mean over unmasked tokens, L2-normalized."""
    m = mask[..., None].to(hidden.dtype)
    return torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)


def _encode(batch_ids: list[list[int]], model, pad_id: int) -> np.ndarray:
    ids, mask = (t.to(model.device) for t in pad(batch_ids, pad_id))
    with torch.inference_mode():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    return mean_pool(hidden.float(), mask).double().cpu().numpy()


def with_specials(tok, ids: list[int]) -> list[int]:
    return [tok.cls_token_id, *ids, tok.sep_token_id]


def encode_texts(texts: list[str], tok, model, max_tokens: int = SENTENCE_MAX) -> np.ndarray:
    """One embedding per text (truncated to max_tokens), batched by length.

    Batches depend only on the texts given, so one article's sentence
    embeddings never depend on which other articles are scored with it."""
    if not texts:
        return np.zeros((0, DIM))
    # truncated by the tokenizer itself: a longer text never reaches the model, and transformers has
    # no reason to warn that a sequence is longer than the model takes
    ids = [with_specials(tok, tok(t, add_special_tokens=False, truncation=True, max_length=max_tokens - 2)["input_ids"])
           for t in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), DIM))
    for b in range(0, len(order), BATCH):
        chunk = order[b : b + BATCH]
        out[chunk] = _encode([ids[i] for i in chunk], model, tok.pad_token_id)
    return out


def _pool(states: torch.Tensor) -> np.ndarray:
    v = states.float().mean(0)
    return torch.nn.functional.normalize(v, dim=-1).double().numpy()


def windows(ids: list[int], starts: list[int] | None = None) -> list[list[int]]:
    """Token ids in windows of at most WINDOW - 2 tokens, as few and as equal as the
    sentences allow: each cut goes at the sentence start (`starts`: token indices)
    nearest to an equal split, so no sentence straddles two windows unless it is
    longer than a window, and no window is a short scrap whose embedding says little."""
    step = WINDOW - 2
    starts = sorted(set(starts or ()))
    out, pos, n = [], 0, len(ids)
    while n - pos > step:
        ideal = pos + (n - pos) / -(-(n - pos) // step)  # an equal split of what is left
        fits = [t for t in starts if pos + (ideal - pos) / 2 <= t <= pos + step]  # no window under half the split
        cut = min(fits, key=lambda t: abs(t - ideal)) if fits else round(ideal)
        out.append(ids[pos:cut])
        pos = cut
    out.append(ids[pos:])
    return out


def tokenize_article(text: str, tok, owner_of=None) -> tuple[np.ndarray | None, list[list[int]]]:
    """(each token's sentence index or None, the windows that `encode_article` runs):
    one place decides the windows, for the featurizer and the benchmark's bare passes."""
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    owner = owner_of(enc["offset_mapping"]) if owner_of is not None and enc["input_ids"] else None
    starts = None if owner is None else [t for t in range(1, len(owner)) if owner[t] >= 0 and owner[t] != owner[t - 1]]
    return owner, windows(enc["input_ids"] or [tok.unk_token_id], starts)


def encode_article(text: str, tok, model, owner_of=None, n_sentences: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(article vector, one vector per sentence) from a single batched pass over the text.

    The text's tokens go in windows cut at sentence starts (`windows`), each with
    its own [CLS] and [SEP], all in one batch. The article vector mean-pools every
    window's states, so it is sentence-transformers' embedding when the text fits
    one window and weighs each token equally when it does not. A sentence's vector
    pools the contextual states of its own tokens in the same pass (`owner_of(offsets)`
    gives each token's sentence index, -1 for none), so sentences cost no extra
    forward pass; a sentence with no token of its own gets the article vector."""
    owner, parts = tokenize_article(text, tok, owner_of)
    ids, mask = pad([with_specials(tok, w) for w in parts], tok.pad_token_id)
    with torch.inference_mode():  # the states come back to the CPU, where the pooling happens
        hidden = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device))
        hidden = hidden.last_hidden_state.float().cpu()
    article = mean_pool(hidden.reshape(1, -1, hidden.shape[-1]), mask.reshape(1, -1))[0].double().numpy()
    sentences = np.tile(article, (n_sentences, 1))
    if n_sentences and owner is not None:
        tokens = torch.cat([hidden[i, 1 : 1 + len(w)] for i, w in enumerate(parts)])
        for j in np.unique(owner[owner >= 0]):
            sentences[j] = _pool(tokens[torch.from_numpy(np.flatnonzero(owner == j))])
    return article, sentences
