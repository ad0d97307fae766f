"""Searching the vectors: an exact blocked matrix product, or a FAISS inverted file (IVF).

Retrieval is exact while that is fast enough (below EXACT_MAX_SENTENCES, the crossover
measured by benchmarks/evidence_retrieval.py); beyond it a FAISS IVF index, whose structure
(list centroids and each sentence's list) is stored as arrays and checked on load: no FAISS
binary is ever read.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from fabscore.evidence.table import EvidenceError

IVF_FILE = "ivf.safetensors"  # only in indexes of more than EXACT_MAX_SENTENCES sentences (or saved with ivf=True)
# Exact search up to this many sentences (a 10,000-article pool), FAISS beyond: in
# benchmarks/evidence_retrieval.py FAISS first beats exact search at recall@5 >= 0.95 between
# 300k and 1M sentences (see docs/evidence.md for the numbers).
EXACT_MAX_SENTENCES = 300_000
# Rows converted to float32 (and multiplied, searched or encoded) at once: a 48 MiB float32
# buffer, so the float16 vectors are never held in float32 whole. Not smaller: each block is
# two multithreaded torch calls, and on a busy machine each such call waits for its threads
# (30 queries over 250k rows: 16k-row blocks measured slower than 32k under a load of 3).
_BLOCK = 32_768


def float32_blocks(vectors: np.ndarray, rows: int = _BLOCK) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, the next `rows` rows as C-contiguous float32) over the vectors, in order.

    float16 rows are converted into one buffer reused for every block (so a block is valid
    only until the next one is asked for): the vectors are never held in float32 whole.
    float32 rows are given as they are. The conversion is torch's: numpy's float16 cast
    measured about 7x slower on this project's CPU (1.2 vs 0.17 ns a value)."""
    buf = None
    for b in range(0, len(vectors), rows):
        part = vectors[b:b + rows]
        if part.dtype == np.float32 and part.flags.c_contiguous:
            yield b, part
            continue
        if buf is None:
            buf = np.empty((min(rows, len(vectors)), vectors.shape[1]), np.float32)
        out = buf[:len(part)]
        _torch(out).copy_(_torch(np.ascontiguousarray(part)))
        yield b, out


def _torch(a: np.ndarray):
    """A torch tensor sharing a's memory (of a copy when a is read-only: torch warns on those)."""
    import torch

    return torch.from_numpy(a if a.flags.writeable else a.copy())


def exact_search(vectors: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inner products by a blocked matrix product (exact), in float32 whatever the
    vectors' dtype (float16 vectors are converted a block at a time: float32_blocks). The
    products are torch's, like the conversion: with numpy's BLAS beside it, two pools of
    threads contend for the cores (measured 1.3-1.7x slower, 30 queries over 250k rows)."""
    qt = _torch(np.ascontiguousarray(q, dtype=np.float32))
    best_s = np.full((len(qt), 0), -np.inf, np.float32)
    best_i = np.zeros((len(qt), 0), np.int64)
    for b, block in float32_blocks(vectors):
        s = (qt @ _torch(block).T).numpy()
        kk = min(k, s.shape[1])
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        best_s = np.concatenate([best_s, np.take_along_axis(s, part, 1)], axis=1)
        best_i = np.concatenate([best_i, part + b], axis=1)
        if best_s.shape[1] > k:
            keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
            best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)


FAISS_NPROBE = 16
IVF_CHECK_SAMPLE = 2_000  # assignments checked against the vectors when an index is loaded
IVF_CHECK_TOLERANCE = 1e-4  # float noise allowed between the stored list and the nearest centroid


@dataclass
class IVF:
    """An inverted-file structure: `nlist` centroids (unit-norm space, inner product) and the
    list each vector belongs to (its nearest centroid); `nprobe` lists are searched per query."""

    centroids: np.ndarray  # (nlist, dim) float32
    assign: np.ndarray  # (n,) int64, in [0, nlist)
    nprobe: int = FAISS_NPROBE

    @property
    def nlist(self) -> int:
        return int(len(self.centroids))


def _faiss():
    try:
        import faiss
    except ImportError as e:
        raise EvidenceError("a large evidence index is searched with FAISS: pip install 'fabscore[evidence]' "
                            "(faiss-cpu)") from e
    return faiss


def train_ivf(vectors: np.ndarray, nprobe: int = FAISS_NPROBE, seed: int = 0) -> IVF:
    """About sqrt(n) lists, their centroids trained by FAISS's k-means on a sample of 40 vectors
    per list, and every vector assigned to its nearest centroid. This is the slow part of an IVF
    index (minutes at 1M sentences): done once, when the index is saved, then stored. Only the
    sample and one block of rows at a time are converted to float32 (FAISS reads nothing else)."""
    faiss = _faiss()
    n, dim = vectors.shape
    nlist = int(max(16, min(65_536, np.sqrt(n))))
    quantizer = faiss.IndexFlatIP(dim)
    trainer = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    trainer.train(np.ascontiguousarray(vectors[rng.choice(n, size=min(n, 40 * nlist), replace=False)],
                                       dtype=np.float32))
    centroids = quantizer.reconstruct_n(0, nlist).astype(np.float32)
    assign = np.empty(n, np.int64)
    for b, block in float32_blocks(vectors):
        assign[b:b + len(block)] = quantizer.search(block, 1)[1][:, 0]
    return IVF(centroids, assign, nprobe)


def faiss_index(vectors: np.ndarray, ivf: IVF):
    """The FAISS IndexIVFFlat of `vectors` with the given centroids and list assignments (no
    clustering, no assignment search: the vectors are appended to their lists, a block of rows
    at a time, so the FAISS lists are the only float32 copy of the vectors)."""
    faiss = _faiss()
    dim = vectors.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(np.ascontiguousarray(ivf.centroids, dtype=np.float32))
    index = faiss.IndexIVFFlat(quantizer, dim, ivf.nlist, faiss.METRIC_INNER_PRODUCT)
    for b, block in float32_blocks(vectors):
        lists = np.ascontiguousarray(ivf.assign[b:b + len(block)], dtype=np.int64)
        index.add_core(len(block), faiss.swig_ptr(block), None, faiss.swig_ptr(lists))  # ids: ntotal onwards
    index.nprobe = ivf.nprobe
    return index


def build_faiss(vectors: np.ndarray, nprobe: int = FAISS_NPROBE, seed: int = 0):
    """An IVF FAISS index over the vectors (inner product = cosine on unit rows), clustered now."""
    return faiss_index(vectors, train_ivf(vectors, nprobe, seed))


def check_ivf(ivf: IVF, vectors: np.ndarray, where: str, seed: int = 0) -> IVF:
    """Refuse a stored IVF whose arrays do not fit the vectors: shapes, dtypes, list numbers, and
    for a sample of vectors that their stored list is (up to float noise) their nearest centroid."""
    c, a = ivf.centroids, ivf.assign
    if c.ndim != 2 or c.shape[1] != vectors.shape[1] or not 1 <= len(c) <= len(vectors) or c.dtype != np.float32 \
            or not np.isfinite(c).all():
        raise EvidenceError(f"{where}: {IVF_FILE} holds {c.shape} {c.dtype} centroids for {vectors.shape} vectors")
    if a.shape != (len(vectors),) or not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= len(c):
        raise EvidenceError(f"{where}: {IVF_FILE} assigns {a.shape} {a.dtype} list numbers for {len(vectors)} "
                            f"vectors and {len(c)} lists")
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), size=min(len(vectors), IVF_CHECK_SAMPLE), replace=False)
    scores = np.asarray(vectors[rows], dtype=np.float32) @ c.T  # float32, as train_ivf assigned them
    off = scores.max(axis=1) - scores[np.arange(len(rows)), a[rows]] > IVF_CHECK_TOLERANCE
    if off.any():
        raise EvidenceError(f"{where}: {IVF_FILE} puts {int(off.sum())} of {len(rows)} sampled sentences in a list "
                            "whose centroid is not their nearest: it was not made for these vectors "
                            "(rebuild the index with fabscore index)")
    return IVF(c, a.astype(np.int64), ivf.nprobe)
