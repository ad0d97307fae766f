"""A verifier candidate (measured, not shipped): MiniLM reads a claim and its evidence passage
together and says whether the passage backs it, with its top layers fine-tuned on claim/source
pairs that people judged (cross_encoder_train.py). Left out fold SummEdits: AUROC 0.504; QAGS-CNNDM
0.574 and Climate-FEVER 0.615 (never trained on); the overlap head scores 0.539 / 0.825 / 0.687 on
the same pairs (docs/evidence.md).

Input: `[CLS] claim [SEP] passage [SEP]` (pair_ids: at most MiniLM's 256 tokens, the
claim first, so a long passage is cut and never overflows). The packaged all-MiniLM-L6-v2 runs
its embeddings and first SPLIT layers unchanged; the verifier's own copy of the remaining layers
(fine-tuned) and a linear layer over the [CLS] state and the mean state of the claim's tokens
give two logits: `supported` (the passage backs the claim) and `refuted` (the passage says
otherwise; learned only from the sets whose annotators told refuted from not-enough-information).

Only the fine-tuned layers and the linear layer would be stored, as tensors: nothing executable.

`score(docs, claims)` is the plain entry point (MiniCheck's): each claim against its document,
the document cut into passages of TOP_K sentences and the best passage's verdict kept
(chunk-and-max).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SPLIT = 4  # the packaged layers run below this; the verifier's own above
OUTPUTS = ("supported", "refuted")
BATCH = 16
MAX_TOKENS = 256  # MiniLM's trained length: a longer input is never built (no truncation warning)
CLAIM_MAX = 96  # word pieces of a claim kept; the passage gets the rest


def passage(sentences: Sequence[str]) -> str:
    """The passage a claim is read against: its retrieved evidence sentences, best first."""
    return " ".join(s.strip() for s in sentences if s and s.strip())


def pair_ids(tok, claim: str, text: str) -> tuple[list[int], int]:
    """(input ids, number of claim word pieces) of `[CLS] claim [SEP] passage [SEP]`, the claim cut at
    CLAIM_MAX word pieces and the passage at what is left of MAX_TOKENS (the tokenizer truncates, so
    transformers never sees, nor warns about, a sequence longer than the encoder takes)."""
    c = tok(claim, add_special_tokens=False, truncation=True, max_length=CLAIM_MAX)["input_ids"]
    room = MAX_TOKENS - len(c) - 3
    p = tok(text, add_special_tokens=False, truncation=True, max_length=max(room, 1))["input_ids"][:max(room, 0)]
    return [tok.cls_token_id, *c, tok.sep_token_id, *p, tok.sep_token_id], len(c)


class Top(torch.nn.Module):
    """The fine-tuned layers above SPLIT and the output layer."""

    def __init__(self, config, n_layers: int):
        from transformers.models.bert.modeling_bert import BertLayer

        super().__init__()
        self.layers = torch.nn.ModuleList([BertLayer(config) for _ in range(n_layers)])
        self.out = torch.nn.Linear(2 * config.hidden_size, len(OUTPUTS))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, claim: torch.Tensor) -> torch.Tensor:
        """(batch, len(OUTPUTS)) logits from the states at SPLIT; mask: attention mask; claim: 1 on
        the claim's tokens."""
        ext = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            r = layer(hidden, attention_mask=ext)
            hidden = r[0] if isinstance(r, tuple) else r
        c = claim[..., None].to(hidden.dtype)
        pooled = (hidden * c).sum(1) / c.sum(1).clamp(min=1.0)
        return self.out(torch.cat([hidden[:, 0], pooled], -1).to(self.out.weight.dtype)).float()


def bottom_states(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The packaged encoder's states after its first SPLIT layers."""
    ext = (1.0 - mask[:, None, None, :].to(model.dtype)) * torch.finfo(model.dtype).min
    hidden = model.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
    for layer in model.encoder.layer[:SPLIT]:
        r = layer(hidden, attention_mask=ext)
        hidden = r[0] if isinstance(r, tuple) else r
    return hidden


def batch_inputs(items: Sequence[tuple[list[int], int]], pad_id: int) -> tuple[torch.Tensor, ...]:
    """(ids, attention mask, claim mask) of (pair ids, claim length) items, right-padded."""
    width = max(len(x) for x, _ in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    claim = torch.zeros((len(items), width), dtype=torch.long)
    for i, (x, n) in enumerate(items):
        ids[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
        claim[i, 1:1 + n] = 1
    return ids, mask, claim


@dataclass
class Verifier:
    top: Top
    tok: object
    encoder: object  # the packaged MiniLM (its bottom layers)

    def logits(self, claims: Sequence[str], passages: Sequence[str], batch: int = BATCH) -> np.ndarray:
        """(n, 2) logits (supported, refuted) of each claim against its passage, both normalized as
        scoring normalizes text; batched by length, each pass on one thread (models.threads), so a
        claim's logits never depend on the other claims in the call."""
        from fabscore.models.threads import pass_threads
        from fabscore.text.normalize import normalize

        items = [pair_ids(self.tok, normalize(c), normalize(p)) for c, p in zip(claims, passages)]
        out = np.zeros((len(items), len(OUTPUTS)), dtype=np.float64)
        order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
        dev = self.encoder.device
        for b in range(0, len(order), batch):
            rows = order[b:b + batch]
            ids, mask, claim = (t.to(dev) for t in batch_inputs([items[i] for i in rows], self.tok.pad_token_id))
            with pass_threads(), torch.inference_mode():
                h = bottom_states(self.encoder, ids, mask)
                out[rows] = self.top(h, mask, claim).double().cpu().numpy()
        return out

    def score(self, docs: Sequence[str], claims: Sequence[str]) -> np.ndarray:
        """P(supported) of each claim against its document (uncalibrated sigmoid of the logit; the
        consistency head calibrates it with the rest): the document's sentences nearest the claim
        are its passage, as an evidence index would retrieve them."""
        from fabscore.evidence.features import TOP_K
        from fabscore.evidence.index import build_from_texts, encode
        from fabscore.text.normalize import normalize

        passages = []
        for d, c in zip(docs, claims):
            index = build_from_texts([d])
            _, idx = index.search(encode([normalize(c)]), min(TOP_K, len(index)))
            passages.append(passage([index.sentences.texts[j] for j in idx[0]]))
        return 1.0 / (1.0 + np.exp(-self.logits(claims, passages)[:, 0]))

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().to(torch.float32).contiguous() for k, v in self.top.state_dict().items()}
        save_file(state, str(path), metadata={"split": str(SPLIT), "n_layers": str(len(self.top.layers)),
                                              "outputs": ",".join(OUTPUTS)})


def new_top(n_layers: int | None = None, encoder=None) -> Top:
    """A Top initialized from the packaged encoder's own layers above SPLIT (what fine-tuning starts from)."""
    from fabscore.models.backbones import load_minilm

    if encoder is None:
        _, encoder = load_minilm(torch.float32)
    n = len(encoder.encoder.layer) - SPLIT if n_layers is None else n_layers
    top = Top(encoder.config, n)
    for mine, theirs in zip(top.layers, encoder.encoder.layer[SPLIT:]):
        mine.load_state_dict(theirs.state_dict())
    return top


def load_verifier(path: str | Path, device: str | None = None) -> Verifier:
    """The verifier stored at path (tensors only), over the packaged MiniLM in the backbones' dtype."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from fabscore.models.backbones import lm_dtype, load_minilm

    tok, encoder = load_minilm(device=device)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if int(meta.get("split", -1)) != SPLIT or meta.get("outputs") != ",".join(OUTPUTS):
        raise ValueError(f"{path}: a verifier for split {meta.get('split')} / outputs {meta.get('outputs')}; "
                         f"this fabscore runs split {SPLIT} / outputs {','.join(OUTPUTS)} (re-train it)")
    top = Top(encoder.config, int(meta["n_layers"]))
    top.load_state_dict(load_file(str(path)), strict=True)
    return Verifier(top.to(lm_dtype()).to(encoder.device).eval(), tok, encoder)
