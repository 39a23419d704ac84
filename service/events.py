"""What the service did to people's data (holds, erasures, purges), reported through one hook.

AUDIT HOOK: every such action goes through `Runtime.on_event(action, actor, details)` (the signature
of the audit trail's `record`), which defaults to `log_event` here; `actor` comes from
service/callers.py and `details` is the one plain dict the route also answers with. The call sites:
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
EventHook = Callable[[str, str, dict[str, Any]], None]  # (action, actor, JSON-able details)
RETENTION_ACTOR = "retention"  # the purge worker acts on its own, as the policy says


class Action(StrEnum):
    """The actions reported through the hook."""

    HOLD_PLACED = "hold.placed"
    HOLD_RELEASED = "hold.released"
    ERASURE_PREVIEWED = "erasure.previewed"
    ERASED = "erasure.erased"
    PURGED = "retention.purged"
    MISSING_FILES = "retention.missing_files"  # rows removed at start: their image files were gone


def log_event(action: str, actor: str, details: dict[str, Any]) -> None:
    """The default hook: one JSON log line per action (until the audit trail takes the hook over)."""
    log.info("%s by %s %s", action, actor, json.dumps(details, sort_keys=True, default=str))
