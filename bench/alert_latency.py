#!/usr/bin/env python3
"""Alert latency: from a run's final file_stream to its alert at the SMTP server and at Slack.

    FULCRUM_BIN=target/release/fulcrum python3 bench/alert_latency.py

A fresh Fulcrum on SQLite (BENCH_BACKENDS="sqlite postgres" for both) mailing through a
loopback SMTP sink (the SDK suite's, tests/sdk/alert_sinks.py, as is the Slack stand-in); BENCH_RUNS runs (200) are created, then all of them
send their final `{"complete": true, "exitcode": 0}` at once from 32 threads. For every run
the latency is the time from the moment its file_stream answer arrived to the moment the
sink received the end of its mail (the DATA terminator), and to the moment a loopback Slack
incoming-webhook stand-in (connected as the person's Slack channel) received its message.
Prints p50/p99/max per channel and writes bench/results/alert_latency.json. Exit 0 only if
every run's mail and Slack message arrived exactly once.
"""
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "sdk"))
from alert_sinks import SlackStandin, SmtpSink  # noqa: E402  (the SDK suite's receivers)
BIN = os.environ.get("FULCRUM_BIN", str(HERE.parent / "target" / "release" / "fulcrum"))
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite").split()
CHANNELS = os.environ.get("BENCH_CHANNELS", "email slack").split()
PASSWORD = "bench-password-long-enough-42"


def latencies(received, acked, pattern):
    """`received`: (arrival time, text) pairs; `acked`: run → when its final answer came."""
    arrived = {}
    for at, text in received:
        m = re.search(pattern, text)
        if m:
            arrived.setdefault(m.group(1), []).append(at)
    lat = sorted((arrived[r][0] - acked[r]) * 1000 for r in acked if r in arrived)
    once = all(len(arrived.get(r, [])) == 1 for r in acked)
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] if lat else None
    return {"delivered": len(lat), "exactly_once": once, "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "max_ms": lat[-1] if lat else None}


def run_backend(backend, work, sink, slack):
    data = work / backend
    data.mkdir()
    port = 20000 + os.getpid() % 20000
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FULCRUM_")}
    env.update(FULCRUM_SMTP_HOST="127.0.0.1", FULCRUM_SMTP_PORT=str(sink.port), FULCRUM_SMTP_TLS="none",
               FULCRUM_LOG_LEVEL="warn", FULCRUM_JOB_BATCH_SIZE="16", FULCRUM_SLACK_WEBHOOK_HOSTS=slack.host)
    db = None
    if backend == "postgres":
        db = f"fulcrum_bench_alerts_{os.getpid()}"
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qAtc", f"CREATE DATABASE {db}"], check=True)
        env["FULCRUM_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db}"
    cli = lambda *a, stdin=None: subprocess.run([BIN, "admin", "--data-dir", str(data), *a], input=stdin, text=True,
                                                 capture_output=True, env=env, check=True).stdout.strip().splitlines()[-1]
    cli("create-user", "--username", "bench", "--email", "bench@example.com", stdin=PASSWORD + "\n")
    key = cli("create-key", "--username", "bench", "--name", "bench")
    auth = "Basic " + base64.b64encode(f"api:{key}".encode()).decode()
    proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data), "--public-url", url],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)

        def post(path, body):
            req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Authorization": auth})
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status

        connect = "mutation($u: String!) { connectSlackWebhook(input: {url: $u}) { id } }"
        if "slack" in CHANNELS:
            post("/graphql", {"query": connect, "variables": {"u": f"http://{slack.host}/services/T1/B1/bench"}})
        upsert = "mutation($n: String!) { upsertBucket(input: {name: $n, modelName: \"alerts\"}) { bucket { id } } }"
        for i in range(RUNS):
            post("/graphql", {"query": upsert, "variables": {"n": f"a{i}"}})
        sink.received.clear()
        slack.hits.clear()
        acked = {}

        def finish(i):
            assert post(f"/files/bench/alerts/a{i}/file_stream", {"complete": True, "exitcode": 0}) == 200
            acked[f"a{i}"] = time.monotonic()

        with ThreadPoolExecutor(32) as pool:
            list(pool.map(finish, range(RUNS)))
        deadline = time.monotonic() + 60
        want = {"email": sink.received, "slack": slack.hits}
        while any(len(want[c]) < RUNS for c in CHANNELS) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)  # anything more would be a duplicate
        return {"backend": backend, "runs": RUNS,
                "email": latencies([(at, str(sink.parse(raw)["subject"])) for at, raw in sink.received], acked,
                                   r"Run finished — (a\d+) "),
                "slack": latencies([(at, p["blocks"][0]["text"]["text"]) for at, _, p in slack.hits], acked,
                                   r"Run finished — (a\d+)$")}
    finally:
        proc.terminate()
        proc.wait(20)
        if db:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qAtc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"])


def main():
    sink, slack = SmtpSink(), SlackStandin()
    work = Path(tempfile.mkdtemp(prefix="fulcrum-alert-bench-"))
    results = [run_backend(b, work, sink, slack) for b in BACKENDS]
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "alert_latency.json").write_text(json.dumps(results, indent=2))
    ok = True
    for r in results:
        for channel in CHANNELS:
            c = r[channel]
            ok = ok and c["exactly_once"] and c["delivered"] == r["runs"]
            ms = lambda k: f"{c[k]:.0f}" if c[k] is not None else "-"
            print(f"| {r['backend']} | {channel} | {r['runs']} | {c['delivered']} | "
                  f"{'yes' if c['exactly_once'] else 'NO'} | {ms('p50_ms')} | {ms('p99_ms')} | {ms('max_ms')} |")
    sys.exit(0 if ok else 2)


if __name__ == "__main__":
    main()
