"""What the service did to people's data (holds, erasures, purges), reported through one hook.

AUDIT HOOK: every such action goes through `Runtime.on_event(action, details)`, which defaults to
`log_event` here. The audit trail (service/audit.py, hash-chained) is meant to replace that default, so
each call below becomes an audit record. The call sites are, by action:
  hold.placed, hold.released          service/routes/holds.py
  erasure.previewed, erasure.erased   service/routes/erasure.py
  retention.purged, retention.missing_files   service/retention.py (the purge worker's batches)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

log = logging.getLogger("person_search.events")
EventHook = Callable[[str, dict[str, Any]], None]  # (action, JSON-able details)


class Action(StrEnum):
    """The actions reported through the hook."""

    HOLD_PLACED = "hold.placed"
    HOLD_RELEASED = "hold.released"
    ERASURE_PREVIEWED = "erasure.previewed"
    ERASED = "erasure.erased"
    PURGED = "retention.purged"
    MISSING_FILES = "retention.missing_files"  # rows removed at start: their image files were gone


def log_event(action: str, details: dict[str, Any]) -> None:
    """The default hook: one JSON log line per action (until the audit trail takes the hook over)."""
    log.info("%s %s", action, json.dumps(details, sort_keys=True, default=str))
