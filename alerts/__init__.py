"""Watchlists and alerts: new gallery crops scored against standing queries, alerts delivered durably.

Knows the gallery (index/) and no models and no HTTP framework: the service embeds the queries and serves
the routes; this package scores, calibrates, records and delivers (Server-Sent Events through the
service, webhooks, MQTT) through the gallery's outbox mechanism.
"""

from alerts.calibration import Calibration, sensitivity_to_q
from alerts.engine import AlertEngine
from alerts.store import Alert, AlertQuery
from alerts.watchlists import Watchlist, WatchlistSpec

__all__ = [
    "Alert",
    "AlertEngine",
    "AlertQuery",
    "Calibration",
    "Watchlist",
    "WatchlistSpec",
    "sensitivity_to_q",
]
