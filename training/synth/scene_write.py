"""Write synthetic scenes to disk: H.264 video (PyAV), MOTChallenge ground truth, the JSON indexes.

The layout is shared with the detector trainer and the tracker tests: DIR/scenes.json,
DIR/identities.json, DIR/cam-<i>.mp4, DIR/cam-<i>/seqinfo.ini and DIR/cam-<i>/gt/gt.txt. Videos are
encoded on one thread with fixed options, so the same frames give the same bytes.
"""

from __future__ import annotations

import configparser
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np

from training.synth.scene_render import Row

# One thread and fixed options. The macroblock tree is off: with it on, libx264's SIMD code made the
# output depend on uninitialised heap memory here (small frames differed under MALLOC_PERTURB_).
X264_OPTIONS = {"preset": "veryfast", "crf": "23", "threads": "1", "x264-params": "mbtree=0"}


def iso(start: datetime, frame: int, fps: int) -> str:
    """The ISO time of 1-based frame `frame` of a camera that started at `start`."""
    return (start + timedelta(seconds=(frame - 1) / fps)).isoformat()


class VideoWriter:
    """An H.264 yuv420p MP4 at a fixed frame rate whose creation_time is the camera's start time."""

    def __init__(self, path: Path, fps: int, size: tuple[int, int], start: datetime) -> None:
        height, width = size
        self.container = av.open(str(path), mode="w", format="mp4")
        utc = start.astimezone(UTC)  # FFmpeg's muxer parses a UTC "Z" time, not an offset
        self.container.metadata["creation_time"] = utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.stream = self.container.add_stream("libx264", rate=fps, options=dict(X264_OPTIONS))
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.codec_context.thread_count = 1
        self.stream.codec_context.gop_size = 2 * fps  # a keyframe every two seconds: cheap seeking
        self.stream.codec_context.time_base = Fraction(1, fps)
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self.frames
        self.container.mux(self.stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        self.container.mux(self.stream.encode(None))
        self.container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.container.close()


def write_sequence(folder: Path, fps: int, frames: int, size: tuple[int, int], rows: list[list[Row]]) -> None:
    """seqinfo.ini and gt/gt.txt of one camera; rows[k] are the persons visible in 1-based frame k + 1.

    Boxes are written 1-based as MOTChallenge does (its top-left pixel is (1, 1); motmetrics subtracts 1).
    """
    info = configparser.ConfigParser()
    info.optionxform = str  # type: ignore[assignment,method-assign]  # MOTChallenge keys are camelCase
    info["Sequence"] = {
        "name": folder.name,
        "frameRate": str(fps),
        "seqLength": str(frames),
        "imWidth": str(size[1]),
        "imHeight": str(size[0]),
    }
    (folder / "gt").mkdir(parents=True, exist_ok=True)
    with (folder / "seqinfo.ini").open("w", encoding="utf-8") as f:
        info.write(f, space_around_delimiters=False)
    lines = [
        f"{k},{r.pid},{r.box[0] + 1},{r.box[1] + 1},{r.box[2]},{r.box[3]},1,1,{r.visibility:.4f}\n"
        for k, frame in enumerate(rows, start=1)
        for r in frame
    ]
    (folder / "gt" / "gt.txt").write_text("".join(lines), encoding="utf-8")


def appearance(camera: str, frames: Iterable[int], start: datetime, fps: int) -> dict[str, Any]:
    """One identity's span on one camera, from the 1-based frames it is visible in."""
    seen = sorted(frames)
    return {
        "camera": camera,
        "first_frame": seen[0],
        "last_frame": seen[-1],
        "start": iso(start, seen[0], fps),
        "end": iso(start, seen[-1], fps),
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Indented, key order as given, newline at the end."""
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
