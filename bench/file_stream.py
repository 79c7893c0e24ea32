#!/usr/bin/env python3
"""file_stream benchmark: Fulcrum's hot write path, on SQLite then PostgreSQL.

    FULCRUM_BIN=target/release/fulcrum python3 bench/file_stream.py

For each backend: a fresh server, one user and key, BENCH_RUNS runs; then rounds of
  baseline     GET /healthz (wrk, same connections) — the ratio's denominator
  file_stream  POST /files/bench/fs/r<i>/file_stream, BENCH_ROWS history rows each, every
               (run, offset) once (bench/file_stream.lua)
interleaved, with the server's CPU time (and PostgreSQL's backends') read from /proc around
each run. Afterwards every acknowledged row is counted back through the Public API's
`historyLineCount`; then `scan_history`-style paging over a 100,000-row run and the first
page of a project with 1,000 runs are timed. Results: a Markdown table on stdout and
bench/results/file_stream.json. Exit 0 only when every request got 200 and no row is missing.

Tunables: BENCH_BACKENDS="sqlite postgres" BENCH_DURATION=10 BENCH_ROUNDS=3 BENCH_CONNS=64
BENCH_RUNS=64 BENCH_ROWS=10 BENCH_SCAN_ROWS=100000 BENCH_PROJECT_RUNS=1000.
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = os.environ.get("FULCRUM_BIN", str(HERE.parent / "target" / "release" / "fulcrum"))
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite postgres").split()
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNS = int(os.environ.get("BENCH_CONNS", "64"))
RUNS = int(os.environ.get("BENCH_RUNS", "64"))
ROWS = int(os.environ.get("BENCH_ROWS", "10"))
SCAN_ROWS = int(os.environ.get("BENCH_SCAN_ROWS", "100000"))
PROJECT_RUNS = int(os.environ.get("BENCH_PROJECT_RUNS", "1000"))
THREADS = 2
TICK = os.sysconf("SC_CLK_TCK")
PASSWORD = "bench-password-long-enough-42"


def log(msg):
    print(f"[file_stream {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def postgres_pids():
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if p.joinpath("comm").read_text().strip() == "postgres":
                    pids.append(int(p.name))
            except OSError:
                pass
    return pids


class Server:
    def __init__(self, backend, work):
        self.backend = backend
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = work / backend
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FULCRUM_")}
        self.env["FULCRUM_LOG_LEVEL"] = "warn"
        self.db = None
        if backend == "postgres":
            self.db = f"fulcrum_bench_fs_{os.getpid()}"
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qAtc", f"CREATE DATABASE {self.db}"], check=True)
            self.env["FULCRUM_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{self.db}"

    def cli(self, *args, stdin=None):
        out = subprocess.run([BIN, "admin", "--data-dir", str(self.data), *args], input=stdin,
                             capture_output=True, text=True, env=self.env, check=True)
        return out.stdout.strip().splitlines()[-1]

    def start(self):
        self.data.mkdir(parents=True)
        self.cli("create-user", "--username", "bench", "--email", "bench@example.com", stdin=PASSWORD + "\n")
        self.key = self.cli("create-key", "--username", "bench", "--name", "bench")
        self.auth = "Basic " + base64.b64encode(f"api:{self.key}".encode()).decode()
        self.log = open(self.data.parent / f"{self.backend}.log", "wb")
        self.proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data),
                                      "--public-url", self.url], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{self.backend} server did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)
        if self.db:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qAtc", f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)"])

    def gql(self, query, variables=None):
        req = urllib.request.Request(self.url + "/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": self.auth})
        with urllib.request.urlopen(req, timeout=60) as r:
            body = json.loads(r.read())
        if body.get("errors"):
            raise SystemExit(f"GraphQL error: {body['errors']}")
        return body["data"]

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": self.auth})
        with urllib.request.urlopen(req, timeout=120) as r:
            assert r.status == 200


UPSERT = "mutation($n: String!, $p: String!) { upsertBucket(input: {name: $n, modelName: $p, entityName: \"bench\"}) { bucket { id } } }"
PAGE = "query($r: String!, $a: Int64!, $b: Int64!) { project(name: \"scan\", entityName: \"bench\") { run(name: $r) { history(minStep: $a, maxStep: $b, samples: 1000) } } }"
FIRST_PAGE = "query { project(name: \"many\", entityName: \"bench\") { runCount runs(first: 50, order: \"-created_at\") { edges { node { name state summaryMetrics } } } } }"


def wrk(server, mode, round_no=0):
    env = dict(os.environ, BENCH_RUNS=str(RUNS), BENCH_ROWS=str(ROWS), BENCH_THREADS=str(THREADS),
               BENCH_PREFIX="/files/bench/fs/", BENCH_AUTH=server.auth, BENCH_SEQ_BASE=str(round_no * 100_000))
    if mode == "baseline":
        cmd = ["wrk", "-t", str(THREADS), "-c", str(CONNS), "-d", f"{DURATION}s", "--latency", server.url + "/healthz"]
    else:
        cmd = ["wrk", "-t", str(THREADS), "-c", str(CONNS), "-d", f"{DURATION}s", "--latency",
               "-s", str(HERE / "file_stream.lua"), server.url]
    pg = postgres_pids() if server.backend == "postgres" else []
    before, pg_before, t0 = cpu_ticks([server.proc.pid]), cpu_ticks(pg), time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    wall = time.monotonic() - t0
    cpu = (cpu_ticks([server.proc.pid]) - before) / TICK
    pg_cpu = (cpu_ticks(pg) - pg_before) / TICK
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    non200 = re.search(r"BENCH_NON200 (\d+)(.*)", out)
    p99 = re.search(r"BENCH_P99_US (\d+)", out)
    return {
        "mode": mode, "requests": reqs, "rps": reqs / DURATION, "wall_s": wall,
        "cpu_us_per_req": cpu * 1e6 / max(reqs, 1), "pg_cpu_us_per_req": pg_cpu * 1e6 / max(reqs, 1),
        "p99_ms": int(p99.group(1)) / 1000 if p99 else None,
        "non200": int(non200.group(1)) if non200 else 0, "first_bad": non200.group(2).strip() if non200 else "",
        "socket_errors": "Socket errors" in out,
    }


def count_rows(server):
    """Rows in the store itself, counted with the database's own client."""
    query = "SELECT COUNT(*) FROM run_lines l JOIN runs r ON r.id = l.run_id JOIN projects p ON p.id = r.project_id WHERE p.name = 'fs' AND l.stream = 'history'"
    if server.db:
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", server.db, "-qAtc", query],
                             capture_output=True, text=True, check=True).stdout
        return int(out.strip())
    import sqlite3
    with sqlite3.connect(server.data / "fulcrum.db") as db:
        return db.execute(query).fetchone()[0]


def scan(server):
    server.gql(UPSERT, {"n": "big", "p": "scan"})
    chunk = 10_000
    for offset in range(0, SCAN_ROWS, chunk):
        lines = [json.dumps({"_step": s, "loss": 1 / (s + 1), "acc": s / SCAN_ROWS}) for s in range(offset, min(offset + chunk, SCAN_ROWS))]
        server.post("/files/bench/scan/big/file_stream", {"files": {"wandb-history.jsonl": {"offset": offset, "content": lines}}})
    t0, rows, step = time.monotonic(), 0, 0
    while step < SCAN_ROWS:
        page = server.gql(PAGE, {"r": "big", "a": step, "b": step + 1000})["project"]["run"]["history"]
        rows += len(page)
        step += 1000
    seconds = time.monotonic() - t0
    assert rows == SCAN_ROWS, (rows, SCAN_ROWS)
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def many_runs(server):
    for i in range(PROJECT_RUNS):
        server.gql(UPSERT, {"n": f"m{i}", "p": "many"})
    times = []
    for _ in range(5):
        t0 = time.monotonic()
        data = server.gql(FIRST_PAGE)["project"]
        times.append(time.monotonic() - t0)
    assert data["runCount"] == PROJECT_RUNS and len(data["runs"]["edges"]) == 50
    return {"runs": PROJECT_RUNS, "first_page_ms_median": sorted(times)[2] * 1000}


def bench(backend, work):
    server = Server(backend, work)
    server.start()
    try:
        for i in range(RUNS):
            server.gql(UPSERT, {"n": f"r{i}", "p": "fs"})
        results = []
        for r in range(ROUNDS):
            for mode in ("baseline", "file_stream"):
                res = wrk(server, mode, r)
                res["round"] = r
                log(f"{backend} {mode} round {r}: {res['rps']:.0f} req/s, p99 {res['p99_ms']} ms, "
                    f"{res['cpu_us_per_req']:.0f} µs CPU/req, non-200 {res['non200']} {res['first_bad']}")
                results.append(res)
        posted = sum(r["requests"] for r in results if r["mode"] == "file_stream")
        stored = count_rows(server)
        # wrk counts completed responses; a request in flight when it stopped may have been
        # stored without being counted, never the other way round.
        complete = posted * ROWS <= stored <= (posted + CONNS * ROUNDS) * ROWS
        log(f"{backend}: {posted} acknowledged posts, {stored} rows stored ({'ok' if complete else 'MISSING ROWS'})")
        return {"backend": backend, "runs": results, "posted": posted, "rows_stored": stored,
                "rows_complete": complete, "scan": scan(server), "many_runs": many_runs(server)}
    finally:
        server.stop()


def summary(all_results):
    print("| backend | file_stream posts/s | baseline req/s | **ratio** | p99 ms | **server CPU µs/post** | + PG backends µs/post | all 200, rows complete |")
    print("|---|---|---|---|---|---|---|---|")
    for b in all_results:
        fs = [r for r in b["runs"] if r["mode"] == "file_stream"]
        base = [r for r in b["runs"] if r["mode"] == "baseline"]
        med = lambda xs, k: sorted(x[k] for x in xs)[len(xs) // 2]
        ok = all(r["non200"] == 0 and not r["socket_errors"] for r in b["runs"]) and b["rows_complete"]
        print(f"| {b['backend']} | {med(fs, 'rps'):,.0f} | {med(base, 'rps'):,.0f} | {med(fs, 'rps') / med(base, 'rps'):.2f} | "
              f"{med(fs, 'p99_ms'):.1f} | {med(fs, 'cpu_us_per_req'):.0f} | {med(fs, 'pg_cpu_us_per_req'):.0f} | {'yes' if ok else 'NO'} |")
    print()
    for b in all_results:
        s, m = b["scan"], b["many_runs"]
        print(f"- {b['backend']}: scan of {s['rows']:,} history rows in pages of 1,000: {s['seconds']:.2f} s "
              f"({s['rows_per_s']:,.0f} rows/s); first page of a project with {m['runs']:,} runs: {m['first_page_ms_median']:.1f} ms (median of 5)")


def main():
    if not os.access(BIN, os.X_OK):
        raise SystemExit(f"FULCRUM_BIN={BIN} is not executable (cargo build --release)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="fulcrum-fs-bench-"))
    try:
        results = [bench(b, work) for b in BACKENDS]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "file_stream.json").write_text(json.dumps(results, indent=2))
    summary(results)
    ok = all(b["rows_complete"] and all(r["non200"] == 0 for r in b["runs"]) for b in results)
    sys.exit(0 if ok else 2)


if __name__ == "__main__":
    main()
