"""`person-search demo`: the whole job offline on synthetic data, then the server on port 8000."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from cli.app import app


def _wait_ready(base_url: str, alive: Callable[[], bool], timeout_s: float = 120.0) -> bool:
    """Poll /health until the service says it is ready (encoders warmed up), while its thread lives."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            if httpx.get(f"{base_url}/health", timeout=2.0).json().get("ready"):
                return True
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    return False


def bind_port(host: str, port: int) -> socket.socket:
    """The listening socket the demo serves on, or a clear error naming the port and how to pick another.

    Binding here, before uvicorn starts, means the readiness check can only ever reach this server.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        typer.echo(
            f"error: cannot serve on {host}:{port}: {err.strerror or err}. Another program may hold the "
            f"port; pick another with `person-search demo --port 8010` (or `make demo PORT=8010`).",
            err=True,
        )
        raise typer.Exit(1) from err
    sock.listen(2048)
    return sock


def serve_on(
    sock: socket.socket, bundle: Path, gallery: Path, banner: list[str], detector: Path | None = None
) -> None:
    """Run uvicorn in a thread on the demo's socket, print the banner once it answers, stop on Ctrl-C."""
    import threading

    import uvicorn

    from service.app import create_app
    from service.settings import CameraSettings, IndexSettings, ModelSettings, ServerSettings, Settings

    host, port = sock.getsockname()[:2]
    settings = Settings(
        model=ModelSettings(bundle=bundle),
        index=IndexSettings(data_dir=gallery),
        server=ServerSettings(host=host, port=port),
        cameras=CameraSettings(detector=detector),
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    try:
        if not _wait_ready(f"http://{host}:{port}", thread.is_alive):
            typer.echo(
                f"error: the server on {host}:{port} did not become ready; see its log above", err=True
            )
            server.should_exit = True
            thread.join(10)
            raise typer.Exit(1)
        typer.echo("\n".join(banner))
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        typer.echo("\nstopping the server")
        server.should_exit = True
        thread.join(10)
    finally:
        sock.close()


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="where data, runs and the gallery go")] = Path("demo-data"),
    host: Annotated[str, typer.Option(help="address the server binds")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port the server listens on")] = 8000,
    serve: Annotated[bool, typer.Option(help="start the server at the end")] = True,
) -> None:
    """Synthesise, train, export, index crops and camera videos, and serve: offline, reusing earlier runs."""
    from cli import demo_stages as stages
    from cli import demo_video as video

    paths, plan, echo = stages.DemoPaths(workdir.resolve()), stages.DemoPlan(), typer.echo
    sock = bind_port(host, port) if serve else None  # fail before minutes of training, not after
    clock = StageClock(echo)
    try:
        clock.start("[1/8] synthetic persons: source and target domains")
        stages.synthesise(paths, plan, echo)
        clock.start("[2/8] training: tiny CLIP on source, then LoRA on target")
        base, tuned = stages.train(paths, echo)
        clock.start("[3/8] ONNX export with parity checks")
        stages.export(tuned, echo)
        clock.start("[4/8] TensorRT engines")
        stages.build_engines(tuned, echo)
        clock.start("[5/8] gallery: target test split")
        stages.ingest(tuned, paths, echo)
        clock.start("[6/8] camera scenes and the person detector")
        video.render_scenes(paths.scenes, plan.scene_cameras, plan.scene_seconds, plan.seed, echo)
        video.render_scenes(
            paths.detector_scenes, plan.detector_cameras, plan.detector_seconds, plan.seed + 1, echo
        )
        ap50 = video.train_detector(paths, plan, echo)
        clock.start("[7/8] videos through the camera pipeline into the gallery")
        video.ingest_videos(tuned, paths, plan, echo)
        query, size = video.video_query(tuned, paths)
        clock.stop()
    except KeyboardInterrupt:
        echo("\nstopped; run `make demo` again to continue where this left off")
        raise typer.Exit(130) from None
    base_url = f"http://{host}:{port}"
    sample = next((paths.target / "imgs").rglob("*.png"))
    summary = [
        "",
        stages.recall_table(base, tuned),
        "",
        *video.query_lines(base_url, query, ap50),
        "",
        f"gallery: {size} crops in {paths.gallery}; model bundle: {tuned}",
        f"stage times: {clock.report()}",
    ]
    if sock is None:
        echo("\n".join(summary))
        return
    banner = [
        *summary,
        f"web page: {base_url}/",
        "try:",
        *(f"  {line}" for line in stages.curl_examples(base_url, sample)),
        "Ctrl-C stops the server.",
    ]
    echo(f"[8/8] serving on {base_url}")
    serve_on(sock, tuned, paths.gallery, banner, paths.detector)


class StageClock:
    """Announces each stage and keeps how long it took, for the closing summary."""

    def __init__(self, echo: Callable[[str], object]) -> None:
        self.echo, self.times = echo, dict[str, float]()
        self._name: str | None = None
        self._since = 0.0

    def start(self, title: str) -> None:
        """End the running stage and announce the next."""
        self.stop()
        self.echo(title)
        self._name, self._since = title.split("]")[0].strip("["), time.perf_counter()

    def stop(self) -> None:
        """End the running stage, if any."""
        if self._name is not None:
            self.times[self._name] = time.perf_counter() - self._since
            self._name = None

    def report(self) -> str:
        """'1/8 3s, 2/8 140s, ...'."""
        return ", ".join(f"{name} {seconds:.0f}s" for name, seconds in self.times.items())
