"""The HTML report in a real browser: headless Chromium from Debian, driven by selenium.

The report is read by people opening a file from a USB stick, so what matters
is what a browser does with it: no console errors, nothing fetched, sorting,
hover/keyboard score display, flags visible without colour, and hostile
article text staying text. Chromium comes from tests/browser_setup.sh.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import chromium

from fabscore.io.report import write_html

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
SEEDS = REPO / "seeds"
SENTENCE_THRESHOLD = 0.7
MODEL = {"name": "handmade-test-model", "path": "/models/handmade", "sha256": "c0ffee" + "ab" * 29}
PWN = '<script>document.title="pwned";window.__pwned=1</script>'
SCORE_SPANS = "#articles tbody tr"


# ---------------------------------------------------------------- records

def _sentences(paragraphs: list[list[tuple[str, float]]]) -> tuple[str, list[dict]]:
    """Original text and sentence dicts with true offsets: sentences joined by a
    space, paragraphs by a blank line (as a scraped article would be)."""
    text, out = "", []
    for p, para in enumerate(paragraphs):
        if p:
            text += "\n\n"
        for k, (sent, score) in enumerate(para):
            if k:
                text += " "
            out.append({"start": len(text), "end": len(text) + len(sent), "text": sent,
                        "score": score, "flagged": score >= SENTENCE_THRESHOLD})
            text += sent
    return text, out


def _record(path: str, score: float | None, label: str, paragraphs=(), reason=None, error=None) -> dict:
    text, sents = _sentences(list(paragraphs))
    return {"path": path, "id": Path(path).stem, "score": score, "label": label, "threshold": 0.62,
            "sentence_threshold": SENTENCE_THRESHOLD, "target_fpr": 0.01, "n_words": len(text.split()),
            "reason": reason, "error": error,
            "sentences": sents, "model": MODEL}


def handmade_records() -> list[dict]:
    """Scored, abstained and unreadable articles, some with hostile text."""
    return [
        _record("news/ordinary.txt", 0.12, "human", [
            [("The council met on Tuesday to discuss the budget.", 0.08),
             ("Members voted seven to two in favour.", 0.15)],
            [("A final decision is expected next month.", 0.22)]]),
        _record("news/fabricated.txt", 0.93, "fabricated", [
            [("In a stunning turn of events, officials confirmed the unprecedented move.", 0.91),
             ("Experts say this could reshape the landscape for years to come.", 0.87)],
            [("Officials said " + PWN + " nothing further.", 0.55),
             ('<img src="x" onerror="window.__pwned=2"> was in the caption.', 0.74)],
            [("Overall, it remains to be seen how the situation will unfold.", 0.96)]]),
        _record('news/"><script>window.__pwned=3</script>.txt', 0.47, "human", [
            [("Rain is forecast for the weekend across the region.", 0.31),
             ("Temperatures will fall to 4 degrees at night.", 0.72)]]),
        _record("news/short.txt", None, "abstain", reason="too short: 12 words, at least 80 needed"),
        _record("news/broken.bin", None, "error", error="not text: <b>binary</b> content"),
    ]


# ---------------------------------------------------------------- browser

@pytest.fixture(scope="module")
def driver():
    """One headless Chromium per module, fresh profile, no network helpers."""
    with chromium() as drv:
        yield drv


def open_report(driver, tmp_path: Path, records: list[dict], name: str = "report.html") -> Path:
    """Write the report and load it via file://, discarding earlier console entries."""
    page = write_html(tmp_path / name, records)
    driver.get_log("browser")
    driver.get(page.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return page


def severe_logs(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def row_scores(driver) -> list[float | None]:
    """Scores in the table's current row order (None for unscored rows)."""
    values = driver.execute_script(
        f"return Array.from(document.querySelectorAll('{SCORE_SPANS}')).map(r => r.dataset.score)")
    return [float(v) if v else None for v in values]


def header(driver, key: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'#articles th button[data-key="{key}"]')


def aria_sort(driver, key: str) -> str:
    return driver.execute_script("return arguments[0].parentNode.getAttribute('aria-sort')", header(driver, key))


def save_screenshot(driver, tmp_path: Path, name: str) -> Path:
    """Full-page PNG in tmp_path, copied to artifacts/ for a human to look at."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height + 40, 800), 8000))
    driver.execute_script("window.scrollTo(0, 0)")
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)), "screenshot failed"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / name)
    driver.set_window_size(1280, 1000)
    return shot


def tooltip(driver) -> tuple[bool, str]:
    return driver.execute_script("var t=document.getElementById('tip'); return [!t.hidden, t.textContent]")


def flagged_in(records: list[dict]) -> int:
    return sum(bool(s["flagged"]) for r in records for s in r.get("sentences") or [])


# ---------------------------------------------------------------- tests

def test_loads_without_console_errors_or_network(driver, tmp_path):
    records = handmade_records()
    open_report(driver, tmp_path, records)
    assert severe_logs(driver) == []
    fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == [], f"the report fetched {fetched}"
    external = driver.execute_script(
        "return Array.from(document.querySelectorAll('[src],link[href],a[href]'))"
        ".map(e => e.getAttribute('src') || e.getAttribute('href')).filter(u => !u.startsWith('#'))")
    assert external == []
    assert len(driver.find_elements("css selector", SCORE_SPANS)) == len(records)
    targets = driver.execute_script(
        f"return Array.from(document.querySelectorAll('{SCORE_SPANS} a')).map(a => !!document.getElementById("
        "a.getAttribute('href').slice(1)))")
    assert targets == [True] * len(records), "every row links to its article or its abstention/error entry"
    paragraphs = driver.execute_script("return document.querySelectorAll('#a1 .text p').length")
    assert paragraphs == 3, "a gap of more than one character between sentences starts a paragraph"


def test_sort_by_score_both_directions_mouse_and_keyboard(driver, tmp_path):
    from selenium.webdriver.common.keys import Keys

    open_report(driver, tmp_path, handmade_records())
    scored = sorted(r["score"] for r in handmade_records() if r["score"] is not None)
    assert row_scores(driver)[: len(scored)] == scored[::-1]  # initial order: highest first
    assert aria_sort(driver, "score") == "descending"

    header(driver, "score").click()
    order = row_scores(driver)
    assert order[: len(scored)] == scored and order[len(scored):] == [None, None]
    assert aria_sort(driver, "score") == "ascending"

    header(driver, "score").send_keys(Keys.ENTER)  # headers are buttons: the keyboard sorts too
    assert row_scores(driver)[: len(scored)] == scored[::-1]
    assert aria_sort(driver, "score") == "descending"
    assert severe_logs(driver) == []


def test_sort_by_words_and_path_updates_aria_sort(driver, tmp_path):
    records = handmade_records()
    open_report(driver, tmp_path, records)
    header(driver, "path").click()
    paths = driver.execute_script(
        f"return Array.from(document.querySelectorAll('{SCORE_SPANS}')).map(r => r.dataset.path)")
    assert paths == sorted(r["path"] for r in records)
    assert (aria_sort(driver, "path"), aria_sort(driver, "score")) == ("ascending", "none")

    header(driver, "words").click()
    words = driver.execute_script(
        f"return Array.from(document.querySelectorAll('{SCORE_SPANS}')).map(r => +r.dataset.words)")
    assert words == sorted((r["n_words"] for r in records), reverse=True)
    assert aria_sort(driver, "words") == "descending"


def test_flagged_sentences_marked_beyond_colour(driver, tmp_path):
    records = handmade_records()
    open_report(driver, tmp_path, records)
    want = flagged_in(records)
    assert want == 5
    marked = driver.find_elements("css selector", '[data-flagged="true"]')
    assert len(marked) == want
    assert len(driver.find_elements("css selector", ".s.flagged")) == want
    style = driver.execute_script(
        "var s=arguments[0]; return [getComputedStyle(s,'::before').content, getComputedStyle(s).textDecorationLine]",
        marked[0])
    assert "\u2691" in style[0] and "underline" in style[1]
    [why] = driver.find_elements("css selector", "article .explain")  # the one human article with a flag
    assert "labelled human" in why.text and f"sentence threshold ({SENTENCE_THRESHOLD:.4f})" in why.text
    assert why.is_displayed()


def test_script_in_article_text_stays_text(driver, tmp_path):
    open_report(driver, tmp_path, handmade_records())
    assert driver.title == "fabscore report"
    assert driver.execute_script("return window.__pwned === undefined")
    assert len(driver.find_elements("css selector", "script")) == 1  # only the report's own
    spans = [e.text for e in driver.find_elements("css selector", ".s")]
    assert any(PWN in t for t in spans), "the <script> should be shown as text"
    assert any('<img src="x"' in t for t in spans)
    assert "<b>binary</b>" in driver.find_element("css selector", ".problems").text
    assert severe_logs(driver) == []


def test_hover_and_focus_show_sentence_score(driver, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    records = handmade_records()
    open_report(driver, tmp_path, records)
    first = driver.find_elements("css selector", '.s[data-flagged="true"]')[0]
    assert first.get_attribute("title") == "sentence score 0.91 \u2014 flagged"
    assert first.get_attribute("tabindex") == "0"
    assert tooltip(driver) == [False, ""]

    ActionChains(driver).move_to_element(first).perform()
    assert tooltip(driver) == [True, "sentence score 0.91 \u2014 flagged"]
    assert driver.find_element("id", "tip").is_displayed()
    ActionChains(driver).move_to_element(driver.find_element("tag name", "h1")).perform()
    assert tooltip(driver)[0] is False

    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    for _ in range(40):  # real Tab presses until a sentence has focus
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = driver.switch_to.active_element
        if "s" in (focused.get_attribute("class") or "").split():
            break
    else:
        pytest.fail("no sentence reachable with the Tab key")
    score = float(focused.get_attribute("data-score"))
    shown, text = tooltip(driver)
    assert shown and text.startswith(f"sentence score {score:.2f}")
    assert focused.get_attribute("aria-describedby") == "tip"
    save_screenshot(driver, tmp_path, "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000 and (ARTIFACTS / "report.png").is_file()


def test_report_of_real_detector_records(driver, tmp_path):
    """Records exactly as the detector produces them (the shipped fast model), not hand-made."""
    from fabscore import load_detector

    det = load_detector("fast")
    seeds = sorted(SEEDS.glob("*.txt"))
    texts = [p.read_text(encoding="utf-8") for p in seeds] + ["2023-03-15 12:00"]  # no letters: abstains
    paths = [str(p) for p in seeds] + ["short.txt"]
    records = [dict(r, path=path) for path, r in zip(paths, det.score(texts, ids=[Path(p).stem for p in paths]))]
    records.append(det.record(None, path="unreadable.pdf", id="unreadable", error="cannot read: not a text file"))
    assert [r["label"] for r in records[len(seeds):]] == ["abstain", "error"]
    assert all(r["score"] is not None for r in records[: len(seeds)])

    open_report(driver, tmp_path, records, "real.html")
    assert severe_logs(driver) == []
    assert len(driver.find_elements("css selector", '[data-flagged="true"]')) == flagged_in(records)
    n_sents = sum(len(r["sentences"]) for r in records)
    assert n_sents > 0 and len(driver.find_elements("css selector", ".s")) == n_sents
    assert det.model.name in driver.find_element("tag name", "header").text
    # drivers: marked beyond colour (bold, a star, the tooltip); every scored article says why
    marked = driver.find_elements("css selector", '.s[data-driver="true"]')
    assert len(marked) == sum(len(r["drivers"]) for r in records) > 0  # the fabricated seed has drivers
    style = driver.execute_script("var s=arguments[0]; return [getComputedStyle(s,'::after').content, "
                                  "getComputedStyle(s).fontWeight]", marked[0])
    assert "\u2605" in style[0] and int(style[1]) >= 600
    assert marked[0].get_attribute("title").endswith("; drives the fabricated label")
    whys = sorted(e.text for e in driver.find_elements("css selector", "article .verdict-why"))
    assert whys == sorted(f"Why: {r['why']}" for r in records if r["label"] in ("fabricated", "human"))
    header(driver, "score").click()
    scores = [s for s in row_scores(driver) if s is not None]
    assert scores == sorted(r["score"] for r in records if r["score"] is not None)
    save_screenshot(driver, tmp_path, "report-real.png")


def test_cli_html_report_opens_cleanly(driver, tmp_path):
    """`fabscore score --html` hands its records to write_html; the page it gets must work."""
    import json
    import os
    import subprocess
    import sys

    out, page = tmp_path / "run.jsonl", tmp_path / "cli.html"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "fabscore", "score", *map(str, sorted(SEEDS.glob("*.txt"))),
                           "--model", "fast", "--out", str(out), "--html", str(page)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    driver.get_log("browser")
    driver.get(page.resolve().as_uri())
    assert severe_logs(driver) == []
    assert len(driver.find_elements("css selector", SCORE_SPANS)) == len(records) == 2
    assert len(driver.find_elements("css selector", '[data-flagged="true"]')) == flagged_in(records)


# ---------------------------------------------------------------- evidence mode
EVIDENCE = {"path": "refs/icc.jsonl", "id": "icc-1", "title": "ICC issues warrant for Putin",
            "url": "https://example.org/icc", "start": 0, "end": 45, "similarity": 0.61,
            "text": "The court issued an arrest warrant for Putin."}
DATED = {**EVIDENCE, "start": 46, "end": 90, "similarity": 0.58, "text": "The court wrote to Moscow on March 17th."}


def _claim(s: dict, sub: str, kind: str, verdict: str, value: str | None = None, at: int | None = None) -> dict:
    a = s["text"].index(sub)
    return {"start": s["start"] + a, "end": s["start"] + a + len(sub), "text": sub, "kind": kind, "verdict": verdict,
            "evidence_value": value, "evidence_index": at}


def evidence_record() -> dict:
    """A scored article as evidence mode writes it: a contradicted sentence (a conflicting date, an
    absent name, a backed one), a supported one, an unverified one, one without evidence."""
    rec = _record("news/claims.txt", 0.93, "fabricated", [
        [("Lavrov wrote to the court on March 14th.", 0.95),
         ("The court issued an arrest warrant.", 0.40),
         ("Officials at the court were said to be alarmed.", 0.60),
         ("Rain is expected <b>tomorrow</b>.", 0.20)]])
    s0, s1, s2, s3 = rec["sentences"]
    s0.update(support=0.08, status="contradicted", evidence=[EVIDENCE, DATED],
              claims=[_claim(s0, "Lavrov", "entity", "absent"), _claim(s0, "court", "entity", "backed"),
                      _claim(s0, "March 14th", "date", "conflicting", "March 17th", 1)])
    s1.update(support=0.97, status="supported", claims=[], evidence=[EVIDENCE])
    s2.update(support=0.31, status="unverified", claims=[_claim(s2, "court", "entity", "backed")], evidence=[EVIDENCE])
    s3.update(support=None, status="no_evidence", claims=[], evidence=[])
    rec["evidence_summary"] = {"n_sentences_checked": 4, "n_supported": 1, "n_contradicted": 1, "n_unverified": 1,
                               "n_no_evidence": 1, "min_support": 0.08, "n_absent": 1, "n_conflicting": 1,
                               "invented_specifics": [{"sentence": 0, **{k: c[k] for k in (
                                   "start", "end", "text", "kind", "verdict", "evidence_value")}}
                                   for c in s0["claims"] if c["verdict"] != "backed"], "reason": None}
    return rec


def checked_claim_record() -> dict:
    """A one-sentence claim: the writing model abstains (too short), evidence mode still checks it."""
    text = "Putin was indicted by the court."
    rec = _record("-", None, "abstain", reason="too short: 6 words, at least 40 needed")
    rec["sentences"] = [{"start": 0, "end": len(text), "text": text, "score": None, "flagged": False,
                         "support": 0.88, "status": "supported", "claims": [], "evidence": [EVIDENCE]}]
    rec["evidence_summary"] = {"n_sentences_checked": 1, "n_supported": 1, "n_contradicted": 0, "n_unverified": 0,
                               "n_no_evidence": 0, "min_support": 0.88, "n_absent": 0, "n_conflicting": 0,
                               "invented_specifics": [], "reason": None}
    return rec


def visible_text(driver, element) -> str:
    """What a sighted reader sees: the screen-reader notes taken out."""
    return driver.execute_script("var c=arguments[0].cloneNode(true); c.querySelectorAll('.sr-only')"
                                 ".forEach(n=>n.remove()); return c.textContent", element)


def test_absent_and_conflicting_claims_marked_in_two_styles(driver, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    open_report(driver, tmp_path, [evidence_record(), checked_claim_record(), *handmade_records()[:1]])
    assert severe_logs(driver) == []
    marks = driver.find_elements("css selector", ".text mark.claim")
    assert [(visible_text(driver, m), m.get_attribute("data-verdict")) for m in marks] == [
        ("Lavrov", "absent"), ("March 14th", "conflicting")]  # the backed claims are not marked
    absent, conflicting = marks
    style = "return [getComputedStyle(arguments[0]).borderTopStyle, getComputedStyle(arguments[0],'::before').content]"
    assert driver.execute_script(style, absent) == ["dashed", "none"]
    border, before = driver.execute_script(style, conflicting)
    assert border == "solid" and "\u2260" in before  # another border and a sign: not told apart by colour alone
    assert "conflicts with the evidence: the evidence says March 17th" in conflicting.text  # for screen readers
    sentence = driver.find_element("css selector", '.s[data-status="contradicted"]')
    assert visible_text(driver, sentence) == "Lavrov wrote to the court on March 14th."  # the marks keep it whole
    ActionChains(driver).move_to_element(sentence).perform()
    shown, tip = tooltip(driver)
    assert shown and "CONTRADICTED by the evidence (support 0.08)" in tip
    assert "\u201cMarch 14th\u201d conflicts with the evidence (the evidence says \u201cMarch 17th\u201d)" in tip
    assert "\u201cLavrov\u201d absent from the evidence" in tip
    assert DATED["text"] in tip and "ICC issues warrant for Putin <https://example.org/icc>" in tip
    decoration = "return getComputedStyle(arguments[0]).textDecorationStyle"
    unverified = driver.find_element("css selector", '.s[data-status="unverified"]')
    assert (driver.execute_script(decoration, sentence), driver.execute_script(decoration, unverified)) == (
        "wavy", "dashed")
    supported = driver.find_element("css selector", '#a0 .s[data-status="supported"]')
    assert driver.execute_script("return getComputedStyle(arguments[0]).textDecorationLine", supported) == "none"
    # the article's list of invented specifics names both, each linking to its sentence
    items = driver.find_elements("css selector", "#a0 .invented li")
    assert [i.text for i in items] == [
        "Lavrov entity, absent from the evidence",
        "March 14th date, conflicts with the evidence: the evidence says \u201cMarch 17th\u201d"]
    assert all(i.find_element("tag name", "a").get_attribute("href").endswith("#a0-s0") for i in items)
    assert driver.find_element("id", "a0-s0") == sentence
    count = driver.find_element("css selector", "#a0 .evidence-count").text
    assert count.startswith("evidence: 1 contradicted, 1 unverified, 1 supported, 1 without relevant evidence")
    counts = driver.find_element("css selector", ".counts").text.replace("\n", "")
    for part in ("1contradicted sentences", "1unverified sentences", "1absent claims", "1conflicting claims"):
        assert part in counts
    save_screenshot(driver, tmp_path, "report-evidence.png")


def test_checked_claim_shown_though_the_writing_model_abstained(driver, tmp_path):
    """A short claim has no writing score; its evidence check is shown like an article's, with why there is
    no score, and the articles table counts what is not supported."""
    records = [evidence_record(), checked_claim_record()]
    open_report(driver, tmp_path, records)
    assert severe_logs(driver) == []
    claim = driver.find_element("id", "a1")
    assert "no writing score: too short" in claim.text and "None: every name" in claim.text
    s = claim.find_element("css selector", '.s[data-status="supported"]')
    assert s.get_attribute("title").startswith("no sentence score (the writing model abstained); supported")
    assert driver.find_elements("css selector", ".problems li") == []  # checked: not an abstention to list
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('#articles tbody tr')).map(r => [r.dataset.index, "
        "r.dataset.doubted, r.dataset.invented, r.dataset.nflagged])")
    assert sorted(cells) == [["0", "2", "2", "1"], ["1", "0", "0", ""]]
    header(driver, "invented").click()
    assert driver.execute_script("return document.querySelector('#articles tbody tr').dataset.index") == "0"


def test_report_of_real_evidence_records(driver, tmp_path):
    """Seed 002 checked against seed 000 by the real models: the invented specifics are marked, none of
    the names seed 000 contains is, and the page works."""
    import re

    from fabscore.detector import Detector
    from fabscore.evidence import resolve_evidence
    from fabscore.models import directory as md
    from fabscore.training.evidence.evaluate import INVENTED, NEVER_MARKED

    det = Detector(md.load("fast"))
    check = resolve_evidence([str(SEEDS / "000_e0349e775a64605f.txt")], md.load("default"))
    rec = det.score((SEEDS / "002_3ca293cc838cf24e.txt").read_text(), evidence=check)[0]
    open_report(driver, tmp_path, [dict(rec, path="seeds/002.txt")], "real-evidence.html")
    assert severe_logs(driver) == []
    marks = [visible_text(driver, m) for m in driver.find_elements("css selector", ".text mark.claim")]
    listed = [visible_text(driver, m) for m in driver.find_elements("css selector", ".invented mark.claim")]
    assert marks and set(marks) <= set(listed)  # a name inside a marked quotation is listed, not boxed twice
    assert all(any(x in m for m in marks) for x in listed)
    for word in INVENTED.values():
        assert any(word.lower() in m.lower() for m in marks), word
    quotes = {c["text"] for s in rec["sentences"] for c in s["claims"] if c["kind"] == "quote"}
    for name in NEVER_MARKED:
        assert not [m for m in marks if m not in quotes and re.search(rf"\b{re.escape(name)}\b", m)], name
    save_screenshot(driver, tmp_path, "report-real-evidence.png")


def test_report_without_evidence_has_no_evidence_marks(driver, tmp_path):
    open_report(driver, tmp_path, handmade_records())
    assert driver.find_elements("css selector", ".text mark.claim, .evidence-count, [data-status], .invented, "
                                                ".ev-legend-unverified, th button[data-key=doubted]") == []
    assert "contradicted" not in driver.find_element("css selector", ".counts").text
