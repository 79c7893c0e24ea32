"""The storage quota as the unchanged SDK meets it (issue #12 §3). An upload past the quota
is refused with a 403 the SDK does not retry, and it records the server's message in its
debug log (wandb 0.31.0 logs failed uploads there, not on the console); the run itself
finishes. Once the quota is used up, `wandb.init` fails with the message."""
import glob
import json
import tempfile
import textwrap
import urllib.request
from pathlib import Path

import pytest

from conftest import PY031, own_server, run_cmd
from runs_helpers import graphql

QUOTA = 100_000

SCRIPT = textwrap.dedent("""
    import os, sys, wandb
    run = wandb.init(project="quota")
    with open("big.bin", "wb") as f:
        f.write(os.urandom(int(sys.argv[1])))
    wandb.save("big.bin", policy="now")
    run.log({"x": 1})
    print("@@ID " + run.id)
    run.finish()
""")


@pytest.fixture(scope="module")
def quota_server():
    with own_server("fulcrum-quota-", {"FULCRUM_USER_STORAGE_QUOTA_BYTES": str(QUOTA)}, "kim") as srv:
        yield srv


def train(srv, sdk_env, size):
    work = Path(tempfile.mkdtemp(prefix="quota-run-", dir=sdk_env["HOME"]))
    (work / "train.py").write_text(SCRIPT)
    env = dict(sdk_env, WANDB_BASE_URL=srv.url, WANDB_API_KEY=srv.keys["kim"], WANDB_DIR=str(work))
    return work, run_cmd([PY031, "train.py", str(size)], env, cwd=str(work))


def storage(srv):
    d = graphql(srv.url, srv.keys["kim"], "{ entity(name: \"kim\") { storage { totalBytes projects { fileBytes } } } }")
    return d["data"]["entity"]["storage"]


def test_an_upload_past_the_quota_then_a_new_run(quota_server, sdk_env):
    work, proc = train(quota_server, sdk_env, 150_000)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert storage(quota_server)["totalBytes"] < QUOTA, "the big file was not kept"
    logs = "".join(Path(p).read_text() for p in glob.glob(str(work / "wandb/run-*/logs/debug-internal.log")))
    assert "storage_quota_exceeded" in logs and "storage quota of 100000 bytes" in logs, logs[-3000:]

    # Fill the quota to the byte with a plain upload, then a new run is refused at init.
    run_id = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@ID ")][0][5:]
    room = QUOTA - storage(quota_server)["totalBytes"]
    q = 'mutation($r: String!) { createRunFiles(input: {entityName: "kim", projectName: "quota", runName: $r, files: ["fill.bin"]}) { files { uploadUrl } } }'
    url = graphql(quota_server.url, quota_server.keys["kim"], q, {"r": run_id})["data"]["createRunFiles"]["files"][0]["uploadUrl"]
    req = urllib.request.Request(url, data=b"x" * room, method="PUT")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    assert storage(quota_server)["totalBytes"] == QUOTA

    _, proc = train(quota_server, sdk_env, 10)
    assert proc.returncode != 0
    assert "storage quota of 100000 bytes" in proc.stderr, proc.stderr[-2000:]
