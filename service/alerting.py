"""The service's side of alerts: the engine and its sinks as Settings say, and re-embedding watchlists
that an older model embedded (after a re-index)."""

from __future__ import annotations

import io
import logging

from PIL import Image

from alerts.delivery import Deliveries, DeliveryOptions
from alerts.engine import AlertEngine, EngineOptions
from alerts.mqtt import MqttOptions
from alerts.store import AlertStore
from alerts.watchlists import QueryKind
from engine import Encoder
from index import Gallery
from service.settings import MqttSettings, Settings

log = logging.getLogger(__name__)


def mqtt_options(mqtt: MqttSettings, suffix: str) -> MqttOptions | None:
    """The broker as alerts and the Frigate connector reach it (None: no broker configured)."""
    if mqtt.host is None:
        return None
    password = mqtt.password.get_secret_value() if mqtt.password is not None else None
    return MqttOptions(mqtt.host, mqtt.port, mqtt.username, password, f"{mqtt.client_id}-{suffix}")


def start_alerts(settings: Settings, gallery: Gallery) -> AlertEngine | None:
    """Score the gallery's new crops against its watchlists and deliver what fires (None: alerts off)."""
    a = settings.alerts
    if not a.enabled:
        return None
    secret = a.webhook_secret.get_secret_value() if a.webhook_secret is not None else None
    options = DeliveryOptions(
        base_url=a.public_url or settings.fleet.public_url or "",
        webhook_urls=tuple(a.webhook_urls),
        webhook_secret=secret,
        webhook_timeout_s=a.timeout_s,
        mqtt=mqtt_options(settings.mqtt, "alerts") if a.mqtt else None,
        mqtt_prefix=a.mqtt_topic_prefix,
        max_backoff_s=a.max_backoff_s,
    )
    deliveries = Deliveries(gallery.records, AlertStore(gallery.records), options)
    engine_options = EngineOptions(
        floor=a.min_score,
        background_size=a.background_size,
        min_background=a.min_background,
        refresh_every=a.refresh_every,
    )
    engine = AlertEngine(gallery.records, gallery.model_id, gallery.dim, engine_options, deliveries)
    deliveries.start()
    engine.start()
    gallery.listeners.append(engine.wake)
    return engine


def reembed_stale(engine: AlertEngine, encoder: Encoder) -> int:
    """Embed again, with this model, the watchlists an older model embedded -> how many."""
    done = 0
    for watchlist_id, kind, text, image in engine.watchlists.stale(engine.model_id):
        if kind == QueryKind.DESCRIPTION and text is not None:
            vector = encoder.encode_texts([text])[0]
        elif image is not None:
            with Image.open(io.BytesIO(image)) as opened:
                vector = encoder.encode_images([opened.convert("RGB")])[0]
        else:
            log.warning("watchlist %d cannot be embedded again: it kept no query", watchlist_id)
            continue
        engine.watchlists.set_embedding(watchlist_id, vector, engine.model_id)
        done += 1
    if done:
        engine.changed()
    return done
