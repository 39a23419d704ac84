"""Test material for the detector: hand-built YOLO-layout graphs and tiny scenes in the synth-scenes layout.

The scenes are made here, by the tests, in the on-disk layout of SCENES_LAYOUT (scenes.json, an H.264 mp4
per camera written with PyAV, MOTChallenge gt.txt): a few figures from training.synth walk across a
textured background; boxes and visibility come from each figure's own drawn pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageDraw

from training.synth.attributes import sample_person
from training.synth.figure import Figure, Pose


def constant_graph(
    candidates: np.ndarray,
    input_size: tuple[int, int],
    batch: int | str = "batch",
    opset: int = 17,
    metadata: dict[str, str] | None = None,
) -> onnx.ModelProto:
    """images [B, 3, H, W] -> output0 = candidates (4+C, N) for every image (plus 0 x the image mean).

    Candidates of another rank give an output of that rank plus the batch (for layout errors)."""
    h, w = input_size
    const = numpy_helper.from_array(candidates[None].astype(np.float32), "candidates")
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    axes = numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes")
    extra = numpy_helper.from_array(np.arange(1 + candidates.ndim, 4, dtype=np.int64), "extra_axes")
    nodes = [
        helper.make_node("ReduceMean", ["images", "axes"], ["mean"], keepdims=1, name="mean")
        if opset >= 18  # axes became an input in opset 18
        else helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=1, name="mean"),
        helper.make_node("Squeeze", ["mean", "extra_axes"], ["means"], name="squeeze"),  # (B, 1, ...)
        helper.make_node("Mul", ["means", "zero"], ["nothing"], name="times_zero"),
        helper.make_node("Add", ["nothing", "candidates"], ["output0"], name="broadcast"),
    ]
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, h, w])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, *candidates.shape])
    graph = helper.make_graph(
        nodes, "constant_detector", [inp], [out], [const, zero, extra, *([axes] if opset >= 18 else [])]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.checker.check_model(model)
    return model


def candidates_from(rows: list[tuple[float, float, float, float, list[float]]]) -> np.ndarray:
    """[(cx, cy, w, h, [class scores])] -> the (4+C, N) output block."""
    return np.array([[cx, cy, w, h, *scores] for cx, cy, w, h, scores in rows], np.float32).T


def _background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth colour gradient with some static rectangles (walls, benches) and sensor noise."""
    h, w = size
    top, bottom = rng.integers(40, 200, 3), rng.integers(40, 200, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    image = Image.fromarray(np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        dx, dy = int(rng.integers(20, 160)), int(rng.integers(10, 90))
        draw.rectangle([x, y, x + dx, y + dy], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return np.asarray(image)


def _walker(rng: np.random.Generator, size: tuple[int, int], frames: int) -> dict:
    """One person crossing the frame: its identity, height, path and first frame."""
    h, w = size
    height = float(rng.uniform(0.3, 0.6) * h)
    facing = 1 if rng.random() < 0.5 else -1
    return {
        "person": sample_person(rng),
        "height": height,
        "top": float(rng.uniform(0.05 * h, h - height)),
        "x0": float(rng.uniform(-0.1, 0.4) * w if facing > 0 else rng.uniform(0.6, 1.1) * w),
        "speed": facing * float(rng.uniform(0.8, 1.6) * w / frames),
        "facing": facing,
        "view": "side" if rng.random() < 0.6 else str(rng.choice(["front", "back"])),
    }


def _figure_mask(walker: dict, k: int, size: tuple[int, int]) -> tuple[Image.Image, float]:
    """The walker at frame k on a transparent (H, W) layer, and its whole drawn area (in frame or not)."""
    h, w = size
    margin = w // 2  # drawn on a wider canvas, so a figure partly out of frame still has its full area
    swing = 0.08 * np.sin(k / 2.0)
    pose = Pose(walker["view"], walker["facing"], abs(swing), swing,
                walker["x0"] + walker["speed"] * k + margin, walker["top"], walker["height"])  # fmt: skip
    canvas = Image.new("RGBA", (w + 2 * margin, h), (0, 0, 0, 0))
    Figure(ImageDraw.Draw(canvas), walker["person"], pose).draw()
    area = float((np.asarray(canvas.getchannel("A")) > 0).sum())
    return canvas.crop((margin, 0, margin + w, h)), area


def _draw_frame(walkers: list[dict], k: int, background: np.ndarray) -> tuple[np.ndarray, list]:
    """Frame k, walkers far to near (smaller first); (id, box, visibility) of each one in frame."""
    image = Image.fromarray(background.copy())
    drawn = []
    for pid, walker in sorted(enumerate(walkers), key=lambda x: x[1]["height"]):
        layer, area = _figure_mask(walker, k, background.shape[:2])
        alpha = layer.getchannel("A")
        image.paste(layer, (0, 0), alpha)
        drawn.append((pid, np.asarray(alpha) > 0, area))
    rows = []
    for i, (pid, mask, area) in enumerate(drawn):
        if not mask.any():
            continue
        hidden = np.zeros_like(mask)
        for _, nearer, _ in drawn[i + 1 :]:
            hidden |= nearer
        ys, xs = np.nonzero(mask)
        visibility = float((mask & ~hidden).sum()) / max(area, 1.0)
        rows.append((pid + 1, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), visibility))
    return np.asarray(image), rows


def write_scenes(
    directory: Path, cameras: int = 2, frames: int = 40, size: tuple[int, int] = (180, 320), seed: int = 0,
    walkers: int = 3, fps: int = 10,
) -> Path:  # fmt: skip
    """Write scenes in the synth-scenes layout: scenes.json, cam-N.mp4, cam-N/seqinfo.ini and gt/gt.txt."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    listed = []
    for c in range(cameras):
        name = f"cam-{c}"
        background = _background(size, rng)
        people = [_walker(rng, size, frames) for _ in range(walkers)]
        lines = []
        with av.open(str(directory / f"{name}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.height, stream.width, stream.pix_fmt = size[0], size[1], "yuv420p"
            for k in range(frames):
                pixels, rows = _draw_frame(people, k, background)
                for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                    container.mux(packet)
                for pid, (x1, y1, x2, y2), vis in rows:
                    lines.append(
                        f"{k + 1},{pid},{x1 + 1},{y1 + 1},{x2 - x1},{y2 - y1},1,1,{vis:.3f}"
                    )  # 1-based
            for packet in stream.encode():
                container.mux(packet)
        (directory / name / "gt").mkdir(parents=True, exist_ok=True)
        (directory / name / "gt" / "gt.txt").write_text("".join(f"{line}\n" for line in lines))
        (directory / name / "seqinfo.ini").write_text(
            f"[Sequence]\nname={name}\nframeRate={fps}\nseqLength={frames}\nimWidth={size[1]}\nimHeight={size[0]}\n"
        )
        listed.append({"name": name, "background": "street", "video": f"{name}.mp4", "sequence": name,
                       "start_time": "2026-01-05T08:00:00+00:00", "frames": frames})  # fmt: skip
    scenes = {"seed": seed, "domain": "source", "fps": fps, "width": size[1], "height": size[0],
              "seconds": frames / fps, "cameras": listed}  # fmt: skip
    (directory / "scenes.json").write_text(json.dumps(scenes, indent=2))
    return directory
