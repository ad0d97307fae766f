"""`fabscore train --finetune`: fine-tune the MiniLM encoder end to end (SetFit's body).

The encoder learns to separate human from machine articles through a temporary
linear probe on its mean-pooled embedding of each article's first window (the
same window `inference.features.embed` reads first). Only the encoder is kept:
the logistic-regression head is then fitted on its features exactly as without
fine-tuning. Weights are written as safetensors, never as a pickle.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.class_weight import compute_sample_weight

from fabscore.features import embed
from fabscore.models import backbones
from fabscore.text.sentences import Article

LOG_EVERY = 50  # batches


@dataclass
class FinetuneSettings:
    epochs: int = 2
    lr: float = 3e-5
    batch: int = 8
    max_tokens: int = embed.WINDOW
    seed: int = 0


def _batches(ids: list[list[int]], order: np.ndarray, size: int, pad_id: int):
    for b in range(0, len(order), size):
        rows = order[b : b + size]
        yield (rows, *embed.pad([ids[i] for i in rows], pad_id))


def finetune_encoder(articles: list[Article], y: np.ndarray, out: str | Path,
                     settings: FinetuneSettings = FinetuneSettings(),
                     log: Callable[[str], None] = print, device: str | None = None) -> dict:
    """Fine-tune a fresh fp32 copy of the packaged MiniLM on (articles, y) and write its
    weights to `out`; returns what the model card reports about the run.
    device: where to train (backbones.resolve_device: FABSCORE_DEVICE, else cpu)."""
    from safetensors.torch import save_file
    from transformers import AutoModel

    y = np.asarray(y, dtype=int)
    if len(set(y.tolist())) < 2:
        raise ValueError("fine-tuning needs both human and machine articles")
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    tok = backbones.load_minilm()[0]
    device = backbones.resolve_device(device)
    model = AutoModel.from_pretrained(str(backbones.minilm_path()), dtype=torch.float32,
                                      **backbones.LOCAL).to(device)
    probe = torch.nn.Linear(embed.DIM, 1).to(device)
    ids = [embed.with_specials(tok, tok(a.norm, add_special_tokens=False)["input_ids"][: settings.max_tokens - 2])
           for a in articles]
    weights = torch.tensor(compute_sample_weight("balanced", y), dtype=torch.float32, device=device)  # equal class mass
    target = torch.tensor(y, dtype=torch.float32, device=device)
    opt = torch.optim.AdamW(list(model.parameters()) + list(probe.parameters()), lr=settings.lr, weight_decay=0.01)
    steps = settings.epochs * -(-len(ids) // settings.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10))
                                              * max(0.0, 1 - s / steps))
    t0, losses = time.time(), []
    model.train()
    for epoch in range(settings.epochs):
        total = 0.0
        for step, (rows, x, mask) in enumerate(_batches(ids, rng.permutation(len(ids)), settings.batch,
                                                        tok.pad_token_id), 1):
            x, mask = x.to(device), mask.to(device)
            hidden = model(input_ids=x, attention_mask=mask).last_hidden_state
            pooled = embed.mean_pool(hidden, mask)
            logit = probe(pooled * 10.0)[:, 0]  # unit vectors: scale so the probe can reach confident logits
            rows = torch.as_tensor(rows, device=device)
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logit, target[rows], reduction="none")
                    * weights[rows]).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(rows)
            if step % LOG_EVERY == 0:
                log(f"fine-tuning epoch {epoch + 1}: {step * settings.batch}/{len(ids)} articles, "
                    f"running loss {total / (step * settings.batch):.4f} ({time.time() - t0:.0f} s)")
        losses.append(total / len(ids))
        log(f"fine-tuning epoch {epoch + 1}/{settings.epochs}: weighted loss {losses[-1]:.4f} "
            f"({time.time() - t0:.0f} s)")
    model.eval()
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(out))
    return {"epochs": settings.epochs, "lr": settings.lr, "batch": settings.batch, "max_tokens": settings.max_tokens,
            "seed": settings.seed, "n_articles": len(ids), "n_human": int((y == 0).sum()),
            "n_machine": int((y == 1).sum()), "train_loss_by_epoch": [round(v, 5) for v in losses],
            "seconds": round(time.time() - t0, 1)}
