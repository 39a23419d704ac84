"""Frigate's ended person events into the gallery: one crop per event as a track, with its frame.

Each event becomes a gallery track named `frigate|<event id>`, with the event's id as external id, its
camera and its start and end times; a replayed event (MQTT redelivery, a restart) finds its track and
adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from cameras.frigate import FrigateCrop, FrigateListener, FrigateOptions
from index import Gallery, ItemMeta, TrackRef
from service.camera_manager import embed_with_towers
from service.image_policy import ImageLimits, decode_image
from service.settings import LimitSettings, Settings
from service.towers import Towers

TRACK_PREFIX = "frigate|"


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class FrigateSink:
    """Stores one fetched event: checked like an upload, embedded through the image batcher."""

    def __init__(
        self, gallery: Gallery, embed: Callable[[list[Image.Image]], np.ndarray], limits: LimitSettings
    ):
        self.gallery, self.embed, self.limits = gallery, embed, ImageLimits.of(limits)

    def __call__(self, crop: FrigateCrop) -> str:
        """Add the event's crop -> "added", or "duplicate" for an event stored before."""
        event = crop.event
        key = TRACK_PREFIX + event.id
        if self.gallery.track_id(key) is not None:
            return "duplicate"
        _, image = decode_image(crop.crop, self.limits)  # ImageRejected: Frigate sent no usable picture
        vector = self.embed([image.convert("RGB")])
        seen = min(max(event.frame_time or event.start_time, event.start_time), event.end_time)
        meta = ItemMeta(
            camera=event.camera,
            captured_at=_moment(seen),
            external_id=event.id,
            extra={"source": "frigate", "label": event.label},
            track=TrackRef(key, _moment(event.start_time), _moment(event.end_time)),
            box=crop.box if crop.frame is not None else None,
        )
        (result,) = self.gallery.add([crop.crop], vector, [meta], [crop.frame])
        return "duplicate" if result.duplicate else "added"


def start_frigate(settings: Settings, gallery: Gallery, towers: Towers) -> FrigateListener:
    """Listen to Frigate's events as the settings say."""
    f, m = settings.frigate, settings.mqtt
    assert f.url is not None and m.host is not None  # Settings refuses frigate.enabled without them
    options = FrigateOptions(
        url=f.url,
        host=m.host,
        port=m.port,
        username=m.username,
        password=m.password.get_secret_value() if m.password is not None else None,
        client_id=f"{m.client_id}-frigate",
        topic_prefix=f.topic_prefix,
        labels=tuple(f.labels),
        timeout_s=f.timeout_s,
        attempts=f.attempts,
    )
    listener = FrigateListener(options, FrigateSink(gallery, embed_with_towers(towers), settings.limits))
    listener.start()
    return listener
