"""MQTT: each alert published as flat JSON on `<prefix>/alerts/<watchlist>` at QoS 1 (paho-mqtt).

A publish counts as delivered once the broker acknowledged it (PUBACK). While the broker is away the
alert stays queued in SQLite and the outbox loop retries; QoS 1 is at-least-once, so a subscriber that must
not act twice deduplicates by `uid`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class MqttOptions:
    """Where the broker is and who this client is."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = "person-search-alerts"
    keepalive_s: int = 30


def topic_part(name: str) -> str:
    """A watchlist name as one topic level: lower case, runs of other characters as `_`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "watchlist"


def connect(options: MqttOptions, max_backoff_s: float) -> mqtt.Client:
    """A client connecting (and reconnecting) in its own network thread."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=options.client_id)
    if options.username is not None:
        client.username_pw_set(options.username, options.password)
    client.reconnect_delay_set(1, max(1, round(max_backoff_s)))
    client.connect_async(options.host, options.port, options.keepalive_s)
    client.loop_start()
    return client


class MqttPublisher:
    """Publishes alerts; raises unless the broker acknowledged the message."""

    def __init__(
        self, options: MqttOptions, prefix: str, timeout_s: float = 5.0, max_backoff_s: float = 30.0
    ):
        self.options, self.prefix, self.timeout_s = options, prefix.strip("/"), timeout_s
        self.client = connect(options, max_backoff_s)

    def topic(self, payload: dict[str, Any]) -> str:
        """Where one alert goes."""
        return f"{self.prefix}/alerts/{topic_part(str(payload['watchlist']))}"

    def send(self, payload: dict[str, Any]) -> None:
        """Publish one alert at QoS 1 and wait for the broker's PUBACK."""
        where = f"{self.options.host}:{self.options.port}"
        if not self.client.is_connected():
            raise ConnectionError(f"MQTT broker {where} is not connected")
        info = self.client.publish(self.topic(payload), json.dumps(payload, sort_keys=True), qos=1)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as err:
            raise ConnectionError(f"MQTT publish to {where} failed: {err}") from err
        if not info.is_published():
            raise TimeoutError(f"MQTT broker {where} did not acknowledge within {self.timeout_s} s")

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
