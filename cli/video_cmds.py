"""`person-search ingest-video`: recorded videos into the gallery through the camera pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.app import app
from cli.gallery_cmds import encoder_or_exit, gallery_settings, open_gallery_or_exit
from cli.settings_flags import (
    BackendFlag,
    BundleFlag,
    CropsPerTrackFlag,
    DataDirFlag,
    DetectorFlag,
    DetectorThreadsFlag,
    DeviceFlag,
    FactoryFlag,
    FpsFlag,
    IndexBackendFlag,
    MilvusUriFlag,
    PrecisionFlag,
    ThreadsFlag,
)

if TYPE_CHECKING:
    from cameras.pipeline import CameraStats
    from cameras.types import PersonDetector
    from cli.video_ingest import Progress
    from service.settings import Settings


def parse_start_time(value: str | None) -> datetime | None:
    """An ISO 8601 time with its UTC offset ('Z' or +hh:mm), or a usage error saying what is wrong."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time, e.g. 2026-01-05T08:00:00Z", param_hint="--start-time"
        ) from None
    if when.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no UTC offset; add one, e.g. {value}Z or {value}+01:00", param_hint="--start-time"
        )
    return when


def detector_or_exit(settings: Settings) -> PersonDetector:
    """The configured person detector, or exit code 2 with a message naming it and what is wrong."""
    from service.components import detector_from_settings

    where = settings.cameras.detector
    if where is None:
        raise typer.BadParameter(
            "name the person detector with --detector or PERSON_SEARCH_CAMERAS__DETECTOR",
            param_hint="--detector",
        )
    try:
        detector = detector_from_settings(settings.cameras)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        typer.echo(f"error: detector {where}: {err}", err=True)
        raise typer.Exit(2) from err
    assert detector is not None  # a detector directory is configured
    return detector


@contextmanager
def _progress(video: Path, fps: float) -> Iterator[Progress]:
    """A progress bar of frames through the detector, with the finished tracks and their crops."""
    from tqdm import tqdm

    from cameras.sources import expected_frames

    with tqdm(total=expected_frames(str(video), fps), unit="frame", desc=video.name) as bar:

        def show(stats: CameraStats) -> None:
            bar.update(stats.frames_out - bar.n)
            bar.set_postfix(tracks=stats.tracks, crops=stats.crops)

        yield show


@app.command("ingest-video")
def ingest_video(
    videos: Annotated[list[Path], typer.Argument(help="video files (or folders of frames), in order")],
    camera: Annotated[
        str | None, typer.Option(help="camera name of every crop (default: each VIDEO's name less suffix)")
    ] = None,
    start_time: Annotated[
        str | None,
        typer.Option(
            help="wall-clock time of each VIDEO's first frame, ISO 8601 with offset; it wins over the "
            "file's creation_time tag, which wins over its modification time less its duration"
        ),
    ] = None,
    model: BundleFlag = None,
    data: DataDirFlag = None,
    detector: DetectorFlag = None,
    fps: FpsFlag = None,
    crops_per_track: CropsPerTrackFlag = None,
    detector_threads: DetectorThreadsFlag = None,
    batch_size: Annotated[int, typer.Option(min=1, help="crops per encoder batch")] = 32,
    backend: BackendFlag = None,
    precision: PrecisionFlag = None,
    device: DeviceFlag = None,
    threads: ThreadsFlag = None,
    factory: FactoryFlag = None,
    index_backend: IndexBackendFlag = None,
    milvus_uri: MilvusUriFlag = None,
) -> None:
    """Detect and track the people in recorded videos; store each track's best crops with its evidence.

    A file is read to its end before anything of it is stored, so a truncated or unreadable file adds
    nothing (and the other files go on; the exit code is then 2). Re-reading a file adds nothing twice.
    """
    from cli.video_ingest import VideoOptions, embed_in_batches
    from cli.video_ingest import ingest_video as run

    settings = gallery_settings({**locals(), "bundle": model, "data_dir": data})
    options = VideoOptions.of(settings.cameras, parse_start_time(start_time))
    person_detector = detector_or_exit(settings)
    encoder = encoder_or_exit(settings, batch_size)
    failed = 0
    with open_gallery_or_exit(settings, encoder) as gallery:
        embed = embed_in_batches(encoder.encode_images, batch_size)
        for video in videos:
            try:
                with _progress(video, options.source.fps) as show:
                    summary = run(video, camera or video.stem, person_detector, gallery, embed, options, show)
            except KeyboardInterrupt:
                typer.echo(f"\nstopped in {video}; run the same command again to finish it", err=True)
                raise typer.Exit(130) from None
            typer.echo(summary.line(), err=summary.error is not None)
            failed += summary.error is not None
        size = len(gallery)
    typer.echo(f"gallery {settings.index.data_dir}: {size} items, model {encoder.model_id}")
    if failed:
        typer.echo(f"error: {failed} of {len(videos)} videos stored nothing (see above)", err=True)
        raise typer.Exit(2)
