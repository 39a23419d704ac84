"""The service's side of retention: rows of other packages removed with the items they point at, the
purge worker as Settings say, and its batches reported through the event hook (service/events.py)."""

from __future__ import annotations

from typing import Any

from alerts.schema import ensure
from alerts.store import forget_items
from index import Gallery
from index.purge import Purger
from index.removal import Removal
from service.events import RETENTION_ACTOR, Action, EventHook
from service.settings import Settings


def removed_details(removal: Removal) -> dict[str, Any]:
    """What a removal took out, as an event's details: count, ids with their sha256, files unlinked."""
    return {
        "count": len(removal.ids),
        "items": [[i, removal.sha256s[i]] for i in removal.ids],
        "skipped_on_hold": removal.held,
    }


def link_dependents(gallery: Gallery) -> None:
    """Alerts go with the crops they were raised on, whether alerts are on now or were before."""
    ensure(gallery.records)
    gallery.dependents.append(forget_items)


def start_retention(settings: Settings, gallery: Gallery, on_event: EventHook) -> Purger:
    """The purge worker, started unless the policy keeps everything (it still reports for /health)."""
    r = settings.retention

    def report(why: str, removal: Removal) -> None:
        action = Action.PURGED if why == "retention" else Action.MISSING_FILES
        # AUDIT HOOK: each purge batch (and the rows removed for missing files) is one event
        on_event(action, RETENTION_ACTOR, removed_details(removal))

    purger = Purger(gallery, r.policy(), r.batch_size, r.interval_s, report)
    purger.start()
    return purger
