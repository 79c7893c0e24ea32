"""Alerts from real wandb 0.31.0 runs reach a real SMTP server on loopback and a Slack
stand-in: a run that finishes, one that raises (failed), one whose process group is
SIGKILLed (crashed once the heartbeats stop, 20 s here: longer than the SDK's 15 s
between posts, so a live run is never taken for crashed) and run.alert() (the second call
with the same title throttled). Switching email off for an event stops those mails, and
Slack gets what the person asked for. Each event is delivered once."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from alert_sinks import SlackStandin, SmtpSink
from conftest import PY031, Fulcrum, free_port, run_cmd
from runs_helpers import bucket, graphql, wait_for

CONNECT = "mutation($url: String!) { connectSlackWebhook(input: {url: $url}) { id } }"
LOG = ('query($r: String!) { project(name: "alerts", entityName: "mia") { run(name: $r) { state heartbeatAt '
       'alertDeliveries { event channel status attempts createdAt finishedAt } } } }')
SWITCH = ("mutation($e: AlertEventKind!, $c: AlertChannelKind!, $on: Boolean!) "
          "{ updateAlertSwitch(input: {event: $e, channel: $c, enabled: $on}) { event } }")


@pytest.fixture(scope="module")
def alerting():
    tmp = Path(tempfile.mkdtemp(prefix="fulcrum-alerts-"))
    smtp, slack = SmtpSink(), SlackStandin()
    srv = Fulcrum(data_dir=tmp / "data", port=free_port(), env={
        "FULCRUM_RUN_HEARTBEAT_TIMEOUT_SECS": "20", "FULCRUM_JOB_POLL_MS": "50",
        "FULCRUM_JOB_BACKOFF_BASE_MS": "100", **smtp.env(), **slack.env()})
    srv.data_dir.mkdir()
    try:
        srv.create_user("mia", "mia@example.com")
        srv.keys["mia"] = srv.create_key("mia", "main")
        srv.start()
        srv.smtp, srv.slack = smtp, slack
        d = graphql(srv.url, srv.keys["mia"], CONNECT, {"url": slack.webhook("ok")})
        assert "errors" not in d, d
        yield srv
    finally:
        srv.stop()
        smtp.close()
        slack.close()
        shutil.rmtree(tmp, ignore_errors=True)


def sdk(srv, sdk_env):
    return dict(sdk_env, WANDB_BASE_URL=srv.url)


SCRIPTS = {
    "finishes": """
        import wandb
        run = wandb.init(project="alerts", id="fine")
        run.log({"loss": 0.1})
        run.alert(title="loss is nan", text="at step 3", level=wandb.AlertLevel.ERROR)
        run.alert(title="loss is nan", text="throttled", level=wandb.AlertLevel.ERROR)
        run.finish()
    """,
    "raises": """
        import wandb
        run = wandb.init(project="alerts", id="broke")
        run.log({"loss": 0.1})
        raise RuntimeError("diverged")
    """,
}


def test_runs_that_finish_fail_and_alert_reach_email_and_slack(alerting, sdk_env):
    key = alerting.keys["mia"]
    # Slack for everything; email no longer for finished runs.
    d = graphql(alerting.url, key, SWITCH, {"e": "RUNS_FINISHED", "c": "EMAIL", "on": False})
    assert "errors" not in d, d
    env = dict(sdk(alerting, sdk_env), WANDB_API_KEY=key)
    for name, body in SCRIPTS.items():
        p = run_cmd([PY031, "-c", textwrap.dedent(body)], env)
        assert p.returncode == (0 if name == "finishes" else 1), p.output

    slack = wait_for("three Slack messages", lambda: len(alerting.slack.hits) >= 3 and alerting.slack.headlines("ok"))
    time.sleep(1)
    headlines = sorted(alerting.slack.headlines("ok"))
    assert headlines == sorted(["Run finished — fine", "[ERROR] loss is nan — fine", "Run failed — broke"]), slack
    subjects = wait_for("two mails", lambda: len(alerting.smtp.subjects("mia@")) >= 2 and alerting.smtp.subjects("mia@"))
    time.sleep(1)
    assert sorted(alerting.smtp.subjects("mia@")) == sorted(
        ["[ERROR] loss is nan — fine (mia/alerts)", "Run failed — broke (mia/alerts)"]), subjects


def test_a_killed_run_is_announced_as_crashed_once(alerting, sdk_env):
    key = alerting.keys["mia"]
    env = dict(sdk(alerting, sdk_env), WANDB_API_KEY=key)
    script = textwrap.dedent("""
        import time, wandb
        run = wandb.init(project="alerts", id="killed")
        for i in range(10_000):
            run.log({"loss": 1.0 / (i + 1)})
            time.sleep(0.05)
    """)
    proc = subprocess.Popen([PY031, "-c", script], env=env, cwd=env["HOME"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for("the run to stream", lambda: (bucket(alerting.url, key, "mia", "alerts", "killed") or {})
                 .get("historyLineCount", 0) > 0, 60)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    wanted = "Run crashed — killed (mia/alerts)"
    # 20 s of silence, the next sweep (2 s), then 10 s for the run to come back
    wait_for("the crash mail", lambda: wanted in alerting.smtp.subjects("mia@"), 60)
    wait_for("the crash on Slack", lambda: "Run crashed — killed" in alerting.slack.headlines("ok"), 10)
    time.sleep(6)  # another sweep or two: still one of each
    log = graphql(alerting.url, key, LOG, {"r": "killed"})
    assert alerting.smtp.subjects("mia@").count(wanted) == 1, json.dumps(log)
    assert alerting.slack.headlines("ok").count("Run crashed — killed") == 1
