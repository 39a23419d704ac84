"""Run a Milvus Lite gRPC server as a child process: the fleet's Milvus for tests, benchmarks and one box.

It serves the same API as Milvus standalone, so code under test talks to it through the same URI path.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from index.milvus_conn import connect


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiteServer:
    """`milvus-lite server` on 127.0.0.1; stop and start it again on the same port and data."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir, self.port = Path(data_dir), port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """The URI clients connect to."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LiteServer:
        """Launch the server and wait until it answers; returns self."""
        exe = shutil.which("milvus-lite") or str(Path(sys.executable).with_name("milvus-lite"))
        args = [
            exe,
            "server",
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        log = open(self.data_dir.with_suffix(".log"), "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                connect(self.uri, timeout=2).list_collections()
                return self
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"milvus-lite server on port {self.port} did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> LiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
