"""The HTTP API and web page of `fabscore serve`: a thin front end over the same Detector.

Routes (JSON in and out; the records are the very records `fabscore score` writes as JSONL and
`fabscore check` writes per claim, so a program reads one shape whatever it calls):

    GET  /healthz          the process answers (never needs the token)
    GET  /readyz           the models are loaded: {"ready": true, "model": {...}, "indexes": [...]}
    POST /v1/score         {"texts": [str | {"id", "text"}], "fpr"?, "evidence"?: [str], "index"?: name}
    POST /v1/check         {"claims": [str], "evidence"?: [str], "index"?: name}
    POST /v1/report        as /v1/score (or "claims" as /v1/check): the HTML report of those records
    GET  /v1/indexes       the indexes named with --index, with their sentence and article counts
    POST /v1/indexes/{name}/articles   add reference articles to one (in memory and on disk)
    POST /v1/jobs          a batch (JSON texts, or a JSONL, CSV or zip body) kept in SQLite (jobs.py)
    GET  /v1/jobs          the newest jobs, each with its status and progress
    GET  /v1/jobs/{id}     its status and progress; DELETE cancels it
    GET  /v1/jobs/{id}/results?format=jsonl|csv|html
    GET  /                 the web page (page.html, page.js, page.css: no CDN, no build step)
    GET  /docs             the OpenAPI schema, browsable (FastAPI's)

One detector, loaded once; requests run on a worker thread one at a time (the backbones are not
re-entrant), so a slow request never blocks /healthz. A bad request is a 4xx whose `detail` names the
problem; a text the detector cannot read is an error record, as on the command line. With a token,
every route but /healthz needs `Authorization: Bearer TOKEN` (compared in constant time; never logged).
"""
# No `from __future__ import annotations`: FastAPI reads the route functions' annotations at run time.
import asyncio
import hmac
import io
import json
import os
import threading
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from fabscore.io.reading import DEFAULT_MAX_BYTES
from fabscore.server.jobs import TEXT_PATH, JobError, Jobs, inputs_from_upload

HERE = Path(__file__).resolve().parent
ASSETS = {"/": ("page.html", "text/html; charset=utf-8"), "/page.js": ("page.js", "text/javascript; charset=utf-8"),
          "/page.css": ("page.css", "text/css; charset=utf-8")}
MAX_TEXTS = 1000  # texts or claims in one request; a bigger batch belongs in `fabscore score`
MAX_EVIDENCE = 200  # reference texts given inline in one request (an index holds more)
QUEUE = 8  # requests waiting for or holding the model at once; one more gets 429 with Retry-After
RETRY_AFTER_S = 5


class Text(BaseModel):
    id: str | None = None
    text: str


class ScoreRequest(BaseModel):
    texts: list[str | Text] = Field(min_length=1, max_length=MAX_TEXTS)
    fpr: float | None = Field(default=None, gt=0, lt=1)
    evidence: list[str] | None = Field(default=None, min_length=1, max_length=MAX_EVIDENCE)
    index: str | None = None


class CheckRequest(BaseModel):
    claims: list[str] = Field(min_length=1, max_length=MAX_TEXTS)
    evidence: list[str] | None = Field(default=None, min_length=1, max_length=MAX_EVIDENCE)
    index: str | None = None


class ReportRequest(BaseModel):
    texts: list[str | Text] | None = Field(default=None, min_length=1, max_length=MAX_TEXTS)
    claims: list[str] | None = Field(default=None, min_length=1, max_length=MAX_TEXTS)
    fpr: float | None = Field(default=None, gt=0, lt=1)
    evidence: list[str] | None = Field(default=None, min_length=1, max_length=MAX_EVIDENCE)
    index: str | None = None



def create_app(detector, indexes: dict[str, str] | None = None, token: str | None = None,
               cors: list[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES, jobs_db: str | None = None,
               queue: int = QUEUE, plan=None, read_only_indexes: bool = False, engine: str = "local",
               address: str | None = None):
    """The FastAPI application over `detector` (a loaded fabscore Detector). indexes: name -> index
    directory, loaded now (a bad one fails here, not on a request); token: the Bearer token every route
    but /healthz needs (None: none); cors: origins allowed to call from a browser (None: no CORS);
    max_bytes: the largest request body, the reader's file limit by default; jobs_db: the SQLite file
    batch jobs are kept in (None: no /v1/jobs); queue: requests queued for the model at most; plan: an
    engines Plan with workers (the worker pool `fabscore score --workers` uses, fed by batcher.Batcher
    with every request's texts), or None to score in this process; read_only_indexes: refuse to add
    articles (a Ray Serve replica, one of many, cannot grow an index the others read); engine, address:
    'ray' scores the pooled requests on Ray actors (a local instance, or the cluster at address)."""
    from contextlib import asynccontextmanager

    from fabscore.evidence.annotate import resolve_evidence
    from fabscore.evidence.table import EvidenceError
    from fabscore.io.reading import Input

    loaded = {name: resolve_evidence(path, detector.model) for name, path in (indexes or {}).items()}
    lock = threading.Lock()  # the model, between requests and the jobs' thread
    batcher = None
    if plan is not None and (plan.workers or engine == "ray"):
        from fabscore.server.batcher import Batcher

        batcher = Batcher(detector, plan, engine, address)

    def pooled(fpr, evidence) -> bool:
        """Whether the worker pool can score it: no evidence, at the FPR the workers loaded."""
        return batcher is not None and evidence is None and (fpr is None or float(fpr) == detector.fpr)

    def score_rows(texts, ids, fpr, index, errors, paths) -> list[dict]:
        """A job's batch: records as `fabscore score` writes them (a row the reader refused is an error
        record, its path the uploaded name)."""
        check = loaded.get(index) if index else None
        if pooled(fpr, check):
            return batcher.score([Input(path=None if p == TEXT_PATH else p, id=i, text=t, error=e)
                                  for t, i, e, p in zip(texts, ids, errors, paths)])
        with lock:
            return [detector.record(t, path=None if p == TEXT_PATH else p, id=i, fpr=fpr, error=e, check=check)
                    for t, i, e, p in zip(texts, ids, errors, paths)]

    jobs = Jobs(jobs_db, score_rows) if jobs_db else None

    @asynccontextmanager
    async def lifespan(app):
        if jobs is not None:
            jobs.start()
        try:
            yield
        finally:
            if jobs is not None:
                jobs.stop()
            if batcher is not None:
                batcher.close()

    def authorized(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())):
            raise HTTPException(401, "a valid token is needed: Authorization: Bearer TOKEN",
                                headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(title="fabscore", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Scores news articles, and every sentence in them, for likely machine-written or "
                              "fabricated content, and checks claims against trusted references.")
    app.state.workers = batcher.workers if batcher is not None else 0
    if cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=cors, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            return JSONResponse({"detail": f"request body over the {max_bytes:,}-byte limit (Content-Length "
                                           f"{length}): send fewer or shorter texts, or use fabscore score"},
                                status_code=413)
        if length is None and request.method == "POST":
            return JSONResponse({"detail": "a POST needs a Content-Length (chunked bodies are not taken)"},
                                status_code=411)
        return await call_next(request)

    def evidence_for(evidence: list[str] | None, index: str | None):
        """Checked now, built on the model's turn: a function giving the evidence check, or None."""
        if evidence and index:
            raise HTTPException(400, "give evidence texts or an index name, not both")
        if index is not None:
            if index not in loaded:
                raise HTTPException(404, f"no index named {index!r}; this server has: "
                                         f"{', '.join(sorted(loaded)) or 'none (start it with --index NAME=DIR)'}")
            return lambda: loaded[index]
        if evidence:
            if not any(e.strip() for e in evidence):
                raise HTTPException(400, "the evidence texts are all empty")
            texts = [e for e in evidence if e.strip()]

            def index_them():  # on the model's turn: indexing runs the encoder
                try:
                    return resolve_evidence(texts, detector.model)
                except EvidenceError as e:
                    raise HTTPException(400, str(e)) from e
            return index_them
        return None

    waiting = threading.BoundedSemaphore(queue)
    turns = asyncio.Lock()  # requests take the model in order of arrival

    def run(fn, *args, **kwargs):
        with lock:
            return fn(*args, **kwargs)

    @asynccontextmanager
    async def admitted():
        """At most `queue` requests waiting for the model or the pool: a full queue is a 429 that says when
        to come back, never a lost request."""
        if not waiting.acquire(blocking=False):
            raise HTTPException(429, f"busy: {queue} requests are queued; try again in {RETRY_AFTER_S} s, or send a "
                                     "batch as a job (/v1/jobs)", headers={"Retry-After": str(RETRY_AFTER_S)})
        try:
            yield
        finally:
            waiting.release()

    async def on_model(request: Request, fn, *args, **kwargs):
        """fn on the model's worker thread, in order of arrival; a client gone before its turn costs nothing."""
        async with admitted(), turns:
            if await request.is_disconnected():
                raise HTTPException(499, "the client went away before its turn")
            return await run_in_threadpool(run, fn, *args, **kwargs)

    async def on_pool(request: Request, inputs: list) -> list[dict]:
        """The inputs through the worker pool, in one stream with every other request's. A client that goes
        away cancels its texts not yet given to a worker."""
        async with admitted():
            futures = batcher.submit(inputs)
            done = asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
            while True:
                try:
                    return await asyncio.wait_for(asyncio.shield(done), timeout=0.5)
                except TimeoutError:
                    if await request.is_disconnected():
                        for f in futures:
                            f.cancel()
                        done.cancel()
                        raise HTTPException(499, "the client went away") from None

    def split(texts) -> tuple[list[str], list[str]]:
        ids = [(t.id if isinstance(t, Text) and t.id is not None else str(i)) for i, t in enumerate(texts)]
        return [t.text if isinstance(t, Text) else t for t in texts], ids

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", dependencies=[Depends(authorized)])
    def readyz() -> dict:
        return {"ready": True, "model": detector.model_id, "indexes": sorted(loaded), "pid": os.getpid(),
                "workers": batcher.workers if batcher is not None else 0, "engine": engine if batcher else "local"}

    @app.get("/v1/indexes", dependencies=[Depends(authorized)])
    def list_indexes() -> list[dict]:
        return [{"name": n, "sentences": len(c.index), "articles": len(set(c.index.sentences.ids))}
                for n, c in sorted(loaded.items())]

    async def score_records(request: Request, req) -> list[dict]:
        check = evidence_for(req.evidence, req.index)
        texts, ids = split(req.texts)
        if pooled(req.fpr, check):
            return await on_pool(request, [Input(path=None, id=i, text=t) for t, i in zip(texts, ids)])
        try:
            return await on_model(request, lambda: detector.score(texts, fpr=req.fpr, ids=ids,
                                                                  evidence=check and check()))
        except ValueError as e:  # an FPR with no stored threshold
            raise HTTPException(400, str(e)) from e

    async def check_records(request: Request, req, full: bool = False) -> list[dict]:
        check = evidence_for(req.evidence, req.index)
        if check is None:
            raise HTTPException(400, "checking claims needs evidence texts or an index name")
        fn = detector.check_records if full else detector.check
        return await on_model(request, lambda: fn(list(req.claims), check()))

    @app.post("/v1/score", dependencies=[Depends(authorized)])
    async def score(request: Request, req: ScoreRequest) -> dict:
        return {"records": await score_records(request, req)}

    @app.post("/v1/check", dependencies=[Depends(authorized)])
    async def check(request: Request, req: CheckRequest) -> dict:
        return {"records": await check_records(request, req)}

    @app.post("/v1/report", dependencies=[Depends(authorized)], response_class=HTMLResponse)
    async def report(request: Request, req: ReportRequest) -> HTMLResponse:
        from fabscore.io.report import render

        if (req.texts is None) == (req.claims is None):
            raise HTTPException(400, "give texts (to score) or claims (to check), one of the two")
        records = await (score_records(request, req) if req.texts is not None
                         else check_records(request, req, full=True))
        return HTMLResponse(render(records, detector.model_id))

    class Article(BaseModel):
        id: str = Field(min_length=1)
        text: str = Field(min_length=1)
        title: str | None = None
        url: str | None = None

    class Articles(BaseModel):
        articles: list[Article] = Field(min_length=1, max_length=MAX_EVIDENCE)

    @app.post("/v1/indexes/{name}/articles", dependencies=[Depends(authorized)])
    async def add_articles(name: str, req: Articles) -> dict:
        """Add reference articles to a named index, in memory and on disk (the directory replaced whole)."""
        from fabscore.evidence.table import SentenceTable

        if name not in loaded:
            raise HTTPException(404, f"no index named {name!r}")
        if read_only_indexes:
            raise HTTPException(405, "this deployment's indexes are read-only (each replica reads its own copy): "
                                     "rebuild the index with fabscore index and deploy again")
        have = set(loaded[name].index.sentences.ids)
        clash = sorted({a.id for a in req.articles} & have) + sorted(
            {a.id for a in req.articles if [b.id for b in req.articles].count(a.id) > 1})
        if clash:
            raise HTTPException(409, f"index {name!r} already holds (or the request repeats) the ids {clash[:5]}")

        def add() -> dict:
            from fabscore.evidence.index import EvidenceIndex, embed, sentences_of

            rows = [s for a in req.articles for s in sentences_of("<api>", a.id, a.text, a.title, a.url)]
            if not rows:
                raise HTTPException(400, "no readable sentence in the articles")
            table = SentenceTable.from_sentences(rows)
            new = EvidenceIndex(table, embed(table.texts))
            with lock:
                check = loaded[name]
                check.index = check.index.extended(new)
                check.index.save_over(indexes[name])
            return {"name": name, "sentences": len(check.index), "articles": len(check.index.sentences.ids),
                    "added": len(req.articles)}
        return await run_in_threadpool(add)

    def the_jobs() -> Jobs:
        if jobs is None:
            raise HTTPException(404, "this server keeps no jobs (start it with --jobs-db FILE)")
        return jobs

    @app.post("/v1/jobs", dependencies=[Depends(authorized)], status_code=202)
    async def create_job(request: Request, text_field: str = "text", fpr: float | None = None,
                         index: str | None = None) -> dict:
        """A batch: a JSON body {"texts": [...]} (strings or {id, text}), or a JSONL (application/x-ndjson),
        CSV (text/csv) or zip (application/zip) body; `text_field`, `fpr` and `index` as query parameters."""
        j = the_jobs()
        if index is not None and index not in loaded:
            raise HTTPException(404, f"no index named {index!r}")
        if fpr is not None and not 0 < fpr < 1:
            raise HTTPException(422, "fpr must be between 0 and 1")
        kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        body = await request.body()
        try:
            if kind == "application/json":
                try:
                    texts, ids = split(ScoreRequest.model_validate_json(body).texts)
                except ValueError as e:
                    raise HTTPException(422, f"not a list of texts: {e}") from e
                inputs = [Input(TEXT_PATH, i, text=t) for t, i in zip(texts, ids)]
            else:
                upload = {"application/x-ndjson": "jsonl", "application/jsonl": "jsonl", "text/csv": "csv",
                          "application/zip": "zip"}.get(kind)
                if upload is None:
                    raise HTTPException(415, f"Content-Type {kind or '(none)'}: send application/json, "
                                             "application/x-ndjson, text/csv or application/zip")
                inputs = inputs_from_upload(body, upload, text_field, max_bytes)
            job = j.create(inputs, fpr, index)
        except JobError as e:
            raise HTTPException(400, str(e)) from e
        return j.status(job)

    @app.get("/v1/jobs", dependencies=[Depends(authorized)])
    def list_jobs(limit: int = 50) -> list[dict]:
        """The newest jobs first (at most `limit`, 1-500), each with its status and progress."""
        if not 1 <= limit <= 500:
            raise HTTPException(422, "limit must be between 1 and 500")
        return the_jobs().recent(limit)

    def found(st: dict | None, job: str) -> dict:
        if st is None:
            raise HTTPException(404, f"no job {job!r}")
        return st

    @app.get("/v1/jobs/{job}", dependencies=[Depends(authorized)])
    def job_status(job: str) -> dict:
        return found(the_jobs().status(job), job)

    @app.delete("/v1/jobs/{job}", dependencies=[Depends(authorized)])
    def cancel_job(job: str) -> dict:
        return found(the_jobs().cancel(job), job)

    @app.get("/v1/jobs/{job}/results", dependencies=[Depends(authorized)])
    def job_results(job: str, format: str = "jsonl") -> Response:
        import csv

        from fabscore.io.output import csv_header, csv_row
        from fabscore.io.report import render

        st = job_status(job)
        records = the_jobs().records(job)
        if format == "jsonl":
            return Response("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                            media_type="application/x-ndjson", headers={"X-Job-Status": st["status"]})
        if format == "csv":
            out = io.StringIO()
            w = csv.writer(out, lineterminator="\n")
            w.writerow(csv_header())
            w.writerows(csv_row(r) for r in records)
            return Response(out.getvalue(), media_type="text/csv", headers={"X-Job-Status": st["status"]})
        if format == "html":
            return HTMLResponse(render(records, detector.model_id), headers={"X-Job-Status": st["status"]})
        raise HTTPException(400, f"format {format!r}: jsonl, csv or html")

    # /docs: Swagger UI from files on this machine (fastapi-offline's copy), not FastAPI's default CDN, so
    # the API's page works where nothing else can be reached
    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html

    swagger = Path(fastapi_offline.__file__).parent / "static"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="fabscore API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png")

    for name, media in (("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
                        ("swagger-ui.css", "text/css; charset=utf-8"), ("favicon.png", "image/png")):
        def swagger_asset(name=name, media=media) -> Response:
            return Response((swagger / name).read_bytes(), media_type=media)
        app.add_api_route(f"/docs-assets/{name}", swagger_asset, methods=["GET"], include_in_schema=False)

    # the page and its script and style: static, served without the token (the page asks for it and
    # sends it with each API call)
    from fabscore.io.report import inline_hashes

    inline = inline_hashes()
    # as an HTTP header (a srcdoc frame is bound by its parent's policy too, so the page allows exactly the
    # report's own inline style and script, by hash, and nothing else inline)
    policy = {"Content-Security-Policy": f"default-src 'none'; script-src 'self' {inline['script']}; "
                                         f"style-src 'self' {inline['style']}; img-src data:; connect-src 'self'; "
                                         "frame-src 'self'; form-action 'none'; base-uri 'none'",
              "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    for route, (name, media) in ASSETS.items():
        def asset(name=name, media=media) -> Response:
            return Response((HERE / name).read_bytes(), media_type=media, headers=policy)
        app.add_api_route(route, asset, methods=["GET"], include_in_schema=False)

    return app


def _version() -> str:
    from fabscore import __version__

    return __version__
