"""The evidence sentences as a compact column-wise table, and its validation on load.

An index may come from a stranger: every column of a loaded sentences.json is checked
(lengths, types, integer ranges) and refused with an EvidenceError that names the file
and the first bad sentence.
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass

import numpy as np


class EvidenceError(ValueError):
    """Evidence that must not be used (empty, tampered, another version or encoder), with the reason."""


@dataclass(frozen=True)
class EvidenceSentence:
    path: str
    id: str
    start: int  # offsets into the reference article's text
    end: int
    text: str
    title: str | None = None  # the reference article's title and URL, when its data set row had them
    url: str | None = None

    def as_dict(self) -> dict:
        return {"path": self.path, "id": self.id, "title": self.title, "url": self.url, "start": self.start,
                "end": self.end, "text": self.text}


class SentenceTable(SequenceABC):
    """The evidence sentences, column-wise: a sequence of `EvidenceSentence`, each made when asked for.

    A list of frozen dataclasses, each with its own path and id strings, held ~650 bytes per
    sentence of 130 characters (measured at 250,000 sentences); this table ~250, nearly all of
    it the text: each article's path, id, title and URL are kept once (`paths`, `ids`, `titles`,
    `urls`; a title or URL is None where the reference had none), and per sentence
    only its article's number and offsets (numpy integer columns) and its text. `len`,
    indexing (`table[j].text`, `table[j].as_dict()`), slicing and iteration behave as on a
    list of the sentences.
    """

    def __init__(self, paths: Sequence[str], ids: Sequence[str], article, start, end, texts: Sequence[str],
                 titles: Sequence[str | None] | None = None, urls: Sequence[str | None] | None = None):
        self.paths, self.ids = list(paths), list(ids)  # per article
        self.titles = list(titles) if titles is not None else [None] * len(self.paths)
        self.urls = list(urls) if urls is not None else [None] * len(self.paths)
        self._rows = None  # per article, its sentences' rows (article_rows), made when first asked for
        self.article = np.asarray(article, dtype=np.int32)  # per sentence: index into paths and ids
        self.start = np.asarray(start, dtype=np.int64)  # offsets into the reference article's text
        self.end = np.asarray(end, dtype=np.int64)
        self.texts = texts if isinstance(texts, list) else list(texts)
        if not len(self.paths) == len(self.ids) == len(self.titles) == len(self.urls) \
                or not len(self.article) == len(self.start) == len(self.end) == len(self.texts):
            raise ValueError("SentenceTable: columns of different lengths")

    @classmethod
    def from_sentences(cls, sentences: Iterable[EvidenceSentence]) -> SentenceTable:
        """The table of the given sentences (articles told apart by their (path, id); an article's
        title and URL are its first sentence's)."""
        articles: dict[tuple[str, str], int] = {}
        titles, urls = [], []
        article, start, end, texts = [], [], [], []
        for s in sentences:
            key = (s.path, s.id)
            if key not in articles:
                articles[key] = len(articles)
                titles.append(s.title)
                urls.append(s.url)
            article.append(articles[key])
            start.append(s.start)
            end.append(s.end)
            texts.append(s.text)
        return cls([p for p, _ in articles], [i for _, i in articles], article, start, end, texts, titles, urls)

    def extended(self, other: SentenceTable) -> SentenceTable:
        """This table followed by `other`'s articles and sentences (its article numbers shifted)."""
        return SentenceTable(self.paths + other.paths, self.ids + other.ids,
                             np.concatenate([self.article, other.article + len(self.paths)]),
                             np.concatenate([self.start, other.start]), np.concatenate([self.end, other.end]),
                             self.texts + other.texts, self.titles + other.titles, self.urls + other.urls)

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
        return EvidenceSentence(self.paths[a], self.ids[a], int(self.start[j]), int(self.end[j]), self.texts[j],
                                self.titles[a], self.urls[a])

    def article_rows(self, a: int) -> np.ndarray:
        """The rows of article number a's sentences, in order (an index over the article column,
        made once: two integer arrays the size of the table)."""
        if self._rows is None:
            order = np.argsort(self.article, kind="stable")
            self._rows = (order, np.searchsorted(self.article[order], np.arange(len(self.paths) + 1)))
        order, bounds = self._rows
        return order[bounds[a]:bounds[a + 1]]

    def __iter__(self) -> Iterator[EvidenceSentence]:
        return (self[j] for j in range(len(self)))

    def __repr__(self) -> str:
        return f"SentenceTable({len(self)} sentences of {len(self.paths)} articles)"

    def to_json(self) -> dict:
        """The JSON object sentences.json holds: the articles' columns and the sentences' columns."""
        return {"articles": {"path": self.paths, "id": self.ids, "title": self.titles, "url": self.urls},
                "sentences": {"article": self.article.tolist(), "start": self.start.tolist(),
                              "end": self.end.tolist(), "text": self.texts}}

    @classmethod
    def from_json(cls, table, where: str) -> SentenceTable:
        """The table of a parsed sentences.json, refused (EvidenceError naming `where` and the
        problem) unless every column is there, as long as its siblings and of the right type,
        every article number names an article, and 0 <= start <= end for every sentence."""
        if not isinstance(table, dict) or set(table) != {"articles", "sentences"}:
            raise EvidenceError(f"{where}: not a sentence table (an object of 'articles' and 'sentences')")
        arts = _columns(table["articles"], "articles", ("path", "id", "title", "url"), where)
        sents = _columns(table["sentences"], "sentences", ("article", "start", "end", "text"), where)
        if not sents["text"]:
            raise EvidenceError(f"{where}: the index holds no sentence")
        paths, ids, texts = (_strings(c, name, where) for c, name in
                             ((arts["path"], "articles.path"), (arts["id"], "articles.id"),
                              (sents["text"], "sentences.text")))
        titles, urls = (_strings(c, name, where, optional=True) for c, name in
                        ((arts["title"], "articles.title"), (arts["url"], "articles.url")))
        article = _integers(sents["article"], "sentences.article", where)
        start = _integers(sents["start"], "sentences.start", where)
        end = _integers(sents["end"], "sentences.end", where)
        _refuse_first(where, (article < 0) | (article >= len(paths)),
                      f"names an article outside the {len(paths)} in articles")
        _refuse_first(where, start < 0, "starts before its article (negative start)")
        _refuse_first(where, end < start, "ends before it starts")
        return cls(paths, ids, article, start, end, texts, titles, urls)


def _columns(part, name: str, keys: tuple[str, ...], where: str) -> dict[str, list]:
    """part: a JSON object of the lists `keys` (nothing else), all of one length; else refused."""
    if not isinstance(part, dict) or set(part) != set(keys) or not all(isinstance(part[k], list) for k in keys):
        raise EvidenceError(f"{where}: {name!r} must be an object of the lists {', '.join(map(repr, keys))}")
    lengths = {k: len(part[k]) for k in keys}
    if len(set(lengths.values())) != 1:
        raise EvidenceError(f"{where}: the {name} columns differ in length "
                            f"({', '.join(f'{k} {n}' for k, n in lengths.items())})")
    return part


def _strings(values: list, column: str, where: str, optional: bool = False) -> list[str]:
    """values, all strings (optional: strings or null); else refused."""
    if not set(map(type, values)) <= ({str, type(None)} if optional else {str}):
        raise EvidenceError(f"{where}: {column} holds a value that is not a string" + (" or null" if optional else ""))
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
