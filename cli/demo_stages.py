"""The stages of `person-search demo`, each reusing what an earlier run left in the work directory."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Echo = Callable[[str], object]
METRICS = ("R1", "R5", "R10", "mAP", "mINP")


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of the synthetic domains; the defaults train in a few minutes on 2 CPU cores."""

    source_identities: int = 400
    source_images_per_id: int = 8
    target_identities: int = 300
    target_images_per_id: int = 6
    seed: int = 0
    scene_cameras: int = 2  # the videos ingested through the camera pipeline (target domain, seed)
    scene_seconds: float = 20.0
    videos: int = 2  # of those cameras, how many are ingested
    detector_cameras: int = 8  # the detector's training scenes (target domain, seed + 1)
    detector_seconds: float = 20.0
    detector_epochs: int = 14


@dataclass(frozen=True)
class DemoPaths:
    """Where each stage writes, under one work directory."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "data" / "source"

    @property
    def target(self) -> Path:
        return self.root / "data" / "target"

    @property
    def base_run(self) -> Path:
        return self.root / "runs" / "base"

    @property
    def tuned_run(self) -> Path:
        return self.root / "runs" / "tuned"

    @property
    def gallery(self) -> Path:
        return self.root / "gallery"

    @property
    def scenes(self) -> Path:
        return self.root / "data" / "scenes"

    @property
    def detector_scenes(self) -> Path:
        return self.root / "data" / "scenes-detector"

    @property
    def detector(self) -> Path:
        return self.root / "runs" / "detector"


def synthesise(paths: DemoPaths, plan: DemoPlan, echo: Echo) -> None:
    """Draw the synthetic source and target domains unless they are already there."""
    from tqdm import tqdm

    from training.synth import generate

    jobs = [
        (paths.source, "source", plan.source_identities, plan.source_images_per_id),
        (paths.target, "target", plan.target_identities, plan.target_images_per_id),
    ]
    for out, domain, identities, per_id in jobs:
        if (out / "reid_raw.json").is_file():
            echo(f"reusing the synthetic {domain} domain in {out}")
            continue
        with tqdm(total=identities * per_id, desc=f"synth {domain}", unit="img") as bar:
            generate(out, identities, per_id, domain, plan.seed, progress=bar.update)


def train(paths: DemoPaths, echo: Echo) -> tuple[Path, Path]:
    """Pretrain the tiny base on source, LoRA-tune it on target; reuses finished runs and resumes others."""
    from training.pipeline import finetune, pretrain

    base = pretrain(paths.source, paths.base_run, echo=echo)
    tuned = finetune(base, paths.target, paths.tuned_run, echo=echo)
    return base, tuned


def export(bundle: Path, echo: Echo) -> None:
    """Export both towers to ONNX with parity checks, unless this bundle's weights already were."""
    from engine.export import export_bundle, exported_for
    from engine.graph_io import Tower
    from engine.spec import ModelSpec

    if exported_for(ModelSpec.load(bundle)):
        echo(f"reusing the ONNX towers in {bundle}")
        return
    spec = export_bundle(bundle)
    for tower in Tower:
        echo(f"{tower}.onnx: opset {spec.export[tower]['opset']}, parity {spec.export[tower]['parity']}")


def build_engines(bundle: Path, echo: Echo) -> None:
    """Build TensorRT plans when TensorRT and pycuda are importable; otherwise say why they are skipped."""
    from engine.encoder import Precision
    from engine.tensorrt.build import BuildOptions
    from engine.tensorrt.build import build_engines as build
    from engine.tensorrt.versions import import_tensorrt

    try:
        trt, cuda = import_tensorrt()
    except (ImportError, RuntimeError) as err:
        echo(f"TensorRT engines skipped: {err}")
        return
    meta = build(bundle, Precision.FP16, 32, trt, cuda, BuildOptions())
    echo(f"TensorRT plans in {meta.directory}")


def ingest(bundle: Path, paths: DemoPaths, echo: Echo) -> int:
    """Add the target test split to the gallery, one camera at a time; already stored crops are skipped."""
    from tqdm import tqdm

    from engine import load_encoder
    from index import Gallery
    from service.folder_ingest import ingest_files
    from training.data import load_dataset

    test = load_dataset(paths.target).split("test")
    by_camera: dict[str, list[Path]] = defaultdict(list)
    for item in test.items:
        by_camera[item.attributes.get("camera", "unknown")].append(item.path)
    encoder = load_encoder(bundle)
    with (
        Gallery.open(paths.gallery, encoder.model_id, encoder.embed_dim) as gallery,
        tqdm(total=len(test), desc="ingest", unit="img") as bar,
    ):
        for camera, files in sorted(by_camera.items()):
            summary = ingest_files(files, encoder, gallery, camera, progress=bar.update)
            if summary.rejected:
                echo("\n".join(summary.lines()))
        return len(gallery)


def recall_table(base: Path, tuned: Path) -> str:
    """R@K, mAP and mINP on the target test split for the untuned base and the tuned model, as text."""
    provenance = json.loads((tuned / "model.json").read_text()).get("provenance", {})
    metrics = provenance.get("metrics", {})
    rows: list[tuple[str, ...]] = [("model", *METRICS)]
    for name in ("base", "tuned"):
        scores = (metrics.get(name) or {}).get("test") or {}
        rows.append((name, *(f"{scores[m]:.1f}" if m in scores else "-" for m in METRICS)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "target test split (synthetic), percent\n" + "\n".join(lines)


def curl_examples(base_url: str, sample_image: Path) -> list[str]:
    """Three commands that work verbatim against the demo server."""
    return [
        f"curl -s '{base_url}/search?q=a+woman+in+a+red+dress&k=5'",
        f"curl -s -X POST {base_url}/search -H 'Content-Type: application/json' "
        """-d '{"text": "a man in a blue hoodie and black jeans with a backpack", "top_k": 5}'""",
        f"curl -s -X POST {base_url}/gallery -F 'files=@{sample_image}' -F camera=lobby",
    ]
