"""A failing engine build backs off instead of crash-looping; its failures are kept on the engines volume.

A build that failed (out of memory on a small module, a graph this TensorRT refuses) fails again when
retried at once. Exiting would let `restart: unless-stopped` start the container again at once, rebuilding
for minutes and failing, over and over, holding the GPU and the memory the rest of the device needs. So
the entrypoint stays up: it records each failure (engine key, count, time, exit status) beside the engines
and waits base * 2^(n-1) seconds, capped, before the next try, which holds across restarts too. A new key
(another precision, batch or TensorRT) starts again from zero; engines that load clear the record.
There is no fallback: the backend configured is the one that serves (a hard rule of this project). To serve
while TensorRT cannot build, configure backend onnxruntime.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

FAILURES_FILE = "build-failures.json"


@dataclass(frozen=True)
class BuildFailures:
    """Consecutive failed builds of one engine key."""

    key: str
    count: int
    last_failure: float  # seconds since the epoch
    last_status: int


def load(path: Path) -> BuildFailures | None:
    """The record, or None when there is none (or it cannot be read: then the next build just runs)."""
    try:
        return BuildFailures(**json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def record_failure(path: Path, key: str, status: int, now: float) -> BuildFailures:
    """Count one more failure of `key` (a failure of another key starts a new count)."""
    previous = load(path)
    count = previous.count + 1 if previous is not None and previous.key == key else 1
    failures = BuildFailures(key, count, now, status)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(failures)) + "\n")
    os.replace(tmp, path)
    return failures


def clear(path: Path) -> bool:
    """Forget the failures (the engines are built); whether there was a record."""
    try:
        Path(path).unlink()
    except FileNotFoundError:
        return False
    return True


def retry_delay(count: int, base_s: float, max_s: float) -> float:
    """Seconds between failure number `count` and the next try: base, 2x base, 4x base ... up to max_s."""
    if count < 1:
        return 0.0
    return float(min(max_s, base_s * 2 ** min(count - 1, 32)))


def remaining_wait(
    failures: BuildFailures | None, key: str, now: float, base_s: float, max_s: float
) -> float:
    """How long to wait before building `key` now: what is left of the delay since the last failure."""
    if failures is None or failures.key != key:
        return 0.0
    delay = retry_delay(failures.count, base_s, max_s)
    return min(delay, max(0.0, failures.last_failure + delay - now))  # a clock set back waits at most delay


def wait_before_build(
    path: Path,
    key: str,
    base_s: float,
    max_s: float,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Sleep what remains of the back-off for `key`, saying why; returns the seconds slept."""
    failures = load(path)
    wait = remaining_wait(failures, key, clock(), base_s, max_s)
    if failures is not None and failures.key == key:
        say(
            f"the engine build for {key} failed {failures.count} time(s), last with exit status "
            f"{failures.last_status}; retrying in {wait:.0f} s (configure backend onnxruntime to serve "
            "without TensorRT meanwhile)"
        )
    if wait > 0:
        sleep(wait)
    return wait
