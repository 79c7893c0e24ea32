#!/usr/bin/env python3
"""Helpers for bench/load.sh (Python 3 standard library only).

Subcommands
  free-port                      print a free TCP port on 127.0.0.1
  spawn  --pidfile F --log F --port P --timeout S -- CMD...
                                 start the server (detached from this helper), poll
                                 GET /healthz every 5 ms, print {"pid":..,"cold_start_ms":..}
  check-viewer --port P --username U
                                 one authenticated Viewer request (BENCH_AUTH); must answer
                                 200 with that username
  intro                          print the deterministic ~10 kB Markdown intro on stdout
                                 (its byte length and SHA-256 on stderr)
  set-intro --port P             store that intro for the BENCH_AUTH user through the
                                 updateIntro mutation; check the rendered HTML; print sizes
  check-profile --port P --username U
                                 one anonymous public-profile request (the web UI's query);
                                 must answer 200 with the rendered intro; print its size
  rss    --pid P                 print {"vm_rss_kib":..,"vm_hwm_kib":..}
  wrk    --pid P --out F --backend B --pass c32 --target T --round R [--warmup] -- WRKARGS...
                                 run wrk, account the server's CPU (utime+stime from
                                 /proc/P/stat) and the machine's busy time around it, append
                                 one JSON record to F and print a one-line summary
  emit   --out F key=value...    append one JSON record (numbers are typed)
  summarise --in F --json OUT    medians per backend/pass/target -> OUT (JSON) and a
                                 Markdown summary on stdout
"""

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def die(msg):
    print(f"bench.py: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- /proc readers

def proc_cpu_seconds(pid):
    """utime+stime of the whole process (all threads, live and exited), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime is field 14, stime field 15.
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    return data[data.rindex(")") + 2:].split()[0]


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def machine_cpu():
    """(busy, steal, total) jiffies summed over all CPUs, from /proc/stat.

    busy = user+nice+system+irq+softirq (work done on this VM); steal = time the hypervisor
    gave to someone else; total = user..steal (guest time is already inside user)."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    v = [int(x) for x in parts[1:9]] + [0] * 8
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return user + nice + system + irq + softirq, steal, sum(v[:8])


# ---------------------------------------------------------------- subcommands

def cmd_free_port(_args):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def healthz_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(256)
                if not chunk:
                    break
                buf += chunk
            return buf.startswith(b"HTTP/1.1 200") or buf.startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def cmd_spawn(args):
    if not args.command:
        die("spawn: no command given")
    log = open(args.log, "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(args.command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            cwd=args.cwd, start_new_session=True)
    # The pid goes to disk at once so load.sh's trap can stop the server even if we die.
    with open(args.pidfile, "w") as f:
        f.write(f"{proc.pid}\n")
    deadline = t0 + args.timeout
    while True:
        if healthz_ok(args.port):
            ms = (time.perf_counter() - t0) * 1000.0
            break
        if proc.poll() is not None:
            die(f"server exited with status {proc.returncode} before /healthz answered 200 "
                f"(log: {args.log})")
        if time.perf_counter() > deadline:
            die(f"/healthz did not answer 200 within {args.timeout} s (log: {args.log})")
        time.sleep(0.005)
    # The server outlives this helper; load.sh stops it by pid.
    print(json.dumps({"pid": proc.pid, "cold_start_ms": round(ms, 1)}))


VIEWER_BODY = ('{"query":"query Viewer { viewer { id entity username email flags teams { edges '
               '{ node { name } } } } }","operationName":"Viewer"}')


def cmd_check_viewer(args):
    """One Viewer request through urllib: must be 200 with data.viewer.username == --username."""
    import urllib.request
    import urllib.error
    auth = os.environ.get("BENCH_AUTH", "")
    req = urllib.request.Request(
        f"http://127.0.0.1:{args.port}/graphql", data=VIEWER_BODY.encode(), method="POST",
        headers={"Authorization": auth, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, body = r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        die(f"viewer check: request failed: {e}")
    if status != 200:
        die(f"viewer check: HTTP {status}: {body[:300]}")
    try:
        doc = json.loads(body)
    except ValueError:
        die(f"viewer check: response is not JSON: {body[:300]}")
    viewer = (doc.get("data") or {}).get("viewer")
    if doc.get("errors") or not viewer or viewer.get("username") != args.username:
        die(f"viewer check: unexpected response: {body[:300]}")
    print(body)


# ---------------------------------------------------------------- profile page target

# The web UI's public profile page (ui/src/pages/PublicProfile.svelte) sends exactly this,
# anonymously, with Accept and Content-Type application/json. bench/wrk.lua has the same body.
PROFILE_QUERY = ("query PublicUser($username: String!) { user(username: $username) { username "
                 "name photoUrl institution bio location website intro introHtml } }")
INTRO_MUTATION = ("mutation ($intro: String!) { updateIntro(input: {intro: $intro}) "
                  "{ user { introHtml } } }")
# What the stored intro must render to (checked here and, per response, in bench/wrk.lua).
INTRO_HTML_START = "<h1>Ada Bench"

INTRO_BADGES = [
    ("X: @weights_biases", "https://img.shields.io/twitter/follow/weights_biases?style=social",
     "https://x.com/intent/follow?screen_name=weights_biases"),
    ("GitHub followers", "https://img.shields.io/github/followers/wandb?style=social",
     "https://github.com/wandb"),
    ("GitHub stars", "https://img.shields.io/github/stars/wandb/wandb?style=social",
     "https://github.com/wandb/wandb"),
    ("LinkedIn", "https://img.shields.io/badge/LinkedIn-follow-blue?style=social&logo=linkedin",
     "https://www.linkedin.com/company/wandb/"),
    ("YouTube",
     "https://img.shields.io/youtube/channel/subscribers/UCBp3w4DCEC64FZr4k9ROxig?style=social",
     "https://www.youtube.com/@WeightsBiases"),
]
INTRO_RAW_BADGES = [
    ("python", "3.12", "blue"), ("pytorch", "2.5", "orange"), ("jax", "0.4", "9cf"),
    ("license", "Apache--2.0", "green"), ("papers", "7", "informational"),
    ("status", "open%20to%20collabs", "brightgreen"),
]
INTRO_TOPICS = [
    ("Learning-rate warm-up", "warm-up"), ("Mixed precision", "bf16"),
    ("Data loader stalls", "dataloader"), ("Sweeps on a budget", "sweeps"),
    ("Evaluation drift", "eval"), ("Checkpoint sizes", "checkpoints"),
]
INTRO_MODELS = ["resnet-50", "vit-b/16", "convnext-t", "deit-s", "efficientnet-b3",
                "mobilenet-v3", "swin-t", "regnety-8gf"]
INTRO_MIN_BYTES, INTRO_MAX_BYTES = 10_000, 10_500


def intro_markdown():
    """A realistic ~10 kB profile intro, the same every time: a heading, social badges (Markdown
    image links and raw <img width>), paragraphs with bold/italic/links, a list, a table, a
    code block, a task list, repeated note sections (added until the next one would pass
    INTRO_MAX_BYTES), a blockquote, a badge list and a footer.

    benches/markdown.rs builds the byte-identical text (same SHA-256); keep the two in step."""
    out = []
    out.append("# Ada Bench \u2014 machine learning engineer\n\n")
    out.append(" ".join(f"[![{a}]({i})]({h})" for a, i, h in INTRO_BADGES) + "\n\n")
    out.append('<p align="left">\n')
    for n, (label, msg, color) in enumerate(INTRO_RAW_BADGES):
        out.append(f'  <img src="https://img.shields.io/badge/{label}-{msg}-{color}" '
                   f'width="{100 + 20 * (n % 3)}" alt="{label}">\n')
    out.append("</p>\n\n")
    out.append(
        "I train **vision and language models** at a small lab and write about the boring parts "
        "that decide whether an experiment is worth anything: *data*, *evaluation* and "
        "**reproducibility**. Most of my public work lives on "
        "[GitHub](https://github.com/wandb) and in reports on "
        "[Weights & Biases](https://wandb.ai/site). Before that I spent four years on "
        "recommendation systems, where I learned to distrust any metric I had not plotted "
        "myself.\n\n")
    out.append("## About me\n\n")
    out.append(
        "- \U0001F52D Currently: scaling laws for **small** models (under 300M parameters)\n"
        "- \U0001F331 Learning: [JAX](https://jax.readthedocs.io) and `pjit` sharding\n"
        "- \U0001F4AC Ask me about: sweeps, `wandb.log` hygiene, mixed precision\n"
        "- \U0001F4EB Reach me: [ada@example.com](mailto:ada@example.com) or on "
        "[X](https://x.com/weights_biases)\n"
        "- \u26A1 Fun fact: my first model was a ~~perceptron~~ logistic regression in Excel\n\n")
    out.append("## Selected results\n\n")
    out.append("| model | dataset | top-1 (%) | params (M) | epochs | report |\n")
    out.append("|:---|:---|---:|---:|---:|:---:|\n")
    for n, m in enumerate(INTRO_MODELS):
        top1 = 7600 + (n * 137) % 900
        params = 5 + (n * 11) % 80
        out.append(f"| `{m}` | ImageNet-1k | {top1 // 100}.{top1 % 100:02d} | {params} | "
                   f"{90 + 10 * (n % 4)} | "
                   f"[run](https://wandb.ai/ada/scaling/runs/{n * 7919 % 100000:05d}) |\n")
    out.append("\n")
    out.append("## Reproduce a run\n\n")
    out.append(
        "```python\n"
        "import wandb\n"
        "\n"
        "config = {\"lr\": 3e-4, \"batch_size\": 256, \"epochs\": 90, \"warmup\": 5}\n"
        "with wandb.init(project=\"scaling\", entity=\"ada\", config=config) as run:\n"
        "    model = build_model(run.config)\n"
        "    for epoch in range(run.config.epochs):\n"
        "        loss = train_one_epoch(model, epoch)\n"
        "        acc = evaluate(model)\n"
        "        run.log({\"loss\": loss, \"val/acc\": acc, \"epoch\": epoch})\n"
        "    run.log_artifact(save_checkpoint(model), type=\"model\")\n"
        "```\n\n")
    out.append("## Things I would like to do\n\n")
    out.append("- [x] Publish the data-loader benchmark\n"
               "- [x] Write up the bf16 loss-scale notes\n"
               "- [ ] Open-source the sweep scheduler\n"
               "- [ ] Give a talk that has no slides with tables on them\n\n")
    out.append("## Notes from recent experiments\n\n")
    footer = (
        "## Elsewhere\n\n"
        "> \u201CIf it is not logged, it did not happen.\u201D \u2014 every lab notebook, ever\n\n"
        + "\n".join(f"- [![{a}]({i})]({h})" for a, i, h in INTRO_BADGES) + "\n\n"
        "---\n\n"
        "<sub>Made with \u2764\uFE0F and too many GPU hours. "
        "<img src=\"https://img.shields.io/badge/visitors-1337-lightgrey\" width=\"90\"></sub>\n")
    body = "".join(out)
    n = 0
    while True:
        title, tag = INTRO_TOPICS[n % len(INTRO_TOPICS)]
        run = (n * 7919 + 17) % 100000
        sec = (
            f"### {n + 1}. {title}\n\n"
            f"Run [`{tag}-{run:05d}`](https://wandb.ai/ada/scaling/runs/{run:05d}) changed one "
            f"thing against its parent: **{title.lower()}**. Validation accuracy moved by "
            f"{(n * 37) % 90 + 10} basis points and the step time by {(n * 13) % 40 + 5} ms. "
            "The effect held over three seeds, which is more than I can say for most of my "
            "ideas. See the [report](https://wandb.ai/ada/scaling/reports/"
            f"{tag}--Vmlldzo{run:05d}) for the curves.\n\n"
            f"1. Baseline: **{INTRO_MODELS[n % len(INTRO_MODELS)]}**, "
            f"batch size {128 << (n % 3)}\n"
            f"2. Change: `{tag}` only, everything else pinned\n"
            "3. Verdict: _keep it_ if the gain survives the next data refresh\n\n")
        if len((body + sec + footer).encode()) > INTRO_MAX_BYTES:
            break
        body += sec
        n += 1
    doc = body + footer
    size = len(doc.encode())
    if not INTRO_MIN_BYTES <= size <= INTRO_MAX_BYTES:
        die(f"the generated intro is {size} bytes, expected "
            f"{INTRO_MIN_BYTES:,}..{INTRO_MAX_BYTES:,}")
    return doc


def cmd_intro(_args):
    import hashlib
    doc = intro_markdown()
    sys.stdout.write(doc)
    print(f"{len(doc.encode())} bytes, sha256 {hashlib.sha256(doc.encode()).hexdigest()}",
          file=sys.stderr)


def post_graphql(port, payload, auth=None, what="request"):
    """POST /graphql like the web UI; returns (status, body text, parsed JSON or None)."""
    import urllib.request
    import urllib.error
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    # Compact, UTF-8 as JSON.stringify writes it (the profile body is then byte-identical
    # to the one in bench/wrk.lua).
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=data, method="POST",
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except OSError as e:
        die(f"{what}: request failed: {e}")
    body = raw.decode("utf-8", "replace")
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return status, body, doc


def cmd_set_intro(args):
    import hashlib
    auth = os.environ.get("BENCH_AUTH", "")
    if not auth:
        die("set-intro: BENCH_AUTH is not set")
    intro = intro_markdown()
    status, body, doc = post_graphql(args.port, {"query": INTRO_MUTATION,
                                                 "variables": {"intro": intro}},
                                     auth=auth, what="set-intro")
    html = ((((doc or {}).get("data") or {}).get("updateIntro") or {}).get("user") or {}) \
        .get("introHtml")
    if status != 200 or (doc or {}).get("errors") or not isinstance(html, str) \
            or not html.startswith(INTRO_HTML_START) or "<table>" not in html:
        die(f"set-intro: unexpected response (HTTP {status}): {body[:300]}")
    print(json.dumps({"intro_bytes": len(intro.encode()),
                      "intro_sha256": hashlib.sha256(intro.encode()).hexdigest(),
                      "intro_html_bytes": len(html.encode())}))


def cmd_check_profile(args):
    payload = {"query": PROFILE_QUERY, "variables": {"username": args.username}}
    lua = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk.lua")
    with open(lua, encoding="utf-8") as f:
        if json.dumps(payload, separators=(",", ":")) not in f.read():
            die(f"profile check: {lua} does not send the same body as PROFILE_QUERY here")
    status, body, doc = post_graphql(args.port, payload, what="profile check")
    user = ((doc or {}).get("data") or {}).get("user") or {}
    html = user.get("introHtml")
    if status != 200 or (doc or {}).get("errors") or user.get("username") != args.username \
            or not isinstance(html, str) or not html.startswith(INTRO_HTML_START) \
            or user.get("intro") != intro_markdown():
        die(f"profile check: unexpected response (HTTP {status}): {body[:300]}")
    print(json.dumps({"profile_response_bytes": len(body.encode())}))


def cmd_rss(args):
    state = proc_state(args.pid)
    if state is None or state == "Z":
        die(f"process {args.pid} is not running")
    print(json.dumps({"vm_rss_kib": proc_status_kib(args.pid, "VmRSS"),
                      "vm_hwm_kib": proc_status_kib(args.pid, "VmHWM")}))


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        return None
    return float(m.group(1)) * UNIT[m.group(2)]


def parse_wrk(out):
    r = {}
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m)", out, re.M)
    r["requests"] = int(m.group(1)) if m else None
    r["duration_s"] = (to_ms(m.group(2) + m.group(3)) / 1000.0) if m else None
    m = re.search(r"^Requests/sec:\s*([0-9.]+)", out, re.M)
    r["rps"] = float(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s*{pct}%\s+([0-9.]+(?:us|ms|s|m|h))", out, re.M)
        r[f"p{pct}_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    r["non_2xx_3xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    r["socket_errors_detail"] = m.group(0) if m else ""
    m = re.search(r"^BENCH_NON200 (\d+) ?(.*)$", out, re.M)
    r["non_200"] = int(m.group(1)) if m else None
    r["first_bad"] = m.group(2).strip() if m else ""
    return r


def pg_backend_pids(db):
    """pids of the PostgreSQL backends connected to database `db` (local server only)."""
    if not re.fullmatch(r"[a-z0-9_]+", db):
        die(f"bad database name {db!r}")
    res = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", os.environ.get("BENCH_PG_PORT", "5432"),
         "-U", os.environ.get("BENCH_PG_USER", "postgres"), "-d", "postgres", "-X", "-At",
         "-c", f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'"],
        capture_output=True, text=True, timeout=10)
    if res.returncode != 0:
        die(f"cannot list PostgreSQL backends: {res.stderr.strip()}")
    return [int(x) for x in res.stdout.split()]


def cpu_of_pids(pids):
    out = {}
    for pid in pids:
        try:
            out[pid] = proc_cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def cmd_wrk(args):
    wrk_args = args.wrkargs
    if wrk_args and wrk_args[0] == "--":
        wrk_args = wrk_args[1:]
    if proc_state(args.pid) in (None, "Z"):
        die(f"server {args.pid} is not running")
    db0 = cpu_of_pids(pg_backend_pids(args.pg_db)) if args.pg_db else {}
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = proc_cpu_seconds(args.pid)
    busy0, steal0, total0 = machine_cpu()
    t0 = time.perf_counter()
    try:
        res = subprocess.run(["wrk"] + wrk_args, capture_output=True, text=True,
                             timeout=args.timeout)
    except subprocess.TimeoutExpired:
        die(f"wrk did not finish within {args.timeout} s")
    wall = time.perf_counter() - t0
    busy1, steal1, total1 = machine_cpu()
    if proc_state(args.pid) in (None, "Z"):
        die(f"server {args.pid} died during the wrk run")
    cpu1 = proc_cpu_seconds(args.pid)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    db_cpu = None
    if args.pg_db:
        # Backends that exited during the run are lost (the pool keeps its connections, so
        # this should not happen); backends opened during the run count from zero.
        db1 = cpu_of_pids(pg_backend_pids(args.pg_db))
        db_cpu = sum(v - db0.get(pid, 0.0) for pid, v in db1.items())
        db_lost = sorted(set(db0) - set(db1))
    if res.returncode != 0:
        die(f"wrk failed (exit {res.returncode}): {res.stderr.strip() or res.stdout.strip()}")
    p = parse_wrk(res.stdout)
    if not p["requests"]:
        die(f"could not parse wrk output:\n{res.stdout}")
    server_cpu = cpu1 - cpu0
    wrk_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    busy_s = (busy1 - busy0) / CLK_TCK
    ncpu = os.cpu_count() or 1
    rec = {
        "type": "run", "backend": args.backend, "pass": args.pass_, "target": args.target,
        "round": args.round, "warmup": args.warmup,
        **p,
        "server_cpu_s": round(server_cpu, 3),
        "cpu_us_per_req": round(server_cpu * 1e6 / p["requests"], 2),
        "wrk_cpu_s": round(wrk_cpu, 3),
        # share of the machine's CPU time (all cores, over the run) that was busy
        "machine_busy": round((busy1 - busy0) / max(1, total1 - total0), 3),
        # share stolen by the hypervisor
        "steal": round((steal1 - steal0) / max(1, total1 - total0), 3),
        # CPU used by neither the server nor wrk (other processes on the box), as a share of
        # the machine's capacity over the run: the noise indicator
        "foreign_share": round(max(0.0, busy_s - server_cpu - wrk_cpu - (db_cpu or 0.0))
                               / (ncpu * wall), 3),
        # PostgreSQL backend processes serving this database (not part of the server's CPU)
        "db_cpu_s": None if db_cpu is None else round(db_cpu, 3),
        "db_cpu_us_per_req": None if db_cpu is None else round(db_cpu * 1e6 / p["requests"], 2),
        "db_backends_lost": db_lost if args.pg_db else [],
        "wall_s": round(wall, 2),
    }
    errors = []
    if rec["non_2xx_3xx"]:
        errors.append(f"{rec['non_2xx_3xx']} non-2xx/3xx")
    if rec["non_200"] is None:
        errors.append("Lua status counter missing")
    elif rec["non_200"]:
        errors.append(f"{rec['non_200']} non-200 (first: {rec['first_bad'][:120]})")
    if rec["socket_errors"]:
        errors.append(rec["socket_errors_detail"])
    rec["errors"] = errors
    rec["valid"] = not errors
    with open(args.out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    tag = "warm-up" if args.warmup else f"round {args.round}"
    status = "ok" if rec["valid"] else "INVALID: " + "; ".join(errors)
    print(f"  {args.backend:8} {args.pass_:3} {args.target:8} {tag:8} "
          f"{rec['rps'] or 0:>10.0f} req/s  p50 {fmt(rec['p50_ms'], 3)} ms  p99 {fmt(rec['p99_ms'], 3)} ms  "
          f"cpu {rec['cpu_us_per_req']:.1f} us/req  busy {rec['machine_busy']:.2f}  "
          + (f"db {rec['db_cpu_us_per_req']:.1f} us/req  " if db_cpu is not None else "")
          + f"other {rec['foreign_share']:.2f}  steal {rec['steal']:.2f}  {status}",
          flush=True)


def typed(v):
    if v in ("true", "false"):
        return v == "true"
    if re.fullmatch(r"-?[0-9]+", v):
        return int(v)
    if re.fullmatch(r"-?[0-9]+\.[0-9]+", v):
        return float(v)
    return v


def cmd_emit(args):
    rec = {}
    for kv in args.kv:
        if "=" not in kv:
            die(f"emit: expected key=value, got {kv!r}")
        k, v = kv.split("=", 1)
        rec[k] = typed(v)
    with open(args.out, "a") as f:
        f.write(json.dumps(rec) + "\n")


# ---------------------------------------------------------------- summary

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarise_target(runs):
    return {
        "rounds": len(runs),
        "rps_median": med([r["rps"] for r in runs]),
        "rps_min": min(r["rps"] for r in runs),
        "rps_max": max(r["rps"] for r in runs),
        "p50_ms": med([r["p50_ms"] for r in runs]),
        "p99_ms": med([r["p99_ms"] for r in runs]),
        "cpu_us_per_req": med([r["cpu_us_per_req"] for r in runs]),
        "cpu_us_per_req_min": min(r["cpu_us_per_req"] for r in runs),
        "cpu_us_per_req_max": max(r["cpu_us_per_req"] for r in runs),
        "db_cpu_us_per_req": med([r.get("db_cpu_us_per_req") for r in runs]),
        "requests_total": sum(r["requests"] for r in runs),
        "machine_busy": med([r["machine_busy"] for r in runs]),
        "foreign_share": med([r.get("foreign_share") for r in runs]),
        "foreign_share_max": max(r.get("foreign_share", 0) for r in runs),
        "steal": med([r.get("steal") for r in runs]),
        "wrk_cpu_s": med([r["wrk_cpu_s"] for r in runs]),
        "valid": all(r["valid"] for r in runs),
        "errors": [e for r in runs for e in r["errors"]],
    }


def fmt(x, nd=0):
    if x is None:
        return "-"
    return f"{x:,.{nd}f}"


def pct(x):
    return "-" if x is None else f"{x:.0%}"


TARGET_TITLES = {
    "viewer": "Viewer: POST /graphql, the wandb SDK's Viewer query with an API key",
    "profile": "Public profile page: anonymous POST /graphql, the web UI's user(username) query, "
               "~10 kB intro",
}


def cmd_summarise(args):
    recs = []
    with open(args.in_) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    meta = {}
    backends = {}
    order = []
    for r in recs:
        t = r.get("type")
        if t == "meta":
            meta.update({k: v for k, v in r.items() if k != "type"})
        elif t == "backend":
            b = r["backend"]
            if b not in backends:
                backends[b] = {"runs": []}
                order.append(b)
            backends[b].update({k: v for k, v in r.items() if k not in ("type", "backend")})
        elif t == "run":
            b = r["backend"]
            if b not in backends:
                backends[b] = {"runs": []}
                order.append(b)
            backends[b]["runs"].append(r)

    out = {"meta": meta, "backends": {}}
    all_valid = True
    # the targets load.sh was asked to measure (older records: baseline and viewer only)
    wanted = str(meta.get("targets") or "baseline viewer").split()
    others = [t for t in wanted if t != "baseline"]
    for b in order:
        d = backends[b]
        runs = d.pop("runs")
        passes = {}
        for pname in sorted({r["pass"] for r in runs}, key=lambda p: -int(p.lstrip("c"))):
            pr = [r for r in runs if r["pass"] == pname]
            p = {"warmup": {}, "targets": {}}
            for tname in wanted:
                tr = [r for r in pr if r["target"] == tname and not r["warmup"]]
                wr = [r for r in pr if r["target"] == tname and r["warmup"]]
                if tr:
                    p["targets"][tname] = summarise_target(tr)
                if wr:
                    p["warmup"][tname] = {"rps": wr[0]["rps"], "valid": wr[0]["valid"],
                                          "errors": wr[0]["errors"]}
            tb = p["targets"].get("baseline")
            for tname in others:
                tt = p["targets"].get(tname)
                if tb and tt:
                    p[f"ratio_rps_{tname}_over_baseline"] = round(
                        tt["rps_median"] / tb["rps_median"], 3)
                    p[f"ratio_cpu_{tname}_over_baseline"] = round(
                        tt["cpu_us_per_req"] / tb["cpu_us_per_req"], 2)
                    p[f"cpu_us_per_req_{tname}_minus_baseline"] = round(
                        tt["cpu_us_per_req"] - tb["cpu_us_per_req"], 1)
            # Warm-up runs are discarded from the figures but their errors still count.
            p["valid"] = all(t["valid"] for t in p["targets"].values()) and \
                all(w["valid"] for w in p["warmup"].values())
            passes[pname] = p
        d["passes"] = passes
        # complete = the backend finished (its summary record exists) with every wanted
        # target measured in every pass
        d["complete"] = "cold_start_ms" in d and bool(passes) and all(
            set(wanted) <= set(p["targets"]) for p in passes.values())
        d["valid"] = d["complete"] and all(p["valid"] for p in passes.values()) \
            and not d.get("error")
        all_valid = all_valid and d["valid"]
        measured = [r for r in runs if not r["warmup"]]
        if measured:
            d["noise"] = {
                "foreign_share_median": med([r.get("foreign_share") for r in measured]),
                "foreign_share_max": max(r.get("foreign_share", 0) for r in measured),
                "steal_median": med([r.get("steal") for r in measured]),
                "machine_busy_median": med([r.get("machine_busy") for r in measured]),
            }
        d["runs"] = runs
        out["backends"][b] = d
    if meta.get("aborted"):
        all_valid = False
    out["all_valid"] = all_valid
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")

    # ---- Markdown
    L = []
    L.append(f"## Fulcrum load benchmark — {meta.get('date', '?')}")
    L.append("")
    L.append(f"Machine: {meta.get('nproc', '?')} CPUs, {meta.get('mem_gib', '?')} GiB RAM, "
             f"{meta.get('kernel', '?')}, load average at start {meta.get('loadavg_start', '?')}; wrk {meta.get('wrk_version', '?')} on the same cores. "
             f"Commit {meta.get('git_commit', '?')}"
             + (f" + uncommitted changes in {meta.get('git_dirty_paths') or 'src/'}"
                if meta.get('git_dirty_src') else '') + ". "
             f"Targets: {' '.join(wanted)}. "
             f"wrk -t2 -d{meta.get('duration_s', '?')}s --timeout 10s, "
             f"{meta.get('rounds', '?')} interleaved rounds after a "
             f"{meta.get('warmup_s', '?')} s warm-up per target; medians.")
    L.append("")
    for tname in others:
        L.append("")
        L.append(f"**{TARGET_TITLES.get(tname, tname)}**")
        L.append("")
        L.append(f"| backend | conns | baseline req/s (min..max) | {tname} req/s (min..max) | "
                 f"**{tname}/baseline** | baseline p50/p99 ms | {tname} p50/p99 ms | "
                 f"CPU µs/req baseline | CPU µs/req {tname} | CPU ratio | "
                 f"+ PG backends µs/req {tname} | all 200 |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for b, d in out["backends"].items():
            if d.get("error") and not d["passes"]:
                L.append(f"| {b} | - | FAILED: {d['error']} | | | | | | | | | no |")
                continue
            for pname, p in d["passes"].items():
                tb, tv = p["targets"].get("baseline"), p["targets"].get(tname)
                if not (tb and tv):
                    L.append(f"| {b} | {pname} | incomplete | | | | | | | | | no |")
                    continue
                L.append(
                    f"| {b} | {pname.lstrip('c')} "
                    f"| {fmt(tb['rps_median'])} ({fmt(tb['rps_min'])}..{fmt(tb['rps_max'])}) "
                    f"| {fmt(tv['rps_median'])} ({fmt(tv['rps_min'])}..{fmt(tv['rps_max'])}) "
                    f"| **{p[f'ratio_rps_{tname}_over_baseline']:.2f}** "
                    f"| {fmt(tb['p50_ms'], 3)} / {fmt(tb['p99_ms'], 2)} "
                    f"| {fmt(tv['p50_ms'], 3)} / {fmt(tv['p99_ms'], 2)} "
                    f"| {fmt(tb['cpu_us_per_req'], 1)} | {fmt(tv['cpu_us_per_req'], 1)} "
                    f"| {p[f'ratio_cpu_{tname}_over_baseline']:.2f}x "
                    f"| {fmt(tv.get('db_cpu_us_per_req'), 1)} "
                    f"| {'yes' if p['valid'] else '**NO — INVALID**'} |")
    L.append("")
    L.append("| backend | cold start ms | idle RSS MiB | peak RSS MiB (VmHWM after load) | "
             "API keys in table | seeding s | other procs' CPU share med/max | steal med | valid |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for b, d in out["backends"].items():
        def mib(k):
            v = d.get(k)
            return f"{v / 1024:.1f}" if isinstance(v, (int, float)) else "-"
        L.append(f"| {b} | {fmt(d.get('cold_start_ms'), 1)} | {mib('idle_rss_kib')} "
                 f"| {mib('peak_rss_kib')} | {d.get('keys_total', '-')} "
                 f"| {fmt(d.get('seeding_s'), 1)} "
                 f"| {pct((d.get('noise') or {}).get('foreign_share_median'))} / "
                 f"{pct((d.get('noise') or {}).get('foreign_share_max'))} "
                 f"| {pct((d.get('noise') or {}).get('steal_median'))} "
                 f"| {'yes' if d['valid'] else '**NO**'} |")
    sizes = [f"{b}: {fmt(d['intro_bytes'])} bytes of Markdown -> {fmt(d.get('intro_html_bytes'))} "
             f"bytes of HTML, {fmt(d.get('profile_response_bytes'))} bytes per profile response"
             for b, d in out["backends"].items() if d.get("intro_bytes")]
    if sizes:
        L.append("")
        L.append("Profile intro (set once through updateIntro before the load): "
                 + "; ".join(sizes) + ".")
    notes = []
    for b, d in out["backends"].items():
        if d.get("error"):
            notes.append(f"- {b}: {d['error']}")
        if d.get("seeding_note"):
            notes.append(f"- {b}: {d['seeding_note']}")
        for pname, p in d["passes"].items():
            for tname, t in p["targets"].items():
                for e in t["errors"]:
                    notes.append(f"- {b} {pname} {tname}: {e}")
            for tname, w in p["warmup"].items():
                for e in w["errors"]:
                    notes.append(f"- {b} {pname} {tname} (warm-up): {e}")
    for b, d in out["backends"].items():
        nz = d.get("noise") or {}
        if (nz.get("foreign_share_max") or 0) > 0.10 or (nz.get("steal_median") or 0) > 0.10:
            notes.append(
                f"- {b}: machine disturbed — other processes used up to "
                f"{nz['foreign_share_max']:.0%} of the 2-core machine during a measured run "
                f"(median {nz['foreign_share_median']:.0%}), hypervisor steal median "
                f"{nz['steal_median']:.0%}; absolute req/s and latency are unreliable, "
                "ratios and CPU/req less so")
    if meta.get("aborted"):
        notes.append(f"- RUN ABORTED before completion: {meta.get('abort_reason', '?')} "
                     "(figures above are partial)")
    if notes:
        L.append("")
        L.append("Notes / errors:")
        L.extend(notes)
    L.append("")
    if meta.get("aborted"):
        verdict = "RUN ABORTED (partial results)"
    elif all_valid:
        verdict = "ALL RUNS VALID (every response 200, no socket errors)"
    else:
        verdict = "SOME RUNS INVALID (see notes)"
    L.append("Target: SQLite viewer/baseline req/s ratio at c32 >= 0.35. "
             f"Result: {verdict}.")
    print("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("free-port")
    s.set_defaults(fn=cmd_free_port)

    s = sub.add_parser("spawn")
    s.add_argument("--pidfile", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--cwd", default=None)
    s.add_argument("--timeout", type=float, default=30.0)
    s.add_argument("command", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_spawn)

    s = sub.add_parser("check-viewer")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--username", required=True)
    s.set_defaults(fn=cmd_check_viewer)

    s = sub.add_parser("intro")
    s.set_defaults(fn=cmd_intro)

    s = sub.add_parser("set-intro")
    s.add_argument("--port", type=int, required=True)
    s.set_defaults(fn=cmd_set_intro)

    s = sub.add_parser("check-profile")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--username", required=True)
    s.set_defaults(fn=cmd_check_profile)

    s = sub.add_parser("rss")
    s.add_argument("--pid", type=int, required=True)
    s.set_defaults(fn=cmd_rss)

    s = sub.add_parser("wrk")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--backend", required=True)
    s.add_argument("--pass", dest="pass_", required=True)
    s.add_argument("--target", required=True)
    s.add_argument("--round", type=int, default=0)
    s.add_argument("--warmup", action="store_true")
    s.add_argument("--timeout", type=float, default=40.0)
    s.add_argument("--pg-db", default=None,
                   help="also account the CPU of this database's PostgreSQL backends")
    s.add_argument("wrkargs", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_wrk)

    s = sub.add_parser("emit")
    s.add_argument("--out", required=True)
    s.add_argument("kv", nargs="*")
    s.set_defaults(fn=cmd_emit)

    s = sub.add_parser("summarise")
    s.add_argument("--in", dest="in_", required=True)
    s.add_argument("--json", required=True)
    s.set_defaults(fn=cmd_summarise)

    args = ap.parse_args()
    if getattr(args, "command", None) and args.command[0] == "--":
        args.command = args.command[1:]
    args.fn(args)


if __name__ == "__main__":
    main()
