"""Delivery: every alert queued durably per sink (each webhook URL, MQTT) and drained by the outbox loop.

Rows go into `alert_outbox` in the transaction that records the alert, one per sink, and leave it only
after that sink acknowledged them (a 2xx, a PUBACK). A receiver that is down keeps its rows and is
retried with capped backoff; the other sinks carry on. A restart resumes where the queues stand.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from alerts.mqtt import MqttOptions, MqttPublisher
from alerts.payload import alert_payload
from alerts.store import AlertStore
from alerts.watchlists import Watchlist
from alerts.webhook import WebhookSender
from index.drainer import Drainer, PartialDelivery
from index.outbox import Queue
from index.records import Records

log = logging.getLogger(__name__)
WEBHOOK, MQTT = "webhook:", "mqtt"  # sink names: "webhook:<url>", "mqtt"
TABLE = "alert_outbox"


class Sender(Protocol):
    """One sink's transport."""

    def send(self, payload: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DeliveryOptions:
    """Where alerts go and how hard to try."""

    base_url: str = ""  # the service as receivers reach it, for image and frame URLs
    webhook_urls: tuple[str, ...] = ()  # every alert goes to each of these
    webhook_secret: str | None = None
    webhook_timeout_s: float = 5.0
    mqtt: MqttOptions | None = None
    mqtt_prefix: str = "person_search"
    batch: int = 32
    poll_s: float = 1.0
    max_backoff_s: float = 30.0


class Deliveries:
    """The sinks of one gallery's alerts and a drainer per sink."""

    def __init__(self, records: Records, store: AlertStore, options: DeliveryOptions) -> None:
        self.records, self.store, self.options = records, store, options
        self._drainers: dict[str, Drainer] = {}
        self._senders: dict[str, Sender] = {}
        self._lock = threading.Lock()
        self._started = False

    def sinks_for(self, watchlist: Watchlist) -> list[str]:
        """The sinks an alert of this watchlist goes to (its own webhook once, even if also global)."""
        urls = list(
            dict.fromkeys(
                [*self.options.webhook_urls, *([watchlist.webhook_url] if watchlist.webhook_url else [])]
            )
        )
        sinks = [WEBHOOK + url for url in urls if url]
        return sinks + ([MQTT] if self.options.mqtt is not None else [])

    def queue(self, conn: sqlite3.Connection, alert_id: int, sinks: Iterable[str]) -> None:
        """Queue one alert for its sinks inside the caller's transaction."""
        for sink in sinks:
            Queue(self.records, TABLE, ("alert_id",), ("sink", sink)).put(conn, [(alert_id,)])

    def start(self) -> None:
        """Drain the configured sinks, and any sink rows were left queued for by an earlier run."""
        pending = [r[0] for r in self.records.conn().execute(f"SELECT DISTINCT sink FROM {TABLE}")]
        configured = [WEBHOOK + url for url in self.options.webhook_urls]
        configured += [MQTT] if self.options.mqtt is not None else []
        with self._lock:
            self._started = True
        self.wake(dict.fromkeys([*configured, *pending]))

    def wake(self, sinks: Iterable[str]) -> None:
        """Deliver now to these sinks (starting a drainer for a sink seen for the first time)."""
        for sink in sinks:
            drainer = self._drainer(sink)
            if drainer is not None:
                drainer.wake()

    def _drainer(self, sink: str) -> Drainer | None:
        """The sink's drainer, started on first use; None when the sink cannot be served now."""
        with self._lock:
            if not self._started:
                return None
            if sink in self._drainers:
                return self._drainers[sink]
            sender = self._open(sink)
            if sender is None:
                log.warning("alerts queued for %s stay queued: that sink is not configured", sink)
                return None
            queue = Queue(self.records, TABLE, ("alert_id",), ("sink", sink))
            o = self.options
            drainer = Drainer(
                f"alerts-{sink}", queue, self._deliver_to(sender), o.batch, o.poll_s, o.max_backoff_s
            )
            self._drainers[sink], self._senders[sink] = drainer, sender
            drainer.start()
            return drainer

    def _open(self, sink: str) -> Sender | None:
        """The transport for a sink name."""
        o = self.options
        if sink.startswith(WEBHOOK) and o.webhook_secret:
            return WebhookSender(sink.removeprefix(WEBHOOK), o.webhook_secret, o.webhook_timeout_s)
        if sink == MQTT and o.mqtt is not None:
            return MqttPublisher(o.mqtt, o.mqtt_prefix, o.webhook_timeout_s, o.max_backoff_s)
        return None

    def _deliver_to(self, sender: Sender) -> Callable[[list[tuple[Any, ...]]], int]:
        """Send a batch of queued rows (seq, alert_id) in order; PartialDelivery at the first failure."""

        def deliver(rows: list[tuple[Any, ...]]) -> int:
            for done, (_, alert_id) in enumerate(rows):
                alert = self.store.get(int(alert_id))
                if alert is None:
                    continue
                try:
                    sender.send(alert_payload(alert, self.options.base_url))
                except Exception as exc:
                    raise PartialDelivery(done, exc) from exc
            return len(rows)

        return deliver

    def status(self) -> dict[str, dict[str, Any]]:
        """Per sink: pending, oldest age, delivered, last error."""
        with self._lock:
            drainers = dict(self._drainers)
        return {sink: drainer.status() for sink, drainer in sorted(drainers.items())}

    def stop(self) -> None:
        """Stop every drainer and close the transports; queued rows wait for the next start."""
        with self._lock:
            drainers, senders = list(self._drainers.values()), list(self._senders.values())
            self._drainers, self._senders, self._started = {}, {}, False
        for drainer in drainers:
            drainer.stop()
        for sender in senders:
            sender.close()
