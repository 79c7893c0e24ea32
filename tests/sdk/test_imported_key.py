"""A legacy 40-hex key imported with `fulcrum admin import-key` works with both SDKs."""
import re

import pytest

from conftest import VIEWER_SNIPPET


@pytest.fixture
def legacy(fulcrum):
    if fulcrum.import_error:
        pytest.fail(f"fulcrum admin import-key failed:\n{fulcrum.import_error}", pytrace=False)
    return fulcrum.keys["carol-legacy"]


def test_import_key_output(fulcrum, legacy):
    key = legacy
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    info = fulcrum.import_result
    assert isinstance(info, dict) and info, info
    # the key id it reports is a prefix of the key (never more than the key itself)
    ids = [v for k, v in info.items() if "id" in k.lower() and isinstance(v, str) and key.startswith(v)]
    assert ids, f"import-key output has no key id that is a prefix of the key: {info}"


def test_031_cli_login_imported_key(fulcrum, wandb031, legacy):
    p = wandb031("login", "--host", fulcrum.url, legacy)
    assert p.returncode == 0, p.output
    assert "Currently logged in as: carol" in p.output, p.output


def test_031_api_viewer_imported_key(fulcrum, py031, legacy):
    key = legacy
    r = py031(VIEWER_SNIPPET, key, fulcrum.url)
    assert r.ok, r
    assert r.value["username"] == "carol"
    assert r.value["email"] == "carol@example.com"
    assert any(key.startswith(k) for k in r.value["api_keys"]), r.value["api_keys"]


def test_019_cli_login_imported_key(fulcrum, wandb019, legacy):
    p = wandb019("login", "--verify", "--host", fulcrum.url, legacy)
    assert p.returncode == 0, p.output
    assert "Currently logged in as: carol" in p.output, p.output


def test_019_api_viewer_imported_key(fulcrum, py019, legacy):
    r = py019(VIEWER_SNIPPET, legacy, fulcrum.url)
    assert r.ok, r
    assert r.value["username"] == "carol"
