"""A training process killed with SIGKILL: the server marks its run crashed once the
heartbeats stop (a server with a 5 s timeout), and a late request brings it back."""
import json
import os
import signal
import subprocess
import textwrap
import time

import pytest

from conftest import PY031, own_server
from runs_helpers import bucket, file_stream, wait_for


@pytest.fixture(scope="module")
def quick_crash():
    with own_server("fulcrum-crash-", {"FULCRUM_RUN_HEARTBEAT_TIMEOUT_SECS": "5"}, "kim") as srv:
        yield srv


def start_training(srv, sdk_env, run_id):
    env = dict(sdk_env, WANDB_BASE_URL=srv.url, WANDB_API_KEY=srv.keys["kim"])
    script = textwrap.dedent(f"""
        import time, wandb
        run = wandb.init(project="crashy", id={run_id!r})
        for i in range(10_000):
            run.log({{"loss": 1.0 / (i + 1)}})
            time.sleep(0.05)
    """)
    # A process group of its own, so SIGKILL takes wandb-core down with the script.
    return subprocess.Popen([PY031, "-c", script], env=env, cwd=env["HOME"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def test_a_killed_process_group_leaves_a_crashed_run(quick_crash, sdk_env):
    key = quick_crash.keys["kim"]
    proc = start_training(quick_crash, sdk_env, "killed-1")
    try:
        wait_for("the run to stream history", lambda: (bucket(quick_crash.url, key, "kim", "crashy", "killed-1") or {}).get("historyLineCount", 0) > 0, 60)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    b = bucket(quick_crash.url, key, "kim", "crashy", "killed-1")
    assert b["state"] == "running", b
    crashed = wait_for("the run to be marked crashed",
                       lambda: (b := bucket(quick_crash.url, key, "kim", "crashy", "killed-1"))["state"] == "crashed" and b, 30)
    assert crashed["exitcode"] is None


def test_a_crashed_run_that_sends_again_is_running(quick_crash):
    key = quick_crash.keys["kim"]
    d = bucket(quick_crash.url, key, "kim", "crashy", "killed-1")
    assert d is not None and d["state"] == "crashed", "runs after the SIGKILL test"
    status, answer = file_stream(quick_crash.url, key, "kim/crashy/killed-1", {})
    assert (status, answer) == (200, {})
    assert bucket(quick_crash.url, key, "kim", "crashy", "killed-1")["state"] == "running"
    status, _ = file_stream(quick_crash.url, key, "kim/crashy/killed-1", {"complete": True, "exitcode": 0})
    b = bucket(quick_crash.url, key, "kim", "crashy", "killed-1")
    assert (b["state"], b["exitcode"]) == ("finished", 0), json.dumps(b)
