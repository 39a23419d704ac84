"""Engine keys and plan records: a plan is only ever loaded on the TensorRT version and GPU it was built on.

Plans live under `engines/<key>/` with a `plan.json` that repeats what the key says, so a directory that
was copied or renamed is still recognised for what it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel, Field

from engine.encoder import Precision
from engine.tensorrt.profiles import TowerBatches, profile_tag

PLAN_META = "plan.json"


@dataclass(frozen=True)
class DeviceInfo:
    """What a plan is tied to: the TensorRT version and the GPU (name and compute capability)."""

    trt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]

    @property
    def key(self) -> str:
        """'trt10.3.0-orin-sm87'."""
        major, minor = self.compute_capability
        return f"trt{self.trt_version}-{slug(self.gpu_name)}-sm{major}{minor}"


def slug(text: str) -> str:
    """Lowercase letters, digits and single dashes: 'NVIDIA Orin (nvgpu)' -> 'nvidia-orin-nvgpu'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "gpu"


def detect_device(trt: ModuleType, cuda: ModuleType, index: int = 0) -> DeviceInfo:
    """The DeviceInfo of GPU `index` as TensorRT and the CUDA driver see it."""
    cuda.init()
    if index >= cuda.Device.count():
        raise RuntimeError(f"no CUDA device {index}: {cuda.Device.count()} present")
    device = cuda.Device(index)
    major, minor = device.compute_capability()
    return DeviceInfo(".".join(trt.__version__.split(".")[:3]), device.name(), (int(major), int(minor)))


def engine_key(
    device: DeviceInfo, precision: Precision, max_batch: TowerBatches | int, context_length: int
) -> str:
    """'trt10.3.0-orin-sm87-fp16-b32-l77' ('-t32-i16-l77' per tower): TensorRT, GPU, precision, profile."""
    return f"{device.key}-{Precision(precision)}-{profile_tag(max_batch, context_length)}"


def detector_key(device: DeviceInfo, precision: Precision, batch: int, input_size: tuple[int, int]) -> str:
    """'trt10.3.0-orin-sm87-fp16-detector-384x640-b8': a person detector's plan, by the same rules."""
    h, w = input_size
    return f"{device.key}-{Precision(precision)}-detector-{h}x{w}-b{batch}"


class PlanMeta(BaseModel):
    """plan.json: what a plan directory was built from and for."""

    key: str
    trt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    precision: Precision
    tower_precisions: dict[str, Precision]
    max_batch: int  # what both towers' plans accept
    tower_max_batch: dict[str, int] = Field(default_factory=dict, description="each tower's own limit")
    context_length: int
    image_size: tuple[int, int]
    model_id: str
    onnx_opsets: dict[str, int]
    built_at: str = ""
    directory: Path | None = Field(default=None, exclude=True, description="where it was read from")

    def save(self, directory: Path) -> Path:
        """Write plan.json into a plan directory."""
        path = Path(directory) / PLAN_META
        path.write_text(self.model_dump_json(indent=2) + "\n")
        return path

    @classmethod
    def load(cls, directory: Path) -> PlanMeta:
        """Read plan.json of a plan directory."""
        meta = cls.model_validate_json((Path(directory) / PLAN_META).read_text())
        meta.directory = Path(directory)
        return meta


def mismatch(meta: PlanMeta, device: DeviceInfo, model_id: str) -> str | None:
    """Why a plan must not be loaded here, or None when it fits this TensorRT, GPU and model."""
    if meta.trt_version != device.trt_version:
        return f"built with TensorRT {meta.trt_version}, this is {device.trt_version}"
    if (meta.gpu_name, tuple(meta.compute_capability)) != (device.gpu_name, device.compute_capability):
        built, here = meta.compute_capability, device.compute_capability
        return (
            f"built on {meta.gpu_name} sm{built[0]}{built[1]}, this is {device.gpu_name} sm{here[0]}{here[1]}"
        )
    if meta.model_id != model_id:
        return f"built from model {meta.model_id}, the bundle holds {model_id}"
    return None


def choose_plan(
    candidates: list[PlanMeta], device: DeviceInfo, precision: Precision, max_batch: int, model_id: str
) -> PlanMeta:
    """The plan to load: this device and model, the precision asked, batch limit closest to max_batch.

    Prefers the smallest max batch >= max_batch, else the largest below it (the encoder then chunks by the
    plan's limit). Raises, listing every plan and why it was passed over, when none fits.
    """
    reasons, fitting = [], []
    for meta in candidates:
        why = mismatch(meta, device, model_id)
        if why is None and meta.precision != precision:
            why = f"precision {meta.precision}, asked for {precision}"
        if why is None:
            fitting.append(meta)
        else:
            reasons.append(f"{meta.key}: {why}")
    if not fitting:
        found = "; ".join(reasons) or "none"
        raise FileNotFoundError(
            f"no TensorRT plan for {device.key} at {precision} (plans found: {found}). Build one on this "
            f"device: `person-search build-engine BUNDLE --precision {precision} --max-batch {max_batch}`"
        )
    big_enough = [m for m in fitting if m.max_batch >= max_batch]
    if big_enough:
        return min(big_enough, key=lambda m: m.max_batch)
    return max(fitting, key=lambda m: m.max_batch)


def list_plans(engines_dir: Path) -> list[PlanMeta]:
    """Every readable plan.json under engines/ (unreadable ones are skipped: they will never be loaded)."""
    metas = []
    for meta_path in sorted(Path(engines_dir).glob(f"*/{PLAN_META}")):
        try:
            metas.append(PlanMeta.load(meta_path.parent))
        except ValueError:
            continue
    return metas
