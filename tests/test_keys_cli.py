"""`person-search keys add/list/remove --keys-file F`: a key is printed once and only its sha256 is kept;
the file is owner-only; duplicate, reserved and unknown names fail with the reason."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from service.keys import KeyRing
from service.keys_file import Scope
from service.settings import AuthSettings


def _keys(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["keys", *args])
    return result.exit_code, result.stdout, result.stderr


def test_add_list_remove(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "keys.json"
    code, key, _ = _keys("add", "alice", "--scope", "admin", "--keys-file", str(path))
    key = key.strip()
    assert code == 0 and key.startswith("ps_") and len(key) > 40
    stored = json.loads(path.read_text())["keys"]
    assert stored[0]["sha256"] == hashlib.sha256(key.encode()).hexdigest() and key not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _keys("add", "nvr-2", "--keys-file", str(path))[0] == 0  # read scope by default
    code, listed, _ = _keys("list", "--keys-file", str(path))
    assert code == 0 and [line.split("\t")[:2] for line in listed.splitlines()] == [
        ["alice", "admin"],
        ["nvr-2", "read"],
    ]
    ring = KeyRing(AuthSettings(keys_file=path))
    named = ring.authorize(key, Scope.ADMIN)
    assert named is not None and named.name == "alice"
    assert _keys("remove", "alice", "--keys-file", str(path))[0] == 0
    assert ring.lookup(key) is None  # re-read on its next use
    assert [k["name"] for k in json.loads(path.read_text())["keys"]] == ["nvr-2"]


def test_bad_names_fail_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    assert _keys("add", "bob", "--keys-file", str(path))[0] == 0
    code, _, error = _keys("add", "bob", "--keys-file", str(path))
    assert code == 2 and "already has a key named 'bob'" in error
    code, _, error = _keys("add", "write-1", "--keys-file", str(path))
    assert code == 2 and "kept for the keys in auth" in error
    code, _, error = _keys("remove", "carol", "--keys-file", str(path))
    assert code == 2 and "no key named 'carol'" in error
    code, _, error = _keys("add", "x", "--scope", "root", "--keys-file", str(path))
    assert code == 2 and "root" in error
    assert [k["name"] for k in json.loads(path.read_text())["keys"]] == ["bob"]
