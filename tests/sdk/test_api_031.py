"""wandb 0.31.0 Public API: viewer, users, API keys, create_user."""
import uuid

from conftest import VIEWER_SNIPPET, key_id


def _check_key_listing(api_keys, key):
    assert any(key.startswith(k) for k in api_keys), (api_keys, key_id(key))
    assert key not in api_keys, "the full secret must never be listed"
    assert key_id(key) in api_keys, (api_keys, key_id(key))


def test_viewer_normal_user(fulcrum, py031):
    key = fulcrum.keys["alice-api"]
    r = py031(VIEWER_SNIPPET, key, fulcrum.url)
    assert r.ok, r
    v = r.value
    assert v["username"] == "alice"
    assert v["email"] == "alice@example.com"
    assert v["admin"] is False
    assert v["entity"] == "alice"
    assert v["default_entity"] == "alice"
    assert "alice" in v["teams"]
    _check_key_listing(v["api_keys"], key)


def test_viewer_admin_user(fulcrum, py031):
    key = fulcrum.keys["root"]
    r = py031(VIEWER_SNIPPET, key, fulcrum.url)
    assert r.ok, r
    v = r.value
    assert v["username"] == "root"
    assert v["email"] == "root@example.com"
    assert v["admin"] is True
    assert v["entity"] == "root"
    assert "root" in v["teams"]
    _check_key_listing(v["api_keys"], key)


GENERATE = """
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
me = api.viewer
result = me.generate_api_key("pytest")
"""

DELETE_BY_ID = """
import wandb
me = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]}).viewer
result = {"listed": list(me.api_keys), "deleted": me.delete_api_key(argv[2])}
"""


def test_generate_then_delete_api_key(fulcrum, py031):
    main = fulcrum.keys["alice-api"]
    r = py031(GENERATE, main, fulcrum.url)
    assert r.ok, r
    new = r.value
    assert isinstance(new, str) and new != main, r
    assert new.startswith("fk-") and len(new) == 43 and new[3:].isalnum(), new

    # the new key works and belongs to alice; it is listed by its key id only
    r = py031(VIEWER_SNIPPET, new, fulcrum.url)
    assert r.ok, r
    assert r.value["username"] == "alice"
    _check_key_listing(r.value["api_keys"], new)

    # delete it by its key id (a freshly loaded user object lists ids, not secrets)
    r = py031(DELETE_BY_ID, main, fulcrum.url, key_id(new))
    assert r.ok, r
    assert key_id(new) in r.value["listed"]
    assert r.value["deleted"] is True

    # the deleted key is refused
    r = py031(VIEWER_SNIPPET, new, fulcrum.url)
    assert not r.ok, r
    assert r.raised("AuthenticationError"), r
    assert "Failed to verify credentials" in r.message and "invalid api key" in r.message.lower(), r

    # the key used to delete it still works
    r = py031(VIEWER_SNIPPET, main, fulcrum.url)
    assert r.ok and r.value["username"] == "alice", r


USER_LOOKUP = """
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
u = api.user(argv[2])
result = None if u is None else {"username": u.username, "email": u.email, "admin": u.admin}
"""


def test_user_lookup(fulcrum, py031):
    r = py031(USER_LOOKUP, fulcrum.keys["root"], fulcrum.url, "alice")
    assert r.ok, r
    assert r.value is not None and r.value["username"] == "alice", r
    assert r.value["email"] == "alice@example.com"
    assert r.value["admin"] is False


def test_user_lookup_unknown_is_none(fulcrum, py031):
    r = py031(USER_LOOKUP, fulcrum.keys["root"], fulcrum.url, "nobody-xyz")
    assert r.ok, r
    assert r.value is None, r


CREATE_USER = """
import wandb
api = wandb.Api(api_key=argv[0], overrides={"base_url": argv[1]})
u = api.create_user(argv[2], admin=False)
result = {"email": u.email, "admin": u.admin, "username": u.username}
"""


def test_create_user_as_admin(fulcrum, py031):
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    r = py031(CREATE_USER, fulcrum.keys["root"], fulcrum.url, email)
    assert r.ok, r
    assert r.value["email"] == email
    assert r.value["admin"] is False
    # and the server knows it afterwards
    r = py031(USER_LOOKUP, fulcrum.keys["root"], fulcrum.url, email)
    assert r.ok and r.value is not None and r.value["email"] == email, r


def test_create_user_as_non_admin_is_refused(fulcrum, py031):
    email = f"sneaky-{uuid.uuid4().hex[:8]}@example.com"
    r = py031(CREATE_USER, fulcrum.keys["bob"], fulcrum.url, email)
    assert not r.ok, r
    # 0.31.0 raises WandbApiFailedError carrying the server's message
    assert r.raised("WandbApiFailedError"), r
    msg = r.message.lower()
    assert "permission" in msg or "admin" in msg or "forbidden" in msg, r
    # nothing was created
    r = py031(USER_LOOKUP, fulcrum.keys["root"], fulcrum.url, email)
    assert r.ok and r.value is None, r
