"""MiniLM sentence-encoder embeddings: what the text is about and how it is phrased.

`encode_texts` embeds texts in isolation (sentence-transformers' embedding: used
to align sentences with their source); `encode_article` gives the feature
vectors of an article and its sentences from one pass. Mean pooling over the attention mask followed by L2 normalization reproduces
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
    ids, mask = pad(batch_ids, pad_id)
    with torch.inference_mode():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    return mean_pool(hidden.float(), mask).double().numpy()


def with_specials(tok, ids: list[int]) -> list[int]:
    return [tok.cls_token_id, *ids, tok.sep_token_id]


def encode_texts(texts: list[str], tok, model, max_tokens: int = SENTENCE_MAX) -> np.ndarray:
    """One embedding per text (truncated to max_tokens), batched by length.

    Batches depend only on the texts given, so one article's sentence
    embeddings never depend on which other articles are scored with it."""
    if not texts:
        return np.zeros((0, DIM))
    ids = [with_specials(tok, tok(t, add_special_tokens=False)["input_ids"][: max_tokens - 2]) for t in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), DIM))
    for b in range(0, len(order), BATCH):
        chunk = order[b : b + BATCH]
        out[chunk] = _encode([ids[i] for i in chunk], model, tok.pad_token_id)
    return out


def _pool(states: torch.Tensor) -> np.ndarray:
    v = states.float().mean(0)
    return torch.nn.functional.normalize(v, dim=-1).double().numpy()


def encode_article(text: str, tok, model, owner_of=None, n_sentences: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(article vector, one vector per sentence) from a single pass over the text.

    The article vector is the mean of consecutive WINDOW-token windows' embeddings,
    re-normalized. A sentence's vector pools the contextual states of its own tokens
    in those same passes (`owner_of(offsets)` gives each token's sentence index,
    -1 for none), so sentences cost no extra forward pass; a sentence with no
    token of its own gets the article vector."""
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"] or [tok.unk_token_id]
    step = WINDOW - 2
    window_vecs, states = [], []
    for i in range(0, len(ids), step):
        x = torch.tensor([with_specials(tok, ids[i : i + step])])
        with torch.inference_mode():
            hidden = model(input_ids=x).last_hidden_state[0]
        window_vecs.append(_pool(hidden))
        states.append(hidden[1:-1].float())
    mean = np.mean(window_vecs, axis=0)
    article = mean / max(np.linalg.norm(mean), 1e-12)
    sentences = np.tile(article, (n_sentences, 1))
    if n_sentences and enc["input_ids"] and owner_of is not None:
        tokens = torch.cat(states)
        owner = owner_of(enc["offset_mapping"])
        for j in np.unique(owner[owner >= 0]):
            sentences[j] = _pool(tokens[torch.from_numpy(np.flatnonzero(owner == j))])
    return article, sentences
