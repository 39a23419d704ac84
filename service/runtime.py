"""What the app serves with: encoder, gallery, batchers and telemetry, and their start-up phases.

Start-up runs in the background so the port opens at once: /health answers 503 "starting" until the
encoder is loaded, the gallery opened and both towers warmed up. A gallery built with another model
leaves the server up, answering 409 with how to re-index, instead of mixing embeddings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engine import Encoder
from engine.graph_io import Tower
from service.alert_feed import AlertFeed
from service.audit import AuditTrail, audit_path
from service.camera_metrics import bind_cameras
from service.components import detector_from_settings, encoder_from_settings, gallery_from_settings
from service.errors import ApiError, mismatch_message
from service.keys import Actor, KeyRing
from service.latency import LatencyTracker
from service.metrics import Metrics
from service.settings import CameraSettings, Settings
from service.towers import Towers

if TYPE_CHECKING:
    from alerts import AlertEngine
    from cameras.frigate import FrigateListener
    from cameras.types import PersonDetector
    from index import Gallery, ModelMismatchError
    from index.fleet import Replicator
    from index.purge import Purger
    from service.camera_manager import CameraManager
    from service.fleet import HubIndex

log = logging.getLogger(__name__)
RETENTION = Actor("retention", None)  # the purge acts on its own, as the policy says


class Phase(StrEnum):
    """Where start-up is."""

    STARTING = "starting"
    READY = "ready"
    MISMATCH = "mismatch"  # encoder ready, gallery built with another model
    FAILED = "failed"


class Runtime:
    """The serving state one app holds; routes reach it through deps."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics, self.latency = Metrics(), LatencyTracker()
        self.keys = KeyRing(settings.auth)
        self.audit = AuditTrail(audit_path(settings), settings.audit.queue_size, settings.audit.linger_s)
        self.phase: Phase = Phase.STARTING
        self.error: str | None = None
        self.encoder: Encoder | None = None
        self.gallery: Gallery | None = None
        self.towers: Towers | None = None
        self.replicator: Replicator | None = None  # an edge with a site id: its outbox worker
        self.hub: HubIndex | None = None  # role hub: the central collection instead of a gallery
        self.started = time.monotonic()
        self.startup_s: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.warm_up: Callable[[Towers], None] = Towers.warm_up  # a seam: tests hold start-up here
        self.cameras: CameraManager | None = None
        self.alerts: AlertEngine | None = None  # an edge with alerts on: watchlists, scoring, delivery
        self.feed = AlertFeed()  # wakes SSE streams when alerts are recorded
        self.frigate: FrigateListener | None = None
        self.purger: Purger | None = None  # an edge's retention worker
        self.load_detector: Callable[[CameraSettings], PersonDetector | None] = (
            detector_from_settings  # a seam
        )

    def start(self) -> None:
        """Open the audit trail (a failure stops start-up), then load and warm up in a worker thread."""
        self.audit.open()
        self._task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._load))

    async def stop(self) -> None:
        """Wait for start-up to settle, then stop the batchers and close the gallery."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self.frigate is not None:
            await asyncio.to_thread(self.frigate.stop)
        if self.cameras is not None:
            await asyncio.to_thread(self.cameras.stop)
        if self.alerts is not None:
            await asyncio.to_thread(self.alerts.stop)
            await asyncio.to_thread(self.alerts.deliveries.stop)
        if self.purger is not None:
            await asyncio.to_thread(self.purger.stop)
        if self.towers is not None:
            await asyncio.to_thread(self.towers.stop)
        if self.hub is not None:
            await asyncio.to_thread(self.hub.stop)
        if self.replicator is not None:
            await asyncio.to_thread(self.replicator.stop)
        if self.gallery is not None:
            await asyncio.to_thread(self.gallery.close)
        await asyncio.to_thread(self.audit.stop)

    def _load(self) -> None:
        """Load the encoder, open the gallery, warm up; record failures instead of raising."""
        from index import ModelMismatchError
        from service.fleet import HubIndex, start_replication  # pymilvus only when used

        hub = self.settings.server.role == "hub"
        try:
            # a hub only encodes descriptions
            self.encoder = encoder_from_settings(self.settings, towers={Tower.TEXT} if hub else None)
            log.info("encoder: %s", self.encoder.describe())
            self.towers = Towers(self.encoder, self.settings.batching, self.metrics.observe_batch)
            self.warm_up(self.towers)
            if hub:
                self.hub = HubIndex(self.settings.fleet, self.encoder.model_id, self.encoder.embed_dim)
                self.hub.start()
            else:
                self.gallery = gallery_from_settings(self.settings, self.encoder)
                self.replicator = start_replication(self.settings.fleet, self.gallery)
                self.purger = self._start_retention(self.gallery)
                self.alerts = self._start_alerts(self.gallery, self.encoder)
                self.cameras = self._start_cameras(self.gallery, self.towers)
                self.frigate = self._start_frigate(self.gallery, self.towers)
        except ModelMismatchError as exc:
            self.mismatch(exc)
            return
        except Exception as exc:
            self.phase, self.error = Phase.FAILED, f"{type(exc).__name__}: {exc}"
            log.exception("start-up failed")
            return
        self._bind_metrics()
        self.metrics.ready.set(1)
        self.startup_s = time.monotonic() - self.started
        self.phase = Phase.READY
        log.info("ready in %.1fs as %s", self.startup_s, self.settings.server.role)

    def _start_alerts(self, gallery: Gallery, encoder: Encoder) -> AlertEngine | None:
        """Watchlists re-embedded if the model changed, then scoring and delivery (None: alerts off)."""
        from service.alerting import reembed_stale, start_alerts

        engine = start_alerts(self.settings, gallery)
        if engine is not None:
            engine.listeners.append(self.feed.notify)
            if (done := reembed_stale(engine, encoder)) > 0:
                log.info("re-embedded %d watchlists with model %s", done, encoder.model_id)
        return engine

    def _start_retention(self, gallery: Gallery) -> Purger:
        """Alerts removed with their crops, and the purge worker recording each batch in the audit trail."""
        from service.retention import link_dependents, start_retention

        link_dependents(gallery)
        return start_retention(
            self.settings, gallery, lambda action, details: self.audit.record(action, RETENTION, details)
        )

    def _start_frigate(self, gallery: Gallery, towers: Towers) -> FrigateListener | None:
        """Frigate's person events into the gallery, when configured."""
        if not self.settings.frigate.enabled:
            return None
        from service.frigate_ingest import start_frigate

        return start_frigate(self.settings, gallery, towers)

    def alert_engine(self) -> AlertEngine:
        """The alert engine once ready; 503 naming why when alerts are off."""
        self.parts()
        if self.alerts is None:
            raise ApiError(503, "alerts are off (PERSON_SEARCH_ALERTS__ENABLED=false)")
        return self.alerts

    def _start_cameras(self, gallery: Gallery, towers: Towers) -> CameraManager:
        """The camera manager; a detector that fails to load leaves cameras off, search unharmed."""
        from service.camera_manager import CameraManager, embed_with_towers

        detector, error = None, None
        try:
            detector = self.load_detector(self.settings.cameras)
        except Exception as exc:
            error = f"the person detector failed to load: {type(exc).__name__}: {exc}"
            log.exception("cameras are off")
        manager = CameraManager(self.settings.cameras, gallery, embed_with_towers(towers), detector, error)
        manager.start()
        bind_cameras(self.metrics.registry, manager.status)
        return manager

    def camera_manager(self, require_detector: bool = True) -> CameraManager:
        """The cameras once ready; 503 naming why when a detector is needed and there is none."""
        self.parts()
        assert self.cameras is not None
        if require_detector and self.cameras.detector is None:
            raise ApiError(503, self.cameras.why_off())
        return self.cameras

    def mismatch(self, exc: ModelMismatchError) -> None:
        """Stop serving: the gallery (or the fleet's collection) holds another model's embeddings."""
        if self.phase != Phase.MISMATCH:
            self.phase, self.error = Phase.MISMATCH, mismatch_message(exc)
            self.metrics.ready.set(0)
            log.error("%s", self.error)

    def _bind_metrics(self) -> None:
        """Read sizes, queue depths and the fleet backlog at scrape time."""
        towers, gallery, hub, replicator = self.towers, self.gallery, self.hub, self.replicator
        assert towers is not None
        depth: dict[str, Callable[[], int]] = {
            Tower.TEXT: lambda: towers.text.depth,
            Tower.IMAGE: lambda: towers.image.depth,
        }
        if gallery is not None:
            self.metrics.bind(lambda: len(gallery), depth)
        elif hub is not None:
            self.metrics.bind(hub.scraped_size, depth)
        if replicator is not None:
            self.metrics.bind_fleet(replicator.status)

    def parts(self) -> tuple[Encoder, Towers, Gallery]:
        """Encoder, towers and gallery once ready; else 409 (model mismatch) or 503 (not ready)."""
        encoder, towers = self.serving()
        assert self.gallery is not None  # an edge's; a hub mounts no route that asks for it
        return encoder, towers, self.gallery

    def hub_parts(self) -> tuple[Encoder, Towers, HubIndex]:
        """Encoder, towers and the central index of a hub once ready."""
        encoder, towers = self.serving()
        assert self.hub is not None
        return encoder, towers, self.hub

    def serving(self) -> tuple[Encoder, Towers]:
        """Encoder and towers once ready; else 409 (model mismatch) or 503 (not ready)."""
        if self.phase == Phase.READY:
            assert self.encoder is not None and self.towers is not None
            return self.encoder, self.towers
        if self.phase == Phase.MISMATCH:
            raise ApiError(409, self.error or "the gallery was built with another model")
        if self.phase == Phase.FAILED:
            raise ApiError(503, f"the service failed to start: {self.error}", headers={"Retry-After": "60"})
        raise ApiError(503, "warming up; try again shortly", headers={"Retry-After": "1"})

    def observe(self, pipeline: str, stages_ms: dict[str, float]) -> None:
        """Record one request's stage times for /latency and /metrics."""
        self.latency.observe(pipeline, stages_ms)
        self.metrics.observe(pipeline, stages_ms)

    def health(self) -> dict[str, Any]:
        """What /health reports, ready or not; reads SQLite (the outbox), so call it off the event loop.

        A hub is ready while its probe's last Milvus count is current; it never waits on Milvus here.
        """
        described = self.encoder.describe() if self.encoder is not None else {}
        milvus = self.hub.status() if self.hub is not None else None
        ready = self.phase == Phase.READY and (milvus is None or milvus["reachable"])
        status = {Phase.READY: "ok", Phase.STARTING: "starting"}.get(self.phase, "error")
        if self.phase == Phase.READY and not ready:
            status = "starting" if milvus is not None and not milvus["checked"] else "error"
        return {
            "status": status,
            "ready": ready,
            "role": self.settings.server.role,
            "warmup_done": self.phase in (Phase.READY, Phase.MISMATCH),
            "model_id": described.get("model_id"),
            "backend": described.get("backend"),
            "precision": described.get("precision"),
            "device": described.get("device"),
            "arch": described.get("arch"),
            "embed_dim": described.get("embed_dim"),
            "requested_backend": str(self.settings.model.backend),
            "encoder": described,
            "gallery_size": len(self.gallery) if self.gallery is not None else None,
            "index_factory": self.gallery.factory if self.gallery is not None else None,
            "index_backend": self.settings.index.backend,
            "fleet": self.replicator.status() if self.replicator is not None else None,
            "milvus": milvus,
            "cameras": self.cameras.status() if self.cameras is not None else [],
            "detector": self.cameras.describe_detector() if self.cameras is not None else None,
            "alerts": self.alerts.status() if self.alerts is not None else None,
            "frigate": self.frigate.status() if self.frigate is not None else None,
            "audit": self.audit.status(),
            "retention": self.purger.status() if self.purger is not None else None,
            "uptime_s": round(time.monotonic() - self.started, 3),
            "startup_s": round(self.startup_s, 3) if self.startup_s is not None else None,
            "error": self.error,
        }
