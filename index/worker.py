"""The shape of every background job here (retention purge, outbox drains, alert scoring): one daemon
thread looping in `_run` until `stop()`, whose waits `wake()` cuts short."""

from __future__ import annotations

import threading


class Worker:
    """A daemon thread running `_run`; subclasses loop while not `stopping` and wait with `pause`."""

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the worker thread."""
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Work now instead of at the end of the current pause (new work arrived)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the work in progress; what is left waits for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        """Whether stop() was called (long work may check it between steps)."""
        return self._stop.is_set()

    def pause(self, seconds: float) -> None:
        """Wait up to `seconds`, less when woken or stopped."""
        self._wake.wait(seconds)
        self._wake.clear()

    def back_off(self, seconds: float) -> None:
        """Wait up to `seconds` after a failure: only stop() cuts it short, new work does not."""
        self._stop.wait(seconds)

    def _run(self) -> None:
        raise NotImplementedError
