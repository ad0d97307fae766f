"""The evidence index: every sentence of the trusted reference articles and its embedding.

Stored like a model directory (it may come from a stranger): the sentences as one
column-wise JSON table (sentences.json), the embeddings as float16 safetensors
(vectors.safetensors), a MANIFEST.json of sha256 checked on load, and the format,
normalization, sentence-splitter and encoder versions, each refused when they differ
from what this installation computes. Loading also checks the columns themselves
(lengths, integer ranges, dtypes and shapes). Nothing is ever unpickled.

Held in memory compactly, because a scoring process holds the index of a whole pool (a
10,000-article pool is ~250,000 sentences): the vectors as float16, converted to float32
one block of rows at a time when searched; the sentences as a `SentenceTable` (numpy
integer columns, each article's path and id once, the texts in a list) that makes an
`EvidenceSentence` only when one is asked for.

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
import operator
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..model_dir import open_checked, write_manifest
from ..normalize import NORMALIZATION_VERSION
from ..text import SPLIT_VERSION, prepare

FORMAT = "fabscore-evidence-index"
FORMAT_VERSION = 2  # 2: float16 vectors, column-wise sentences.json (1: float32, one JSON object per sentence)
INDEX_CONFIG = "index.json"
SENTENCES_FILE = "sentences.json"
VECTORS_FILE = "vectors.safetensors"
IVF_FILE = "ivf.safetensors"  # only in indexes of more than EXACT_MAX_SENTENCES sentences (or saved with ivf=True)
FILES = (INDEX_CONFIG, SENTENCES_FILE, VECTORS_FILE, IVF_FILE)
# Exact search up to this many sentences (a 10,000-article pool), FAISS beyond: in
# benchmarks/evidence_retrieval.py FAISS first beats exact search at recall@5 >= 0.95 between
# 300k and 1M sentences (see docs/evidence.md for the numbers).
EXACT_MAX_SENTENCES = 300_000
# Rows converted to float32 (and multiplied, searched or encoded) at once: a 48 MiB float32
# buffer, so the float16 vectors are never held in float32 whole. Not smaller: each block is
# two multithreaded torch calls, and on a busy machine each such call waits for its threads
# (30 queries over 250k rows: 16k-row blocks measured slower than 32k under a load of 3).
_BLOCK = 32_768


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


class SentenceTable(SequenceABC):
    """The evidence sentences, column-wise: a sequence of `EvidenceSentence`, each made when asked for.

    A list of frozen dataclasses, each with its own path and id strings, held ~650 bytes per
    sentence of 130 characters (measured at 250,000 sentences); this table ~250, nearly all of
    it the text: each article's path and id are kept once (`paths`, `ids`), and per sentence
    only its article's number and offsets (numpy integer columns) and its text. `len`,
    indexing (`table[j].text`, `table[j].as_dict()`), slicing and iteration behave as on a
    list of the sentences.
    """

    def __init__(self, paths: Sequence[str], ids: Sequence[str], article, start, end, texts: Sequence[str]):
        self.paths, self.ids = list(paths), list(ids)  # per article
        self.article = np.asarray(article, dtype=np.int32)  # per sentence: index into paths and ids
        self.start = np.asarray(start, dtype=np.int64)  # offsets into the reference article's text
        self.end = np.asarray(end, dtype=np.int64)
        self.texts = texts if isinstance(texts, list) else list(texts)
        if len(self.paths) != len(self.ids) or not len(self.article) == len(self.start) == len(self.end) \
                == len(self.texts):
            raise ValueError("SentenceTable: columns of different lengths")

    @classmethod
    def from_sentences(cls, sentences: Iterable[EvidenceSentence]) -> "SentenceTable":
        """The table of the given sentences (articles told apart by their (path, id))."""
        articles: dict[tuple[str, str], int] = {}
        article, start, end, texts = [], [], [], []
        for s in sentences:
            article.append(articles.setdefault((s.path, s.id), len(articles)))
            start.append(s.start)
            end.append(s.end)
            texts.append(s.text)
        return cls([p for p, _ in articles], [i for _, i in articles], article, start, end, texts)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self[i] for i in range(*j.indices(len(self)))]
        j = operator.index(j)  # ints and numpy integers, as search() returns them
        if j < 0:
            j += len(self)
        if not 0 <= j < len(self):
            raise IndexError(f"sentence {j} of {len(self)}")
        a = int(self.article[j])
        return EvidenceSentence(self.paths[a], self.ids[a], int(self.start[j]), int(self.end[j]), self.texts[j])

    def __iter__(self) -> Iterator[EvidenceSentence]:
        return (self[j] for j in range(len(self)))

    def __repr__(self) -> str:
        return f"SentenceTable({len(self)} sentences of {len(self.paths)} articles)"

    def to_json(self) -> dict:
        """The JSON object sentences.json holds: the articles' columns and the sentences' columns."""
        return {"articles": {"path": self.paths, "id": self.ids},
                "sentences": {"article": self.article.tolist(), "start": self.start.tolist(),
                              "end": self.end.tolist(), "text": self.texts}}

    @classmethod
    def from_json(cls, table, where: str) -> "SentenceTable":
        """The table of a parsed sentences.json, refused (EvidenceError naming `where` and the
        problem) unless every column is there, as long as its siblings and of the right type,
        every article number names an article, and 0 <= start <= end for every sentence."""
        if not isinstance(table, dict) or set(table) != {"articles", "sentences"}:
            raise EvidenceError(f"{where}: not a sentence table (an object of 'articles' and 'sentences')")
        arts = _columns(table["articles"], "articles", ("path", "id"), where)
        sents = _columns(table["sentences"], "sentences", ("article", "start", "end", "text"), where)
        if not sents["text"]:
            raise EvidenceError(f"{where}: the index holds no sentence")
        paths, ids, texts = (_strings(c, name, where) for c, name in
                             ((arts["path"], "articles.path"), (arts["id"], "articles.id"),
                              (sents["text"], "sentences.text")))
        article = _integers(sents["article"], "sentences.article", where)
        start = _integers(sents["start"], "sentences.start", where)
        end = _integers(sents["end"], "sentences.end", where)
        _refuse_first(where, (article < 0) | (article >= len(paths)),
                      f"names an article outside the {len(paths)} in articles")
        _refuse_first(where, start < 0, "starts before its article (negative start)")
        _refuse_first(where, end < start, "ends before it starts")
        return cls(paths, ids, article, start, end, texts)


def _columns(part, name: str, keys: tuple[str, ...], where: str) -> dict[str, list]:
    """part: a JSON object of the lists `keys` (nothing else), all of one length; else refused."""
    if not isinstance(part, dict) or set(part) != set(keys) or not all(isinstance(part[k], list) for k in keys):
        raise EvidenceError(f"{where}: {name!r} must be an object of the lists {', '.join(map(repr, keys))}")
    lengths = {k: len(part[k]) for k in keys}
    if len(set(lengths.values())) != 1:
        raise EvidenceError(f"{where}: the {name} columns differ in length "
                            f"({', '.join(f'{k} {n}' for k, n in lengths.items())})")
    return part


def _strings(values: list, column: str, where: str) -> list[str]:
    if not set(map(type, values)) <= {str}:
        raise EvidenceError(f"{where}: {column} holds a value that is not a string")
    return values


def _integers(values: list, column: str, where: str) -> np.ndarray:
    """values (JSON integers: not booleans, not floats) as int64; else refused."""
    if not set(map(type, values)) <= {int}:
        raise EvidenceError(f"{where}: {column} holds a value that is not an integer")
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError as e:
        raise EvidenceError(f"{where}: {column} holds an integer beyond 64 bits") from e


def _refuse_first(where: str, bad: np.ndarray, problem: str) -> None:
    """Refuse the table when any sentence is `bad`, naming the first one."""
    if bad.any():
        j = int(np.argmax(bad))
        raise EvidenceError(f"{where}: sentence {j} {problem} ({int(bad.sum())} such sentences)")


def encoder_info() -> dict:
    """The packaged MiniLM the embeddings come from (its weights' sha256 is checked on load)."""
    from ..backbones import minilm_info

    return minilm_info().as_dict()


def encode(texts: Sequence[str]) -> np.ndarray:
    """fp32 MiniLM sentence embeddings (L2-normalized), as float32 rows."""
    import torch

    from ..backbones import load_minilm, pass_threads
    from ..features.embed import encode_texts

    tok, model = load_minilm(torch.float32)
    with pass_threads():  # the same vectors whatever the caller's thread count
        return encode_texts(list(texts), tok, model).astype(np.float32)


@dataclass
class EvidenceIndex:
    """The sentences and their embeddings, searched by cosine. Given a list of `EvidenceSentence`
    or float32 vectors, it keeps them the compact way: a `SentenceTable`, float16 vectors."""

    sentences: SentenceTable
    vectors: np.ndarray  # (n, 384) float16, L2-normalized in fp32 before the rounding
    errors: list[tuple[str, str]] = field(default_factory=list)  # (id, reason) of inputs skipped
    ivf: "IVF | None" = None  # the inverted-file structure, when computed or loaded
    _faiss: object = None

    def __post_init__(self) -> None:
        if not isinstance(self.sentences, SentenceTable):
            self.sentences = SentenceTable.from_sentences(self.sentences)
        if self.vectors.dtype != np.float16:
            self.vectors = self.vectors.astype(np.float16)
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.sentences):
            raise ValueError(f"EvidenceIndex: {self.vectors.shape} vectors for {len(self.sentences)} sentences")

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
        save_file({"vectors": np.ascontiguousarray(self.vectors, dtype=np.float16)}, str(out / VECTORS_FILE))
        (out / SENTENCES_FILE).write_text(json.dumps(self.sentences.to_json(), ensure_ascii=False))
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

    errors = []

    def sentences() -> Iterator[EvidenceSentence]:
        for inp in iter_inputs(refs, text_field=text_field):
            if inp.error is not None:
                errors.append((inp.id, inp.error))
                if on_error is not None:
                    on_error(inp.id, inp.error)
                continue
            yield from sentences_of(inp.path, inp.id, inp.text)

    return _finish(SentenceTable.from_sentences(sentences()), errors, ", ".join(map(str, refs)))


def build_from_texts(texts: Sequence[str], ids: Sequence[str] | None = None) -> EvidenceIndex:
    """An index over texts given in memory (ids default to '#0', '#1', ...)."""
    ids = list(ids) if ids is not None else [f"#{i}" for i in range(len(texts))]
    table = SentenceTable.from_sentences(s for t, i in zip(texts, ids) for s in sentences_of("<text>", i, t))
    return _finish(table, [], "the texts given")


def _finish(sentences: SentenceTable, errors: list, where: str) -> EvidenceIndex:
    if not len(sentences):
        raise EvidenceError(f"no evidence: no readable sentence in {where}")
    return EvidenceIndex(sentences, embed(sentences.texts), errors)


def embed(texts: Sequence[str]) -> np.ndarray:
    """The texts' float16 embeddings: normalized and encoded in fp32 (`encode`) a block of
    _BLOCK texts at a time, each block rounded to float16 as it comes, so no float32 (or
    encode_texts' float64) array of the whole index is ever held."""
    from ..normalize import normalize

    out = None
    for b in range(0, len(texts), _BLOCK):
        block = encode([normalize(t) for t in texts[b:b + _BLOCK]])
        if out is None:
            out = np.empty((len(texts), block.shape[1]), np.float16)
        out[b:b + len(block)] = block
    return out


# ---------------------------------------------------------------- loading
def load(path: str | Path) -> EvidenceIndex:
    """An index directory, after checking its manifest, format and versions, then its contents:
    the sentence table's columns (SentenceTable.from_json) and the vectors' dtype and shape."""
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
        table = json.loads((path / SENTENCES_FILE).read_bytes())
    except (OSError, ValueError) as e:  # ValueError: not UTF-8, not JSON
        raise EvidenceError(f"{path / SENTENCES_FILE}: unreadable ({type(e).__name__}: {e})") from e
    sentences = SentenceTable.from_json(table, str(path / SENTENCES_FILE))
    del table
    if config.get("n_sentences") != len(sentences):
        raise EvidenceError(f"{path / SENTENCES_FILE}: {len(sentences)} sentences, index.json says "
                            f"{config.get('n_sentences')!r}")
    vectors = _load_vectors(path / VECTORS_FILE, (len(sentences), config.get("dim")))
    errors = [(e.get("id"), e.get("reason")) for e in config.get("skipped_inputs") or []]
    ivf = _load_ivf(path, config, vectors)
    return EvidenceIndex(sentences, vectors, errors, ivf)


def _load_vectors(file: Path, shape: tuple) -> np.ndarray:
    """The one float16 array of vectors.safetensors, of the given shape; else refused."""
    try:
        arrays = _read_safetensors(file)
    except Exception as e:  # noqa: BLE001 - a corrupt safetensors file raises various types
        raise EvidenceError(f"{file}: unreadable ({type(e).__name__}: {e})") from e
    if set(arrays) != {"vectors"}:
        raise EvidenceError(f"{file}: holds the arrays {sorted(arrays)}, not just 'vectors'")
    v = arrays["vectors"]
    if v.dtype != np.float16 or v.shape != shape:
        raise EvidenceError(f"{file}: holds {v.shape} {v.dtype} vectors; this index needs {shape} float16 "
                            "(one per sentence, index.json's dim)")
    return v


def _read_safetensors(file: Path) -> dict[str, np.ndarray]:
    """A safetensors file's arrays, read with pread where safetensors has it (>= 0.8): its
    default backend maps the file, and the mapped pages count as resident memory beside
    the copy made of them, twice the vectors' size at the peak of loading."""
    from safetensors.numpy import load_file

    try:
        return load_file(str(file), backend="pread")
    except TypeError:  # an older safetensors: no backend argument
        return load_file(str(file))


def _load_ivf(path: Path, config: dict, vectors: np.ndarray) -> IVF | None:
    """The stored IVF structure (index.json names it, the manifest has checked the file), checked
    against the vectors; None when the index has none (small, or saved with ivf=False: then an
    index beyond EXACT_MAX_SENTENCES is clustered at first search)."""
    info = config.get("ivf")
    if not info:
        if (path / IVF_FILE).exists():
            raise EvidenceError(f"{path}: {IVF_FILE} is there but index.json names no IVF structure")
        return None
    if not (path / IVF_FILE).is_file() or not isinstance(info, dict) or info.get("metric") != "inner_product":
        raise EvidenceError(f"{path}: index.json names an IVF structure {info!r}, but {IVF_FILE} is missing "
                            "or not an inner-product IVF (rebuild it with fabscore index)")
    try:
        arrays = _read_safetensors(path / IVF_FILE)
        ivf = IVF(arrays["centroids"], arrays["assign"], int(info.get("nprobe", FAISS_NPROBE)))
    except Exception as e:  # noqa: BLE001 - a corrupt safetensors file raises various types
        raise EvidenceError(f"{path}: {IVF_FILE} unreadable ({type(e).__name__}: {e})") from e
    if ivf.nlist != info.get("nlist") or not 1 <= ivf.nprobe <= ivf.nlist:
        raise EvidenceError(f"{path}: {IVF_FILE} has {ivf.nlist} lists, index.json says {info.get('nlist')} "
                            f"(nprobe {ivf.nprobe})")
    return check_ivf(ivf, vectors, str(path))
