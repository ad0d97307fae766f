"""Reading: encodings round-trip, markup becomes prose, bad files get reasons."""
from __future__ import annotations

import codecs
import json
import os

import pytest

from fabscore.io.reading import ReadError, decode, iter_inputs, markdown_to_text, read_document

SAMPLE = "The minister said \u201cwe will act\u201d on Tuesday \u2014 a caf\u00e9 owner called it na\u00efve.\n"
LATIN1 = "Le caf\u00e9 \u00e9tait ferm\u00e9, d\u00e9j\u00e0 \u00e0 midi; na\u00efve r\u00e9sum\u00e9.\n"


@pytest.mark.parametrize("name, data, expected", [
    ("utf8", SAMPLE.encode("utf-8"), SAMPLE),
    ("utf8_bom", codecs.BOM_UTF8 + SAMPLE.encode("utf-8"), SAMPLE),
    ("utf16le_bom", codecs.BOM_UTF16_LE + SAMPLE.encode("utf-16-le"), SAMPLE),
    ("utf16be_bom", codecs.BOM_UTF16_BE + SAMPLE.encode("utf-16-be"), SAMPLE),
    ("cp1252", SAMPLE.encode("cp1252"), SAMPLE),
    ("latin1", LATIN1.encode("latin-1"), LATIN1),
    ("latin1_short", "caf\u00e9".encode("latin-1"), "caf\u00e9"),
    ("crlf", SAMPLE.replace("\n", "\r\n").encode("utf-8"), SAMPLE),
])
def test_encodings_round_trip(tmp_path, name, data, expected):
    path = tmp_path / f"{name}.txt"
    path.write_bytes(data)
    doc = read_document(path)
    assert doc.text == expected
    assert doc.path == str(path)


def test_other_scripts_are_not_forced_into_cp1252():
    russian = "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440, \u043a\u0430\u043a \u0434\u0435\u043b\u0430 \u0443 \u0432\u0430\u0441 \u0441\u0435\u0433\u043e\u0434\u043d\u044f?"  # noqa: E501 - a sentence in another script, kept whole on one line
    text, encoding = decode(russian.encode("cp1251"))
    assert text == russian, encoding


def test_html_yields_article_without_script_or_nav(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("""<!doctype html><html><head><title>Budget</title>
<script>var tracker = "SCRIPT_SECRET";</script><style>p { color: red }</style></head>
<body><nav><a href="/">Home</a> <a href="/world">World NAV_LINKS</a></nav>
<article><h1>Council approves budget</h1>
<p>The city council approved the new budget on Tuesday after a long debate about funding for schools.</p>
<p>Members said the plan would raise spending by four percent next year, mostly for road repairs.</p></article>
<footer>Copyright FOOTER_TEXT</footer><script>alert("SCRIPT_TWO")</script></body></html>""")
    text = read_document(page).text
    assert "approved the new budget on Tuesday" in text
    assert "four percent next year" in text
    for junk in ("SCRIPT_SECRET", "SCRIPT_TWO", "color: red", "NAV_LINKS", "<p>"):
        assert junk not in text


def test_html_fallback_strips_tags_when_trafilatura_finds_nothing(tmp_path):
    page = tmp_path / "tiny.htm"
    page.write_text("<p>hi <b>there</b></p><script>NO_SCRIPT()</script>")
    assert read_document(page).text == "hi there"


def test_markdown_becomes_prose(tmp_path):
    md = tmp_path / "story.md"
    md.write_text("# Storm hits coast\n\nThe **storm** reached the _coast_ at dawn, "
                  "said [the agency](https://example.org/a).\n\n```python\nprint('code')\n```\n\n"
                  "- Roads closed\n> A quote.\n")
    text = read_document(md).text
    assert text.splitlines()[0] == "Storm hits coast"
    assert "The storm reached the coast at dawn, said the agency." in text
    for junk in ("#", "**", "](", "https://", "print(", "```"):
        assert junk not in text
    assert "Roads closed" in text and "A quote." in text


def test_markdown_keeps_snake_case_and_arithmetic():
    assert markdown_to_text("a_b_c and 2*3*4") == "a_b_c and 2*3*4"


@pytest.mark.parametrize("name, data, reason", [
    ("empty.txt", b"", "empty file"),
    ("blank.txt", b"  \n\t \r\n", "only whitespace"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary file (PNG image)"),
    ("nul.txt", b"some text\x00\x01\x02 more", "NUL bytes"),
    ("controls.txt", bytes(range(1, 32)) * 20, "binary file"),
    ("tags.html", b"<html><script>x()</script></html>", "no text left"),
])
def test_bad_files_raise_read_error_with_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ReadError) as err:
        read_document(path)
    assert err.value.path == str(path)
    assert reason in err.value.reason
    assert str(path) in str(err.value)


def test_too_large_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.txt"
    with open(path, "wb") as f:
        f.truncate(2_000_000)  # sparse: the size is what is checked, not the content
    with pytest.raises(ReadError, match="too large"):
        read_document(path, max_bytes=1_000_000)
    path.write_bytes(b"small enough " * 10)
    assert read_document(path, max_bytes=1_000_000).text.startswith("small enough")


def test_missing_loop_fifo_and_directory(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    os.mkfifo(tmp_path / "pipe.txt")  # opening it would block forever
    reasons = {}
    for name in ("loop", "dangling.txt", "pipe.txt", "nothere.txt"):
        with pytest.raises(ReadError) as err:
            read_document(tmp_path / name)
        reasons[name] = err.value.reason
    assert "symlink loop" in reasons["loop"]
    assert "not found" in reasons["dangling.txt"] and "not found" in reasons["nothere.txt"]
    assert "not a regular file" in reasons["pipe.txt"]
    with pytest.raises(ReadError, match="directory"):
        read_document(tmp_path)


def test_folder_walk_is_sorted_and_gives_every_file_a_record(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("zed text")
    (tmp_path / "a.md").write_text("# A\n\nalpha text")
    (tmp_path / "c").write_text("extensionless text")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (tmp_path / "rows.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / ".hidden.txt").write_text("not listed")
    (tmp_path / "b" / "up").symlink_to(tmp_path)  # a loop, never followed
    inputs = list(iter_inputs([tmp_path]))
    assert [os.path.relpath(i.path, tmp_path) for i in inputs] == ["a.md", "c", "photo.jpg", "rows.jsonl",
                                                                   "b/up", "b/z.txt"]
    by_name = {os.path.basename(i.path): i for i in inputs}
    assert by_name["a.md"].text == "A\n\nalpha text" and by_name["c"].text == "extensionless text"
    assert "unsupported file type '.jpg'" in by_name["photo.jpg"].error
    assert "data set" in by_name["rows.jsonl"].error
    assert "not followed" in by_name["up"].error
    assert all(i.id == i.path for i in inputs)
    assert list(iter_inputs([tmp_path])) == inputs  # deterministic


def test_jsonl_dataset_rows(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"id": "a", "body": "first article"}\n\n'
                     b'not json\n'
                     b'{"body": 5}\n'
                     b'["a list"]\n'
                     b'{"id": "a", "body": "same id again"}\n'
                     b'{"body": "\xff bad bytes"}\n'
                     b'{"body": "no id here"}\n'
                     b'{"id": "z", "body": "trunc')
    inputs = list(iter_inputs([path], text_field="body"))
    p = str(path)
    assert [(i.id, i.text) for i in inputs if i.text] == [("a", "first article"), (f"{p}:8", "no id here")]
    errors = {i.id: i.error for i in inputs if i.error}
    assert "invalid JSON" in errors[f"{p}:3"]
    assert "'body' is int" in errors[f"{p}:4"]
    assert "must be an object" in errors[f"{p}:5"]
    assert "duplicate id 'a'" in errors[f"{p}#2"]
    assert "not valid UTF-8" in errors[f"{p}:7"]
    assert "invalid JSON" in errors[f"{p}:9"]
    assert len({i.id for i in inputs}) == len(inputs) == 8


def test_csv_dataset_rows_and_missing_column(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('id,text\n1,"multi\nline article"\n2,\n,no id\n3,a,extra\n', encoding="utf-8")
    inputs = list(iter_inputs([path]))
    p = str(path)
    assert [(i.id, i.text, i.error) for i in inputs] == [
        ("1", "multi\nline article", None),
        ("2", None, "line 4: empty 'text'"),
        (f"{p}:5", "no id", None),
        (f"{p}:6", None, "line 6: more fields than the header has"),
    ]
    other = tmp_path / "other.csv"
    other.write_text("id,body\n1,x\n")
    [only] = list(iter_inputs([other]))
    assert only.id == str(other) and "no column 'text'" in only.error and "id, body" in only.error


def test_skip_ids_are_not_read(tmp_path):
    path = tmp_path / "gone.txt"  # never created: reading it would be an error
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "r1", "text": "t"}) + "\n")
    inputs = list(iter_inputs([path, rows, path], skip_ids={str(path), "r1"}))
    assert [(i.id, i.skipped, i.error) for i in inputs] == [(str(path), True, None), ("r1", True, None)]
