#!/usr/bin/env python3
"""Restarts the real PostgreSQL under load and checks what Fulcrum's clients saw.

    FULCRUM_BIN=target/debug/fulcrum python3 bench/pg_restart.py [--restarts N]

Starts `fulcrum serve` on a fresh database, drives the SDK's Viewer from four threads,
restarts PostgreSQL (`pg_ctlcluster … restart -m fast`, which ends every connection) N
times, and fails unless every answer was 200 or 503 `store_unavailable` with
`Retry-After`, no request took longer than 5 s, and the server answered 200 again within
10 s of each restart without being touched. Prints one JSON line of figures.

It restarts the machine's shared PostgreSQL, so it lives outside `scripts/test.sh`; the
in-suite version (tests/faults.rs) cuts the connections with a relay instead. Standard
library only.
"""

import argparse
import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIEWER = "query Viewer { viewer { id entity username email flags admin } }"
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAtc"]


def pg_restart():
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
        check=True,
    )


def start_server(binary, url, data_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FULCRUM_")}
    env["FULCRUM_LOG_LEVEL"] = "error"
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = proc.stdout.readline()
    if "listening on http://" not in line:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    addr = line.split("listening on http://")[1].split()[0]
    return proc, f"http://{addr}"


def admin(binary, url, data_dir, args, stdin=""):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FULCRUM_")}
    out = subprocess.run(
        [binary, "admin", *args, "--data-dir", data_dir, "--database-url", url],
        input=stdin, capture_output=True, text=True, env=env, check=True,
    )
    return out.stdout.strip()


def viewer(base, auth):
    body = json.dumps({"query": VIEWER}).encode()
    req = urllib.request.Request(
        f"{base}/graphql", data=body, method="POST",
        headers={"Authorization": auth, "Content-Type": "application/json"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            return started, r.status, None, None, time.monotonic() - started
    except urllib.error.HTTPError as e:
        payload = json.loads(e.read() or b"{}")
        code = (payload.get("errors") or [{}])[0].get("extensions", {}).get("code")
        return started, e.code, code, e.headers.get("Retry-After"), time.monotonic() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    binary = os.environ.get("FULCRUM_BIN", os.path.join(REPO, "target/debug/fulcrum"))
    name = f"fulcrum_restart_{random.randrange(1 << 30):x}"
    subprocess.run(PG_ADMIN + [f"CREATE DATABASE {name}"], check=True)
    url = f"postgres://postgres@127.0.0.1:5432/{name}"
    data_dir = f"/tmp/{name}"
    proc = None
    try:
        admin(binary, url, data_dir, ["create-user", "--username", "ada", "--email", "ada@example.com"],
              "correct horse battery\n")
        key = admin(binary, url, data_dir, ["create-key", "--username", "ada", "--name", "load"])
        auth = "Basic " + base64.b64encode(f"api:{key}".encode()).decode()
        proc, base = start_server(binary, url, data_dir)
        seen, stop = [], threading.Event()

        def load():
            while not stop.is_set():
                s = viewer(base, auth)
                seen.append(s)
                if s[1] != 200:
                    time.sleep(0.005)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        recoveries, failures = [], []
        for _ in range(args.restarts):
            time.sleep(2)
            pg_restart()
            back = time.monotonic()
            while time.monotonic() - back < 10:
                if viewer(base, auth)[1] == 200:
                    recoveries.append(time.monotonic() - back)
                    break
                time.sleep(0.05)
            else:
                failures.append("no 200 within 10 s of a restart")
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join()
        statuses = {}
        for _, status, code, retry, took in seen:
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200 and (status, code) != (503, "store_unavailable"):
                failures.append(f"answer {status} {code}")
            if status == 503 and not retry:
                failures.append("503 without Retry-After")
        slowest = max(s[4] for s in seen)
        if slowest > 5:
            failures.append(f"a request took {slowest:.1f} s")
        print(json.dumps({
            "restarts": args.restarts,
            "requests": len(seen),
            "statuses": statuses,
            "slowest_ms": round(slowest * 1000, 1),
            "recovery_ms": [round(r * 1000) for r in recoveries],
            "failures": sorted(set(failures)),
        }))
        return 1 if failures else 0
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
        subprocess.run(PG_ADMIN + [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)
        subprocess.run(["rm", "-rf", data_dir], check=False)


if __name__ == "__main__":
    # A SIGTERM (Ctrl-C's cousin from `kill`) still stops the server and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
