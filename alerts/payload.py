"""An alert as every channel sends it: one flat JSON object (Home Assistant templates read flat keys)."""

from __future__ import annotations

from typing import Any

from alerts.store import Alert


def alert_payload(alert: Alert, base_url: str = "") -> dict[str, Any]:
    """The alert's JSON: watchlist, crop (item id, image URL), frame URL, camera, time, score; URLs start
    with `base_url` (the service as receivers reach it; empty: relative)."""
    base = base_url.rstrip("/")
    return {
        "alert_id": alert.id,
        "uid": alert.uid,
        "watchlist_id": alert.watchlist_id,
        "watchlist": alert.watchlist_name,
        "item_id": alert.item_id,
        "track_id": alert.track_id,
        "camera": alert.camera,
        "time": alert.captured_at.isoformat() if alert.captured_at else None,
        "score": round(alert.score, 6),
        "calibrated": round(alert.calibrated, 6) if alert.calibrated is not None else None,
        "threshold": round(alert.threshold, 6),
        "image_url": f"{base}/gallery/{alert.item_id}/image",
        "frame_url": f"{base}/gallery/{alert.item_id}/frame" if alert.has_frame else None,
        "created_at": alert.created_at.isoformat(),
        "acked": alert.acked_at is not None,
    }
