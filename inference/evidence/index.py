"""The evidence index: every sentence of the trusted reference articles and its embedding.

Stored like a model directory (it may come from a stranger): sentences as JSON,
embeddings as safetensors, a MANIFEST.json of sha256 checked on load, and the
format, normalization, sentence-splitter and encoder versions, each refused when
they differ from what this installation computes. Nothing is ever unpickled.

Retrieval is an exact matrix product while that is fast enough (below
EXACT_MAX_SENTENCES, the crossover measured by benchmarks/evidence_retrieval.py);
beyond it a FAISS inverted-file (IVF) index. Its structure, the list centroids and
each sentence's list, is computed when the index is saved and stored as safetensors
(ivf.safetensors, in the manifest); loading rebuilds the FAISS index from those arrays
(checked: shapes, ranges, a sample of the assignments against the vectors) instead of
clustering again. No FAISS binary is ever read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..model_dir import open_checked, write_manifest
from ..normalize import NORMALIZATION_VERSION
from ..text import SPLIT_VERSION, prepare

FORMAT = "fabscore-evidence-index"
FORMAT_VERSION = 1
INDEX_CONFIG = "index.json"
SENTENCES_FILE = "sentences.json"
VECTORS_FILE = "vectors.safetensors"
IVF_FILE = "ivf.safetensors"  # only in indexes of more than EXACT_MAX_SENTENCES sentences (or saved with ivf=True)
FILES = (INDEX_CONFIG, SENTENCES_FILE, VECTORS_FILE, IVF_FILE)
# Exact search up to this many sentences (a 10,000-article pool), FAISS beyond: in
# benchmarks/evidence_retrieval.py FAISS first beats exact search at recall@5 >= 0.95 between
# 300k and 1M sentences (see docs/evidence.md for the numbers).
EXACT_MAX_SENTENCES = 300_000
_BLOCK = 65_536  # rows of the matrix product at once: bounds the memory of exact search


class EvidenceError(ValueError):
    """Evidence that must not be used (empty, tampered, another version or encoder), with the reason."""


@dataclass(frozen=True)
class EvidenceSentence:
    path: str
    id: str
    start: int  # offsets into the reference article's text
    end: int
    text: str

    def as_dict(self) -> dict:
        return {"path": self.path, "id": self.id, "start": self.start, "end": self.end, "text": self.text}


def encoder_info() -> dict:
    """The packaged MiniLM the embeddings come from (its weights' sha256 is checked on load)."""
    from ..backbones import minilm_info

    return minilm_info().as_dict()


def encode(texts: Sequence[str]) -> np.ndarray:
    """fp32 MiniLM sentence embeddings (L2-normalized), as float32 rows."""
    import torch

    from ..backbones import load_minilm
    from ..features.embed import encode_texts

    tok, model = load_minilm(torch.float32)
    return encode_texts(list(texts), tok, model).astype(np.float32)


@dataclass
class EvidenceIndex:
    sentences: list[EvidenceSentence]
    vectors: np.ndarray  # (n, 384) float32, L2-normalized
    errors: list[tuple[str, str]] = field(default_factory=list)  # (id, reason) of inputs skipped
    ivf: "IVF | None" = None  # the inverted-file structure, when computed or loaded
    _faiss: object = None

    def __len__(self) -> int:
        return len(self.sentences)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(cosine similarities, sentence indices), each (len(queries), k), best first."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, len(self))
        if len(q) == 0 or k == 0:
            return np.zeros((len(q), k), np.float32), np.zeros((len(q), k), np.int64)
        if self.ivf is not None or len(self) > EXACT_MAX_SENTENCES:
            return self._search_faiss(q, k)
        return exact_search(self.vectors, q, k)

    def _search_faiss(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._faiss is None:
            if self.ivf is None:  # built in memory: clustered now, stored by save()
                self.ivf = train_ivf(self.vectors)
            self._faiss = faiss_index(self.vectors, self.ivf)
        sims, idx = self._faiss.search(q, k)
        return sims, idx.astype(np.int64)

    def save(self, out: str | Path, ivf: bool | None = None) -> Path:
        """Write the index directory; the manifest last, over every other file. ivf: store the
        inverted-file structure (None: when the index is large enough to be searched with it)."""
        from safetensors.numpy import save_file

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for f in out.iterdir():
            if f.is_file() and f.name in (*FILES, "MANIFEST.json"):
                f.unlink()
        unexpected = [f.name for f in out.iterdir()]
        if unexpected:
            raise EvidenceError(f"{out}: not empty ({', '.join(sorted(unexpected)[:3])}); "
                                "give a new or empty directory for the index")
        save_file({"vectors": np.ascontiguousarray(self.vectors, dtype=np.float32)}, str(out / VECTORS_FILE))
        (out / SENTENCES_FILE).write_text(json.dumps([s.as_dict() for s in self.sentences], ensure_ascii=False))
        if ivf or (ivf is None and (self.ivf is not None or len(self) > EXACT_MAX_SENTENCES)):
            if self.ivf is None:
                self.ivf = train_ivf(self.vectors)
            save_file({"centroids": self.ivf.centroids, "assign": self.ivf.assign.astype(np.int32)},
                      str(out / IVF_FILE))
        config = {"format": FORMAT, "format_version": FORMAT_VERSION,
                  "normalization_version": NORMALIZATION_VERSION, "split_version": SPLIT_VERSION,
                  "encoder": encoder_info(), "n_sentences": len(self), "dim": int(self.vectors.shape[1]),
                  "ivf": None if not (out / IVF_FILE).is_file() else
                  {"file": IVF_FILE, "nlist": self.ivf.nlist, "nprobe": self.ivf.nprobe, "metric": "inner_product"},
                  "skipped_inputs": [{"id": i, "reason": r} for i, r in self.errors]}
        (out / INDEX_CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        write_manifest(out)
        return out


def exact_search(vectors: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inner products by a blocked matrix product (exact)."""
    best_s = np.full((len(q), 0), -np.inf, np.float32)
    best_i = np.zeros((len(q), 0), np.int64)
    for b in range(0, len(vectors), _BLOCK):
        s = q @ vectors[b:b + _BLOCK].T
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
    index (minutes at 1M sentences): done once, when the index is saved, then stored."""
    faiss = _faiss()
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    nlist = int(max(16, min(65_536, np.sqrt(len(v)))))
    quantizer = faiss.IndexFlatIP(v.shape[1])
    trainer = faiss.IndexIVFFlat(quantizer, v.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    trainer.train(v[rng.choice(len(v), size=min(len(v), 40 * nlist), replace=False)])
    centroids = quantizer.reconstruct_n(0, nlist).astype(np.float32)
    _, assign = quantizer.search(v, 1)
    return IVF(centroids, assign[:, 0].astype(np.int64), nprobe)


def faiss_index(vectors: np.ndarray, ivf: IVF):
    """The FAISS IndexIVFFlat of `vectors` with the given centroids and list assignments (no
    clustering, no assignment search: the vectors are appended to their lists)."""
    faiss = _faiss()
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    quantizer = faiss.IndexFlatIP(v.shape[1])
    quantizer.add(np.ascontiguousarray(ivf.centroids, dtype=np.float32))
    index = faiss.IndexIVFFlat(quantizer, v.shape[1], ivf.nlist, faiss.METRIC_INNER_PRODUCT)
    assign = np.ascontiguousarray(ivf.assign, dtype=np.int64)
    index.add_core(len(v), faiss.swig_ptr(v), None, faiss.swig_ptr(assign))
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
    scores = vectors[rows] @ c.T
    off = scores.max(axis=1) - scores[np.arange(len(rows)), a[rows]] > IVF_CHECK_TOLERANCE
    if off.any():
        raise EvidenceError(f"{where}: {IVF_FILE} puts {int(off.sum())} of {len(rows)} sampled sentences in a list "
                            "whose centroid is not their nearest: it was not made for these vectors "
                            "(rebuild the index with fabscore index)")
    return IVF(c, a.astype(np.int64), ivf.nprobe)


# ---------------------------------------------------------------- building
def sentences_of(path: str, iid: str, text: str) -> list[EvidenceSentence]:
    """The reference article's sentences (boilerplate trimmed, as scoring splits them);
    each keeps its original characters and offsets, so a reader can find it."""
    return [EvidenceSentence(path, iid, s.start, s.end, s.text) for s in prepare(text).sentences]


def build(refs: Iterable[str], text_field: str = "text", on_error=None) -> EvidenceIndex:
    """Index every readable article named by refs (files, folders, .jsonl/.csv data sets,
    as `fabscore score` reads them). An unreadable input is reported through
    on_error(id, reason) and skipped; no readable sentence at all is refused."""
    from ..reading import iter_inputs

    sentences, errors = [], []
    for inp in iter_inputs(refs, text_field=text_field):
        if inp.error is not None:
            errors.append((inp.id, inp.error))
            if on_error is not None:
                on_error(inp.id, inp.error)
            continue
        sentences += sentences_of(inp.path, inp.id, inp.text)
    return _finish(sentences, errors, ", ".join(map(str, refs)))


def build_from_texts(texts: Sequence[str], ids: Sequence[str] | None = None) -> EvidenceIndex:
    """An index over texts given in memory (ids default to '#0', '#1', ...)."""
    ids = list(ids) if ids is not None else [f"#{i}" for i in range(len(texts))]
    sentences = [s for t, i in zip(texts, ids) for s in sentences_of("<text>", i, t)]
    return _finish(sentences, [], "the texts given")


def _finish(sentences: list[EvidenceSentence], errors: list, where: str) -> EvidenceIndex:
    if not sentences:
        raise EvidenceError(f"no evidence: no readable sentence in {where}")
    from ..normalize import normalize

    return EvidenceIndex(sentences, encode([normalize(s.text) for s in sentences]), errors)


# ---------------------------------------------------------------- loading
def load(path: str | Path) -> EvidenceIndex:
    """An index directory, after checking its manifest, format and versions."""
    from safetensors.numpy import load_file

    path = Path(path)
    config = open_checked(path, FILES, INDEX_CONFIG, FORMAT, FORMAT_VERSION, what="evidence index",
                          error=EvidenceError, remedy="rebuild it with fabscore index")
    for key, have in (("normalization_version", NORMALIZATION_VERSION), ("split_version", SPLIT_VERSION)):
        if config.get(key) != have:
            raise EvidenceError(f"{path}: built with {key} {config.get(key)!r}, this fabscore has {have!r} "
                                "(rebuild it with fabscore index)")
    want, have = config.get("encoder") or {}, encoder_info()
    if want.get("weights_sha256") != have["weights_sha256"]:
        raise EvidenceError(f"{path}: embedded by another encoder ({want.get('package')} {want.get('version')} "
                            f"weights {str(want.get('weights_sha256'))[:12]}), this fabscore has {have['package']} "
                            f"{have['version']} weights {have['weights_sha256'][:12]} (rebuild it with fabscore index)")
    try:
        vectors = load_file(str(path / VECTORS_FILE))["vectors"]
        rows = json.loads((path / SENTENCES_FILE).read_text())
        sentences = [EvidenceSentence(str(r["path"]), str(r["id"]), int(r["start"]), int(r["end"]), str(r["text"]))
                     for r in rows]
    except Exception as e:  # noqa: BLE001 - a corrupt file raises various types
        raise EvidenceError(f"{path}: index files unreadable ({type(e).__name__}: {e})") from e
    if vectors.ndim != 2 or vectors.shape != (len(sentences), config.get("dim")) or vectors.dtype != np.float32:
        raise EvidenceError(f"{path}: {VECTORS_FILE} holds {vectors.shape} {vectors.dtype} vectors "
                            f"for {len(sentences)} sentences")
    if not sentences:
        raise EvidenceError(f"{path}: the index holds no sentence")
    errors = [(e.get("id"), e.get("reason")) for e in config.get("skipped_inputs") or []]
    ivf = _load_ivf(path, config, vectors)
    return EvidenceIndex(sentences, vectors, errors, ivf)


def _load_ivf(path: Path, config: dict, vectors: np.ndarray) -> IVF | None:
    """The stored IVF structure (index.json names it, the manifest has checked the file), checked
    against the vectors; None when the index has none (small, or saved by an earlier fabscore:
    then an index beyond EXACT_MAX_SENTENCES is clustered at first search)."""
    from safetensors.numpy import load_file

    info = config.get("ivf")
    if not info:
        if (path / IVF_FILE).exists():
            raise EvidenceError(f"{path}: {IVF_FILE} is there but index.json names no IVF structure")
        return None
    if not (path / IVF_FILE).is_file() or not isinstance(info, dict) or info.get("metric") != "inner_product":
        raise EvidenceError(f"{path}: index.json names an IVF structure {info!r}, but {IVF_FILE} is missing "
                            "or not an inner-product IVF (rebuild it with fabscore index)")
    try:
        arrays = load_file(str(path / IVF_FILE))
        ivf = IVF(arrays["centroids"], arrays["assign"], int(info.get("nprobe", FAISS_NPROBE)))
    except Exception as e:  # noqa: BLE001 - a corrupt safetensors file raises various types
        raise EvidenceError(f"{path}: {IVF_FILE} unreadable ({type(e).__name__}: {e})") from e
    if ivf.nlist != info.get("nlist") or not 1 <= ivf.nprobe <= ivf.nlist:
        raise EvidenceError(f"{path}: {IVF_FILE} has {ivf.nlist} lists, index.json says {info.get('nlist')} "
                            f"(nprobe {ivf.nprobe})")
    return check_ivf(ivf, vectors, str(path))
