"""Conversions between alert records and the API's models."""

from __future__ import annotations

from alerts import Alert, Watchlist, sensitivity_to_q
from alerts.payload import alert_payload
from service.alert_schemas import AlertPublic, WatchlistPublic


def watchlist_public(watchlist: Watchlist, model_id: str) -> WatchlistPublic:
    """A watchlist as the API shows it."""
    return WatchlistPublic(
        id=watchlist.id,
        name=watchlist.name,
        kind=watchlist.kind.value,
        text=watchlist.text,
        item_id=watchlist.item_id,
        cameras=list(watchlist.cameras) if watchlist.cameras is not None else None,
        sensitivity=watchlist.sensitivity,
        q=round(sensitivity_to_q(watchlist.sensitivity), 6),
        webhook_url=watchlist.webhook_url,
        created_at=watchlist.created_at,
        stale=watchlist.model_id != model_id,
    )


def alert_public(alert: Alert) -> AlertPublic:
    """An alert as the API shows it (relative URLs: the client already knows this server)."""
    return AlertPublic(**alert_payload(alert), id=alert.id, acked_at=alert.acked_at)
