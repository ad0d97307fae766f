"""`fabscore serve`: a real server (uvicorn in a subprocess on a loopback port) called over HTTP with
httpx, and its page driven in headless Chromium. The API's records are the command line's records;
bad requests get a 4xx that names the problem and the server keeps serving; the token guards every
route but /healthz; a non-loopback address without a token is refused before anything starts."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import SEED_HUMAN, SEED_MACHINE, chromium

httpx = pytest.importorskip("httpx")

TOKEN = "test-token-7f3a"  # a test's own, never a real secret


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str, Path]:
    port = _free_port()
    log = Path(tempfile.mkstemp(prefix="fabscore-serve-", suffix=".log")[1])
    proc = subprocess.Popen([sys.executable, "-m", "fabscore", "serve", "--port", str(port), *args],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}): {log.read_text()}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base, log
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    _stop(proc)
    raise AssertionError(f"the server did not answer within 180 s: {log.read_text()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def server():
    jobs = tempfile.mkdtemp(prefix="fabscore-jobs-")
    proc, base, log = _start("--quiet", "--workers", "2", "--jobs-db", str(Path(jobs) / "jobs.sqlite"))
    try:
        yield base
    finally:
        _stop(proc)
        log.unlink(missing_ok=True)
        shutil.rmtree(jobs, ignore_errors=True)


@pytest.fixture(scope="module")
def detector():
    from fabscore import load_detector

    return load_detector()


@pytest.mark.slow
def test_api_records_are_the_command_lines(server, detector):
    text = SEED_MACHINE.read_text()
    r = httpx.post(server + "/v1/score", json={"texts": [{"id": "seed-002", "text": text}]}, timeout=300)
    assert r.status_code == 200, r.text
    (rec,) = r.json()["records"]
    (local,) = detector.score([text], ids=["seed-002"])
    assert rec == json.loads(json.dumps(local))  # the same record, bit for bit, as det.score and the JSONL
    assert rec["label"] == "fabricated"
    docs = httpx.get(server + "/docs", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    import re

    linked = re.findall(r'(?:src|href|url)\s*[:=]\s*[\'"]([^\'"]+)', docs.text)
    assert linked and all(u.startswith("/") for u in linked), linked  # nothing from a CDN
    assert all(httpx.get(server + u, timeout=10).status_code == 200 for u in linked)
    ready = httpx.get(server + "/readyz", timeout=10).json()
    assert ready["ready"] and ready["model"]["name"] == "fabscore-default"
    assert ready["workers"] == 2  # scored by the worker pool, fed by the batcher: the same record


@pytest.mark.slow
def test_check_a_claim_and_the_seeds_with_evidence(server, detector):
    evidence = [SEED_HUMAN.read_text()]
    claim = "The court, which is based in The Hague, received threats from Dmitry Medvedev."
    r = httpx.post(server + "/v1/check", json={"claims": [claim], "evidence": evidence}, timeout=300)
    assert r.status_code == 200, r.text
    (rec,) = r.json()["records"]
    assert rec == json.loads(json.dumps(detector.check([claim], evidence=evidence)[0]))
    assert rec["claim"] == claim and rec["writing"] is None and rec["status"] in ("supported", "unverified")
    r = httpx.post(server + "/v1/score", json={"texts": [SEED_MACHINE.read_text()], "evidence": evidence}, timeout=300)
    marked = {c["text"] for c in r.json()["records"][0]["evidence_summary"]["invented_specifics"]}
    assert {"Chile Eboe-Osuji", "Sergei Lavrov"} <= marked and not marked & {"Russia", "Ukraine", "The Hague"}


@pytest.mark.slow
def test_bad_requests_are_4xx_that_say_why_and_the_server_keeps_serving(server):
    cases = [("/v1/check", {"claims": ["a claim"]}, 400, "needs evidence"),
             ("/v1/check", {"claims": []}, 422, "at least 1"),
             ("/v1/score", {"texts": ["x"], "index": "nope"}, 404, "no index named 'nope'"),
             ("/v1/score", {"texts": ["x"], "evidence": ["  "]}, 400, "all empty"),
             ("/v1/score", {"texts": ["x"], "fpr": 2}, 422, "less than 1"),
             ("/v1/report", {"texts": ["x"], "claims": ["y"]}, 400, "one of the two")]
    for path, body, code, why in cases:
        r = httpx.post(server + path, json=body, timeout=60)
        assert r.status_code == code and why in r.text, (path, body, r.status_code, r.text)
    r = httpx.post(server + "/v1/score", content=b"{not json", headers={"Content-Type": "application/json"},
                   timeout=30)
    assert r.status_code == 422
    big = b'{"texts": ["' + b"a" * (6 * 1024 * 1024) + b'"]}'
    r = httpx.post(server + "/v1/score", content=big, headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    # an empty text is a record that says why it has no score, not an error response
    r = httpx.post(server + "/v1/score", json={"texts": [""]}, timeout=60)
    rec = r.json()["records"][0]
    assert r.status_code == 200 and rec["score"] is None and (rec["reason"] or rec["error"])
    # a binary body sent as a data set: refused with why, before any job exists
    r = httpx.post(server + "/v1/jobs", content=bytes(range(256)) * 64, headers={"Content-Type": "text/csv"},
                   timeout=60)
    assert 400 <= r.status_code < 500 and r.json()["detail"], r.text
    # a claim in another language is not checked: its record says why, as `fabscore check` does
    r = httpx.post(server + "/v1/check", json={"claims": ["Der Internationale Strafgerichtshof hat seinen Sitz in "
                                                          "Den Haag und wurde von Russland bedroht."],
                                               "evidence": [SEED_HUMAN.read_text()]}, timeout=300)
    assert r.status_code == 200, r.text
    (rec,) = r.json()["records"]
    assert rec["status"] is None and "not English" in rec["evidence_summary"]["reason"], rec
    assert httpx.get(server + "/healthz", timeout=10).json() == {"status": "ok"}


@pytest.mark.slow
def test_token_guards_every_route_but_healthz_and_is_never_logged():
    proc, base, log = _start("--token", TOKEN, "--workers", "1",
                             "--jobs-db", str(Path(tempfile.mkdtemp()) / "jobs.sqlite"))
    try:
        assert httpx.get(base + "/healthz", timeout=10).status_code == 200
        for path in ("/readyz", "/v1/indexes"):
            assert httpx.get(base + path, timeout=10).status_code == 401
            bad = httpx.get(base + path, headers={"Authorization": "Bearer wrong"}, timeout=10)
            assert bad.status_code == 401 and "token" in bad.json()["detail"]
        r = httpx.post(base + "/v1/score", json={"texts": ["short"]}, timeout=60)
        assert r.status_code == 401
        ok = httpx.get(base + "/readyz", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["ready"]
        assert httpx.get(base + "/", timeout=10).status_code == 200  # the page asks for the token itself
    finally:
        _stop(proc)
    text = log.read_text()
    log.unlink(missing_ok=True)
    assert TOKEN not in text and "GET /readyz" in text  # the access log has the request, never the header


def test_other_addresses_need_a_token_or_insecure():
    r = subprocess.run([sys.executable, "-m", "fabscore", "serve", "--host", "0.0.0.0", "--port", "1"],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "FABSCORE_TOKEN": ""})
    assert r.returncode == 2 and "--token" in r.stderr and "--insecure" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fabscore", "serve", "--index", "broken"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "NAME=DIR" in r.stderr


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_checks_a_claim_in_chromium(server):
    """Type a claim and a reference into the page, press Enter on the button, and read the verdict the
    report frame shows; keyboard only, nothing fetched from elsewhere, no console errors."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium("390,900") as drv:  # a phone's width
        drv.get(server + "/")
        labels = {e.get_attribute("for") for e in drv.find_elements(By.TAG_NAME, "label")}
        assert {"text", "evidence", "index", "claim", "claim-evidence", "token"} <= labels  # every field labelled
        claim = drv.find_element(By.ID, "claim")
        claim.send_keys("Sergei Lavrov sent the court a letter about the arrest warrant.")
        drv.find_element(By.ID, "claim-evidence").send_keys(SEED_HUMAN.read_text()[:3000])
        button = drv.find_element(By.CSS_SELECTOR, "#check-form button")
        button.send_keys(Keys.ENTER)
        WebDriverWait(drv, 300).until(lambda d: "Done" in d.find_element(By.ID, "status").text
                                      or "Error" in d.find_element(By.ID, "status").text)
        assert "Done" in drv.find_element(By.ID, "status").text
        drv.switch_to.frame(drv.find_element(By.ID, "result"))
        body = drv.find_element(By.TAG_NAME, "body").text
        assert "Lavrov" in body and "absent" in body.lower()
        drv.switch_to.default_content()
        width, view = drv.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert view <= 500 and width <= view  # at a phone's width nothing scrolls sideways
        shot = os.environ.get("FABSCORE_SCREENSHOTS")
        if shot:
            drv.save_screenshot(str(Path(shot) / "serve-page-phone.png"))
        assert not [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        drv.get(server + "/docs")  # the API's page renders from files served here (no CDN)
        WebDriverWait(drv, 60).until(lambda d: "/v1/score" in d.find_element(By.TAG_NAME, "body").text)
        assert "fabscore" in drv.find_element(By.TAG_NAME, "body").text


def _axe_violations(drv) -> list[dict]:
    """axe-core (the accessibility checker axe-selenium-python packages) run on the page as it is:
    WCAG 2 A and AA rules, the violations it finds."""
    import axe_selenium_python

    script = (Path(axe_selenium_python.__file__).parent / "node_modules/axe-core/axe.min.js").read_text()
    drv.execute_script(script)
    drv.set_script_timeout(120)
    found = drv.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}).then("
        "  (r) => done(r.violations.map((v) => ({id: v.id, help: v.help, nodes: v.nodes.map((n) => n.html)}))),"
        "  (e) => done([{id: 'axe-error', help: String(e), nodes: []}]));")
    return found


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_marks_the_seed_fabricated_with_its_invented_specifics(server):
    """Paste seed 002 with seed 000 as the reference, press Score, and find the verdict and the invented
    specifics in the report frame; axe-core finds no WCAG 2 A/AA violation on the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium("1280,1000") as drv:
        drv.get(server + "/")
        WebDriverWait(drv, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#indexes tr"))
        assert _axe_violations(drv) == []
        drv.execute_script("document.getElementById('text').value = arguments[0];"
                           "document.getElementById('evidence').value = arguments[1];",
                           SEED_MACHINE.read_text(), SEED_HUMAN.read_text())
        drv.find_element(By.CSS_SELECTOR, "#score-form button").click()
        WebDriverWait(drv, 300).until(lambda d: "Done" in d.find_element(By.ID, "status").text
                                      or "Error" in d.find_element(By.ID, "status").text)
        assert "Done" in drv.find_element(By.ID, "status").text
        assert _axe_violations(drv) == []
        shot = os.environ.get("FABSCORE_SCREENSHOTS")
        drv.switch_to.frame(drv.find_element(By.ID, "result"))
        body = drv.find_element(By.TAG_NAME, "body").text
        assert "fabricated" in body.lower()
        assert "Eboe-Osuji" in body and "Lavrov" in body  # invented specifics, marked
        # the report's own style and script run inside the page (its policy allows exactly them)
        assert "system-ui" in drv.execute_script("return getComputedStyle(document.body).fontFamily")
        if shot:
            drv.execute_script("document.querySelector('.text').scrollIntoView()")
        drv.switch_to.default_content()
        if shot:
            drv.execute_script("document.getElementById('result-h').scrollIntoView()")
            time.sleep(1)  # let the report frame paint
            drv.save_screenshot(str(Path(shot) / "serve-page.png"))
        assert not [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]


def _texts(n: int) -> list[str]:
    """Short real news articles (45-90 words: long enough for a score, quick to score)."""
    from conftest import SHARED_DATA

    rows = [json.loads(line) for line in (SHARED_DATA / "llmfake.clean.jsonl").open()]
    return [r["text"] for r in rows if r["label"] == "human" and 45 <= len(r["text"].split()) <= 90][:n]


def _wait(base: str, job: str, until, headers=None, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = httpx.get(f"{base}/v1/jobs/{job}", headers=headers, timeout=10).json()
        if until(st):
            return st
        time.sleep(0.3)
    raise AssertionError(f"job {job} still {st} after {timeout} s")


@pytest.mark.slow
def test_a_zip_job_gives_the_records_of_fabscore_score(server, detector, tmp_path):
    """Upload a zip of 20 articles, watch the job reach done, and read the same records (bar path and
    id, which name the uploaded member) as scoring the files on the command line; CSV and HTML too."""
    import io
    import zipfile

    from fabscore.cli import commands as cli

    texts = _texts(20)
    assert len(texts) == 20
    folder = tmp_path / "articles"
    folder.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, t in enumerate(texts):
            z.writestr(f"news/{i:02d}.txt", t)
            (folder / f"{i:02d}.txt").write_text(t)
        z.writestr("../../etc/evil.txt", "a member name that must never become a path")
    r = httpx.post(server + "/v1/jobs", content=buf.getvalue(), headers={"Content-Type": "application/zip"},
                   timeout=60)
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    seen = [r.json()["status"]]
    st = _wait(server, job, lambda s: seen.append(s["status"]) or s["status"] in ("done", "failed"))
    assert st["status"] == "done" and st["total"] == st["done"] == 21 and st["rate_per_s"] > 0
    assert "running" in seen or "queued" in seen
    got = [json.loads(x) for x in httpx.get(f"{server}/v1/jobs/{job}/results", timeout=60).text.splitlines()]
    assert [g["id"] for g in got] == sorted(["../../etc/evil.txt", *(f"news/{i:02d}.txt" for i in range(20))])
    assert not Path("/etc/evil.txt").exists()
    out = tmp_path / "cli.jsonl"
    assert cli.main(["score", str(folder), "--out", str(out), "--workers", "1"]) == 0
    mine = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    drop = ("path", "id")
    for g in got[1:]:
        want = mine[Path(g["id"]).name]
        assert {k: v for k, v in g.items() if k not in drop} == {k: v for k, v in want.items() if k not in drop}
    csv_text = httpx.get(f"{server}/v1/jobs/{job}/results?format=csv", timeout=60).text
    assert csv_text.splitlines()[0].startswith("path,id,score,label") and len(csv_text.splitlines()) == 22
    html = httpx.get(f"{server}/v1/jobs/{job}/results?format=html", timeout=60)
    assert html.status_code == 200 and "<html" in html.text.lower()
    assert httpx.get(f"{server}/v1/jobs/{job}/results?format=pdf", timeout=10).status_code == 400
    assert httpx.get(f"{server}/v1/jobs/nope", timeout=10).status_code == 404
    bad = httpx.post(server + "/v1/jobs", content=b"PK\x03\x04 not a zip", headers={"Content-Type": "application/zip"},
                     timeout=30)
    assert bad.status_code == 400 and "zip" in bad.json()["detail"]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.txt", b"0" * 210_000_000)
    r = httpx.post(server + "/v1/jobs", content=bomb.getvalue(), headers={"Content-Type": "application/zip"},
                   timeout=120)
    assert r.status_code == 400 and "unpack" in r.json()["detail"]


@pytest.mark.slow
def test_a_killed_server_finishes_its_jobs_with_every_record_once(detector, tmp_path):
    db = tmp_path / "jobs.sqlite"
    texts = _texts(12)
    proc, base, log = _start("--quiet", "--jobs-db", str(db))
    try:
        r = httpx.post(base + "/v1/jobs", json={"texts": [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)]},
                       timeout=60)
        job = r.json()["id"]
        st = _wait(base, job, lambda s: s["done"] >= 4)
        assert st["done"] < 12, "the job finished before the kill: nothing left to resume"
        os.killpg(proc.pid, signal.SIGKILL)  # no shutdown: the batch in flight is lost
        proc.wait(30)
    finally:
        _stop(proc)
    proc, base, log2 = _start("--quiet", "--jobs-db", str(db))
    try:
        st = _wait(base, job, lambda s: s["status"] in ("done", "failed"))
        assert st["status"] == "done" and st["done"] == 12
        got = [json.loads(x) for x in httpx.get(f"{base}/v1/jobs/{job}/results", timeout=60).text.splitlines()]
        assert [g["id"] for g in got] == [f"t{i}" for i in range(12)]  # each once, in order
        want = detector.score(texts, ids=[f"t{i}" for i in range(12)])
        assert got == json.loads(json.dumps(want))
        # a cancelled job stops and says so
        r = httpx.post(base + "/v1/jobs", json={"texts": texts * 3}, timeout=60)
        cancelled = httpx.delete(f"{base}/v1/jobs/{r.json()['id']}", timeout=30).json()
        assert cancelled["status"] == "cancelled" and cancelled["done"] < 36
        time.sleep(1.5)  # the batch in flight when it was cancelled is dropped, and nothing more is scored
        assert httpx.get(f"{base}/v1/jobs/{r.json()['id']}", timeout=10).json()["done"] == cancelled["done"]
    finally:
        _stop(proc)
        for f in (log, log2):
            f.unlink(missing_ok=True)


@pytest.mark.slow
def test_a_full_queue_answers_429_with_retry_after_and_loses_nothing(server):
    """More concurrent requests than the queue holds: the extra ones get 429 and Retry-After at once,
    every accepted one gets its records."""
    import concurrent.futures as cf

    # articles no other test scores (the detector remembers what it scored), so each request takes its time
    from conftest import SHARED_DATA

    from fabscore.server.app import QUEUE

    rows = [json.loads(line) for line in (SHARED_DATA / "llmfake.clean.jsonl").open()]
    texts = [r["text"] for r in rows if r["label"] == "human" and 150 <= len(r["text"].split()) <= 400][:QUEUE + 8]
    assert len(texts) == 16  # 16 concurrent clients
    with cf.ThreadPoolExecutor(len(texts)) as pool:
        answers = list(pool.map(lambda t: httpx.post(server + "/v1/score", json={"texts": [t]}, timeout=900), texts))
    codes = [a.status_code for a in answers]
    assert codes.count(200) >= QUEUE and set(codes) <= {200, 429}, codes
    busy = [a for a in answers if a.status_code == 429]
    assert busy and all(a.headers["Retry-After"].isdigit() and "queued" in a.json()["detail"] for a in busy)
    for t, a in zip(texts, answers):  # every accepted request got its own text's record
        assert a.status_code == 429 or a.json()["records"][0]["sentences"][0]["text"] in t


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_runs_a_batch_job_in_chromium(server, tmp_path):
    """Upload a zip through the page's file field, watch its progress bar reach the end, and find the
    download buttons."""
    import zipfile

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, t in enumerate(_texts(3)):
            z.writestr(f"{i}.txt", t)
    with chromium() as drv:
        drv.get(server + "/")
        drv.find_element(By.ID, "batch-file").send_keys(str(archive))
        drv.find_element(By.CSS_SELECTOR, "#batch-form button").click()
        WebDriverWait(drv, 30).until(lambda d: "started" in d.find_element(By.ID, "status").text)
        job = drv.find_element(By.ID, "status").text.split()[1]  # "Job ID started: 3 inputs."
        item = drv.find_element(By.ID, "job-" + job)
        assert "Cancel job " + job in item.text or "done" in item.text  # a running job can be cancelled
        WebDriverWait(drv, 300).until(lambda d: item.find_elements(By.CSS_SELECTOR, "button.download"))
        assert "done, 3 of 3" in item.text and "Cancel" not in item.text
        bar = item.find_element(By.TAG_NAME, "progress")
        assert bar.get_attribute("value") == bar.get_attribute("max") == "3"
        assert [b.text for b in item.find_elements(By.CSS_SELECTOR, "button.download")] == [
            "Download JSONL", "Download CSV", "Download HTML"]
        assert not [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]


@pytest.mark.slow
def test_a_named_index_is_listed_and_grows_through_the_api(tmp_path):
    """--index NAME=DIR: listed with its counts; articles added through the API are searched at once and
    written to the directory (which `fabscore index` tools then load); an id it holds is refused."""
    from fabscore.evidence import build, load

    idx = tmp_path / "refs.idx"
    build([str(SEED_HUMAN)]).save(idx)
    proc, base, log = _start("--quiet", "--workers", "1", "--index", f"seeds={idx}",
                             "--jobs-db", str(tmp_path / "j.sqlite"))
    try:
        (listed,) = httpx.get(base + "/v1/indexes", timeout=10).json()
        assert listed["name"] == "seeds" and listed["articles"] == 1 and listed["sentences"] > 10
        claim = "NOAA says Mississippi flooding could be the worst in over 20 years."
        before = httpx.post(base + "/v1/check", json={"claims": [claim], "index": "seeds"}, timeout=300).json()
        assert before["records"][0]["status"] == "no_evidence"
        flood = ("NOAA says Mississippi flooding could be the worst in over 20 years. The river is expected to crest "
                 "next week, forecasters said on Thursday.")
        r = httpx.post(base + "/v1/indexes/seeds/articles",
                       json={"articles": [{"id": "flood-1", "text": flood, "title": "Flood", "url": "https://x.test/f"}]},
                       timeout=300)
        assert r.status_code == 200 and r.json()["articles"] == 2, r.text
        after = httpx.post(base + "/v1/check", json={"claims": [claim], "index": "seeds"}, timeout=300).json()
        rec = after["records"][0]
        assert rec["status"] == "supported" and rec["sentences"][0]["evidence"][0]["id"] == "flood-1"
        assert rec["sentences"][0]["evidence"][0]["url"] == "https://x.test/f"
        again = httpx.post(base + "/v1/indexes/seeds/articles", json={"articles": [{"id": "flood-1", "text": flood}]},
                           timeout=60)
        assert again.status_code == 409 and "flood-1" in again.json()["detail"]
        assert httpx.post(base + "/v1/indexes/nope/articles", json={"articles": [{"id": "a", "text": flood}]},
                          timeout=60).status_code == 404
    finally:
        _stop(proc)
        log.unlink(missing_ok=True)
    on_disk = load(idx)
    assert len(on_disk.sentences.paths) == 2 and "flood-1" in on_disk.sentences.ids


@pytest.mark.slow
def test_the_app_as_a_ray_serve_deployment_with_two_replicas(detector):
    """The same app as a Ray Serve deployment on a loopback Ray instance: two replicas answer (two
    process ids), every concurrent request gets the command line's record, jobs are not offered and the
    indexes are read-only; Ray and Serve are always shut down."""
    import concurrent.futures as cf

    ray = pytest.importorskip("ray")
    serve = pytest.importorskip("ray.serve")
    from fabscore.server.ray_serve import application

    texts = _texts(6)
    port = _free_port()
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(application(replicas=2), route_prefix="/", blocking=False)
        base = f"http://127.0.0.1:{port}"
        pids = set()
        for _ in range(40):
            pids.add(httpx.get(base + "/readyz", timeout=60).json()["pid"])
            if len(pids) == 2:
                break
        assert len(pids) == 2  # two replicas, each its own process with its own detector
        with cf.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda t: httpx.post(base + "/v1/score", json={"texts": [t]}, timeout=600), texts))
        assert [a.status_code for a in answers] == [200] * 6
        want = json.loads(json.dumps(detector.score(texts)))
        assert [a.json()["records"][0] for a in answers] == [{**w, "id": "0"} for w in want]
        assert httpx.get(base + "/v1/jobs/x", timeout=30).status_code == 404
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.mark.slow
def test_serve_on_ray_actors_gives_the_same_records_and_leaves_no_ray_process(detector, tmp_path):
    """--engine ray: the requests' texts go to Ray actors that stay (a local Ray instance); the records are
    det.score's, a job finishes through them too, and stopping the server stops Ray."""
    pytest.importorskip("ray")
    import psutil

    texts = _texts(4)
    proc, base, log = _start("--quiet", "--engine", "ray", "--workers", "2", "--jobs-db", str(tmp_path / "j.sqlite"))
    try:
        ready = httpx.get(base + "/readyz", timeout=30).json()
        assert ready["engine"] == "ray" and ready["workers"] == 2
        r = httpx.post(base + "/v1/score", json={"texts": texts}, timeout=600)
        assert r.status_code == 200, r.text
        assert r.json()["records"] == json.loads(json.dumps(detector.score(texts)))
        job = httpx.post(base + "/v1/jobs", json={"texts": texts[:2]}, timeout=60).json()["id"]
        st = _wait(base, job, lambda s: s["status"] in ("done", "failed"))
        assert st["status"] == "done" and st["done"] == 2
    finally:
        _stop(proc)
        log.unlink(missing_ok=True)
    time.sleep(2)
    left = [p.info["name"] for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] in ("raylet", "gcs_server") or "ray::" in " ".join(p.info["cmdline"] or [])]
    assert left == [], left
