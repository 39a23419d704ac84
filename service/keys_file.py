"""The keys file: named API keys with a scope, stored as the sha256 of the key (never the key itself).

    {"keys": [{"name": "alice", "scope": "admin", "sha256": "<64 hex>", "created_at": "..."}]}

Keys are 256 random bits, so an unsalted sha256 cannot be reversed by guessing and lets a request's key be
found by its hash. `person-search keys add` writes the file; the service re-reads it when it changes.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, model_validator

from index.fsio import write_atomic

LEGACY_NAME = re.compile(r"^(read|write|admin)-[0-9]+$")  # the names the auth.*_keys settings get
KEY_PREFIX = "ps_"


class Scope(StrEnum):
    """What a key may do; each scope includes the ones before it: read < write < admin."""

    READ = "read"  # search, view crops, frames and tracks, export
    WRITE = "write"  # upload, delete, cameras, watchlists, acknowledging alerts
    ADMIN = "admin"  # the audit trail

    def allows(self, needed: Scope) -> bool:
        """Whether a key of this scope may do what `needed` guards."""
        order = list(Scope)
        return order.index(self) >= order.index(needed)


class KeyEntry(BaseModel):
    """One named key."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    scope: Scope
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex sha256 of the key's UTF-8 bytes")
    created_at: datetime | None = None


class KeysFile(BaseModel):
    """The whole file: names and hashes are unique, and no name looks like a settings key's."""

    keys: list[KeyEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> KeysFile:
        names, hashes = [k.name for k in self.keys], [k.sha256 for k in self.keys]
        if dup := next((n for n in names if names.count(n) > 1), None):
            raise ValueError(f"the key name {dup!r} appears twice")
        if len(set(hashes)) != len(hashes):
            raise ValueError("two entries hold the same key hash")
        if taken := next((n for n in names if LEGACY_NAME.match(n)), None):
            raise ValueError(
                f"the key name {taken!r} is kept for the keys in auth.read_keys/write_keys/admin_keys"
            )
        return self


def hash_key(key: str) -> str:
    """The stored form of a key: hex sha256 of its UTF-8 bytes."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def load_keys(path: Path) -> KeysFile:
    """The keys file; ValueError naming the file and what is wrong in it."""
    try:
        return KeysFile.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise ValueError(f"{path}: not a valid keys file: {exc}") from exc


def save_keys(path: Path, keys: KeysFile) -> None:
    """Write the file whole (a crash leaves the old or the new one), readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (keys.model_dump_json(indent=2) + "\n").encode())
    os.chmod(path, 0o600)


def add_key(path: Path, name: str, scope: Scope) -> str:
    """Add a new random key under `name` -> the key, which is stored nowhere and shown only now."""
    keys = load_keys(path) if path.exists() else KeysFile()
    if any(k.name == name for k in keys.keys):
        raise ValueError(f"{path} already has a key named {name!r}; remove it first or pick another name")
    key = new_key()
    entry = KeyEntry(name=name, scope=scope, sha256=hash_key(key), created_at=datetime.now(UTC))
    save_keys(path, KeysFile(keys=[*keys.keys, entry]))
    return key


def remove_key(path: Path, name: str) -> None:
    """Remove the key named `name`; ValueError when there is none."""
    keys = load_keys(path)
    kept = [k for k in keys.keys if k.name != name]
    if len(kept) == len(keys.keys):
        raise ValueError(f"{path} has no key named {name!r}")
    save_keys(path, KeysFile(keys=kept))
