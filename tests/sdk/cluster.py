"""Three Fulcrum instances on one PostgreSQL database behind nginx, for the SDK suite.

`SDK_CLUSTER=3` makes the session's server this: the instances share the database, an
S3 bucket for the blobs (moto's server, from PyPI) and the server secret (a setting), and
nothing on disk: each has a data directory of its own. nginx (Debian's) spreads
requests round robin, and the SDK only ever talks to nginx, so consecutive requests of
one run land on different instances. Needs `nginx` on the PATH and PostgreSQL at
TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import textwrap
import urllib.parse
from pathlib import Path

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _psql(sql: str) -> None:
    subprocess.run(["psql", ADMIN_URL, "-qAtc", sql], check=True, capture_output=True)


def create_database() -> str:
    """A new empty database; its URL."""
    name = f"fulcrum_sdk_{secrets.token_hex(5)}"
    _psql(f"CREATE DATABASE {name}")
    url = urllib.parse.urlsplit(ADMIN_URL)
    return urllib.parse.urlunsplit(url._replace(path=f"/{name}"))


def drop_database(url: str) -> None:
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    subprocess.run(["psql", ADMIN_URL, "-qAtc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                   capture_output=True)


def nginx_config(root: Path, port: int, upstreams: list[int]) -> Path:
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in upstreams)
    conf = root / "nginx.conf"
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / d).mkdir(exist_ok=True)
    conf.write_text(textwrap.dedent(f"""\
        worker_processes 1;
        error_log {root}/error.log warn;
        pid {root}/nginx.pid;
        events {{ worker_connections 512; }}
        http {{
            access_log off;
            # Fulcrum bounds every body itself, and streams uploads.
            client_max_body_size 0;
            proxy_request_buffering off;
            proxy_buffering off;
            client_body_temp_path {root}/body;
            proxy_temp_path {root}/proxy;
            fastcgi_temp_path {root}/fastcgi;
            uwsgi_temp_path {root}/uwsgi;
            scgi_temp_path {root}/scgi;
            upstream fulcrum {{
        {servers}
                keepalive 16;
            }}
            server {{
                listen 127.0.0.1:{port};
                location / {{
                    proxy_pass http://fulcrum;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_set_header Host $http_host;
                    proxy_set_header X-Forwarded-For $remote_addr;
                    proxy_read_timeout 300s;
                }}
            }}
        }}
        """))
    return conf


def start_nginx(root: Path, port: int, upstreams: list[int]) -> subprocess.Popen:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    conf = nginx_config(root, port, upstreams)
    return subprocess.Popen([nginx, "-c", str(conf), "-p", str(root), "-g", "daemon off;"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def requests_served(ports: list[int]) -> list[int]:
    """Each instance's own count of the requests it answered (from its /metrics)."""
    import urllib.request
    served = []
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
        served.append(sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                          if line.startswith("fulcrum_http_requests_total{")))
    return served


def start_s3(root: Path, port: int) -> tuple[subprocess.Popen, dict]:
    """moto's S3-compatible server (target/s3-venv, made by scripts/s3-venv.sh) with a
    bucket for the blobs; the settings every instance needs to keep its blobs there."""
    import time
    import urllib.request
    repo = Path(__file__).resolve().parents[2]
    program = subprocess.run(["bash", str(repo / "scripts" / "s3-venv.sh")], check=True,
                             capture_output=True, text=True).stdout.strip()
    log = open(root / "s3.log", "ab")
    proc = subprocess.Popen([program, "-H", "127.0.0.1", "-p", str(port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            request = urllib.request.Request(f"{endpoint}/fulcrum-sdk", method="PUT")
            with urllib.request.urlopen(request, timeout=5):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.2)
    env = {
        "AWS_ACCESS_KEY_ID": "fulcrum-sdk",
        "AWS_SECRET_ACCESS_KEY": "fulcrum-sdk-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT": endpoint,
        "FULCRUM_BLOB_URL": "s3://fulcrum-sdk/cluster",
        # Instances with data directories of their own share the server secret.
        "FULCRUM_SECRET_KEY": secrets.token_hex(32),
    }
    return proc, env


def bucket_keys(endpoint: str) -> list[str]:
    import urllib.request
    with urllib.request.urlopen(f"{endpoint}/fulcrum-sdk?list-type=2&max-keys=1000", timeout=10) as r:
        text = r.read().decode()
    return [part.split("</Key>")[0] for part in text.split("<Key>")[1:]]


def local_blobs(dirs: list[Path]) -> list[str]:
    """Files under any instance's blobs folder (there should be none)."""
    return [str(p) for d in dirs for p in (d / "blobs").rglob("*") if p.is_file()]
