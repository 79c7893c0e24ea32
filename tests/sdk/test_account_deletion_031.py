"""A deleted account's key, as the unchanged SDK meets it (issue #12 §3): the person deletes
their account in the web app (password and username typed again); from then on
`wandb.init` with their key fails with the server's authentication error, and
`wandb.Api()` refuses it too."""
import http.cookiejar
import json
import urllib.request

from conftest import PASSWORD
from runs_helpers import TRAIN, person


def _browser(fulcrum, username):
    """A signed-in browser session: an opener that keeps the session cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    req = urllib.request.Request(
        fulcrum.url + "/api/v1/login",
        data=json.dumps({"login": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json", "Origin": fulcrum.url},
    )
    with opener.open(req, timeout=30) as r:
        assert r.status == 200
    return opener


def test_a_deleted_accounts_key_is_refused(fulcrum, py031):
    key = person(fulcrum, "leaver")
    r = py031(TRAIN, key, json.dumps({"project": "before"}))
    assert r.ok, r

    opener = _browser(fulcrum, "leaver")
    req = urllib.request.Request(
        fulcrum.url + "/api/v1/account/deletion",
        data=json.dumps({"currentPassword": PASSWORD, "username": "leaver"}).encode(),
        headers={"Content-Type": "application/json", "Origin": fulcrum.url},
    )
    with opener.open(req, timeout=30) as resp:
        assert resp.status == 200

    r = py031(TRAIN, key, json.dumps({"project": "after"}))
    assert not r.ok, r
    assert r.raised("AuthenticationError") or r.raised("CommError") or r.raised("UsageError"), r
    assert "401" in (r.message or "") or "api key" in (r.message or "").lower(), r

    r = py031("import wandb, os\nos.environ['WANDB_API_KEY'] = argv[0]\nresult = wandb.Api().viewer.username\n", key)
    assert not r.ok, r
