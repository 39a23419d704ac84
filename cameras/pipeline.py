"""One camera end to end: read frames, detect people in batches, track them, hand finished tracks on.

Decoding (and a detector's input preparation, letterboxing, when it offers it) runs in its own thread
ahead of detection, and tracking (with crop choice and the sink) in its own thread behind it (a short
queue between each), so the slowest stage alone sets the pace: on the detector's thread tracking would add
its cost to every frame's detection. A network stream that drops
is reopened with capped exponential backoff; a file or a folder is read once, and its open tracks are
handed on when it ends.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import cast

from cameras.sources import SourceError, SourceKind, SourceOptions, kind_of, read
from cameras.tracking import CameraTracker, TrackingOptions, TrackObserver
from cameras.types import Boxes, Frame, PersonDetector, PreparingDetector, Track

log = logging.getLogger(__name__)
TrackSink = Callable[[Track], object]  # its return value is not used
_END = object()


@dataclass
class CameraStats:
    """What /cameras and /health show for one camera."""

    connected: bool = False
    frames_in: int = 0  # frames handed on by the source (after fps thinning)
    frames_out: int = 0  # frames through the detector and tracker
    tracks: int = 0  # finished tracks handed on
    crops: int = 0  # crops in those tracks
    open_tracks: int = 0
    reconnects: int = 0
    repeated: int = 0  # frames skipped because a reconnect delivered them again
    last_error: str | None = None
    arrived_at: deque[float] = field(default_factory=lambda: deque(maxlen=50))  # monotonic seconds
    processed_at: deque[float] = field(default_factory=lambda: deque(maxlen=50))

    def fps_in(self) -> float:
        """Frames per second handed on by the source, over the last 50."""
        return _rate(self.arrived_at)

    def fps_out(self) -> float:
        """Frames per second through the detector, over the last 50."""
        return _rate(self.processed_at)


def _rate(times: deque[float]) -> float:
    """Events per second over a window of monotonic times (0 until there are two, or when stale)."""
    if len(times) < 2 or time.monotonic() - times[-1] > 5.0:
        return 0.0
    return (len(times) - 1) / max(times[-1] - times[0], 1e-9)


@dataclass(frozen=True)
class RunOptions:
    """How a camera runs: detector batch, read-ahead, detected batches waiting for the tracker, backoff."""

    batch: int = 4
    read_ahead: int = 16
    track_ahead: int = 4
    min_backoff_s: float = 0.5
    max_backoff_s: float = 30.0


class CameraRunner:
    """Runs one camera until its source ends (files) or `stop` is set (streams reconnect meanwhile).

    An `observer` (cameras.tracking.TrackObserver) sees every frame's tracked boxes as they are assigned."""

    def __init__(
        self,
        name: str,
        url: str,
        detector: PersonDetector,
        sink: TrackSink,
        source: SourceOptions = SourceOptions(),
        tracking: TrackingOptions = TrackingOptions(),
        run: RunOptions = RunOptions(),
        observer: TrackObserver | None = None,
    ) -> None:
        self.name, self.url, self.detector, self.sink = name, url, detector, sink
        self.source, self.run_options = source, run
        self.tracker = CameraTracker(name, tracking, observer)
        self.stats = CameraStats()
        self.kind = kind_of(url)
        self._seen: OrderedDict[bytes, None] = OrderedDict()  # packet digests of a live stream
        self._started = time.monotonic()
        self._last_pts = -1.0

    def run(self, stop: threading.Event) -> None:
        """Read, detect and track until the source ends or `stop` is set; raises SourceError for files."""
        backoff = self.run_options.min_backoff_s
        try:
            while not stop.is_set():
                try:
                    seen = self._pass(stop)
                except SourceError as err:
                    self.stats.connected, self.stats.last_error = False, str(err)
                    if self.kind is not SourceKind.NETWORK:
                        raise
                    log.warning("camera %s: %s; retrying in %.1fs", self.name, err, backoff)
                    seen = 0
                if self.kind is not SourceKind.NETWORK:
                    return
                # The stream ended or dropped: its open tracks end too (a reconnect is a new timeline,
                # and frames replayed after it are skipped, so nothing would ever close them).
                self._hand_on(self.tracker.flush())
                self.stats.open_tracks = 0
                backoff = (
                    self.run_options.min_backoff_s
                    if seen
                    else min(backoff * 2, self.run_options.max_backoff_s)
                )
                self.stats.reconnects += 1
                stop.wait(backoff * random.uniform(0.8, 1.2))
        finally:
            self._hand_on(self.tracker.flush())
            self.stats.open_tracks = 0

    def _pass(self, stop: threading.Event) -> int:
        """One connection (or one read of a file): frames through detection and tracking; frames seen."""
        frames: queue.Queue[object] = queue.Queue(self.run_options.read_ahead)
        detected: queue.Queue[object] = queue.Queue(self.run_options.track_ahead)
        failure: list[BaseException] = []
        halt = threading.Event()
        reader = self._thread("read", self._read, frames, failure, (stop, halt))
        tracker = self._thread("track", self._track, detected, failure, halt)
        seen = 0
        try:
            for batch in self._batches(frames):
                detected.put(([frame for frame, _ in batch], self._detect(batch)))
                seen += len(batch)
        except BaseException:
            halt.set()  # the reader stops at its next frame; drain so it is never stuck on a full queue
            while reader.is_alive():
                with contextlib.suppress(queue.Empty):
                    frames.get(timeout=0.1)
            raise
        finally:
            detected.put(_END)  # the tracker finishes what was detected, then ends
            tracker.join()
        reader.join()
        if failure:
            raise failure[0]
        return seen

    def _detect(self, batch: list[tuple[Frame, object]]) -> list[Boxes]:
        """The batch's detections: from the inputs the reader prepared, when the detector prepares them."""
        if isinstance(self.detector, PreparingDetector):
            return self.detector.detect_prepared([prepared for _, prepared in batch])
        return self.detector.detect([frame.pixels for frame, _ in batch])

    def _prepare(self, frame: Frame) -> tuple[Frame, object]:
        """A frame as the reader queues it: with the detector's input made from it, if it makes one."""
        if isinstance(self.detector, PreparingDetector):
            return frame, self.detector.prepare(frame.pixels)
        return frame, None

    def _thread(self, role: str, target: Callable[..., None], *args: object) -> threading.Thread:
        """A started daemon thread of this camera."""
        thread = threading.Thread(target=target, args=args, name=f"camera-{self.name}-{role}", daemon=True)
        thread.start()
        return thread

    def _read(
        self, out: queue.Queue[object], failure: list[BaseException], stops: tuple[threading.Event, ...]
    ) -> None:
        """Reader thread: decode into the queue; a live stream drops the oldest frame when it is full."""
        offset = max(time.monotonic() - self._started, self._last_pts + 1.0 / self.source.fps)
        try:
            for frame in read(self.url, self.source):
                self.stats.connected = True
                if any(s.is_set() for s in stops):
                    break
                if self.kind is SourceKind.NETWORK:
                    if self._repeated(frame):
                        continue
                    frame = replace(frame, pts_s=frame.pts_s + offset)  # one timeline across reconnects
                self._last_pts = frame.pts_s
                self.stats.frames_in += 1
                self.stats.arrived_at.append(time.monotonic())
                self._put(out, self._prepare(frame))
        except SourceError as err:
            failure.append(err)
        except Exception as err:  # a decoder bug must not kill the camera silently
            failure.append(SourceError(f"{self.url}: {type(err).__name__}: {err}"))
        finally:
            self._put(out, _END)

    def _repeated(self, frame: Frame, remember: int = 36_000) -> bool:
        """Whether a live stream delivered this frame before (a server that restarts from the start)."""
        if frame.digest is None:
            return False
        if frame.digest in self._seen:
            self.stats.repeated += 1
            return True
        self._seen[frame.digest] = None
        if len(self._seen) > remember:  # an hour at 10 fps
            self._seen.popitem(last=False)
        return False

    def _put(self, out: queue.Queue[object], item: object) -> None:
        """Queue an item; files wait for room, live streams make room (real time beats completeness)."""
        if self.kind is SourceKind.NETWORK and item is not _END:
            while True:
                try:
                    out.put_nowait(item)
                    return
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        out.get_nowait()
        out.put(item)

    def _batches(self, frames: queue.Queue[object]) -> Iterator[list[tuple[Frame, object]]]:
        """Up to `batch` frames at a time, without waiting for more when none are queued."""
        while True:
            item = frames.get()
            if item is _END:
                return
            batch = [item]
            while len(batch) < self.run_options.batch:
                try:
                    nxt = frames.get_nowait()
                except queue.Empty:
                    break
                if nxt is _END:
                    yield batch  # type: ignore[misc]
                    return
                batch.append(nxt)
            yield batch  # type: ignore[misc]

    def _track(
        self, detected: queue.Queue[object], failure: list[BaseException], halt: threading.Event
    ) -> None:
        """Tracker thread: advance the tracker frame by frame, hand finished tracks on; after a failure
        (recorded, and the reader halted) it only drains, so detection never waits on it."""
        while (item := detected.get()) is not _END:
            if halt.is_set() and failure:
                continue
            batch, boxes = cast(tuple[list[Frame], list[Boxes]], item)
            try:
                for frame, found in zip(batch, boxes, strict=True):
                    self._hand_on(self.tracker.update(frame, found))
                    self.stats.frames_out += 1
                    self.stats.processed_at.append(time.monotonic())
                self.stats.open_tracks = self.tracker.open_tracks
            except Exception as err:  # a tracker bug ends the pass with its error, as it did on detection
                failure.append(err)
                halt.set()

    def _hand_on(self, tracks: list[Track]) -> None:
        """Give finished tracks to the sink; a sink failure is recorded, not fatal to the camera."""
        for track in tracks:
            try:
                self.sink(track)
            except Exception as err:
                self.stats.last_error = f"storing a track failed: {type(err).__name__}: {err}"
                log.exception("camera %s: storing track %d failed", self.name, track.local_id)
                continue
            self.stats.tracks += 1
            self.stats.crops += len(track.crops)
