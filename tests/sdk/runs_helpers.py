"""Helpers for the run tests: GraphQL with a key, raw file_stream posts, a user made while
the server runs, waiting for a condition, and the training script the SDK runs."""
import base64
import json
import time
import urllib.error
import urllib.request

import pytest

RUN_QUERY = """query Run($entity: String, $project: String!, $run: String!) {
  model(name: $project, entityName: $entity) { entity { name }
    bucket(name: $run, missingOk: true) { id name state exitcode historyLineCount
      summaryMetrics config historyTail host } } }"""

# A training script as people write it: the key and the init arguments come in argv.
TRAIN = """
import json, os
os.environ["WANDB_API_KEY"] = argv[0]
import wandb
kwargs = json.loads(argv[1])
steps = kwargs.pop("steps", 3)
start = kwargs.pop("start", 0)
run = wandb.init(**kwargs)
for i in range(start, start + steps):
    run.log({"loss": 1.0 / (i + 1), "epoch": i})
run.summary["best"] = 7
print("training done")
result = {"entity": run.entity, "project": run.project, "id": run.id, "step": run.step}
run.finish()
"""


def _auth(key):
    return "Basic " + base64.b64encode(f"api:{key}".encode()).decode()


def graphql(url, key, query, variables=None):
    req = urllib.request.Request(
        url + "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": _auth(key)},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def file_stream(url, key, path, body):
    req = urllib.request.Request(
        f"{url}/files/{path}/file_stream",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": _auth(key)},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read())


def bucket(url, key, entity, project, run):
    d = graphql(url, key, RUN_QUERY, {"entity": entity, "project": project, "run": run})
    model = (d.get("data") or {}).get("model")
    return model and model["bucket"]


def person(fulcrum, name):
    """A user with a key, made while the server runs (the CLI shares its SQLite file)."""
    fulcrum.create_user(name, f"{name}@example.com")
    fulcrum.keys[name] = fulcrum.create_key(name, "main")
    return fulcrum.keys[name]


def create_team(fulcrum, key, name):
    d = graphql(fulcrum.url, key, "mutation($n: String!) { createTeam(input: {teamName: $n}) { entity { name } } }", {"n": name})
    assert "errors" not in d, d


def wait_for(what, check, seconds=30):
    """Polls `check` until it answers something true, and returns that; fails the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}", pytrace=False)
