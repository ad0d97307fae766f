"""`fabscore serve`: the web page and HTTP API on this machine (fabscore.server).

Safe by default on a shared network: it binds 127.0.0.1; binding any other address needs `--token`
(or FABSCORE_TOKEN: every route but /healthz then needs `Authorization: Bearer TOKEN`) or an explicit
`--insecure`. CORS is off unless `--cors ORIGIN` names who may call from a browser. The token is never
printed or logged. Exit codes: 0 stopped, 2 a usage error (a bad flag, index or model).
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import sys

PROG = "fabscore"
TOKEN_ENV = "FABSCORE_TOKEN"


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_serve(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if not loopback(args.host) and token is None and not args.insecure:
        print(f"{PROG}: error: --host {args.host} is reachable from other machines: give --token TOKEN (or "
              f"{TOKEN_ENV}) so every call needs it, or --insecure to serve without one", file=sys.stderr)
        return 2
    indexes = {}
    for spec in args.index or []:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            print(f"{PROG}: error: --index {spec}: give NAME=DIR", file=sys.stderr)
            return 2
        if name in indexes:
            print(f"{PROG}: error: --index {name} given twice", file=sys.stderr)
            return 2
        indexes[name] = path
    try:
        import uvicorn

        from fabscore.server.app import create_app
    except ImportError as e:
        print(f"{PROG}: error: the web server needs the serve extra (pip install 'fabscore[serve]'): {e}",
              file=sys.stderr)
        return 2
    from fabscore.cli.loading import load_detector
    from fabscore.evidence.table import EvidenceError
    from fabscore.io.output import UsageError

    if args.jobs_db is None:
        from fabscore.models.backbones import cache_root

        args.jobs_db = str(cache_root() / "serve" / "jobs.sqlite")
    from fabscore.engines import EngineError, plan

    try:
        det = load_detector(args.model, UsageError)
        workers = plan(args.workers)
        if args.address and args.engine != "ray":
            raise EngineError("--address needs --engine ray")
        app = create_app(det, indexes, token, args.cors, jobs_db=args.jobs_db, plan=workers, engine=args.engine,
                         address=args.address)
    except (UsageError, EvidenceError, EngineError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    where = f"http://{args.host}:{args.port}/"
    pool = (f"{app.state.workers} Ray actors" if args.engine == "ray" else
            f"{workers.workers} worker processes" if workers.workers else "this process")
    print(f"{PROG}: serving {det.model_id.get('name')} at {where} (API: {where}docs; scoring in {pool}; "
          f"{'token required' if token else 'no token'}; indexes: {', '.join(indexes) or 'none'})",
          file=sys.stderr, flush=True)
    # uvicorn's access log prints request lines only (never headers, so never the token)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info",
                access_log=not args.quiet)
    return 0


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    """Register `serve` on an argparse subparsers object (func=run_serve)."""
    p = subparsers.add_parser(
        "serve", help="serve the web page and HTTP API on this machine",
        description="Serve fabscore's web page (paste a text or a claim) and its HTTP API (/v1/score, "
                    "/v1/check, /v1/report; OpenAPI at /docs) from this machine, with the models loaded once.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default=None, metavar="DIR", help="a shipped model name or a model directory")
    p.add_argument("--index", action="append", default=None, metavar="NAME=DIR",
                   help="an evidence index (fabscore index) the API and page can check against by NAME; repeatable")
    p.add_argument("--token", default=None, help=f"require Authorization: Bearer TOKEN (or set {TOKEN_ENV})")
    p.add_argument("--insecure", action="store_true", help="allow a non-loopback --host without a token")
    p.add_argument("--cors", action="append", default=None, metavar="ORIGIN",
                   help="let pages from ORIGIN call the API from a browser (off by default); repeatable")
    p.add_argument("--jobs-db", default=None, metavar="FILE",
                   help="the SQLite file batch jobs are kept in (default: jobs.sqlite in the fabscore cache); a "
                        "server started again on it finishes the jobs it had")
    p.add_argument("--workers", default="auto", metavar="N",
                   help="worker processes that score, fed with every request's texts together (default auto: one "
                        "single-threaded process per core, as fabscore score; 1: score in the server's process). "
                        "Requests with evidence are checked in the server's process")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default): worker processes on this machine; ray: Ray actors that stay, on a local "
                        "Ray instance or the cluster at --address (needs fabscore[ray])")
    p.add_argument("--address", default=None, metavar="ADDR", help="with --engine ray: the cluster's address")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(func=run_serve)
    return p
