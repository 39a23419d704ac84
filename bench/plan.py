"""What `person-search bench` measures: each benchmark module's `run()` arguments per mode and group.

Quick is a smoke run on the demo model; default (`make bench`) measures the real backbone (ViT-B-16 with
seeded random weights: speed does not depend on training) and exact search up to 1M vectors; full adds
more repeats and every index structure at 1M.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class Mode(StrEnum):
    """How much to measure: quick (a smoke run), default (`make bench`), full (every structure at 1M)."""

    QUICK = "quick"
    DEFAULT = "default"
    FULL = "full"


class Clock(StrEnum):
    """How the engine benchmarks time: wall time on every core, or CPU time on one thread (load-proof)."""

    WALL = "wall"
    CPU = "cpu"


class Group(StrEnum):
    """The areas `--only` selects."""

    ENGINE = "engine"
    INDEX = "index"
    SERVICE = "service"
    MEMORY = "memory"
    CAMERAS = "cameras"


@dataclass(frozen=True)
class Bench:
    """One benchmark run: its module's `run()` keyword arguments per mode (a mode left out skips it)."""

    name: str
    group: Group
    module: str
    params: dict[Mode, dict[str, Any]]
    # "bundles": run() gets workdir=<shared>/bundles (exported bundles, kept); "scratch": a folder removed
    # after the run, holding a link to <shared>/bundles (bench.memory writes galleries beside its bundles);
    # "cameras": workdir=<shared>/cameras (scenes, the demo detector and CLIP, kept: training takes minutes)
    workdir: str | None = None
    clocked: bool = False  # run() takes clock= and threads= (the engine benchmarks)

    def kwargs(self, mode: Mode, shared: Path, clock: Clock = Clock.WALL) -> dict[str, Any]:
        """The arguments for `run()` in this mode, with the shared work directory where it takes one."""
        kwargs = dict(self.params[mode])
        if self.clocked and clock == Clock.CPU:
            kwargs.update(clock=str(clock), threads=1)  # CPU time sums threads, so one thread
        if self.workdir == "bundles":
            kwargs["workdir"] = shared / "bundles"
        elif self.workdir == "cameras":
            kwargs["workdir"] = str(shared / "cameras")
        elif self.workdir == "scratch":
            kwargs["workdir"] = str(shared / f"scratch-{self.name}")
        return kwargs


TINY, VIT = "PS-Tiny", "ViT-B-16"  # the demo model; the default real backbone (seeded random weights)
Q, D, F = Mode.QUICK, Mode.DEFAULT, Mode.FULL
EXACT = ("Flat", "SQfp16", "SQ8")  # structures cheap to build at 1M on 2 cores
# quick: a few seconds of small video, untrained tiny models (the ground truth as the detector for crops)
SMOKE_VIDEO = {"cameras": 1, "seconds": 8.0, "fps": 10, "seed": 0, "size": (120, 208)}
SMOKE_SCENES = {"cameras": 2, "seconds": 6.0, "fps": 10, "seed": 0, "size": (180, 320)}
# quick cross-camera search: enough re-appearances on 3 small cameras (about 40 queries)
SMOKE_CROSSING = {"cameras": 3, "seconds": 30.0, "fps": 5, "seed": 2, "size": (180, 320)}

PLAN: tuple[Bench, ...] = (
    Bench("engine_throughput", Group.ENGINE, "bench.engine_throughput", {
        Q: {"model": TINY, "batch_sizes": (1, 8), "images": 16, "texts": 16, "repeats": 2},
        D: {"model": VIT, "batch_sizes": (1, 8), "images": 8, "texts": 16, "repeats": 2},
        F: {"model": VIT, "batch_sizes": (1, 8, 32), "images": 32, "texts": 32, "repeats": 3},
    }, "bundles", clocked=True),
    Bench("engine_throughput_demo", Group.ENGINE, "bench.engine_throughput", {
        D: {"model": TINY, "batch_sizes": (1, 8, 32), "repeats": 3},
        F: {"model": TINY, "batch_sizes": (1, 8, 32), "repeats": 5},
    }, "bundles", clocked=True),
    Bench("engine_text_length", Group.ENGINE, "bench.engine_text_length", {
        Q: {"model": TINY, "repeats": 5}, D: {"model": VIT, "repeats": 10}, F: {"model": VIT, "repeats": 20},
    }, "bundles", clocked=True),
    Bench("engine_text_length_torch", Group.ENGINE, "bench.engine_text_length", {
        Q: {"model": TINY, "repeats": 5, "backend": "torch"},
        D: {"model": VIT, "repeats": 10, "backend": "torch"},
        F: {"model": VIT, "repeats": 20, "backend": "torch"},
    }, "bundles", clocked=True),
    Bench("engine_int8", Group.ENGINE, "bench.engine_int8", {
        Q: {"model": TINY, "batch_sizes": (1, 8), "repeats": 2},
        D: {"model": VIT, "batch_sizes": (1, 8), "repeats": 3},
        F: {"model": VIT, "batch_sizes": (1, 8, 32), "repeats": 5},
    }, "bundles", clocked=True),
    Bench("engine_gflops", Group.ENGINE, "bench.engine_gflops", {
        Q: {"model": TINY, "batch": 8, "repeats": 2},
        D: {"model": VIT, "batch": 8, "repeats": 2},
        F: {"model": VIT, "batch": 16, "repeats": 3},
    }, "bundles", clocked=True),
    Bench("index_search", Group.INDEX, "bench.index_search", {
        Q: {"sizes": (1_000, 10_000), "queries": 100},
        D: {"sizes": (1_000, 10_000, 100_000), "queries": 200},
        F: {"sizes": (1_000, 10_000, 100_000, 1_000_000), "queries": 200},
    }),
    Bench("index_search_exact_1m", Group.INDEX, "bench.index_search", {
        D: {"sizes": (300_000, 1_000_000), "queries": 100, "only": EXACT},
    }),
    Bench("read_bandwidth", Group.INDEX, "bench.orin", {Q: {"mib": 128}, D: {}, F: {}}),
    Bench("index_ingest", Group.INDEX, "bench.index_ingest", {
        Q: {"images": 128, "repeats": 1}, D: {"images": 512, "repeats": 2}, F: {"images": 1024, "repeats": 3},
    }),
    Bench("index_ingest_search", Group.INDEX, "bench.index_ingest_search", {
        Q: {"size": 1_000, "batches": 10, "repeats": 1}, D: {"size": 5_000, "batches": 30, "repeats": 3},
        F: {"size": 20_000, "batches": 60, "repeats": 5},
    }),
    Bench("grouped_search", Group.INDEX, "bench.grouped_search", {
        Q: {"size": 10_000, "queries": 50}, D: {"size": 100_000, "queries": 200},
        F: {"size": 100_000, "queries": 500},
    }),
    Bench("fleet_search", Group.INDEX, "bench.fleet_search", {
        Q: {"sizes": (10_000,), "queries": 50},
        D: {"sizes": (10_000, 100_000), "queries": 200},
        F: {"sizes": (10_000, 100_000), "queries": 200},
    }, "scratch"),
    Bench("fleet_search_1m", Group.INDEX, "bench.fleet_search", {  # alone: 10k+100k+1M overruns 30 min
        F: {"sizes": (1_000_000,), "queries": 100},
    }, "scratch"),
    Bench("fleet_drain", Group.INDEX, "bench.fleet_drain", {
        Q: {"items": 500}, D: {"items": 2000}, F: {"items": 10_000},
    }, "scratch"),
    Bench("service_search", Group.SERVICE, "bench.service_search", {
        Q: {"gallery_size": 500, "n_queries": 100, "concurrency": (1, 4), "seconds": 2.0},
        D: {"gallery_size": 2000, "n_queries": 200, "concurrency": (1, 4, 16), "seconds": 3.0},
        F: {"gallery_size": 10_000, "n_queries": 400, "concurrency": (1, 4, 16), "seconds": 5.0},
    }),
    Bench("service_ingest", Group.SERVICE, "bench.service_ingest", {
        Q: {"n_images": 128}, D: {"n_images": 512}, F: {"n_images": 1024},
    }),
    Bench("memory", Group.MEMORY, "bench.memory", {
        Q: {"archs": (TINY,)}, D: {"archs": (TINY, VIT)}, F: {"archs": (TINY, VIT)},
    }, "scratch"),
    Bench("camera_pipeline", Group.CAMERAS, "bench.camera_pipeline", {
        Q: {"video": SMOKE_VIDEO, "detector_threads": (1,), "repeats": 1, "trained": False},
        D: {"repeats": 3}, F: {"repeats": 5},
    }, "cameras"),
    Bench("camera_crops", Group.CAMERAS, "bench.camera_crops", {
        Q: {"scene": SMOKE_SCENES, "detector": "truth", "trained_clip": False}, D: {}, F: {},
    }, "cameras"),
    Bench("camera_search", Group.CAMERAS, "bench.camera_search", {
        Q: {"rounds": 1, "seconds": 2.0, "gallery_size": 200, "arch": "PS-Micro", "video": SMOKE_VIDEO,
            "trained": False},
        D: {"rounds": 2, "seconds": 15.0}, F: {"rounds": 3, "seconds": 20.0},
    }, "cameras"),
    Bench("cross_camera", Group.CAMERAS, "bench.cross_camera", {
        Q: {"scene": SMOKE_CROSSING, "trained_clip": False}, D: {}, F: {},
    }, "cameras"),
    Bench("camera_streams", Group.CAMERAS, "bench.camera_streams", {
        Q: {"video": SMOKE_VIDEO, "trained": False}, D: {}, F: {},
    }, "cameras"),
)  # fmt: skip
BY_NAME = {b.name: b for b in PLAN}


def parse_groups(text: str | None) -> frozenset[Group]:
    """'engine,index' as groups; every group when empty; an unknown name fails listing the known ones."""
    if not text:
        return frozenset(Group)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in {g.value for g in Group}]
    if unknown:
        raise ValueError(f"unknown benchmark group(s) {unknown}; choose from {[g.value for g in Group]}")
    return frozenset(Group(n) for n in names)
