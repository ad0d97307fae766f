"""Turning an article into what the detector scores: trimmed text and sentences.

Sentences keep character offsets into the text the user gave us, so a report
can shade exactly the characters that were scored; featurizers see only the
normalized form of each sentence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from fabscore.text.normalize import normalize, splitting_view

_TERMINAL = tuple(".!?:;\"')]\u201d\u2019")
_LINE = re.compile(r"[^\n]*\n?")


@dataclass(frozen=True)
class Sentence:
    start: int  # offset into the original text
    end: int
    text: str  # original characters
    norm: str  # normalized, what featurizers see


@dataclass(frozen=True)
class Article:
    text: str  # the original text
    body_end: int  # where scraped trailing boilerplate starts (== len(text) if none)
    sentences: tuple[Sentence, ...]

    @property
    def norm(self) -> str:
        """The normalized article: its normalized sentences joined by spaces."""
        return " ".join(s.norm for s in self.sentences)

    @property
    def n_words(self) -> int:
        return sum(len(s.norm.split()) for s in self.sentences)


def _is_list_line(line: str) -> bool:
    words = line.split()
    return 2 <= len(words) <= 30 and not line.rstrip().endswith(_TERMINAL)


def _is_headline(line: str) -> bool:
    words = line.split()
    capitalized = sum(w[:1].isupper() or w[:1].isdigit() for w in words)
    return _is_list_line(line) and capitalized >= 0.6 * len(words)


def body_end(text: str, min_run: int = 3) -> int:
    """Offset where a trailing run of unrelated headlines (a scraped page's
    'more stories' list) starts; len(text) when there is none."""
    lines = [(m.start(), m.group()) for m in _LINE.finditer(text) if m.group()]
    cut, run, headlines = len(text), 0, 0
    for start, line in reversed(lines):
        if not line.strip():
            continue
        if not _is_list_line(line.strip()):
            break
        run += 1
        headlines += _is_headline(line.strip())
        cut = start
    if run < min_run or headlines < 0.5 * run or not text[:cut].strip():
        return len(text)
    return len(text[:cut].rstrip())


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def _collapse_spaces(line: str) -> tuple[str, list[int]]:
    """The line with every whitespace run as one space (pysbd's rules depend on
    spacing: '."  The' is not split where '." The' is), invisible characters dropped
    and look-alikes folded (normalize.splitting_view), and for each of its
    characters the offset of the character it came from."""
    out, where, prev_space = [], [], False
    for i, ch in splitting_view(line):
        space = ch.isspace()
        if not (space and prev_space):
            out.append(" " if space else ch)
            where.append(i)
        prev_space = space
    return "".join(out), where


PIECE_CHARS = 2000
_BOUNDARY = re.compile(r"(?<=[a-z0-9%)][.!?])[\"')\]]? (?=[A-Z\"])")
_ABBREV = frozenset("mr mrs ms dr st jr sr gov sen rep gen lt col sgt capt inc co corp ltd vs etc no fig jan feb "
                    "mar apr jun jul aug sep sept oct nov dec prof rev est approx".split())


def _segment_long(flat: str) -> list[str]:
    """pysbd's segments of a line; a long line goes in pieces of about PIECE_CHARS
    cut at likely sentence ends, since pysbd's time grows faster than linearly
    with line length (a 2,000-word single-line page took 12 s)."""
    if len(flat) <= PIECE_CHARS:
        return _segmenter().segment(flat)
    out, start = [], 0
    while len(flat) - start > PIECE_CHARS:
        cut = None
        for m in _BOUNDARY.finditer(flat, start + PIECE_CHARS // 4, start + PIECE_CHARS):
            word = flat[max(start, m.start() - 12): m.start()].split()[-1:] or [""]
            if word[0].rstrip(".!?\"')]").lower() not in _ABBREV:
                cut = m.end()
        if cut is None:
            break
        out += _segmenter().segment(flat[start:cut])
        start = cut
    return out + _segmenter().segment(flat[start:])


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (start, end) within text[start:end], paragraphs first.

    pysbd segments each line with its whitespace runs collapsed to single
    spaces (its rules depend on spacing), and the spans are mapped back, so
    they always index the text we were given."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for m in _LINE.finditer(text, start, end):
        line_start, line = m.start(), m.group().rstrip("\n")
        if not line.strip():
            continue
        flat, where = _collapse_spaces(line)
        cursor = 0
        for seg in _segment_long(flat):
            seg = seg.strip()
            if not seg:
                continue
            pos = flat.find(seg, cursor)
            if pos < 0:  # pysbd altered the segment: fall back to the rest of the line
                pos = cursor
                while pos < len(flat) and flat[pos].isspace():
                    pos += 1
                seg_end = len(flat)
            else:
                seg_end = pos + len(seg)
            if seg_end > pos:
                spans.append((line_start + where[pos], line_start + where[seg_end - 1] + 1))
            cursor = seg_end
            if cursor >= len(flat):
                break
    return spans


SPLIT_VERSION = "pysbd-0.3.4/3"  # changes when sentence boundaries would change (3: invisible/look-alike folded)


def segment(text: str, trim_boilerplate: bool = True) -> tuple[int, list[tuple[int, int]]]:
    """(body end, sentence spans): the slow part of `prepare`, worth caching."""
    cut = body_end(text) if trim_boilerplate else len(text)
    return cut, split_sentences(text, 0, cut)


_TOKEN = re.compile(r"\S+")


def segment_head(text: str, max_words: int, trim_boilerplate: bool = True) -> tuple[int, list[tuple[int, int]]]:
    """Like `segment`, but splits only a prefix of about twice max_words words:
    enough for `head(…, max_words)` of a long page at a fraction of the cost.
    The prefix's last sentence may be cut short, so it is dropped."""
    cut = body_end(text) if trim_boilerplate else len(text)
    limit, stop = 2 * max_words + 50, None
    for i, m in enumerate(_TOKEN.finditer(text, 0, cut)):
        if i == limit:
            stop = m.start()
            break
    spans = split_sentences(text, 0, cut if stop is None else stop)
    return cut, (spans if stop is None else spans[:-1])


def from_spans(text: str, cut: int, spans: list[tuple[int, int]]) -> Article:
    sentences = []
    for s, e in spans:
        norm = normalize(text[s:e])
        if norm:
            sentences.append(Sentence(s, e, text[s:e], norm))
    return Article(text=text, body_end=cut, sentences=tuple(sentences))


def prepare(text: str, trim_boilerplate: bool = True) -> Article:
    """Trim trailing boilerplate, split into sentences, normalize each one."""
    return from_spans(text, *segment(text, trim_boilerplate))


def head(article: Article, max_words: int) -> Article:
    """The leading sentences of an article, up to max_words words (at least one sentence).

    Training featurizes a fixed-size head of every article so that length,
    which differs between the classes for reasons of collection, is not a cue."""
    kept, words = [], 0
    for s in article.sentences:
        n = len(s.norm.split())
        if kept and words + n > max_words:
            break
        kept.append(s)
        words += n
    return Article(text=article.text, body_end=article.body_end, sentences=tuple(kept))


def chunks(article: Article, max_words: int) -> list[Article]:
    """Consecutive heads of an article: the fixed-size pieces every model sees.

    The first chunk is exactly `head(article, max_words)`, which is what
    training featurizes, so long articles are scored as several pieces drawn
    from the training distribution rather than as one longer, unfamiliar one."""
    out, rest = [], article.sentences
    while rest:
        piece = head(Article(article.text, article.body_end, rest), max_words)
        out.append(piece)
        rest = rest[len(piece.sentences):]
    return out
