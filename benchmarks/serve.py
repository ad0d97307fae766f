"""`fabscore serve` against the command line, on the same articles, in one run on one machine.

    .venv/bin/python benchmarks/serve.py                 # -> benchmarks/serve.json
    .venv/bin/python benchmarks/serve.py --quick --out /tmp/serve.json   # checks that it runs

Measures, against the issue's targets (reported, never asserted):
- throughput: --clients concurrent clients (default 8), each posting one --words-word article at a time
  to /v1/score, against `fabscore score --workers auto` on the same articles written as files. Both are
  given as the steady rate (the CLI's first to last record; the server's after a warm-up that started
  its workers) and the CLI also from spawn to exit. Target: server >= 0.9 x CLI.
- latency: one article at a time on the idle server, p50 and p95, against `Detector.score` of the same
  articles in this process (memo off). Target: <= 1.5 x.
- memory: the peak RSS of the server's process tree (the server and its workers) during the
  throughput run, against the CLI's tree. Target: <= CLI + 300 MB.
- kill -9: a job of short articles; the server (its whole process group) is killed --kills times at
  staggered points and started again on the same jobs database; then every record is counted.
  Target: 0 lost, 0 duplicated.

Every article is distinct (the detector remembers texts it scored, so a repeat would be free).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common
import psutil
from common import GiB, build_articles, cli_run, source_texts, write_folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`fabscore serve` in its own process group on a loopback port."""

    def __init__(self, *args: str):
        import httpx

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        t = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "fabscore", "serve", "--port", str(self.port), "--quiet",
                                      *args], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"the server exited: {self.log.read().decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.start_s = time.perf_counter() - t

    def tree_rss(self) -> int:
        try:
            procs = [psutil.Process(self.proc.pid)]
            procs += procs[0].children(recursive=True)
        except psutil.Error:
            return 0
        return sum(common.peak_rss(p.pid) for p in procs)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def post_score(base: str, text: str, timeout: float = 900) -> dict:
    import httpx

    while True:
        r = httpx.post(base + "/v1/score", json={"texts": [text]}, timeout=timeout)
        if r.status_code == 429:  # a full queue: come back as told (never with 8 clients and an 8-deep queue)
            time.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        r.raise_for_status()
        return r.json()["records"][0]


def throughput(server: Server, articles: list[str], clients: int) -> dict:
    todo = list(articles)
    lock = threading.Lock()
    peak = [0]
    stop = threading.Event()

    def client() -> int:
        n = 0
        while True:
            with lock:
                if not todo:
                    return n
                text = todo.pop()
            rec = post_score(server.base, text)
            assert rec["error"] is None, rec["error"]
            n += 1

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], server.tree_rss())
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        done = sum(pool.map(lambda _: client(), range(clients)))
    seconds = time.perf_counter() - t
    stop.set()
    sampler.join()
    peak[0] = max(peak[0], server.tree_rss())
    return {"articles": done, "clients": clients, "seconds": round(seconds, 3),
            "articles_per_s": round(done / seconds, 4), "peak_rss_gib_tree": round(peak[0] / GiB, 3)}


def latency(server: Server, articles: list[str]) -> dict:
    from fabscore.detector import Detector
    from fabscore.models import directory as md

    served = []
    for text in articles:
        t = time.perf_counter()
        post_score(server.base, text)
        served.append(time.perf_counter() - t)
    det = Detector(md.load(md.resolve(None)), cache_size=0)
    det.score([articles[0]])  # warm-up: backbones loaded
    local = []
    for text in articles:
        t = time.perf_counter()
        det.score([text])
        local.append(time.perf_counter() - t)

    def q(xs, p):
        return float(statistics.quantiles(xs, n=20, method="inclusive")[18]) if p == 95 else statistics.median(xs)
    res = {"articles": len(articles),
           "server_p50_s": round(q(served, 50), 4), "server_p95_s": round(q(served, 95), 4),
           "in_process_p50_s": round(q(local, 50), 4), "in_process_p95_s": round(q(local, 95), 4)}
    res["p50_ratio"] = round(res["server_p50_s"] / res["in_process_p50_s"], 3)
    res["p95_ratio"] = round(res["server_p95_s"] / res["in_process_p95_s"], 3)
    return res


def kills(texts: list[str], n_kills: int, db: Path) -> dict:
    """A job of len(texts) articles; the server killed n_kills times (after 1, 2, ... more records), then
    left to finish: every record counted."""
    import httpx

    server = Server("--jobs-db", str(db))
    rows = [{"id": f"k{i}", "text": t} for i, t in enumerate(texts)]
    job = httpx.post(server.base + "/v1/jobs", json={"texts": rows}, timeout=60).json()["id"]
    killed = 0
    try:
        for k in range(n_kills):
            st = httpx.get(f"{server.base}/v1/jobs/{job}", timeout=10).json()
            want = st["done"] + 1 + k % 3  # staggered: a kill lands at a different point of a batch each time
            while st["done"] < want and st["status"] not in ("done", "failed"):
                time.sleep(0.05)
                st = httpx.get(f"{server.base}/v1/jobs/{job}", timeout=10).json()
            if st["status"] in ("done", "failed"):
                break
            server.kill()
            killed += 1
            server = Server("--jobs-db", str(db))
        while (st := httpx.get(f"{server.base}/v1/jobs/{job}", timeout=10).json())["status"] not in ("done", "failed"):
            time.sleep(0.3)
        got = [line for line in httpx.get(f"{server.base}/v1/jobs/{job}/results", timeout=60).text.splitlines() if line]
    finally:
        server.stop()
    import json

    ids = [json.loads(g)["id"] for g in got]
    want = [f"k{i}" for i in range(len(texts))]
    return {"articles": len(texts), "kills": killed, "status": st["status"], "records": len(ids),
            "lost": len(set(want) - set(ids)), "duplicated": len(ids) - len(set(ids))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=None, help="articles in the throughput runs (default 48; --quick 4)")
    ap.add_argument("--words", type=int, default=500)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--latency-n", type=int, default=None, help="articles timed one at a time (default 12; --quick 2)")
    ap.add_argument("--kills", type=int, default=None, help="kill -9 rounds (default 10; --quick 1)")
    ap.add_argument("--quick", action="store_true", help="a few articles, one kill: checks that it runs")
    ap.add_argument("--out", default=str(common.BENCHMARKS / "serve.json"))
    args = ap.parse_args(argv)
    n = args.n or (4 if args.quick else 48)
    n_lat = args.latency_n or (2 if args.quick else 12)
    n_kills = args.kills if args.kills is not None else (1 if args.quick else 10)

    texts = source_texts()
    articles = build_articles(texts, args.words, n)
    lat_articles = build_articles(texts, args.words, n_lat, offset=n + 1)
    short = build_articles(texts, 120, 8 if args.quick else 80, offset=n + n_lat + 2)
    res: dict = {"machine": common.machine(), "quick": args.quick, "words": args.words,
                 "load_average_before": list(os.getloadavg())}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        common.say(f"fabscore score --workers auto on {n} articles of {args.words} words")
        res["cli"] = cli_run(write_folder(tmp / "articles", articles), tmp / "cli.jsonl", n, ["--workers", "auto"])
        common.say("fabscore serve --workers auto")
        server = Server("--workers", "auto", "--jobs-db", str(tmp / "jobs.sqlite"))
        try:
            res["server_start_s"] = round(server.start_s, 3)
            t = time.perf_counter()
            for text in build_articles(texts, args.words, 2, offset=n + n_lat + 60):  # starts the workers
                post_score(server.base, text)
            res["server_warmup_s"] = round(time.perf_counter() - t, 3)
            common.say(f"{args.clients} clients, {n} articles")
            res["server"] = throughput(server, articles, args.clients)
            common.say(f"latency, {n_lat} articles one at a time")
            res["latency"] = latency(server, lat_articles)
        finally:
            server.stop()
        common.say(f"kill -9 x {n_kills}")
        res["kill9"] = kills(short, n_kills, tmp / "kills.sqlite")
    cli_rate = res["cli"].get("steady_articles_per_s") or res["cli"]["articles_per_s"]
    cli_tree = res["cli"]["peak_rss_gib_total"]
    res["targets"] = {
        "throughput_ratio_vs_cli_steady": round(res["server"]["articles_per_s"] / cli_rate, 3),
        "throughput_ratio_vs_cli_whole_run": round(res["server"]["articles_per_s"] / res["cli"]["articles_per_s"], 3),
        "throughput_target": 0.9,
        "latency_p50_ratio": res["latency"]["p50_ratio"], "latency_p95_ratio": res["latency"]["p95_ratio"],
        "latency_target": 1.5,
        "rss_tree_gib_server": res["server"]["peak_rss_gib_tree"], "rss_tree_gib_cli": cli_tree,
        "rss_excess_mb": round((res["server"]["peak_rss_gib_tree"] - cli_tree) * 1024, 1), "rss_target_excess_mb": 300,
        "kill9_lost": res["kill9"]["lost"], "kill9_duplicated": res["kill9"]["duplicated"],
    }
    res["load_average_after"] = list(os.getloadavg())
    path = common.write_json(args.out, res)
    for k, v in res["targets"].items():
        print(f"{k}: {v}")
    print(f"wrote {common.shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
