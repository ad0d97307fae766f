"""Reading articles from disk: files, folders and data sets, into plain text.

Every problem with an input (missing, unreadable, binary, too large, empty,
a bad data-set row) becomes a `ReadError` with a reason that names it, so a
caller scoring ten thousand files can report one bad file and go on.
"""
from __future__ import annotations

import codecs
import csv
import errno
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from html.parser import HTMLParser

MB = 1_000_000  # sizes are decimal megabytes everywhere: --max-mb 5 means 5,000,000 bytes
DEFAULT_MAX_BYTES = 5 * MB
STDIN = "-"  # the path that reads one article from standard input
STDIN_PATH = "<stdin>"
TEXT_EXTS = frozenset({".txt", ".text", ""})
MARKDOWN_EXTS = frozenset({".md", ".markdown"})
HTML_EXTS = frozenset({".html", ".htm"})
ARTICLE_EXTS = TEXT_EXTS | MARKDOWN_EXTS | HTML_EXTS
DATASET_EXTS = frozenset({".jsonl", ".csv"})

_MAGIC = {  # signatures of common binary formats a folder of articles may hold
    b"\x89PNG\r\n\x1a\n": "PNG image", b"\xff\xd8\xff": "JPEG image", b"GIF8": "GIF image",
    b"%PDF": "PDF document", b"PK\x03\x04": "ZIP archive (or docx/xlsx)", b"\x1f\x8b": "gzip archive",
    b"\x7fELF": "executable", b"BZh": "bzip2 archive", b"\xd0\xcf\x11\xe0": "MS Office document",
}
_SURROGATE = re.compile("[\udc80-\udcff]")  # undecodable bytes, kept by errors="surrogateescape"
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class ReadError(Exception):
    """An input that cannot be scored, with the reason (shown to the user)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class Document:
    path: str
    text: str
    kind: str  # text, markdown or html: how the text was extracted
    encoding: str


@dataclass(frozen=True)
class Input:
    """One thing to score: `text`, or `error` (why it cannot be), or `skipped` (already done).
    A data-set row also carries the field its text came from and the columns kept (`fields`)."""

    path: str
    id: str
    text: str | None = None
    error: str | None = None
    skipped: bool = False
    text_field: str | None = None
    fields: dict | None = None


# ---------------------------------------------------------------- bytes -> str
def _os_reason(e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "symlink loop (too many levels of symbolic links)"
    if e.errno == errno.ENOENT:
        return "file not found (missing, deleted, or a dangling symlink)"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EISDIR:
        return "is a directory"
    return f"cannot read: {e.strerror or e}"


def read_bytes(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The file's bytes; refuses non-regular files (a FIFO would block) and
    files over max_bytes before reading them."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise ReadError(path, "is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise ReadError(path, "not a regular file (device, FIFO or socket)")
        if st.st_size > max_bytes:
            raise ReadError(path, f"too large: {st.st_size / MB:.1f} MB, {_limit(max_bytes)}")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise ReadError(path, _os_reason(e)) from e
    if len(data) > max_bytes:  # grew after stat
        raise ReadError(path, f"too large: {_limit(max_bytes)}")
    if not data:
        raise ReadError(path, "empty file")
    return data


def _limit(max_bytes: int) -> str:
    return f"the limit is {max_bytes / MB:g} MB"


def decode(data: bytes, path: str = "<bytes>") -> tuple[str, str]:
    """(text, encoding): BOMs first, then strict UTF-8, then cp1252 if the text
    reads as Western European, then charset-normalizer's guess.

    charset-normalizer guesses poorly on short Western text (cp1252 smart
    quotes come back as cp1250, Latin-1 as mac_latin2 or worse), hence cp1252
    first: it is a superset of Latin-1's printable range."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return _check_controls(data.decode(enc), path), enc
            except UnicodeDecodeError as e:
                raise ReadError(path, f"undecodable: starts with a {enc} byte-order mark but is not {enc}") from e
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise ReadError(path, f"binary file ({what}), not text")
    if b"\x00" in data:
        raise ReadError(path, "binary file (contains NUL bytes), not text")
    try:
        return _check_controls(data.decode("utf-8"), path), "utf-8"
    except UnicodeDecodeError:
        pass
    western = _western(data)
    if western is not None:
        return _check_controls(western, path), "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and not best.encoding.startswith(("utf_16", "utf_32")):
        return _check_controls(str(best), path), best.encoding
    return _check_controls(data.decode("latin-1"), path), "latin-1"


def _western(data: bytes) -> str | None:
    """The text as cp1252 (or Latin-1 where cp1252 leaves a byte undefined) when
    that reads as Western European: accented letters a minority among letters.
    Cyrillic or CJK bytes read this way make words of nothing but accents."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    letters = [c for c in text if c.isalpha()]
    if letters and sum(not c.isascii() for c in letters) <= 0.3 * len(letters):
        return text
    return None


def _check_controls(text: str, path: str) -> str:
    controls = sum(1 for c in text if c < " " and c not in "\t\n\r\f\v")
    if controls > max(2, 0.01 * len(text)):
        raise ReadError(path, "binary file (control bytes in any encoding), not text")
    return text


# ---------------------------------------------------------------- markup -> text
class _TagStripper(HTMLParser):
    """Fallback when trafilatura finds no main text: all visible text, minus
    scripts, styles and page chrome."""

    _SKIP = frozenset({"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "svg",
                       "head", "form", "button", "iframe"})
    _BLOCK = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
                        "article", "blockquote", "pre", "dd", "dt", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self.skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def strip_tags(html: str) -> str:
    parser = _TagStripper()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(html: str) -> str:
    """The page's main text (trafilatura), else its visible text."""
    try:
        import trafilatura

        main = trafilatura.extract(html, include_comments=False, include_tables=False)
    except Exception:  # noqa: BLE001 - a parser failure on a malformed page: fall back
        main = None
    return main if main and main.strip() else strip_tags(html)


_FENCE = re.compile(r"^\s*(```|~~~).*$", re.M)
_MD_RULES = [
    (re.compile(r"<!--.*?-->", re.S), ""),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> their text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*\S+.*$", re.M), ""),  # link definitions
    (re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]+|$)(.*?)[ \t]*#*[ \t]*$", re.M), r"\1"),  # ATX headings
    (re.compile(r"^[ \t]{0,3}(=+|-+)[ \t]*$", re.M), ""),  # setext underlines
    (re.compile(r"^[ \t]{0,3}([-*_][ \t]*){3,}$", re.M), ""),  # horizontal rules
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.M), ""),  # block quotes
    (re.compile(r"^([ \t]*)[-*+][ \t]+", re.M), r"\1"),  # bullets
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S), r"\2"),  # bold
    (re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])", re.S), r"\2"),  # emphasis
    (re.compile(r"~~(.+?)~~", re.S), r"\1"),
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # inline code
    (re.compile(r"<[^>\n]+>"), ""),  # inline HTML tags
]


def markdown_to_text(md: str) -> str:
    """Light de-markup so the text stays prose: fenced code blocks go, links keep their text."""
    out, fenced = [], False
    for line in md.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    text = "\n".join(out)
    for pattern, repl in _MD_RULES:
        text = pattern.sub(repl, text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def kind_of(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    return "html" if ext in HTML_EXTS else "markdown" if ext in MARKDOWN_EXTS else "text"


def read_stdin(max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Standard input's bytes (one article), refused past max_bytes."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise ReadError(STDIN_PATH, "no standard input to read")
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ReadError(STDIN_PATH, f"too large: {_limit(max_bytes)}")
    if not data:
        raise ReadError(STDIN_PATH, "empty input")
    return data


def read_document(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Read a .txt/.md/.html (or any text) file into the text to score; raises ReadError.
    The path "-" reads standard input as plain text."""
    path = os.fspath(path)
    if path == STDIN:
        path = STDIN_PATH
        text, encoding = decode(read_stdin(max_bytes), path)
    else:
        text, encoding = decode(read_bytes(path, max_bytes), path)
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise ReadError(path, "only whitespace, no text")
    kind = kind_of(path)
    if kind == "html":
        text = html_to_text(text)
    elif kind == "markdown":
        text = markdown_to_text(text)
    if not text.strip():
        raise ReadError(path, f"no text left after removing {kind} markup")
    return Document(path=path, text=text, kind=kind, encoding=encoding)


# ---------------------------------------------------------------- paths -> inputs
def _file_input(path: str, max_bytes: int) -> Input:
    iid, shown = (STDIN, STDIN_PATH) if path == STDIN else (path, path)
    try:
        return Input(path=shown, id=iid, text=read_document(path, max_bytes).text)
    except ReadError as e:
        return Input(path=shown, id=iid, error=e.reason)
    except Exception as e:  # noqa: BLE001 - a parser bug on one file must not end the run
        return Input(path=shown, id=iid, error=f"cannot read: {type(e).__name__}: {e}")


def _walk(root: str) -> Iterator[tuple[str, str | None]]:
    """(path, reason-if-not-scorable) for every non-hidden entry under root, sorted.

    Symlinked directories are not followed (they could loop); they get a record
    saying so. Hidden files and folders (.git, .DS_Store) are skipped silently."""
    errors: list[OSError] = []
    for dirpath, dirs, files in os.walk(root, followlinks=False, onerror=errors.append):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for d in list(dirs):
            if os.path.islink(os.path.join(dirpath, d)):
                dirs.remove(d)
                yield os.path.join(dirpath, d), "symlink to a directory, not followed"
        for name in sorted(f for f in files if not f.startswith(".")):
            path = os.path.join(dirpath, name)
            ext = os.path.splitext(name)[1].lower()
            if ext in ARTICLE_EXTS:
                yield path, None
            elif ext in DATASET_EXTS:
                yield path, f"unsupported file type {ext!r} in a folder (give a data set as its own path)"
            else:
                yield path, f"unsupported file type {ext!r} (scored: .txt .md .markdown .html .htm, no extension)"
        while errors:
            e = errors.pop(0)
            yield getattr(e, "filename", None) or dirpath, _os_reason(e)


@dataclass(frozen=True)
class Columns:
    """Which fields of a data-set row hold the text, the id, and what to pass through."""

    text: str = "text"
    id: str = "id"
    keep: tuple[str, ...] = ()


def _row_input(path: str, line: int, row: object, cols: Columns) -> Input:
    rid = f"{path}:{line}"
    if not isinstance(row, dict):
        return Input(path, rid, error=f"line {line}: a row must be an object, got {type(row).__name__}",
                     text_field=cols.text)
    if row.get(cols.id) not in (None, ""):
        rid = str(row[cols.id])
    bad = partial(Input, path, rid, text_field=cols.text, fields={k: row.get(k) for k in cols.keep} or None)
    text = row.get(cols.text)
    if text is None:
        return bad(error=f"line {line}: no {cols.text!r} field")
    if not isinstance(text, str):
        return bad(error=f"line {line}: {cols.text!r} is {type(text).__name__}, not a string")
    if _SURROGATE.search(text):
        return bad(error=f"line {line}: not valid UTF-8")
    if not text.strip():
        return bad(error=f"line {line}: empty {cols.text!r}")
    return bad(text=text)


def _jsonl_rows(path: str) -> Iterator[tuple[int, object]]:
    """(line number, parsed row or the Exception that stopped it) per non-blank line."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            if n == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            if not raw.strip():
                continue
            try:
                yield n, json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                yield n, e


def dataset_fields(path: str, sample: int = 1000) -> list[str]:
    """The fields a data set's rows have: a CSV's header, or every key of the first
    `sample` JSONL object rows, so a wrong --text-field is caught before scoring."""
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
            return list(csv.DictReader(f).fieldnames or [])
    seen: dict[str, None] = {}
    for k, (_, row) in enumerate(_jsonl_rows(path)):
        if k >= sample:
            break
        if isinstance(row, dict):
            seen.update(dict.fromkeys(map(str, row)))
    return list(seen)


def _jsonl_inputs(path: str, cols: Columns) -> Iterator[Input]:
    for n, row in _jsonl_rows(path):
        if isinstance(row, UnicodeDecodeError):
            yield Input(path, f"{path}:{n}", error=f"line {n}: not valid UTF-8")
        elif isinstance(row, ValueError):
            yield Input(path, f"{path}:{n}", error=f"line {n}: invalid JSON ({row})")
        else:
            yield _row_input(path, n, row, cols)


def _csv_inputs(path: str, cols: Columns) -> Iterator[Input]:
    csv.field_size_limit(64 * 1024 * 1024)
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        reader = csv.DictReader(f)
        try:
            fields = reader.fieldnames or []
        except csv.Error as e:
            yield Input(path, path, error=f"unreadable CSV header ({e})")
            return
        if cols.text not in fields:
            yield Input(path, path, error=f"no column {cols.text!r} (columns: {', '.join(fields) or 'none'})")
            return
        line = reader.line_num
        while True:
            start = line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                if reader.line_num == line:
                    return  # no progress: stop rather than loop
                line = reader.line_num
                yield Input(path, f"{path}:{start}", error=f"line {start}: malformed CSV ({e})")
                continue
            line = reader.line_num
            if None in row:
                yield Input(path, f"{path}:{start}", error=f"line {start}: more fields than the header has")
                continue
            yield _row_input(path, start, row, cols)


def _dataset_inputs(path: str, cols: Columns) -> Iterator[Input]:
    """One input per row; a bad row is an error input, an unreadable file one error input."""
    reader = _jsonl_inputs if path.lower().endswith(".jsonl") else _csv_inputs
    try:
        yield from reader(path, cols)
    except OSError as e:
        yield Input(path, path, error=_os_reason(e))


def _sources(paths: Iterable[str | os.PathLike], cols: Columns,
             max_bytes: int) -> Iterator[tuple[str, str, Callable[[], Input]]]:
    """(path, id, load) for every input, so an input can be skipped unread."""
    for p in map(os.fspath, paths):
        ext = os.path.splitext(p)[1].lower()
        if os.path.isdir(p):
            for path, problem in _walk(p):
                if problem:
                    yield path, path, partial(Input, path, path, error=problem)
                else:
                    yield path, path, partial(_file_input, path, max_bytes)
        elif ext in DATASET_EXTS and os.path.isfile(p):
            for inp in _dataset_inputs(p, cols):
                yield inp.path, inp.id, partial(lambda i: i, inp)
        elif p == STDIN:
            yield STDIN_PATH, STDIN, partial(_file_input, p, max_bytes)
        else:
            yield p, p, partial(_file_input, p, max_bytes)


def iter_inputs(paths: Iterable[str | os.PathLike], text_field: str = "text",
                max_bytes: int = DEFAULT_MAX_BYTES, skip_ids: Container[str] = frozenset(),
                id_field: str = "id", keep_fields: Iterable[str] = ()) -> Iterator[Input]:
    """Inputs in a deterministic order: a file is one input ("-" is standard input,
    id "-"), a folder every file under it, a .jsonl/.csv path one input per row (id
    from its `id_field`, else path:line; `keep_fields` passed through as `fields`).
    A file named twice is yielded once; a data-set id seen before is an error
    input. Ids in skip_ids come back `skipped`, without being read."""
    seen: set[str] = set()
    cols = Columns(text_field, id_field, tuple(keep_fields))
    for path, iid, load in _sources(paths, cols, max_bytes):
        if iid in seen:
            if iid == path:
                continue  # the same file, named twice or inside a folder also named
            dup, n = iid, 2
            while f"{path}#{n}" in seen:
                n += 1
            iid = f"{path}#{n}"
            load = partial(Input, path, iid, error=f"duplicate id {dup!r}")
        seen.add(iid)
        yield Input(path, iid, skipped=True) if iid in skip_ids else load()
