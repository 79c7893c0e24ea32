"""The Public API's run reads and edits with wandb 0.31.0: projects, runs with filters,
orders and pages, one run's fields, history (sampled, by keys, scanned by steps), files and
their download, run.update(), summary edits and run.delete()."""
import json



from runs_helpers import TRAIN, person

SETUP = """
import json, os
os.environ["WANDB_API_KEY"] = argv[0]
import wandb
for i, lr in enumerate([0.1, 0.2, 0.3, 0.4, 0.5]):
    run = wandb.init(project="sdk-api", id=f"api-{i}", name=f"trial-{i}", config={"lr": lr, "opt": "adam" if i % 2 else "sgd"},
                     tags=["even"] if i % 2 == 0 else ["odd"], group="sweep-a", job_type="train", reinit="finish_previous")
    for step in range(20 if i == 0 else 3):
        run.log({"loss": lr / (step + 1), "acc": step / 20})
    if i == 0:
        with open("weights.txt", "w") as f:
            f.write("w=1\\n")
        run.save("weights.txt", policy="now")
    run.finish(exit_code=0 if i != 4 else 2)
result = True
"""

READS = """
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
ent = argv[2]
path = f"{ent}/sdk-api"
ids = lambda runs: sorted(r.id for r in runs)
run = api.run(f"{path}/api-0")
scan = list(run.scan_history(keys=["loss"], page_size=7))
scan_window = [r["_step"] for r in run.scan_history(page_size=4, min_step=5, max_step=9)]
hist = run.history(samples=5, pandas=False)
hist_keys = run.history(keys=["acc"], samples=100, pandas=False)
files = sorted(f.name for f in run.files())
run.file("weights.txt").download(root=argv[3], replace=True)
pages = api.runs(path, per_page=2)
result = {
    "projects": [p.name for p in api.projects(ent)],
    "project": api.project("sdk-api", ent).name,
    "all": ids(api.runs(path)),
    "count": len(api.runs(path)),
    "paged": [r.id for r in pages],
    "finished": ids(api.runs(path, filters={"state": "finished"})),
    "failed": ids(api.runs(path, filters={"state": "failed"})),
    "by_name": ids(api.runs(path, filters={"display_name": "trial-2"})),
    "lr_eq": ids(api.runs(path, filters={"config.lr": 0.3})),
    "lr_gt": ids(api.runs(path, filters={"config.lr": {"$gt": 0.25}})),
    "lr_and": ids(api.runs(path, filters={"$and": [{"config.lr": {"$gte": 0.2}}, {"config.opt": "adam"}]})),
    "lr_or": ids(api.runs(path, filters={"$or": [{"config.lr": 0.1}, {"config.lr": 0.5}]})),
    "in": ids(api.runs(path, filters={"config.opt": {"$in": ["sgd"]}})),
    "regex": ids(api.runs(path, filters={"display_name": {"$regex": "^trial-[34]$"}})),
    "tags": ids(api.runs(path, filters={"tags": {"$in": ["odd"]}})),
    "summary_lt": ids(api.runs(path, filters={"summary_metrics.loss": {"$lt": 0.05}})),
    "order": [r.id for r in api.runs(path, order="+config.lr")],
    "order_desc": [r.id for r in api.runs(path, order="-summary_metrics.loss")],
    "run": {"state": run.state, "name": run.name, "config": run.config, "user": run.user.username,
            "tags": run.tags, "group": run.group, "job_type": run.job_type,
            "summary_loss": run.summary["loss"], "created": run.created_at, "heartbeat": run.heartbeat_at,
            "host": run.host if hasattr(run, "host") else None},
    "scan": [(r["_step"], round(r["loss"], 6)) for r in scan],
    "scan_window": scan_window,
    "hist_len": len(hist), "hist_keys": sorted(hist_keys[0].keys()), "hist_keys_len": len(hist_keys),
    "files": files,
    "downloaded": open(argv[3] + "/weights.txt").read(),
}
"""

EDITS = """
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
run = api.run(f"{argv[2]}/sdk-api/api-1")
run.tags = ["edited"]; run.notes = "looked at it"; run.name = "renamed"; run.config["lr"] = 9.0
run.update()
run.summary["verdict"] = "good"; run.summary.update()
again = api.run(f"{argv[2]}/sdk-api/api-1")
edited = {"tags": again.tags, "notes": again.notes, "name": again.name, "lr": again.config["lr"],
          "verdict": again.summary.get("verdict"), "loss": again.summary.get("loss"), "state": again.state}
api.run(f"{argv[2]}/sdk-api/api-3").delete()
result = {"edited": edited, "left": sorted(r.id for r in api.runs(f"{argv[2]}/sdk-api"))}
"""




def test_public_api_reads(fulcrum, py031, tmp_path):
    key = person(fulcrum, "paula")
    setup = py031(SETUP, key)
    assert setup.ok, setup
    r = py031(READS, key, fulcrum.url, "paula", str(tmp_path))
    assert r.ok, r
    v = r.value
    every = [f"api-{i}" for i in range(5)]
    assert v["projects"] == ["sdk-api"] and v["project"] == "sdk-api"
    assert v["all"] == every and v["count"] == 5
    assert v["paged"] == every, "the SDK asks for +created_at; pages of 2 come back in order"
    assert v["finished"] == every[:4] and v["failed"] == ["api-4"]
    assert v["by_name"] == ["api-2"] and v["lr_eq"] == ["api-2"]
    assert v["lr_gt"] == ["api-2", "api-3", "api-4"]
    assert v["lr_and"] == ["api-1", "api-3"]
    assert v["lr_or"] == ["api-0", "api-4"]
    assert v["in"] == ["api-0", "api-2", "api-4"]
    assert v["regex"] == ["api-3", "api-4"]
    assert v["tags"] == ["api-1", "api-3"]
    assert v["summary_lt"] == ["api-0"], "api-0 logged 20 steps: its last loss is 0.1/20"
    assert v["order"] == every and v["order_desc"][0] == "api-4"
    run = v["run"]
    assert run["state"] == "finished" and run["name"] == "trial-0" and run["user"] == "paula"
    assert run["config"] == {"lr": 0.1, "opt": "sgd"}
    assert run["tags"] == ["even"] and run["group"] == "sweep-a" and run["job_type"] == "train"
    assert run["created"] and run["heartbeat"]
    assert v["scan"] == [[s, round(0.1 / (s + 1), 6)] for s in range(20)]
    assert v["scan_window"] == [5, 6, 7, 8]
    assert 1 <= v["hist_len"] <= 5
    assert v["hist_keys"] == ["_step", "acc"] and v["hist_keys_len"] == 20
    assert "weights.txt" in v["files"] and "config.yaml" in v["files"] and "wandb-summary.json" in v["files"]
    assert v["downloaded"] == "w=1\n"

    e = py031(EDITS, key, fulcrum.url, "paula")
    assert e.ok, e
    edited = e.value["edited"]
    assert edited["tags"] == ["edited"] and edited["notes"] == "looked at it" and edited["name"] == "renamed"
    assert edited["lr"] == 9.0 and edited["verdict"] == "good" and edited["loss"] is not None
    assert edited["state"] == "finished", "an edit does not reopen the run"
    assert e.value["left"] == ["api-0", "api-1", "api-2", "api-4"]


def test_public_api_hides_other_peoples_runs(fulcrum, py031, tmp_path):
    key = person(fulcrum, "quinn")
    r = py031("""
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
try:
    api.run("paula/sdk-api/api-0").state
    seen = True
except Exception as e:
    seen = False
try:
    runs = len(api.runs("paula/sdk-api"))
except ValueError as e:
    runs = str(e)
result = {"projects": [p.name for p in api.projects("paula")], "runs": runs, "seen": seen}
""", key, fulcrum.url)
    assert r.ok, r
    assert r.value == {"projects": [], "runs": "Could not find project sdk-api", "seen": False}, r.value
