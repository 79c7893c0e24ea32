"""run.alert() with wandb 0.31.0: the SDK's NotifyScriptableRunAlert reaches the server,
the server throttles the same title within wait_duration, and the run keeps a log of the
alerts it accepted (seen through the run's `alerts`)."""
import json
from runs_helpers import graphql

ALERTS = """
import os
from datetime import timedelta
os.environ["WANDB_API_KEY"] = argv[0]
import wandb
run = wandb.init(project="sdk-alerts", id="alerting")
run.alert(title="loss is nan", text="at step 3", level=wandb.AlertLevel.WARN, wait_duration=timedelta(minutes=5))
run.alert(title="loss is nan", text="again, throttled", level=wandb.AlertLevel.WARN, wait_duration=timedelta(minutes=5))
run.alert(title="done soon", text="ten more steps", level=wandb.AlertLevel.INFO, wait_duration=0)
run.finish()
result = True
"""

LOG = '{ project(name: "sdk-alerts", entityName: "alice") { run(name: "alerting") { state alerts { title text severity } } } }'


def test_run_alert_is_accepted_throttled_and_logged(fulcrum, py031):
    key = fulcrum.keys["alice"]
    r = py031(ALERTS, key)
    assert r.ok, r
    d = graphql(fulcrum.url, key, LOG)
    run = d["data"]["project"]["run"]
    assert run["state"] == "finished"
    alerts = [(a["title"], a["text"], a["severity"]) for a in run["alerts"]]
    assert sorted(alerts) == [("done soon", "ten more steps", "INFO"), ("loss is nan", "at step 3", "WARN")], json.dumps(run)
