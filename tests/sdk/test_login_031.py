"""wandb 0.31.0: CLI login, wandb.login(verify=True), revoked keys."""
from conftest import LOGIN_SNIPPET, key_id, unknown_key


def _netrc(home):
    p = home / ".netrc"
    return p.read_text() if p.exists() else ""


def test_cli_login_valid_key(fulcrum, wandb031, sdk_home):
    key = fulcrum.keys["alice"]
    p = wandb031("login", "--host", fulcrum.url, key)
    assert p.returncode == 0, p.output
    assert "Currently logged in as: alice" in p.output, p.output
    assert "invalid" not in p.output.lower(), p.output
    # the key was stored for this host
    netrc = _netrc(sdk_home)
    assert f"127.0.0.1:{fulcrum.port}" in netrc and key in netrc, netrc


def test_cli_login_unknown_key_fails(fulcrum, wandb031, sdk_home):
    p = wandb031("login", "--host", fulcrum.url, unknown_key())
    assert p.returncode == 1, p.output
    assert f"Failed to authenticate with {fulcrum.url}" in p.output, p.output
    # the message the server sent in {"errors":[{"message": ...}]} reaches the user
    assert "invalid api key" in p.output.lower(), p.output
    assert "Currently logged in as" not in p.output
    assert _netrc(sdk_home) == "", "an unverified key must not be saved"


def test_python_login_valid_key(fulcrum, py031):
    r = py031(LOGIN_SNIPPET, fulcrum.keys["alice"], fulcrum.url)
    assert r.ok and r.value is True, r
    assert "Currently logged in as: alice" in r.proc.stderr, r.proc.stderr


def test_python_login_unknown_key_raises(fulcrum, py031):
    r = py031(LOGIN_SNIPPET, unknown_key(), fulcrum.url)
    assert not r.ok, r
    assert r.raised("AuthenticationError"), r
    assert r.exc_type == "wandb.errors.errors.AuthenticationError", r
    assert "Failed to authenticate" in r.message and "invalid api key" in r.message.lower(), r


REVOKE = """
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
me = api.viewer
before = list(me.api_keys)
deleted = me.delete_api_key(argv[2])
after = list(wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]}).viewer.api_keys)
result = {"before": before, "deleted": deleted, "after": after}
"""


def test_revoked_key_is_refused_at_once(fulcrum, py031, wandb031):
    victim = fulcrum.keys["alice-revoke"]
    kid = key_id(victim)
    # the key works before revocation
    p = wandb031("login", "--host", fulcrum.url, victim)
    assert p.returncode == 0 and "Currently logged in as: alice" in p.output, p.output

    # revoke it with alice's main key, through the SDK (DeleteApiKey)
    r = py031(REVOKE, fulcrum.keys["alice"], fulcrum.url, kid)
    assert r.ok, r
    assert kid in r.value["before"], r.value
    assert r.value["deleted"] is True, r.value
    assert kid not in r.value["after"], r.value

    # immediately refused: CLI, wandb.login(verify=True)
    p = wandb031("login", "--relogin", "--host", fulcrum.url, victim)
    assert p.returncode == 1, p.output
    assert "Failed to authenticate" in p.output and "invalid api key" in p.output.lower(), p.output
    r = py031(LOGIN_SNIPPET, victim, fulcrum.url)
    assert not r.ok and r.raised("AuthenticationError"), r

    # the main key is unaffected
    r = py031(LOGIN_SNIPPET, fulcrum.keys["alice"], fulcrum.url)
    assert r.ok and r.value is True, r
