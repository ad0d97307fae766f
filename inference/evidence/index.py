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

The table is table.py's, the search (exact, or FAISS beyond a size) search.py's; this
module encodes, builds, saves and loads.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fabscore.evidence.search import (
    EXACT_MAX_SENTENCES,
    FAISS_NPROBE,
    IVF,
    IVF_FILE,
    check_ivf,
    exact_search,
    faiss_index,
    train_ivf,
)
from fabscore.evidence.table import EvidenceError, EvidenceSentence, SentenceTable
from fabscore.models.directory import open_checked, write_manifest
from fabscore.text.normalize import NORMALIZATION_VERSION
from fabscore.text.sentences import SPLIT_VERSION, prepare

FORMAT = "fabscore-evidence-index"
# 3: each article's title and url beside its path and id (a data set's `title`/`url` fields); 2: float16
# vectors, column-wise sentences.json; 1: float32, one JSON object per sentence. An older index is refused
# with the remedy: rebuild it with `fabscore index`.
FORMAT_VERSION = 3
SOURCE_FIELDS = ("title", "url")  # data-set fields kept per reference article
INDEX_CONFIG = "index.json"
SENTENCES_FILE = "sentences.json"
VECTORS_FILE = "vectors.safetensors"
FILES = (INDEX_CONFIG, SENTENCES_FILE, VECTORS_FILE, IVF_FILE)


def encoder_info() -> dict:
    """The packaged MiniLM the embeddings come from (its weights' sha256 is checked on load)."""
    from fabscore.models.backbones import minilm_info

    return minilm_info().as_dict()


def encode(texts: Sequence[str]) -> np.ndarray:
    """fp32 MiniLM sentence embeddings (L2-normalized), as float32 rows."""
    import torch

    from fabscore.features.embed import encode_texts
    from fabscore.models.backbones import load_minilm
    from fabscore.models.threads import pass_threads

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
    ivf: IVF | None = None  # the inverted-file structure, when computed or loaded
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

    def extended(self, other: EvidenceIndex) -> EvidenceIndex:
        """This index with `other`'s articles added (the inverted-file structure, if any, is made anew
        when searched or saved: the clusters were fitted to the old vectors)."""
        return EvidenceIndex(self.sentences.extended(other.sentences), np.vstack([self.vectors, other.vectors]),
                             self.errors + other.errors)

    def save_over(self, out: str | Path) -> Path:
        """Replace the index directory `out` with this index: written beside it, then renamed over it,
        so a crash leaves the old index or the new one, never half of each."""
        import shutil
        import tempfile

        out = Path(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            self.save(tmp)
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out

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


# ---------------------------------------------------------------- building
def sentences_of(path: str, iid: str, text: str, title: str | None = None,
                 url: str | None = None) -> list[EvidenceSentence]:
    """The reference article's sentences (boilerplate trimmed, as scoring splits them);
    each keeps its original characters and offsets, so a reader can find it."""
    return [EvidenceSentence(path, iid, s.start, s.end, s.text, title, url) for s in prepare(text).sentences]


def _source_field(fields: dict | None, name: str) -> str | None:
    """A data-set row's title or url, as one line of text (None when missing or not a string)."""
    value = (fields or {}).get(name)
    return (" ".join(value.split()) or None) if isinstance(value, str) else None


def build(refs: Iterable[str], text_field: str = "text", on_error=None, progress: bool = False) -> EvidenceIndex:
    """Index every readable article named by refs (files, folders, .jsonl/.csv data sets,
    as `fabscore score` reads them; a data set's `title` and `url` fields are kept with each
    article, to show where evidence comes from). An unreadable input is reported through
    on_error(id, reason) and skipped; no readable sentence at all is refused.
    progress: show the reading and the encoding on stderr (io.progress)."""
    from fabscore.io.progress import progress_bar
    from fabscore.io.reading import iter_inputs

    errors = []
    refs = list(refs)

    def sentences(advance) -> Iterator[EvidenceSentence]:
        for inp in iter_inputs(refs, text_field=text_field, keep_fields=SOURCE_FIELDS):
            advance(1)
            if inp.error is not None:
                errors.append((inp.id, inp.error))
                if on_error is not None:
                    on_error(inp.id, inp.error)
                continue
            yield from sentences_of(inp.path, inp.id, inp.text, *(_source_field(inp.fields, f) for f in SOURCE_FIELDS))

    with progress_bar("reading the evidence", None, quiet=not progress) as advance:
        table = SentenceTable.from_sentences(sentences(advance))
    return _finish(table, errors, ", ".join(map(str, refs)), progress)


def build_from_texts(texts: Sequence[str], ids: Sequence[str] | None = None) -> EvidenceIndex:
    """An index over texts given in memory (ids default to '#0', '#1', ...)."""
    ids = list(ids) if ids is not None else [f"#{i}" for i in range(len(texts))]
    table = SentenceTable.from_sentences(s for t, i in zip(texts, ids) for s in sentences_of("<text>", i, t))
    return _finish(table, [], "the texts given")


def _finish(sentences: SentenceTable, errors: list, where: str, progress: bool = False) -> EvidenceIndex:
    if not len(sentences):
        raise EvidenceError(f"no evidence: no readable sentence in {where}")
    return EvidenceIndex(sentences, embed(sentences.texts, progress), errors)


ENCODE_STEP = 1024  # sentences encoded per call: small enough that progress moves, large enough to batch well


def embed(texts: Sequence[str], progress: bool = False) -> np.ndarray:
    """The texts' float16 embeddings: normalized and encoded in fp32 (`encode`) ENCODE_STEP
    texts at a time, each step rounded to float16 as it comes, so no float32 (or
    encode_texts' float64) array of the whole index is ever held."""
    from fabscore.io.progress import progress_bar
    from fabscore.text.normalize import normalize

    out = None
    with progress_bar("encoding the evidence", len(texts), unit="sentence", quiet=not progress) as advance:
        for b in range(0, len(texts), ENCODE_STEP):
            block = encode([normalize(t) for t in texts[b:b + ENCODE_STEP]])
            if out is None:
                out = np.empty((len(texts), block.shape[1]), np.float16)
            out[b:b + len(block)] = block
            advance(len(block))
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
