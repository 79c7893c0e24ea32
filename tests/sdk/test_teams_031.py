"""wandb 0.31.0 team calls: api.team, api.create_team, team.invite, team.create_service_account,
and a service account's key used as the SDK's credentials."""
import base64
import json
import urllib.request

TEAM_FLOW = """
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
team = api.create_team("sdk-team")
again = api.create_team("sdk-team")  # the SDK swallows the 'name taken' error and loads it
invited = team.invite("root")
invited_missing = team.invite("nobody-here@example.com")
sa = team.create_service_account("CI bot")
team = api.team("sdk-team")
personal = api.team("bob")
result = {
    "name": team.name,
    "again": again.name,
    "members": [(m.username, m.account_type, m.admin) for m in team.members],
    "invited": invited,
    "invited_missing": invited_missing,
    "sa": (sa.account_type, sa.username) if sa is not None else None,
    "personal": [m.username for m in personal.members],
}
"""

SA_VIEWER = """
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
v = api.viewer
result = {"username": v.username, "entity": v.entity, "teams": list(v.teams)}
"""


def graphql(url, key, query, variables):
    req = urllib.request.Request(
        url + "/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode(),
        },
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_team_lifecycle_and_service_account_key(fulcrum, py031):
    bob = fulcrum.keys["bob"]
    r = py031(TEAM_FLOW, bob, fulcrum.url)
    assert r.ok, r
    v = r.value
    assert v["name"] == "sdk-team" and v["again"] == "sdk-team"
    assert v["invited"] is True
    assert v["invited_missing"] is False, "inviting a person who does not exist is refused"
    assert v["members"][0] == ["bob", "USER", True]
    assert v["members"][-1][1] == "SERVICE", "a new service account is listed last"
    assert v["sa"] is not None and v["sa"][0] == "SERVICE"
    assert v["personal"] == ["bob"]

    # A team admin mints the service account's key (shown once), and the SDK uses it.
    team = graphql(fulcrum.url, bob, '{ entity(name: "sdk-team") { members { id username accountType } } }', {})
    sa = [m for m in team["data"]["entity"]["members"] if m["accountType"] == "SERVICE"][-1]
    minted = graphql(
        fulcrum.url,
        bob,
        "mutation M($id: String!) { createServiceAccountApiKey(input: {entityName: \"sdk-team\", serviceAccountId: $id, description: \"ci\"}) { apiKey { name } } }",
        {"id": sa["id"]},
    )
    sa_key = minted["data"]["createServiceAccountApiKey"]["apiKey"]["name"]
    r = py031(SA_VIEWER, sa_key, fulcrum.url)
    assert r.ok, r
    assert r.value["username"] == sa["username"]
    assert r.value["entity"] == "sdk-team", "a service account's runs go to its team"
    assert r.value["teams"] == ["sdk-team"]
