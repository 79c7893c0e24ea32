"""Runs with the unchanged SDK: wandb.init / log / summary / finish in the entity the server
chooses (personal, WANDB_ENTITY, the chosen default team, the only team), refusals for a
foreign team, a failing script, resume, and wandb 0.19.11."""
import json
import os
import subprocess
import textwrap

from conftest import PY019, PY031, run_cmd
from runs_helpers import TRAIN, bucket, create_team, graphql, person

SET_DEFAULT = "mutation($e: String) { setDefaultEntity(input: {entityName: $e}) { user { id } } }"


def train(py, key, **kwargs):
    r = py(TRAIN, key, json.dumps(kwargs))
    assert r.ok, r
    assert "training done" in r.proc.stdout
    return r.value


def assert_finished(fulcrum, key, value, history=3):
    b = bucket(fulcrum.url, key, value["entity"], value["project"], value["id"])
    assert b is not None, value
    assert (b["state"], b["exitcode"], b["historyLineCount"]) == ("finished", 0, history), b
    summary = json.loads(b["summaryMetrics"])
    assert summary["best"] == 7 and "loss" in summary, summary
    config = json.loads(b["config"])
    assert config["lr"] == {"value": 0.1} and "_wandb" in config, config
    return b


def test_a_run_lands_in_the_personal_entity_and_finishes(fulcrum, py031):
    key = fulcrum.keys["alice"]
    v = train(py031, key, project="sdk-runs", config={"lr": 0.1})
    assert v["entity"] == "alice" and v["project"] == "sdk-runs" and len(v["id"]) == 8
    b = assert_finished(fulcrum, key, v)
    tail = json.loads(b["historyTail"])
    assert json.loads(tail[-1])["_step"] == 2
    assert b["host"], "the SDK sends the host name"


def test_wandb_entity_the_default_team_and_the_only_team(fulcrum, py031, sdk_env):
    dora = person(fulcrum, "dora-" + "x" * 50)  # usernames may have 64 characters
    create_team(fulcrum, dora, "dora-lab")
    # Exactly one team: it is the default (the seed's rule).
    v = train(py031, dora, project="p", config={"lr": 0.1})
    assert v["entity"] == "dora-lab", v
    assert_finished(fulcrum, dora, v)
    create_team(fulcrum, dora, "dora-vision")
    v = train(py031, dora, project="p", config={"lr": 0.1})
    assert v["entity"] == "dora-" + "x" * 50, "two teams and no choice: the personal entity"
    d = graphql(fulcrum.url, dora, SET_DEFAULT, {"e": "dora-vision"})
    assert "errors" not in d, d
    v = train(py031, dora, project="p", config={"lr": 0.1})
    assert v["entity"] == "dora-vision", v
    sdk_env["WANDB_ENTITY"] = "dora-lab"
    v = train(py031, dora, project="p", config={"lr": 0.1})
    assert v["entity"] == "dora-lab", "WANDB_ENTITY wins over the default team"
    assert_finished(fulcrum, dora, v)


def test_a_foreign_team_is_refused_with_a_message_naming_entity_and_account(fulcrum, py031):
    erin = person(fulcrum, "erin")
    create_team(fulcrum, erin, "erin-only")
    r = py031(TRAIN, fulcrum.keys["bob"], json.dumps({"project": "p", "entity": "erin-only"}))
    assert not r.ok and r.raised("CommError"), r
    assert "erin-only" in r.message and "bob" in r.message, r.message
    d = graphql(fulcrum.url, erin, "{ model(name: \"p\", entityName: \"erin-only\") { id } }")
    assert d["data"]["model"] is None, "nothing was created in erin's team"


def test_a_script_that_raises_leaves_a_failed_run(fulcrum, sdk_env):
    key = fulcrum.keys["alice"]
    script = textwrap.dedent(f"""
        import os
        os.environ["WANDB_API_KEY"] = {key!r}
        import wandb
        run = wandb.init(project="sdk-fail", id="will-fail")
        run.log({{"loss": 1.0}})
        raise RuntimeError("boom")
    """)
    p = run_cmd([PY031, "-c", script], sdk_env)
    assert p.returncode == 1 and "boom" in p.stderr, p.output
    b = bucket(fulcrum.url, key, "alice", "sdk-fail", "will-fail")
    assert (b["state"], b["exitcode"], b["historyLineCount"]) == ("failed", 1, 1), b


def test_resume_continues_history_config_and_summary(fulcrum, py031):
    key = fulcrum.keys["alice"]
    first = train(py031, key, project="sdk-resume", id="resumable", config={"lr": 0.1})
    assert first["id"] == "resumable"
    again = train(py031, key, project="sdk-resume", id="resumable", resume="must", start=3)
    assert again["step"] == 6, "the resumed run continues from the server's history count"
    b = assert_finished(fulcrum, key, again, history=6)
    assert json.loads(json.loads(b["historyTail"])[-1])["_step"] == 5

    r = py031(TRAIN, key, json.dumps({"project": "sdk-resume", "id": "never-ran", "resume": "must"}))
    assert not r.ok, r
    assert r.raised("UsageError") and "Run (never-ran) does not exist" in r.message, r.message
    r = py031(TRAIN, key, json.dumps({"project": "sdk-resume", "id": "resumable", "resume": "never"}))
    assert not r.ok and "Run (resumable) already exists" in r.message, r.message


def test_another_person_cannot_log_into_someone_elses_run(fulcrum, py031):
    alice = fulcrum.keys["alice"]
    train(py031, alice, project="sdk-private", id="alices-run", config={"lr": 0.1})
    r = py031(TRAIN, fulcrum.keys["bob"], json.dumps(
        {"project": "sdk-private", "entity": "alice", "id": "alices-run", "resume": "allow"}))
    assert not r.ok and r.raised("CommError"), r
    b = bucket(fulcrum.url, alice, "alice", "sdk-private", "alices-run")
    assert b["historyLineCount"] == 3 and b["state"] == "finished", "nothing changed"


def test_wandb_019_logs_a_run(fulcrum, py019):
    key = fulcrum.keys["carol-legacy"] if fulcrum.import_error is None else fulcrum.keys["bob"]
    v = train(py019, key, project="sdk-019", config={"lr": 0.1})
    assert v["project"] == "sdk-019"
    assert_finished(fulcrum, key, v)
