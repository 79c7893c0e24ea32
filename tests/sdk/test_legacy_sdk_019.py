"""wandb 0.19.11 (legacy Python HTTP client), driven through subprocess.

0.19.11 differences that matter here (see RECORDED.md):
* `wandb login KEY` does not verify by default and sends no request at all, so the
  CLI refusal test needs `--verify`.
* the "Currently logged in as: <user>" line needs the `ProbeServerCapabilities`
  (`__type(name:)`) probe to succeed and `viewer.flags` to be a JSON string.
* login verification turns any failure into "An error occurred while verifying the
  API key."; the server's message is printed before it as
  "Error while calling W&B API: <message> (<Response [401]>)".
"""
from conftest import LOGIN_SNIPPET, VIEWER_SNIPPET, key_id, unknown_key


def test_019_cli_login_valid_key(fulcrum, wandb019, sdk_home):
    key = fulcrum.keys["alice"]
    p = wandb019("login", "--verify", "--host", fulcrum.url, key)
    assert p.returncode == 0, p.output
    assert "Traceback" not in p.output, p.output
    assert "Currently logged in as: alice" in p.output, (
        "0.19.11 prints the username only if ProbeServerCapabilities (__type) and "
        "Viewer{serverInfo} work and viewer.flags is a string:\n" + p.output
    )
    netrc = (sdk_home / ".netrc").read_text()
    assert f"127.0.0.1:{fulcrum.port}" in netrc and key in netrc


def test_019_cli_login_without_verify_sends_nothing_but_works(fulcrum, wandb019):
    # documents 0.19.11 behaviour: no verification by default
    p = wandb019("login", "--host", fulcrum.url, fulcrum.keys["alice"])
    assert p.returncode == 0, p.output
    assert "W&B API key is configured" in p.output, p.output


def test_019_cli_login_unknown_key_fails(fulcrum, wandb019, sdk_home):
    p = wandb019("login", "--verify", "--host", fulcrum.url, unknown_key())
    assert p.returncode == 1, p.output
    assert "An error occurred while verifying the API key" in p.output, p.output
    # the server's {"errors":[{"message": ...}]} text is printed (0.19.11 InternalApi.execute)
    assert "invalid api key" in p.output.lower(), p.output
    assert "401" in p.output, p.output
    assert not (sdk_home / ".netrc").exists()


def test_019_python_login_valid_key(fulcrum, py019):
    r = py019(LOGIN_SNIPPET, fulcrum.keys["alice"], fulcrum.url)
    assert r.ok and r.value is True, r


def test_019_python_login_unknown_key_raises(fulcrum, py019):
    r = py019(LOGIN_SNIPPET, unknown_key(), fulcrum.url)
    assert not r.ok, r
    assert r.exc_type == "wandb.errors.errors.AuthenticationError", r
    assert "verifying the API key" in r.message, r
    assert "invalid api key" in r.proc.stderr.lower(), r.proc.stderr


def test_019_api_viewer(fulcrum, py019):
    key = fulcrum.keys["alice-api"]
    r = py019(VIEWER_SNIPPET, key, fulcrum.url)
    assert r.ok, r
    v = r.value
    assert (v["username"], v["email"], v["admin"], v["entity"]) == ("alice", "alice@example.com", False, "alice")
    assert "alice" in v["teams"]
    assert key_id(key) in v["api_keys"] and key not in v["api_keys"], v["api_keys"]


def test_019_api_unknown_key_raises(fulcrum, py019):
    r = py019(VIEWER_SNIPPET, unknown_key(), fulcrum.url)
    assert not r.ok, r
    # 0.19.11 maps HTTP 401 to AuthenticationError (util.no_retry_auth)
    assert r.raised("AuthenticationError"), r
    assert "401" in r.message, r
