"""Who is asking: the name the service records for a caller (holds, erasures, exports)."""

from __future__ import annotations

import hashlib

ANONYMOUS = "anonymous"


def caller_id(key: str | None) -> str:
    """A fingerprint of the caller's API key (never the key itself), or 'anonymous' without one.

    Named keys (the audit work) should make this return the key's name; every record of who did what
    comes from here.
    """
    return f"key:{hashlib.sha256(key.encode()).hexdigest()[:12]}" if key else ANONYMOUS
