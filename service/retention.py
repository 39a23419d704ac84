"""The service's side of retention: rows of other packages removed with the items they point at, the
purge worker as Settings say, and each of its batches recorded in the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alerts.schema import ensure
from alerts.store import forget_items
from index import Gallery
from index.purge import Purger
from index.removal import Removal
from service.audit import Action
from service.settings import Settings


def removed_details(removal: Removal) -> dict[str, Any]:
    """What a removal took out, as audit details: count, ids and their sha256s, items kept on hold."""
    return {
        "count": len(removal.ids),
        "items": list(removal.ids),
        "sha256": [removal.sha256s[i] for i in removal.ids],
        "skipped_on_hold": removal.held,
    }


def link_dependents(gallery: Gallery) -> None:
    """Alerts go with the crops they were raised on, whether alerts are on now or were before."""
    ensure(gallery.records)
    gallery.dependents.append(forget_items)


def start_retention(
    settings: Settings, gallery: Gallery, record: Callable[[str, dict[str, Any]], None]
) -> Purger:
    """The purge worker, started unless the policy keeps everything (it still reports for /health)."""
    r = settings.retention

    def report(why: str, removal: Removal) -> None:
        action = Action.PURGE if why == "retention" else Action.PURGE_MISSING_FILES
        record(action, removed_details(removal))  # one audit row per batch

    purger = Purger(gallery, r.policy(), r.batch_size, r.interval_s, report)
    purger.start()
    return purger
