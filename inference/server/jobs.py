"""Batch jobs of `fabscore serve`, kept in SQLite (the embedded store: no server to install).

A job is its inputs, one row each, written when the job is created; a worker thread scores the
rows still without a record, a few at a time, and writes each batch's records in one transaction
with the job's progress. A server killed mid-job and started again on the same database goes on
from the rows without a record: every row gets exactly one record, as `fabscore score --resume`
guarantees for a file.

Uploads: a JSON list of texts, or a body of JSONL or CSV rows (read by the command line's reader,
`--text-field` as `text_field`), or a zip of .txt/.html/.md files. An uploaded name never becomes a
path: bodies are written under names this module makes, in a private temporary folder, and a zip
member's name is kept only as the input's id. Limits are the reader's: a file over the byte limit
is an error row; a zip whose members would unpack past ZIP_MAX_BYTES in all, or hold more than
ZIP_MAX_FILES, is refused before anything is unpacked.
"""
from __future__ import annotations

import io
import json
import os
import sqlite3
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterable
from pathlib import Path

STATUSES = ("queued", "running", "done", "failed", "cancelled")
TEXT_PATH = "<text>"  # a row given as JSON text has no file: its record's path is null, as det.score's
BATCH = 4  # rows scored, then written, at a time: what a kill can cost
ZIP_MAX_FILES = 10_000
ZIP_MAX_BYTES = 200_000_000  # unpacked, in all
ZIP_KINDS = (".txt", ".html", ".htm", ".md")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, created REAL, started REAL, finished REAL, status TEXT,
    total INTEGER, done INTEGER, errors INTEGER, fpr REAL, evidence_index TEXT, message TEXT);
CREATE TABLE IF NOT EXISTS rows (job TEXT, n INTEGER, id TEXT, path TEXT, text TEXT, error TEXT, record TEXT,
    PRIMARY KEY (job, n));
"""


class JobError(ValueError):
    """An upload that cannot become a job (the message says why)."""


def inputs_from_upload(body: bytes, kind: str, text_field: str = "text", max_bytes: int | None = None) -> list:
    """The reader's Inputs of an uploaded body: kind 'jsonl', 'csv' or 'zip'."""
    from fabscore.io.reading import DEFAULT_MAX_BYTES, ReadError, decode, iter_inputs

    limit = max_bytes or DEFAULT_MAX_BYTES
    with tempfile.TemporaryDirectory(prefix="fabscore-upload-") as tmp:
        if kind in ("jsonl", "csv"):
            try:  # a whole data set that is binary or undecodable is the request's fault: refused before a job
                decode(body, f"the {kind} upload")
            except ReadError as e:
                raise JobError(str(e)) from e
            path = Path(tmp) / f"upload.{kind}"
            path.write_bytes(body)
            return list(iter_inputs([str(path)], text_field=text_field, max_bytes=limit))
        if kind != "zip":
            raise JobError(f"unknown upload kind {kind!r}: jsonl, csv or zip")
        try:
            archive = zipfile.ZipFile(io.BytesIO(body))
        except zipfile.BadZipFile as e:
            raise JobError(f"the upload is not a readable zip archive ({e})") from e
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > ZIP_MAX_FILES:
            raise JobError(f"the zip holds {len(members):,} files, over the {ZIP_MAX_FILES:,} a job takes")
        if sum(m.file_size for m in members) > ZIP_MAX_BYTES:
            raise JobError(f"the zip would unpack to {sum(m.file_size for m in members):,} bytes, over the "
                           f"{ZIP_MAX_BYTES:,} a job takes")
        out, names = [], {}
        for i, m in enumerate(members):
            ext = os.path.splitext(m.filename)[1].lower()
            if ext not in ZIP_KINDS:
                continue
            if m.file_size > limit:
                from fabscore.io.reading import Input

                out.append((m.filename, Input(m.filename, m.filename, error=f"over the {limit:,}-byte limit "
                                                                            f"({m.file_size:,} bytes)")))
                continue
            target = Path(tmp) / f"{i:06d}{ext}"  # our name; the member's name is only its id
            with archive.open(m) as src:
                target.write_bytes(src.read(limit + 1))
            names[str(target)] = m.filename
        read = {inp.path: inp for inp in iter_inputs(sorted(names), max_bytes=limit)}
        from dataclasses import replace

        out += [(names[p], replace(read[p], path=names[p], id=names[p])) for p in sorted(names)]
        if not out:
            raise JobError(f"the zip holds no {', '.join(ZIP_KINDS)} file")
        return [inp for _, inp in sorted(out, key=lambda x: x[0])]


class Jobs:
    """The jobs of one database, and the thread that works on them (start() / stop())."""

    def __init__(self, path: str | Path, score):
        """score(texts, ids, fpr, index) -> records: the server's scoring, run on the worker thread."""
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.score = score
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with self._db() as db:
            db.executescript(SCHEMA)
            # a job that was running when the server stopped goes on where its rows stop
            db.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running'")

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.row_factory = sqlite3.Row
        return db

    # ------------------------------------------------------------ creating and reading jobs
    def create(self, inputs: Iterable, fpr: float | None = None, index: str | None = None) -> str:
        """A new job of these Inputs (or plain texts); its id."""
        from fabscore.io.reading import Input
        rows = [(i, inp) if isinstance(inp, Input) else (i, Input(TEXT_PATH, str(i), text=str(inp)))
                for i, inp in enumerate(inputs)]
        if not rows:
            raise JobError("nothing to score: the upload holds no text")
        job = uuid.uuid4().hex[:16]
        with self._db() as db:
            db.execute("BEGIN")
            db.execute("INSERT INTO jobs VALUES (?, ?, NULL, NULL, 'queued', ?, 0, 0, ?, ?, NULL)",
                       (job, time.time(), len(rows), fpr, index))
            db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, NULL)",
                           [(job, n, inp.id, inp.path, inp.text, inp.error) for n, inp in rows])
            db.execute("COMMIT")
        self._wake.set()
        return job

    def status(self, job: str) -> dict | None:
        with self._db() as db:
            r = db.execute("SELECT * FROM jobs WHERE id = ?", (job,)).fetchone()
        if r is None:
            return None
        elapsed = ((r["finished"] or time.time()) - r["started"]) if r["started"] else 0.0
        rate = r["done"] / elapsed if elapsed > 0 and r["done"] else None
        left = r["total"] - r["done"]
        return {"id": r["id"], "status": r["status"], "total": r["total"], "done": r["done"], "errors": r["errors"],
                "rate_per_s": None if rate is None else round(rate, 3),
                "eta_s": None if rate is None or r["status"] != "running" else round(left / rate, 1),
                "created": r["created"], "message": r["message"]}

    def recent(self, limit: int = 50) -> list[dict]:
        """The newest jobs first, each as status() gives it."""
        with self._db() as db:
            ids = [r["id"] for r in db.execute("SELECT id FROM jobs ORDER BY created DESC LIMIT ?", (limit,))]
        return [st for st in map(self.status, ids) if st is not None]

    def records(self, job: str) -> list[dict]:
        with self._db() as db:
            return [json.loads(r["record"]) for r in
                    db.execute("SELECT record FROM rows WHERE job = ? AND record IS NOT NULL ORDER BY n", (job,))]

    def cancel(self, job: str) -> dict | None:
        with self._db() as db:
            db.execute("UPDATE jobs SET status = 'cancelled', finished = ? WHERE id = ? AND status IN "
                       "('queued', 'running')", (time.time(), job))
        return self.status(job)

    # ------------------------------------------------------------ the worker
    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="fabscore-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _work(self) -> None:
        while not self._stop.is_set():
            if not self._step():
                self._wake.wait(1.0)
                self._wake.clear()

    def _step(self) -> bool:
        """Score one batch of the oldest unfinished job; False when there is nothing to do."""
        with self._db() as db:
            job = db.execute("SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY created LIMIT 1"
                             ).fetchone()
            if job is None:
                return False
            todo = db.execute("SELECT * FROM rows WHERE job = ? AND record IS NULL ORDER BY n LIMIT ?",
                              (job["id"], BATCH)).fetchall()
            if not todo:
                db.execute("UPDATE jobs SET status = 'done', finished = ? WHERE id = ?", (time.time(), job["id"]))
                return True
            if job["status"] == "queued":
                db.execute("UPDATE jobs SET status = 'running', started = COALESCE(started, ?) WHERE id = ?",
                           (time.time(), job["id"]))
        try:
            records = self.score([r["text"] for r in todo], [r["id"] for r in todo], job["fpr"],
                                 job["evidence_index"], [r["error"] for r in todo], [r["path"] for r in todo])
        except Exception as e:  # noqa: BLE001 - the job fails and says why; the server goes on
            with self._db() as db:
                db.execute("UPDATE jobs SET status = 'failed', finished = ?, message = ? WHERE id = ?",
                           (time.time(), f"{type(e).__name__}: {e}", job["id"]))
            return True
        with self._db() as db:
            db.execute("BEGIN")
            current = db.execute("SELECT status FROM jobs WHERE id = ?", (job["id"],)).fetchone()["status"]
            if current == "cancelled":  # cancelled while this batch ran: its records are dropped
                db.execute("COMMIT")
                return True
            for r, rec in zip(todo, records):
                db.execute("UPDATE rows SET record = ? WHERE job = ? AND n = ? AND record IS NULL",
                           (json.dumps(rec, ensure_ascii=False), job["id"], r["n"]))
            db.execute("UPDATE jobs SET done = done + ?, errors = errors + ? WHERE id = ?",
                       (len(todo), sum(rec.get("error") is not None for rec in records), job["id"]))
            db.execute("COMMIT")
        return True
