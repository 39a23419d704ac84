"""The background probe: readers get the last value at once, even while the source hangs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from service.probe import Probe, Reading


def _wait(probe: Probe[int], until: Callable[[Reading[int]], bool]) -> Reading[int]:
    deadline = time.monotonic() + 10
    while not until(reading := probe.reading()):
        assert time.monotonic() < deadline, reading
        time.sleep(0.01)
    return reading


def test_a_hung_source_reads_as_timed_out_with_the_last_value() -> None:
    answers, hang, released = iter([1, 2]), threading.Event(), threading.Event()

    def read() -> int:
        if hang.is_set():
            released.wait(10)
            raise TimeoutError("deadline exceeded")
        return next(answers)

    probe = Probe("test", read, interval_s=0.01, timeout_s=0.2)
    assert not probe.reading().settled and probe.reading().value is None
    probe.start()
    try:
        assert _wait(probe, lambda r: r.ok).value == 1
        hang.set()
        stuck = _wait(probe, lambda r: r.timed_out)  # while read() is still blocked
        assert not stuck.ok and stuck.value == 1 and "no answer" in (stuck.error or "")
        assert stuck.age_s is not None and stuck.age_s >= 0.2
        hang.clear()
        released.set()
        assert _wait(probe, lambda r: r.ok).value == 2  # the source answers again
        assert not probe.reading().timed_out
    finally:
        released.set()
        probe.stop()
