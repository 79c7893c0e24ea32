"""Fixtures for the wandb SDK compatibility suite.

One Fulcrum server per test session: a temp data dir, users and keys made with the
`fulcrum admin ...` CLI *before* `fulcrum serve` starts, then a wait for /healthz.
Every SDK interaction runs in a subprocess (timeout 60 s) with a fresh HOME and an
environment without inherited WANDB_* variables.

With SDK_CLUSTER=N the session's server is N instances on one PostgreSQL
database behind nginx (`cluster.py`); tests that start a server of their own still start
one.

Env:
  FULCRUM_BIN       server binary (default <repo>/target/debug/fulcrum)
  SDK_CLUSTER  instances behind nginx for the session's server (default: one, SQLite)
  WANDB_019_PYTHON  python of the wandb 0.19.11 venv (default <repo>/target/sdk-venvs/wandb-0.19.11/bin/python)
  WANDB_031_PYTHON  python of the wandb 0.31.0 venv (default: the interpreter running pytest)
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FULCRUM_BIN = os.environ.get("FULCRUM_BIN", str(REPO / "target" / "debug" / "fulcrum"))
PY031 = os.environ.get("WANDB_031_PYTHON", sys.executable)
PY019 = os.environ.get(
    "WANDB_019_PYTHON", str(REPO / "target" / "sdk-venvs" / "wandb-0.19.11" / "bin" / "python")
)
TIMEOUT = 60
PASSWORD = "correct-horse-battery-staple-42"


def key_id(key: str) -> str:
    """Fulcrum key id: '<prefix>-' + the first 10 characters of the secret."""
    prefix = key.split("-", 1)[0]
    return key[: len(prefix) + 11]


def legacy_key() -> str:
    return secrets.token_hex(20)  # 40 hex characters


def wandb_bin(python: str) -> str:
    return str(Path(python).parent / "wandb")


# --------------------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_cli(args, stdin=None):
    p = subprocess.run(
        [FULCRUM_BIN, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_base_env(),
    )
    if p.returncode != 0:
        raise AssertionError(
            f"`fulcrum {' '.join(args)}` exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        )
    return p.stdout


def _json_line(out: str, what: str) -> dict:
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines, f"{what}: no output"
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as e:
        raise AssertionError(f"{what}: last line is not JSON: {lines[-1]!r}") from e


@dataclass
class Fulcrum:
    data_dir: Path
    port: int
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    database_url: str | None = None  # PostgreSQL (cluster mode); SQLite otherwise
    instances: int = 1  # behind nginx when more than one
    procs: list = field(default_factory=list)  # the instances and nginx, in cluster mode
    instance_ports: list = field(default_factory=list)
    users: dict = field(default_factory=dict)  # username -> JSON from create-user
    keys: dict = field(default_factory=dict)  # label -> full key
    env: dict = field(default_factory=dict)  # extra FULCRUM_* settings for `serve`

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def instance_dir(self, i: int) -> Path:
        """Instance `i`'s data directory. In a cluster each has its own: blobs live in the
        bucket and the secret comes from the settings, so nothing local is shared."""
        if i == 0:
            return self.data_dir
        d = self.data_dir.parent / f"data-{i}"
        d.mkdir(exist_ok=True)
        return d

    def _store_args(self, i: int = 0) -> list:
        args = ["--data-dir", str(self.instance_dir(i))]
        if self.database_url:
            args += ["--database-url", self.database_url]
        return args

    # --- admin CLI (contract; --data-dir goes before the admin subcommand, which is
    # where the real binary's clap definition puts it) ---
    def create_user(self, username, email, admin=False, password=PASSWORD):
        args = ["admin", *self._store_args(), "create-user", "--username", username, "--email", email]
        if admin:
            args.append("--admin")
        info = _json_line(_run_cli(args, stdin=password + "\n"), "create-user")
        self.users[username] = info
        return info

    def create_key(self, username, name):
        out = _run_cli(["admin", *self._store_args(), "create-key", "--username", username, "--name", name])
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        assert len(lines) == 1, f"create-key should print exactly the key, got {out!r}"
        return lines[0]

    def import_key(self, username, name, key):
        out = _run_cli(
            ["admin", *self._store_args(), "import-key", "--username", username, "--name", name],
            stdin=key + "\n",
        )
        return _json_line(out, "import-key")

    def list_users(self):
        out = _run_cli(["admin", *self._store_args(), "list-users"])
        return [json.loads(ln) for ln in out.splitlines() if ln.strip()]

    # --- serve ---
    def start(self):
        self.log_path = self.data_dir.parent / "server.log"
        logf = open(self.log_path, "ab")
        ports = [self.port] if self.instances == 1 else [free_port() for _ in range(self.instances)]
        self.instance_ports = ports
        for i, port in enumerate(ports):
            self.procs.append(subprocess.Popen(
                [FULCRUM_BIN, "serve", "--listen", f"127.0.0.1:{port}", *self._store_args(i),
                 "--public-url", self.url],
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                env={**_base_env(), **self.env},
            ))
        logf.close()
        self.proc = self.procs[0]
        if self.instances > 1:
            from cluster import start_nginx
            nginx_dir = self.data_dir.parent / "nginx"
            nginx_dir.mkdir(exist_ok=True)
            self.procs.append(start_nginx(nginx_dir, self.port, ports))
        deadline = time.monotonic() + 30
        last = None
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                break
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
                    last = f"HTTP {r.status}"
            except (urllib.error.URLError, OSError) as e:
                last = repr(e)
            time.sleep(0.2)
        out = self.log_path.read_text(errors="replace")
        self.stop()
        pytest.fail(
            f"fulcrum serve did not answer GET /healthz with 200 within 30 s "
            f"(exit code {self.proc.returncode}, last attempt: {last}).\nserver output:\n{out}",
            pytrace=False,
        )

    def stop(self):
        for proc in reversed(self.procs or ([self.proc] if self.proc else [])):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)

    def server_output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def _base_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


@pytest.fixture(scope="session")
def fulcrum():
    if not (os.path.isfile(FULCRUM_BIN) and os.access(FULCRUM_BIN, os.X_OK)):
        pytest.fail(f"server binary not found: {FULCRUM_BIN} (build it, or set FULCRUM_BIN)", pytrace=False)
    tmp = Path(tempfile.mkdtemp(prefix="fulcrum-sdk-"))
    instances = int(os.environ.get("SDK_CLUSTER", "1"))
    # In a cluster, each instance's request count proves the load was spread.
    env = {"FULCRUM_METRICS_PUBLIC": "true"} if instances > 1 else {}
    srv = Fulcrum(data_dir=tmp / "data", port=free_port(), instances=instances, env=env)
    srv.data_dir.mkdir()
    s3 = None
    try:
        if instances > 1:
            from cluster import create_database, start_s3
            srv.database_url = create_database()
            s3, s3_env = start_s3(tmp, free_port())
            srv.env.update(s3_env)
        # users: a normal user, a second normal user, an admin, a user with an imported legacy key
        srv.create_user("alice", "alice@example.com")
        srv.create_user("bob", "bob@example.com")
        srv.create_user("root", "root@example.com", admin=True)
        srv.create_user("carol", "carol@example.com")
        srv.keys["alice"] = srv.create_key("alice", "main")
        srv.keys["alice-api"] = srv.create_key("alice", "for-api-tests")
        srv.keys["alice-revoke"] = srv.create_key("alice", "revoke-me")
        srv.keys["bob"] = srv.create_key("bob", "main")
        srv.keys["root"] = srv.create_key("root", "main")
        srv.keys["carol-legacy"] = legacy_key()
        # a failing import must not take the whole session down: test_imported_key reports it
        try:
            srv.import_result, srv.import_error = srv.import_key("carol", "legacy", srv.keys["carol-legacy"]), None
        except AssertionError as e:
            srv.import_result, srv.import_error = None, str(e)
        srv.start()
        yield srv
        if instances > 1:
            from cluster import bucket_keys, local_blobs, requests_served
            served = requests_served(srv.instance_ports)
            print(f"\nrequests served by each instance behind nginx: {served}", file=sys.stderr)
            assert all(n > 0 for n in served), served
            keys = bucket_keys(srv.env["AWS_ENDPOINT"])
            print(f"objects in the bucket: {len(keys)}", file=sys.stderr)
            assert any(k.startswith("cluster/run-files/") for k in keys), keys
            on_disk = local_blobs([srv.instance_dir(i) for i in range(instances)])
            assert not on_disk, f"blobs on local disk in a cluster: {on_disk}"
    finally:
        srv.stop()
        if s3 is not None:
            s3.kill()
            s3.wait(10)
        if srv.database_url:
            from cluster import drop_database
            drop_database(srv.database_url)
        if os.environ.get("FULCRUM_SDK_KEEP_TMP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def own_server(prefix: str, env: dict, person: str):
    """A server with settings of its own (for one module), and `person` with a key."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    srv = Fulcrum(data_dir=tmp / "data", port=free_port(), env=env)
    srv.data_dir.mkdir()
    try:
        srv.create_user(person, f"{person}@example.com")
        srv.keys[person] = srv.create_key(person, "main")
        srv.start()
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def sdk_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def sdk_env(fulcrum, sdk_home):
    """Fresh HOME, no inherited WANDB_*, WANDB_BASE_URL = the server, WANDB_MODE unset."""
    env = _base_env()
    env["HOME"] = str(sdk_home)
    env["WANDB_BASE_URL"] = fulcrum.url
    env["WANDB_ERROR_REPORTING"] = "false"  # 0.19.11 ships sentry; never report anywhere
    env["WANDB_DIR"] = str(sdk_home)
    return env


# --------------------------------------------------------------------------------------
# running the SDK
# --------------------------------------------------------------------------------------


@dataclass
class Proc:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cmd(cmd, env, cwd=None) -> Proc:
    try:
        p = subprocess.run(
            cmd, env=env, cwd=cwd or env.get("HOME"), capture_output=True, text=True,
            timeout=TIMEOUT, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        def _s(x):
            return x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
        raise AssertionError(
            f"timed out after {TIMEOUT}s: {cmd[:3]}...\nstdout:\n{_s(e.stdout)}\nstderr:\n{_s(e.stderr)}"
        ) from None
    return Proc(p.returncode, p.stdout, p.stderr)


_WRAPPER = r'''
import json, sys
def _emit(d):
    sys.stdout.write("\n@@RESULT@@ " + json.dumps(d, default=repr) + "\n")
    sys.stdout.flush()
argv = sys.argv[1:]
try:
    _ns = {"argv": argv, "__name__": "__sdk_script__"}
    exec(compile(BODY, "<sdk-script>", "exec"), _ns)
    _emit({"ok": True, "value": _ns.get("result")})
except BaseException as e:
    _emit({"ok": False,
           "type": type(e).__module__ + "." + type(e).__qualname__,
           "mro": [c.__module__ + "." + c.__qualname__ for c in type(e).__mro__],
           "message": str(e)})
'''


@dataclass
class PyResult:
    proc: Proc
    ok: bool
    value: object = None
    exc_type: str | None = None
    exc_mro: list | None = None
    message: str | None = None

    def raised(self, cls_name: str) -> bool:
        """True if the exception is (a subclass of) a class whose name is cls_name."""
        return any(c.rsplit(".", 1)[-1] == cls_name for c in (self.exc_mro or []))

    def __repr__(self):
        if self.ok:
            return f"PyResult(ok, value={self.value!r})"
        return (f"PyResult(raised {self.exc_type}: {self.message!r})\n"
                f"stderr:\n{self.proc.stderr[-3000:]}")


def run_py(python: str, body: str, env: dict, *args: str) -> PyResult:
    """Run `body` (which sets `result`) in `python`; return its result or its exception."""
    script = "BODY = " + repr(textwrap.dedent(body)) + "\n" + _WRAPPER
    proc = run_cmd([python, "-c", script, *args], env)
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@ ")]
    if not marker:
        raise AssertionError(
            f"script produced no result (exit {proc.returncode})\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    d = json.loads(marker[-1][len("@@RESULT@@ "):])
    if d["ok"]:
        return PyResult(proc, True, value=d["value"])
    return PyResult(proc, False, exc_type=d["type"], exc_mro=d["mro"], message=d["message"])


@pytest.fixture
def py031(sdk_env):
    def _run(body, *args):
        return run_py(PY031, body, sdk_env, *args)
    return _run


@pytest.fixture
def py019(sdk_env):
    if not os.path.exists(PY019):
        pytest.fail(f"wandb 0.19.11 venv not found at {PY019} (run tests/sdk/run.sh)", pytrace=False)

    def _run(body, *args):
        return run_py(PY019, body, sdk_env, *args)
    return _run


@pytest.fixture
def wandb031(sdk_env):
    def _run(*args):
        return run_cmd([wandb_bin(PY031), *args], sdk_env)
    return _run


@pytest.fixture
def wandb019(sdk_env):
    if not os.path.exists(PY019):
        pytest.fail(f"wandb 0.19.11 venv not found at {PY019} (run tests/sdk/run.sh)", pytrace=False)

    def _run(*args):
        return run_cmd([wandb_bin(PY019), *args], sdk_env)
    return _run


def unknown_key(prefix: str = "fk") -> str:
    """A well-formed Fulcrum-shaped key the server has never issued."""
    alphabet = string.ascii_letters + string.digits
    return prefix + "-" + "".join(secrets.choice(alphabet) for _ in range(40))


# Snippets shared by the test modules -------------------------------------------------

LOGIN_SNIPPET = """
import wandb
result = wandb.login(key=argv[0], host=argv[1], verify=True)
"""

VIEWER_SNIPPET = """
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
v = api.viewer
result = {
    "username": v.username, "email": v.email, "admin": v.admin, "entity": v.entity,
    "teams": list(v.teams), "api_keys": list(v.api_keys), "default_entity": api.default_entity,
}
"""
