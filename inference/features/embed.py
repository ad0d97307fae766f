"""MiniLM sentence-encoder embeddings: what the text is about and how it is phrased.

Mean pooling over the attention mask followed by L2 normalization reproduces
sentence-transformers' all-MiniLM-L6-v2 embedding.
"""
from __future__ import annotations

import numpy as np
import torch

WINDOW = 256  # the encoder's trained length
SENTENCE_MAX = 128
DIM = 384
BATCH = 32


def _encode(batch_ids: list[list[int]], model, pad_id: int) -> np.ndarray:
    width = max(len(x) for x in batch_ids)
    ids = torch.full((len(batch_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
    for i, x in enumerate(batch_ids):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    with torch.inference_mode():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask[..., None].float()
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1).double().numpy()


def _with_specials(tok, ids: list[int]) -> list[int]:
    return [tok.cls_token_id, *ids, tok.sep_token_id]


def encode_texts(texts: list[str], tok, model, max_tokens: int = SENTENCE_MAX) -> np.ndarray:
    """One embedding per text (truncated to max_tokens), batched by length.

    Batches depend only on the texts given, so one article's sentence
    embeddings never depend on which other articles are scored with it."""
    if not texts:
        return np.zeros((0, DIM))
    ids = [_with_specials(tok, tok(t, add_special_tokens=False)["input_ids"][: max_tokens - 2]) for t in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), DIM))
    for b in range(0, len(order), BATCH):
        chunk = order[b : b + BATCH]
        out[chunk] = _encode([ids[i] for i in chunk], model, tok.pad_token_id)
    return out


def encode_article(text: str, tok, model) -> np.ndarray:
    """Mean of the embeddings of consecutive WINDOW-token windows, re-normalized."""
    ids = tok(text, add_special_tokens=False)["input_ids"] or [tok.unk_token_id]
    step = WINDOW - 2
    windows = [_with_specials(tok, ids[i : i + step]) for i in range(0, len(ids), step)]
    vecs = np.concatenate([_encode([w], model, tok.pad_token_id) for w in windows])
    mean = vecs.mean(0)
    return mean / max(np.linalg.norm(mean), 1e-12)
