#!/usr/bin/env python3
"""A bounded soak: mixed load against one Fulcrum for a while, with the server's memory,
open files and latency sampled every interval, written as CSV and plotted as a PNG.

    FULCRUM_BIN=target/release/fulcrum python3 bench/soak.py [--minutes 15] [--backend sqlite|postgres]

Load, from four threads over keep-alive connections: the SDK's Viewer; runs (upsertBucket,
file_stream lines, the final request); API keys minted and revoked; profile changes.
Every interval (10 s) it records the server's RSS and open file descriptors
(/proc/<pid>/status and /proc/<pid>/fd), requests and errors, and p50/p99 latency of the
interval. It fails unless there were no errors, and reports the growth of RSS and FDs
between the end of the first quarter and the end (warm-up excluded) and p99 per quarter.

Writes bench/results/soak.csv and bench/results/soak.png (gnuplot, from Debian's
gnuplot-nox; without it only the CSV). Standard library only.
"""

import argparse
import base64
import http.client
import json
import os
import random
import signal
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "bench", "results")
VIEWER = "query Viewer { viewer { id entity username email flags admin teams { edges { node { name } } } } }"
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAtc"]


class Load:
    def __init__(self, port, key):
        self.port, self.auth = port, "Basic " + base64.b64encode(f"api:{key}".encode()).decode()
        self.lock = threading.Lock()
        self.latencies, self.errors, self.stop = [], [], threading.Event()

    def request(self, conn, path, body):
        started = time.perf_counter()
        conn.request("POST", path, json.dumps(body), {"Authorization": self.auth, "Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        took = time.perf_counter() - started
        with self.lock:
            self.latencies.append(took)
            if r.status != 200:
                self.errors.append(f"{path} {r.status} {data[:200]!r}")
        return json.loads(data or b"{}")

    def gql(self, conn, query, variables=None):
        return self.request(conn, "/graphql", {"query": query, "variables": variables or {}}).get("data") or {}

    def worker(self, n):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        i = 0
        while not self.stop.is_set():
            i += 1
            kind = i % 4
            if kind == 0:
                self.gql(conn, VIEWER)
            elif kind == 1:
                run = f"w{n}r{i}"
                self.gql(conn, 'mutation($n: String!) { upsertBucket(input: {name: $n, modelName: "soak", entityName: "ada"}) { bucket { id } } }', {"n": run})
                path = f"/files/ada/soak/{run}/file_stream"
                for batch in range(3):
                    lines = [json.dumps({"_step": batch * 10 + k, "loss": random.random()}) for k in range(10)]
                    self.request(conn, path, {"files": {"wandb-history.jsonl": {"offset": batch * 10, "content": lines},
                                                        "output.log": {"offset": batch, "content": [f"step {batch}"]}}})
                self.request(conn, path, {"complete": True, "exitcode": 0})
            elif kind == 2:
                data = self.gql(conn, 'mutation { generateApiKey(input: {description: "soak"}) { apiKey { id } } }')
                key_id = ((data.get("generateApiKey") or {}).get("apiKey") or {}).get("id")
                if key_id:
                    self.gql(conn, "mutation($id: String!) { deleteApiKey(input: {id: $id}) { success } }", {"id": key_id})
            else:
                self.gql(conn, "mutation($b: String!) { updateProfile(input: {bio: $b}) { user { id } } }", {"b": f"bio {i}"})

    def take(self):
        with self.lock:
            out, self.latencies = self.latencies, []
            return out


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_ticks = int(fields[11]) + int(fields[12])
    return rss, fds, cpu_ticks


def pct(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def plot(csv_path, png_path):
    if not shutil.which("gnuplot"):
        print("gnuplot not found (apt-get install gnuplot-nox): only the CSV was written", file=sys.stderr)
        return
    script = f"""
set terminal pngcairo size 900,560 font ",10"
set output '{png_path}'
set datafile separator ','
set multiplot layout 3,1 title 'Fulcrum soak: RSS, open files, p99 latency'
set xlabel 'minutes'
set key off
set ylabel 'RSS MiB'
plot '{csv_path}' every ::1 using ($1/60):($2/1024) with lines lw 2
set ylabel 'open fds'
plot '{csv_path}' every ::1 using ($1/60):3 with lines lw 2
set ylabel 'p99 ms'
plot '{csv_path}' every ::1 using ($1/60):6 with lines lw 2
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--no-mail", action="store_true",
                        help="no SMTP server: run-end alert mails wait and retry, as on a server without mail")
    args = parser.parse_args()
    binary = os.environ.get("FULCRUM_BIN", os.path.join(REPO, "target/release/fulcrum"))
    tmp = tempfile.mkdtemp(prefix="fulcrum-soak-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FULCRUM_")}
    env.update({"FULCRUM_LOG_LEVEL": "warn", "FULCRUM_MAX_KEYS_PER_USER": "10000"})
    sink = None
    if not args.no_mail:
        # Every finished run mails its person: a loopback SMTP server takes them, as a
        # configured server's would.
        sys.path.insert(0, os.path.join(REPO, "tests", "sdk"))
        from alert_sinks import SmtpSink
        sink = SmtpSink()
        env.update(sink.env())
        env["FULCRUM_MAIL_FROM"] = "Fulcrum Soak <soak@fulcrum.test>"
    store = ["--data-dir", tmp]
    db = None
    if args.backend == "postgres":
        db = f"fulcrum_soak_{random.randrange(1 << 30):x}"
        subprocess.run(PG_ADMIN + [f"CREATE DATABASE {db}"], check=True)
        store += ["--database-url", f"postgres://postgres@127.0.0.1:5432/{db}"]
    server = None
    try:
        def admin(*a, stdin=""):
            return subprocess.run([binary, "admin", *a, *store], input=stdin, capture_output=True,
                                  text=True, env=env, check=True).stdout.strip()
        admin("create-user", "--username", "ada", "--email", "ada@example.com", stdin="correct horse battery\n")
        key = admin("create-key", "--username", "ada", "--name", "soak")
        server = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", *store], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env, text=True)
        line = server.stdout.readline()
        port = int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])
        threading.Thread(target=server.stdout.read, daemon=True).start()
        load = Load(port, key)
        threads = [threading.Thread(target=load.worker, args=(n,), daemon=True) for n in range(4)]
        for t in threads:
            t.start()
        os.makedirs(RESULTS, exist_ok=True)
        csv_path = os.path.join(RESULTS, "soak.csv")
        rows, started = [], time.monotonic()
        _, _, ticks0 = proc_sample(server.pid)
        hz = os.sysconf("SC_CLK_TCK")
        with open(csv_path, "w") as out:
            out.write("seconds,rss_kib,fds,requests,p50_ms,p99_ms,cpu_us_per_request\n")
            while time.monotonic() - started < args.minutes * 60:
                time.sleep(args.interval)
                rss, fds, ticks = proc_sample(server.pid)
                lat = load.take()
                cpu_us = (ticks - ticks0) / hz * 1e6 / max(1, len(lat))
                ticks0 = ticks
                row = (round(time.monotonic() - started), rss, fds, len(lat),
                       round(pct(lat, 50) * 1000, 2), round(pct(lat, 99) * 1000, 2), round(cpu_us, 1))
                rows.append(row)
                out.write(",".join(map(str, row)) + "\n")
                out.flush()
        load.stop.set()
        for t in threads:
            t.join(30)
        plot(csv_path, os.path.join(RESULTS, "soak.png"))
        quarter = max(1, len(rows) // 4)
        warm, end = rows[quarter - 1], rows[-1]
        p99s = [statistics.median(r[5] for r in rows[i:i + quarter]) for i in range(0, len(rows), quarter)]
        summary = {
            "backend": args.backend,
            "minutes": args.minutes,
            "requests": sum(r[3] for r in rows),
            "errors": len(load.errors),
            "rss_mib": [round(warm[1] / 1024, 1), round(end[1] / 1024, 1)],
            "fds": [warm[2], end[2]],
            "p99_ms_by_quarter": [round(p, 2) for p in p99s],
            "cpu_us_per_request_median": statistics.median(r[6] for r in rows),
            "mails_received": len(sink.received) if sink else None,
        }
        print(json.dumps(summary))
        for e in load.errors[:5]:
            print(e, file=sys.stderr)
        return 1 if load.errors else 0
    finally:
        if server:
            server.terminate()
            server.wait(10)
        if sink:
            sink.close()
        if db:
            subprocess.run(PG_ADMIN + [f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    # A SIGTERM (Ctrl-C's cousin from `kill`) still stops the server and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
