"""The camera rows of the headline table, and the camera-streams estimate per Orin module."""

from __future__ import annotations

from typing import Any

from bench.rows import Row, result, row


def camera_rows(results: dict[str, Any]) -> list[Row]:
    """The camera pipeline against its slower part, best crops against every detection, search with a
    camera against none, and what one core sustains."""
    rows: list[Row] = []
    pipe = result(results, "camera_pipeline")
    if pipe:
        r = pipe["rows"][0]  # the service's default: the detector on one thread
        rates = r["frames_per_s"]
        rows.append(row(
            f"camera pipeline, frames/s (detector on {r['detector_threads']} thread(s))",
            f"{rates['pipeline']} (decode + detect + track)",
            f"{rates[r['slowest_alone']]} ({r['slowest_alone']} alone, the slower)",
            r["pipeline_over_slowest"], "of the slower alone", group="cameras",
        ))  # fmt: skip
    crops = result(results, "camera_crops")
    if crops and crops["fewer_encodes"]:
        best, every = crops["galleries"]["best crops"], crops["galleries"]["every detection"]
        rows.append(row(
            f"image-tower encodes for {crops['persons_visible_1s']} persons seen >= 1 s",
            f"{best['encodes']} (best {crops['crops_per_track']} per track; coverage {best['coverage']:.2f}, "
            f"text R@1 {best['text_R1_per_identity']:.1f})",
            f"{every['encodes']} (every detection; coverage {every['coverage']:.2f}, "
            f"text R@1 {every['text_R1_per_identity']:.1f})",
            crops["fewer_encodes"], "fewer", group="cameras",
        ))  # fmt: skip
    search = result(results, "camera_search")
    if search:
        stats = search["search"]
        rows.append(row(
            "/search p99 while one camera streams (RTSP) vs none, ms",
            f"{stats['one camera']['p99_ms']:.1f} (one camera)", f"{stats['none']['p99_ms']:.1f} (no camera)",
            stats["none"]["p99_ms"] / stats["one camera"]["p99_ms"], group="cameras",
        ))  # fmt: skip
    streams = result(results, "camera_streams")
    if streams:
        ms = streams["cpu_ms_per_frame"]
        rows.append(row(
            "camera streams one CPU core sustains at 10 fps (demo detector, 1 thread)",
            f"{streams['streams_per_core']} (detect {ms['detect']} + track {ms['track_and_crops']} ms/frame)",
            f"{streams['streams_per_core_with_decode']} (with CPU decoding, {ms['decode']} ms/frame)",
            None, "measured in CPU time", group="cameras",
        ))  # fmt: skip
    return rows


def camera_orin_lines(results: dict[str, Any]) -> list[str]:
    """The camera-streams estimate per Orin module, labelled as what it is."""
    streams = result(results, "camera_streams")
    if not streams:
        return []
    estimate = streams["orin_estimate"]
    lines = [
        "",
        f"**{estimate['label']}.** The demo detector is {streams['detector_gflop_per_frame']} GFLOP per "
        f"frame (counted from its ONNX graph); its graph reached {estimate['share_of_peak']:.0%} of one "
        "core's FP32 matmul peak here, assumed to reach the same share of each GPU's FP32 peak (CUDA cores "
        "x 2 x max clock; the detector only, no tensor cores).",
        "",
        "| module | FP32 peak | estimated detector frames/s | streams at 10 fps | at full peak |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in estimate["rows"]:
        lines.append(
            f"| {r['module']} | {r['fp32_tflops']} TFLOPS | ~{r['estimated_frames_per_s']:,} "
            f"| ~{r['estimated_streams']:,} | {r['streams_at_full_peak']:,} |"
        )
    return lines
