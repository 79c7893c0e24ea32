"""Beta features as the unchanged SDK sees them (issue #12 §1): Code saving reaches the SDK
through `viewer.flags.code_saving_enabled` (an explicit `save_code=False` still wins, and the
saved script is read back through the Public API), and Structured console logs through the
`STRUCTURED_CONSOLE_LOGS` server feature (the console then arrives as JSON lines with time,
stream and label)."""
import json

from conftest import PY019, PY031, run_cmd
from runs_helpers import graphql, person

SET = "mutation($key: String!, $on: Boolean) { updateBetaFeature(input: {key: $key, enabled: $on}) { key enabled } }"
CONSOLE = """query($e: String!, $p: String!, $r: String!) {
  project(name: $p, entityName: $e) { run(name: $r) { consoleLines { line text } } } }"""

# A script file (code saving saves the main script, so it cannot be `python -c`).
SCRIPT = """
import json, sys
import wandb
kwargs = json.loads(sys.argv[1])
run = wandb.init(project="beta", **kwargs)
print("hello from the script")
print("a warning", file=sys.stderr)
run.log({"x": 1})
print("@@RESULT@@ " + json.dumps({"entity": run.entity, "id": run.id}))
run.finish()
"""

# Reads the run's files back with the SDK's Public API.
READ_CODE = """
import json, os, sys, tempfile
import wandb
run = wandb.Api().run(sys.argv[1])
code = [f for f in run.files() if f.name.startswith("code/")]
out = {"names": [f.name for f in code], "texts": []}
for f in code:
    with tempfile.TemporaryDirectory() as d:
        path = f.download(root=d, replace=True).name
        out["texts"].append(open(path).read())
print("@@RESULT@@ " + json.dumps(out))
"""


def _result(proc):
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@ ")]
    assert lines, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("@@RESULT@@ "):])


def train(python, env, tmp_path, key, **kwargs):
    (tmp_path / "train_beta.py").write_text(SCRIPT)
    proc = run_cmd([python, "train_beta.py", json.dumps(kwargs)], dict(env, WANDB_API_KEY=key), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _result(proc)


def saved_code(env, tmp_path, key, run):
    (tmp_path / "read_code.py").write_text(READ_CODE)
    path = f"{run['entity']}/beta/{run['id']}"
    proc = run_cmd([PY031, "read_code.py", path], dict(env, WANDB_API_KEY=key), cwd=str(tmp_path))
    return _result(proc)


def switch(fulcrum, key, feature, on):
    d = graphql(fulcrum.url, key, SET, {"key": feature, "on": on})
    assert "errors" not in d, d


def test_code_saving_reaches_the_sdk_through_viewer_flags(fulcrum, sdk_env, tmp_path):
    key = person(fulcrum, "beta-coder")
    run = train(PY031, sdk_env, tmp_path, key)
    assert saved_code(sdk_env, tmp_path, key, run)["names"] == [], "off by default: no code saved"

    switch(fulcrum, key, "code_saving", True)
    run = train(PY031, sdk_env, tmp_path, key)
    code = saved_code(sdk_env, tmp_path, key, run)
    assert code["names"] == ["code/train_beta.py"], code
    assert code["texts"] == [SCRIPT], "the script, byte for byte"

    run = train(PY031, sdk_env, tmp_path, key, save_code=False)
    assert saved_code(sdk_env, tmp_path, key, run)["names"] == [], "save_code=False still wins"

    # The old SDK reads the same flag.
    run = train(PY019, sdk_env, tmp_path, key)
    assert saved_code(sdk_env, tmp_path, key, run)["names"] == ["code/train_beta.py"]


def console_lines(fulcrum, key, run):
    d = graphql(fulcrum.url, key, CONSOLE, {"e": run["entity"], "p": "beta", "r": run["id"]})
    return [line["text"] for line in d["data"]["project"]["run"]["consoleLines"]]


def test_structured_console_logs_change_what_the_sdk_streams(fulcrum, sdk_env, tmp_path):
    key = person(fulcrum, "beta-logger")
    plain = console_lines(fulcrum, key, train(PY031, sdk_env, tmp_path, key))
    hello = [t for t in plain if "hello from the script" in t]
    assert hello and not hello[0].startswith("{"), plain
    assert any(t.startswith("ERROR ") and "a warning" in t for t in plain), plain

    switch(fulcrum, key, "structured_console_logs", True)
    run = train(PY031, sdk_env, tmp_path, key, settings={"x_label": "node-1"})
    lines = [json.loads(t) for t in console_lines(fulcrum, key, run)]
    hello = [line for line in lines if line["content"] == "hello from the script"]
    assert len(hello) == 1, lines
    assert hello[0]["label"] == "node-1" and "level" not in hello[0], hello
    assert hello[0]["ts"].startswith("20"), "the time each line was written"
    warning = [line for line in lines if line["content"] == "a warning"]
    assert warning and warning[0]["level"] == "error", lines
