"""Three Fulcrum instances on one PostgreSQL database behind nginx, for the SDK suite.

`SDK_CLUSTER=3` makes the session's server this: every instance shares the
database and the data directory (blobs and the server secret), nginx (Debian's) spreads
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
