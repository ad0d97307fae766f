"""The HTML report in a real browser: headless Chromium from Debian, driven by selenium.

The report is read by people opening a file from a USB stick, so what matters
is what a browser does with it: no console errors, nothing fetched, sorting,
hover/keyboard score display, flags visible without colour, and hostile
article text staying text. Chromium comes from tests/browser_setup.sh.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

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
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"{CHROMIUM} / {CHROMEDRIVER} not found: run tests/browser_setup.sh (make test does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="fabscore-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,1000"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


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
def evidence_record() -> dict:
    """A scored article as evidence mode writes it: one unsupported sentence with two
    unsupported claims (offsets into the file's text), one supported, one without evidence."""
    rec = _record("news/claims.txt", 0.93, "fabricated", [
        [("Lavrov sent the court a letter on March 14th.", 0.95),
         ("The court issued an arrest warrant.", 0.40),
         ("Rain is expected <b>tomorrow</b>.", 0.20)]])
    s0, s1, s2 = rec["sentences"]
    s0.update(support=0.08, status="unsupported", evidence=[
        {"path": "refs/icc.txt", "id": "refs/icc.txt", "start": 0, "end": 36, "similarity": 0.61,
         "text": "The court issued an arrest warrant for Putin."}],
        claims=[{"start": s0["start"], "end": s0["start"] + 6, "text": "Lavrov", "kind": "PERSON", "supported": False},
                {"start": s0["start"] + 34, "end": s0["start"] + 44, "text": "March 14th", "kind": "DATE",
                 "supported": False},
                {"start": s0["start"] + 16, "end": s0["start"] + 21, "text": "court", "kind": "ORG",
                 "supported": True}])
    s1.update(support=0.97, status="supported", claims=[], evidence=s0["evidence"])
    s2.update(support=None, status="no_evidence", claims=[], evidence=[])
    rec["evidence_summary"] = {"n_sentences_checked": 3, "n_unsupported": 1, "n_no_evidence": 1, "min_support": 0.08}
    return rec


def test_evidence_marks_unsupported_claims_and_shows_the_nearest_source(driver, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    open_report(driver, tmp_path, [evidence_record(), *handmade_records()[:1]])
    assert severe_logs(driver) == []
    marks = driver.find_elements("css selector", ".text mark.claim")
    assert [(m.text.replace("(unsupported PERSON)", "").replace("(unsupported DATE)", "").strip(),
             m.get_attribute("data-kind")) for m in marks] == [("Lavrov", "PERSON"), ("March 14th", "DATE")]
    unsupported = driver.find_element("css selector", '.s[data-status="unsupported"]')
    shown_text = driver.execute_script(  # what a sighted reader sees: the screen-reader notes taken out
        "var c=arguments[0].cloneNode(true); c.querySelectorAll('.sr-only').forEach(n=>n.remove()); "
        "return c.textContent", unsupported)
    assert shown_text == "Lavrov sent the court a letter on March 14th."  # the marks keep the sentence whole
    ActionChains(driver).move_to_element(unsupported).perform()
    shown, text = tooltip(driver)
    assert shown and "NOT supported by the evidence (support 0.08)" in text
    assert "The court issued an arrest warrant for Putin." in text and "refs/icc.txt" in text
    shown = driver.find_element("css selector", '.s[data-status="no_evidence"]').text
    assert shown == "Rain is expected <b>tomorrow</b>."
    count = driver.find_element("css selector", ".evidence-count").text
    assert count.startswith("1 of 3 sentences not supported") and "1 without relevant evidence" in count
    counts = driver.find_element("css selector", ".counts").text
    assert "1unsupported sentences" in counts.replace("\n", "")
    save_screenshot(driver, tmp_path, "report-evidence.png")


def test_report_without_evidence_has_no_evidence_marks(driver, tmp_path):
    open_report(driver, tmp_path, handmade_records())
    assert driver.find_elements("css selector", ".text mark.claim, .evidence-count, [data-status], .ev-legend") == []
    assert "unsupported" not in driver.find_element("css selector", ".counts").text
