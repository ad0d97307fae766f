"""The packaged backbones: the dequantized SmolLM2 cache is the GGUF model, bf16
stays close to fp32, the cache is keyed by the GGUF's hash, and MiniLM pooling
is sentence-transformers' embedding.

Models are loaded directly with transformers here (module-scoped fixtures), not
through the lru_cached loaders, so both dtypes can live in one process; the
tiny model's article scores under each dtype come from fresh subprocesses
(FABSCORE_LM_DTYPE), because `load_smollm` is cached per process.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fabscore.features import embed, lm
from fabscore.features.featurize import featurize_kind
from fabscore.models import backbones
from fabscore.text.sentences import prepare

REPO = Path(__file__).resolve().parents[1]

# bf16 vs fp32 on the aggregates of a ~500-word article (two LM windows). bf16
# keeps ~3 significant digits per logit; averaged over hundreds of tokens the
# aggregates moved by at most 0.019 when measured on both seeds (lm_mean_logrank,
# where bf16 rounding creates logit ties; every other aggregate <= 0.013), far
# less than their spread between articles. Stated tolerance: 0.05 absolute.
LM_ABS_TOL = 0.05  # nats / log-rank / z units / fractions, for every aggregate
SCORE_TOL = 0.02  # article score of the tiny model


@pytest.fixture(scope="module")
def lm_dir() -> Path:
    backbones.load_smollm()  # makes sure the dequantized cache exists (it normally does)
    return backbones._dequantized_dir()


@pytest.fixture(scope="module")
def lm_fp32(lm_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(lm_dir))
    model = AutoModelForCausalLM.from_pretrained(str(lm_dir), dtype=torch.float32).eval()
    return tok, model


def article_ids(tok, text: str) -> list[int]:
    """Token ids exactly as the LM featurizer builds them (start token + normalized text)."""
    norm = prepare(text).norm
    return [tok.bos_token_id or tok.eos_token_id, *tok(norm, add_special_tokens=False)["input_ids"]]


# ---------------------------------------------------------------- SmolLM2 cache
def test_cache_dir_is_keyed_by_gguf_sha256(lm_dir):
    gguf = backbones.smollm_gguf()
    h = hashlib.sha256()
    with gguf.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    assert backbones.smollm_info().weights_sha256 == digest
    assert lm_dir.name == f"smollm2-{digest[:16]}"
    assert lm_dir.parent == backbones.cache_root()
    assert (lm_dir / "SOURCE_SHA256").read_text().strip() == digest
    assert (lm_dir / "model.safetensors").is_file() and (lm_dir / "tokenizer.json").is_file()


def test_cache_root_follows_fabscore_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("FABSCORE_CACHE", str(tmp_path / "elsewhere"))
    sha = backbones.smollm_info().weights_sha256
    assert backbones._dequantized_dir() == tmp_path / "elsewhere" / f"smollm2-{sha[:16]}"


def test_dequantized_cache_reproduces_gguf_logits(lm_fp32, seed_texts):
    from transformers import AutoModelForCausalLM

    tok, cached = lm_fp32
    gguf = backbones.smollm_gguf()
    original = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                    dtype=torch.float32).eval()
    ids = torch.tensor([article_ids(tok, seed_texts["machine"])[:40]])
    assert ids.shape == (1, 40)
    with torch.inference_mode():
        a = original(ids).logits.float()
        b = cached(ids).logits.float()
    del original
    assert a.shape == b.shape == (1, 40, cached.config.vocab_size)
    diff = (a - b).abs().max().item()
    assert diff < 1e-3, f"max abs logit difference {diff}"
    assert torch.equal(a.argmax(-1), b.argmax(-1))


def test_vocab_statistics_match_a_float64_reference(lm_fp32, seed_texts):
    """The blocked, in-place statistics equal the textbook formulas in float64, on
    real logits over 70 tokens (two full row blocks and a partial one)."""
    tok, model = lm_fp32
    ids = torch.tensor([article_ids(tok, seed_texts["machine"])[:71]])
    with torch.inference_mode():
        logits = model(ids).logits[0, :-1].to(torch.bfloat16)
    target = ids[0, 1:]
    got = lm._vocab_statistics(logits, target)
    x = logits.double()
    logp = torch.log_softmax(x, -1)
    p = logp.exp()
    mu = (p * logp).sum(-1)
    want = {"logp": logp.gather(1, target[:, None])[:, 0],
            "rank": (x > x.gather(1, target[:, None])).sum(-1).double() + 1,
            "mu": mu, "var": (p * (logp - mu[:, None]) ** 2).sum(-1), "lpmax": logp.max(-1).values}
    assert set(got) == set(want)
    assert torch.equal(got["rank"].double(), want["rank"]), "ranks are counts: they must be exact"
    assert (want["rank"] == 1).any() and (want["rank"] > 100).any()  # both ends of the rank range occur
    for key in ("logp", "mu", "var", "lpmax"):
        err = (got[key].double() - want[key]).abs().max().item()
        assert err < 2e-5, f"{key}: max abs difference {err} from float64"


# ---------------------------------------------------------------- bf16 vs fp32
def test_bf16_lm_features_stay_close_to_fp32(lm_dir, lm_fp32, seed_texts):
    from transformers import AutoModelForCausalLM

    tok, fp32 = lm_fp32
    bf16 = AutoModelForCausalLM.from_pretrained(str(lm_dir), dtype=torch.bfloat16).eval()
    ids = article_ids(tok, seed_texts["machine"])
    assert len(ids) > lm.WINDOW  # two windows: the overlap logic runs in both dtypes
    f32 = lm.aggregate(lm.token_statistics(ids, fp32))
    f16 = lm.aggregate(lm.token_statistics(ids, bf16))
    del bf16
    bad = {n: (round(a, 4), round(b, 4)) for n, a, b in zip(lm.LM_FEATURES, f32, f16) if abs(a - b) > LM_ABS_TOL}
    assert not bad, f"bf16 differs from fp32 beyond tolerance: {bad}"
    assert np.all(np.isfinite(f16))


SCORE_SCRIPT = """
import json, sys
from fabscore import load_detector
from fabscore.models.backbones import lm_dtype
det = load_detector(sys.argv[1])
texts = [open(p, encoding="utf-8").read() for p in sys.argv[2:]]
print(json.dumps({"dtype": str(lm_dtype()), "scores": [r["score"] for r in det.score(texts)]}))
"""


def scores_with_dtypes(model: Path, dtypes: tuple[str, ...], files: list[Path]) -> list[dict]:
    """One single-threaded scoring process per dtype, run side by side (one per core)."""
    procs = []
    for dtype in dtypes:
        env = dict(os.environ, FABSCORE_LM_DTYPE=dtype, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, "-c", SCORE_SCRIPT, str(model), *map(str, files)], env=env,
                                      cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=900)
            assert proc.returncode == 0, stderr[-3000:]
            out.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return out


def test_bf16_and_fp32_article_scores_agree(tiny_model_dir):
    seeds = sorted((REPO / "seeds").glob("*.txt"))
    assert len(seeds) == 2
    f32, b16 = scores_with_dtypes(tiny_model_dir, ("float32", "bfloat16"), seeds)
    assert f32["dtype"] == "torch.float32" and b16["dtype"] == "torch.bfloat16"
    for a, b in zip(f32["scores"], b16["scores"]):
        assert a is not None and b is not None
        assert abs(a - b) < SCORE_TOL, (f32, b16)


# ---------------------------------------------------------------- MiniLM
SENTENCES = [
    "On March 15th, 2023, the International Criminal Court received a chilling threat.",
    "The council approved the budget.",
    "Moscow may have left the \"tented camp in place,\" which indicated that they were continuing the "
    "training program.",
    "Officials did not respond to requests for comment on Tuesday evening, according to a spokesperson "
    "for the ministry.",
]


@pytest.fixture(scope="module")
def sentence_transformer():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(backbones.minilm_path()), device="cpu")


def test_minilm_sentence_embeddings_match_sentence_transformers(sentence_transformer):
    tok, model = backbones.load_minilm(torch.float32)
    ours = embed.encode_texts(SENTENCES, tok, model)  # batched together, padded
    ref = sentence_transformer.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=True)
    assert ours.shape == ref.shape == (len(SENTENCES), embed.DIM)
    assert np.abs(ours - ref).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    # one at a time (no padding) gives the same vectors
    single = np.concatenate([embed.encode_texts([s], tok, model) for s in SENTENCES])
    assert np.abs(single - ref).max() < 1e-5


def test_minilm_article_embedding_matches_sentence_transformers_within_one_window(sentence_transformer, seed_texts):
    tok, model = backbones.load_minilm(torch.float32)
    art = prepare(seed_texts["machine"])
    text = " ".join(s.norm for s in art.sentences[:4])
    assert len(tok(text, add_special_tokens=False)["input_ids"]) < embed.WINDOW - 2
    ours, _ = embed.encode_article(text, tok, model)
    ref = sentence_transformer.encode([text], convert_to_numpy=True, normalize_embeddings=True)[0]
    assert np.abs(ours - ref).max() < 1e-5


def _own_sentence_ranks(art, sent_vectors) -> tuple[list[bool], list[float]]:
    """Per sentence: is its pooled vector nearest to the same words embedded alone,
    and the share of the other sentences it is closer to its own than to."""
    tok, _ = backbones.load_minilm()
    alone = embed.encode_texts([s.norm for s in art.sentences], tok, backbones.load_minilm(torch.float32)[1])
    sim = sent_vectors @ alone.T
    n = len(art.sentences) // 2  # the text twice: sentence j and j + n are the same words
    hits = [sim[j].argmax() % n == j % n for j in range(len(art.sentences))]
    return hits, [float((sim[j] < sim[j, j]).mean()) for j in range(len(art.sentences))]


def test_minilm_sentence_vectors_from_the_article_pass_belong_to_their_sentences(seed_texts):
    """Each sentence's pooled vector (one pass over the article, several windows) is
    mostly nearest to that sentence embedded alone, and on average closer to it than
    to 80% of the others (chance: 1 in 18 and 50%). Measured over 42 articles: 69%
    nearest and 85% on average, the same as encoding windows without sentence-aligned
    cuts; a short generic sentence ("It highlights the growing tension ...") can sit
    below its nearest quarter, so no single sentence is held to it. Shifting the
    token-to-sentence map by one sentence must break both figures."""
    art = prepare(seed_texts["machine"] + "\n\n" + seed_texts["machine"])  # > one 256-token window
    tok, _ = backbones.load_minilm()
    assert len(tok(art.norm, add_special_tokens=False)["input_ids"]) > 2 * embed.WINDOW
    blocks = featurize_kind(art, "embed")
    hits, shares = _own_sentence_ranks(art, blocks["sent_embed"])
    assert sum(hits) >= 0.75 * len(hits)
    assert np.mean(shares) >= 0.8, shares
    assert np.allclose(np.linalg.norm(blocks["sent_embed"], axis=1), 1.0, atol=1e-6)
    shifted = np.roll(blocks["sent_embed"], 1, axis=0)  # every sentence given its predecessor's vector
    hits, shares = _own_sentence_ranks(art, shifted)
    assert sum(hits) < 0.75 * len(hits) and np.mean(shares) < 0.8


def test_minilm_backbone_dtype_keeps_embeddings_within_tolerance(seed_texts):
    art = prepare(seed_texts["machine"])
    tok, f32 = backbones.load_minilm(torch.float32)
    tok, model = backbones.load_minilm()
    a32, _ = embed.encode_article(art.norm, tok, f32)
    a, _ = embed.encode_article(art.norm, tok, model)
    assert float(a @ a32) > 0.999
