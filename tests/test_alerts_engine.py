"""The alert engine on a real gallery: one matrix product per batch, one alert per track and watchlist,
calibrated thresholds, and a cursor that survives restarts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from alert_helpers import DIM, Feeder, engine_for, open_gallery, unit, watch

from alerts.calibration import Q_MAX, Q_MIN, Calibration, sensitivity_to_q
from alerts.store import AlertQuery
from index import ItemMeta


def _axis(i: int) -> np.ndarray:
    return np.eye(DIM, dtype=np.float32)[i]


def test_a_track_alerts_once_per_watchlist_and_an_upload_per_item(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as gallery:
        feed = Feeder(gallery)
        feed.noise(80)
        engine = engine_for(gallery, floor=0.5)
        first = engine.add_watchlist(watch(_axis(0), "zero"))
        other = engine.add_watchlist(watch(_axis(1), "one"))
        ids = feed.track("hall|a|1", feed.near(0, 3))
        feed.noise(5)
        while engine.process_once():
            pass
        alerts = engine.store.find(AlertQuery())
        assert [(a.watchlist_id, a.track_id is not None) for a in alerts] == [(first.id, True)]
        best = max(ids, key=lambda i: float(gallery.records.items([i], DIM)[i][1] @ _axis(0)))
        assert alerts[0].item_id == best and alerts[0].camera == "hall"
        assert 0.9 < alerts[0].calibrated <= 1.0 and alerts[0].score > alerts[0].threshold >= 0.5  # type: ignore[operator]
        feed.track("hall|a|1", feed.near(0, 2))  # more crops of the same track: no second alert
        uploads = feed.add(feed.near(0, 2), [ItemMeta(camera="desk")] * 2)  # no track: one alert per item
        while engine.process_once():
            pass
        alerts = engine.store.find(AlertQuery(watchlist_id=first.id))
        assert sorted(a.item_id for a in alerts if a.track_id is None) == uploads
        assert len(alerts) == 3 and not engine.store.find(AlertQuery(watchlist_id=other.id))


def test_crops_stored_before_a_watchlist_never_alert_and_cameras_filter(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as gallery:
        feed = Feeder(gallery)
        feed.noise(60)
        engine = engine_for(gallery, floor=0.5)
        early = feed.track("hall|early|1", feed.near(0, 2))  # before the watchlist: history
        gate = engine.add_watchlist(watch(_axis(0), "gate only", cameras=("gate",)))
        feed.track("hall|late|1", feed.near(0, 2), camera="hall")
        at_gate = feed.track("gate|late|2", feed.near(0, 2), camera="gate")
        while engine.process_once():
            pass
        (alert,) = engine.store.find(AlertQuery())
        assert alert.watchlist_id == gate.id and alert.item_id in at_gate and alert.item_id not in early


def test_the_threshold_is_the_backgrounds_top_q_not_a_raw_cosine(tmp_path: Path) -> None:
    """A query every crop resembles (high raw cosines) alerts only on the crops above its background."""
    with open_gallery(tmp_path) as gallery:
        feed = Feeder(gallery)
        common = unit(np.ones(DIM))
        rng = np.random.default_rng(1)
        background = unit(common + rng.normal(scale=0.3, size=(200, DIM)))  # cosines ~0.8 with the query
        feed.add(background, [ItemMeta()] * 200)
        engine = engine_for(gallery, floor=0.0, min_background=50)
        wl = engine.add_watchlist(watch(common, "broad", sensitivity=0.0))
        ordinary = unit(common + rng.normal(scale=0.3, size=(20, DIM)))
        feed.add(ordinary, [ItemMeta()] * 20)
        target = feed.add(unit(common + rng.normal(scale=0.01, size=(1, DIM))), [ItemMeta()])
        while engine.process_once():
            pass
        alerts = engine.store.find(AlertQuery(watchlist_id=wl.id))
        assert [a.item_id for a in alerts] == target  # raw cosines of ~0.8 alone would alert on all 21
        assert alerts[0].threshold > 0.7


def test_sensitivity_maps_to_q_on_a_log_scale() -> None:
    assert sensitivity_to_q(0.0) == pytest.approx(Q_MIN) and sensitivity_to_q(1.0) == pytest.approx(Q_MAX)
    assert sensitivity_to_q(0.5) == pytest.approx((Q_MIN * Q_MAX) ** 0.5)
    with pytest.raises(ValueError, match="sensitivity"):
        sensitivity_to_q(1.5)
    scores = np.linspace(0, 1, 101, dtype=np.float32)[:, None]  # a background of 101 scores
    qs = np.array([0.1])
    calibration = Calibration(scores, np.array([0.9], np.float32), 0.0, 50)
    assert calibration.share_below(0, 0.95) == pytest.approx(96 / 101)
    from alerts.calibration import thresholds_of

    assert thresholds_of(scores, qs, 0.0, 50)[0] == pytest.approx(0.9)  # 10 of 101 lie above 0.9
    assert thresholds_of(scores, qs, 0.95, 50)[0] == pytest.approx(0.95)  # the floor wins
    assert thresholds_of(scores, qs, 0.2, 200)[0] == pytest.approx(0.2)  # too small a background


def test_unscored_crops_wait_behind_the_cursor_across_a_restart(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as gallery:
        feed = Feeder(gallery)
        feed.noise(60)
        engine = engine_for(gallery, floor=0.5)
        engine.add_watchlist(watch(_axis(0)))
        target = feed.track("hall|t|1", feed.near(0, 2))  # added, never scored: the process "dies"
    with open_gallery(tmp_path) as gallery:
        engine = engine_for(gallery, floor=0.5)
        assert engine.status()["behind"] == 2
        while engine.process_once():
            pass
        (alert,) = engine.store.find(AlertQuery())
        assert alert.item_id in target and engine.status()["behind"] == 0
        while engine.process_once():  # nothing scored twice
            pass
        assert engine.store.count() == 1
