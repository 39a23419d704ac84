"""Per-camera tracking with ByteTrack (the `trackers` package), and the bookkeeping of open tracks.

ByteTrack associates boxes by IoU in two rounds (confident detections first, then weak ones against the
tracks left over), which keeps identities through partial occlusion without an appearance model. It
is Roboflow's maintained implementation (it left `supervision` for `trackers` in 2025). A track ends
when it has not been seen for `lost_s`; its chosen crops are then handed on.
"""

from __future__ import annotations

import io
import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cameras.quality import QualityWeights, crop, qualities
from cameras.selection import CropChooser
from cameras.types import Boxes, Crop, Frame, Track


@dataclass(frozen=True)
class TrackingOptions:
    """Tracker and crop-selection knobs for one camera."""

    fps: float = 10.0
    lost_s: float = 2.0  # a track unseen this long has ended
    activation_score: float = 0.6  # a new track needs a detection this confident; weaker ones only extend
    min_frames: int = 3  # tracks seen in fewer frames are noise, not people
    crops_per_track: int = 3
    min_quality: float = 0.05
    frame_jpeg_width: int = 640  # evidence frames are downscaled to this width
    frame_jpeg_quality: int = 80


@dataclass
class _Open:
    track: Track
    chooser: CropChooser
    last_pts: float


def frame_jpeg(pixels: np.ndarray, width: int, quality: int) -> tuple[bytes, float]:
    """The frame as a JPEG no wider than `width` (evidence, not for embedding), and its scale."""
    image = Image.fromarray(pixels)
    scale = 1.0
    if image.width > width:
        scale = width / image.width
        image = image.resize((width, round(image.height * scale)), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue(), scale


TrackObserver = Callable[[Frame, np.ndarray, np.ndarray], object]
"""Called after every frame with the local ids (K,) of the tracks seen in it (Track.local_id) and their
boxes (K, 4) x1, y1, x2, y2: to score tracking against ground truth, or to draw it. Its result is unused."""


class CameraTracker:
    """Feeds one camera's detections to ByteTrack and returns the tracks that have ended."""

    def __init__(
        self, camera: str, options: TrackingOptions = TrackingOptions(), observer: TrackObserver | None = None
    ) -> None:
        from trackers import ByteTrackTracker

        self.camera, self.options, self.observer = camera, options, observer
        self._tracker = ByteTrackTracker(
            frame_rate=options.fps,
            lost_track_buffer=max(1, round(options.lost_s * 30)),  # in 30 fps frames (scaled by frame_rate)
            track_activation_threshold=options.activation_score,
            minimum_consecutive_frames=2,
            high_conf_det_threshold=options.activation_score,  # it only spawns tracks from its first round
        )
        self._open: dict[int, _Open] = {}  # by ByteTrack's id
        self._ids = itertools.count(1)  # local ids: a track closed here and resumed by ByteTrack is a new one
        self._jpegs: OrderedDict[tuple[int, float], tuple[bytes, float]] = OrderedDict()  # recent evidence
        self.weights = QualityWeights()

    @property
    def open_tracks(self) -> int:
        """Tracks followed right now."""
        return len(self._open)

    def update(self, frame: Frame, boxes: Boxes) -> list[Track]:
        """Associate one frame's detections; the tracks that ended by this frame."""
        import supervision as sv

        detections = sv.Detections(
            xyxy=boxes.boxes.astype(np.float32),
            confidence=boxes.scores.astype(np.float32),
            class_id=np.zeros(len(boxes), dtype=int),
        )
        tracked = self._tracker.update(detections)
        ids = np.asarray(tracked.tracker_id if tracked.tracker_id is not None else [], dtype=int)
        confirmed = ids >= 0  # -1: not yet seen in enough consecutive frames
        xyxy = np.asarray(tracked.xyxy, np.float32)[confirmed]
        scores = np.asarray(tracked.confidence, np.float32)[confirmed]
        quality = qualities(frame.pixels, Boxes(xyxy, scores), self.weights)
        seen = [
            self._see(int(tracker_id), frame, box, q)
            for tracker_id, box, q in zip(ids[confirmed].tolist(), xyxy, quality.tolist(), strict=True)
        ]
        if self.observer is not None:
            self.observer(frame, np.array(seen, dtype=int), xyxy)
        return self._close(lambda state: frame.pts_s - state.last_pts > self.options.lost_s)

    def flush(self) -> list[Track]:
        """End every open track (the source ended or the camera stops)."""
        ended = self._close(lambda state: True)
        self._jpegs.clear()
        return ended

    def _see(self, tracker_id: int, frame: Frame, box: np.ndarray, quality: float) -> int:
        """Record one sighting of a track and offer it as a crop; the track's local id."""
        state = self._open.get(tracker_id)
        if state is None:
            track = Track(self.camera, next(self._ids), frame.time, frame.time, 0)
            chooser = CropChooser(self.options.crops_per_track, min_quality=self.options.min_quality)
            state = self._open[tracker_id] = _Open(track, chooser, frame.pts_s)
        state.track.last_seen, state.track.frames, state.last_pts = (
            frame.time,
            state.track.frames + 1,
            frame.pts_s,
        )
        state.chooser.offer(frame.pts_s, quality, lambda: self._crop(frame, box, quality))
        return state.track.local_id

    def _crop(self, frame: Frame, box: np.ndarray, quality: float) -> Crop:
        """The crop and its evidence frame, built only for candidates that are kept."""
        pixels = np.ascontiguousarray(crop(frame.pixels, box))
        corners = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
        jpeg, scale = self._evidence(frame)
        return Crop(pixels, corners, frame.time, frame.index, quality, jpeg, scale)

    def _evidence(self, frame: Frame, remember: int = 8) -> tuple[bytes, float]:
        """The frame's evidence JPEG, encoded once for every track whose crop comes from it."""
        key = (frame.index, frame.pts_s)  # the index restarts after a reconnect; pts_s does not
        found = self._jpegs.get(key)
        if found is None:
            o = self.options
            found = self._jpegs[key] = frame_jpeg(frame.pixels, o.frame_jpeg_width, o.frame_jpeg_quality)
            if len(self._jpegs) > remember:
                self._jpegs.popitem(last=False)
        return found

    def _close(self, ended: Callable[[_Open], bool]) -> list[Track]:
        """Remove the tracks `ended(state)` says are over; those long enough, with their chosen crops."""
        done = [tracker_id for tracker_id, state in self._open.items() if ended(state)]
        out: list[Track] = []
        for tracker_id in done:
            state = self._open.pop(tracker_id)
            if state.track.frames >= self.options.min_frames:
                state.track.crops = state.chooser.choose()
                if state.track.crops:
                    out.append(state.track)
        return out
