"""Who is asking: named keys (the keys file, re-read when it changes, and the auth.*_keys settings as keys
named read-1, write-1, admin-1, ...), the scope each needed, and the actor the audit records.

Which scopes are open: with a keys file, none (the file says keys are in use; a missing or broken file
leaves it closed). Without one, as before: reads are open while no read key is set, writes while no write
key is set, and the audit trail only while no key at all is set.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from service.keys_file import Scope, hash_key, load_keys
from service.settings import AuthSettings

log = logging.getLogger(__name__)
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class NamedKey:
    """A key the service knows, by its name and scope."""

    name: str
    scope: Scope


@dataclass(frozen=True)
class Actor:
    """Who did something, for the audit trail: a key's name (or 'anonymous') and the client's address."""

    name: str
    address: str | None
    scope: Scope | None = None


class KeyDenied(Exception):
    """A request's key is missing, unknown or short of the scope; `name` is set for a known key."""

    def __init__(self, status: int, reason: str, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.name = status, reason, name


def _legacy(auth: AuthSettings) -> dict[str, NamedKey]:
    """sha256 -> key for the settings' keys, named read-1.., write-1.., admin-1.. (the highest scope wins)."""
    keys: dict[str, NamedKey] = {}
    for scope, given in (
        (Scope.READ, auth.read_keys),
        (Scope.WRITE, auth.write_keys),
        (Scope.ADMIN, auth.admin_keys),
    ):
        for i, k in enumerate(given, 1):
            keys[hash_key(k.get_secret_value())] = NamedKey(f"{scope}-{i}", scope)
    return keys


class KeyRing:
    """The keys in force; a keys file is checked (one stat) on every use and re-read when it changed."""

    def __init__(self, auth: AuthSettings) -> None:
        self.file: Path | None = auth.keys_file
        self._legacy = _legacy(auth)
        self._has = {s: any(k.scope == s for k in self._legacy.values()) for s in Scope}
        self._named: dict[str, NamedKey] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def is_open(self, needed: Scope) -> bool:
        """Whether a request needs no key for this scope."""
        if self.file is not None:
            return False
        if needed == Scope.ADMIN:
            return not self._legacy
        return not self._has[needed]

    def lookup(self, key: str) -> NamedKey | None:
        """The known key this is, or None."""
        digest = hash_key(key)
        return self._current().get(digest) or self._legacy.get(digest)

    def authorize(self, key: str | None, needed: Scope) -> NamedKey | None:
        """The key that allows `needed` (None: the scope is open and the key, if any, is not known)."""
        known = self.lookup(key) if key else None
        if self.is_open(needed):
            return known
        if not key:
            raise KeyDenied(401, "missing", f"this endpoint needs an X-API-Key with {needed} access")
        if known is None:
            raise KeyDenied(401, "unknown", "unknown X-API-Key")
        if not known.scope.allows(needed):
            raise KeyDenied(403, "scope", f"this X-API-Key has no {needed} access", known.name)
        return known

    def _current(self) -> dict[str, NamedKey]:
        """The keys file's keys as of now: re-read when its inode, size or mtime changed."""
        if self.file is None:
            return self._named
        try:
            info = self.file.stat()
            stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        return self._named

    def _reload(self, stamp: tuple[int, int, int] | None) -> None:
        """Read the file again; a missing file revokes its keys, a broken one keeps the last good keys."""
        self._stamp = stamp
        if stamp is None:
            log.error("keys file %s is missing: only auth settings' keys work", self.file)
            self._named = {}
            return
        assert self.file is not None
        try:
            entries = load_keys(self.file).keys
        except (OSError, ValueError) as exc:
            log.error("keys file unchanged in force, the new one is refused: %s", exc)
            return
        self._named = {e.sha256: NamedKey(e.name, e.scope) for e in entries}
        log.info("keys file %s: %d keys", self.file, len(entries))
