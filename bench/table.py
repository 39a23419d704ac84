"""The headline table of a suite run: ours against the naive pipeline, backend against backend, as Markdown.

Every row is read from benchmark results measured side by side in one run; a benchmark that did not run
(or failed) simply leaves its rows out. `factor` > 1 always means ours is better by that much.
Run: `python -m bench.table bench/results/<date>.json`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.camera_table import camera_orin_lines, camera_rows
from bench.investigation_table import investigation_rows
from bench.rows import Row, result
from bench.rows import ratio_text as ratio_text  # the tests and other readers use it from here
from bench.rows import row as _row

GOOD_RECALL = 0.95


def index_sizes(benchmarks: dict[str, Any]) -> dict[str, Any] | None:
    """The index_search sizes of this run, the full-structure run first where both measured an n."""
    sizes: dict[int, dict[str, Any]] = {}
    dim = None
    for name in ("index_search_exact_1m", "index_search"):
        found = benchmarks.get(name, {}).get("result")
        if found:
            dim = found["dim"]
            sizes.update({s["n"]: s for s in found["sizes"]})
    if dim is None:
        return None
    return {"dim": dim, "sizes": [sizes[n] for n in sorted(sizes)]}


def throughput_rows(throughput: dict[str, Any], precisions: tuple[str, ...]) -> list[Row]:
    """ONNX Runtime on the CPU at each precision against open_clip eager one item at a time, and ONNX
    Runtime FP32 against torch eager at the largest batch (backend against backend)."""
    base, model = throughput["baseline_open_clip_eager"], throughput["model"]
    cpu = [r for r in throughput["rows"] if r["device"] == "cpu"]
    rows: list[Row] = []
    for precision in precisions:
        ort = [r for r in cpu if r["backend"] == "onnxruntime" and r["precision"] == precision]
        if not ort:
            continue
        image = max(ort, key=lambda r: r["images_per_s"])
        text = next((r for r in ort if r["batch"] == 1), image)
        rows.append(_row(
            f"{model} image encoding, images/s (ONNX Runtime {precision.upper()})",
            f"{image['images_per_s']} (batch {image['batch']})",
            f"{base['images_per_s']} (open_clip eager, one image at a time)",
            image["image_speedup"], group="engine",
        ))  # fmt: skip
        rows.append(_row(
            f"{model} text query one at a time, queries/s (ONNX Runtime {precision.upper()})",
            f"{text['queries_per_s']} (real token length)",
            f"{base['queries_per_s']} (open_clip eager, padded to the full context)",
            text["text_speedup"], group="engine",
        ))  # fmt: skip
    largest = max(r["batch"] for r in cpu)
    pick = {(r["backend"], r["precision"]): r for r in cpu if r["batch"] == largest}
    ort_fp32, eager = pick.get(("onnxruntime", "fp32")), pick.get(("torch", "fp32"))
    if ort_fp32 and eager and "int8" in precisions:  # the real backbone only: one backend row is enough
        rows.append(_row(
            f"{model} image batch {largest}: ONNX Runtime vs torch eager, images/s",
            f"{ort_fp32['images_per_s']} (onnxruntime fp32)", f"{eager['images_per_s']} (torch fp32)",
            ort_fp32["images_per_s"] / eager["images_per_s"], group="engine",
        ))  # fmt: skip
    return rows


def engine_rows(results: dict[str, Any]) -> list[Row]:
    """Encoders against open_clip eager one at a time; ONNX Runtime against torch; INT8 against FP32."""
    rows: list[Row] = []
    throughput, demo = result(results, "engine_throughput"), result(results, "engine_throughput_demo")
    if throughput:
        rows += throughput_rows(throughput, ("fp32", "int8"))  # FP32 is the default precision
    if demo:
        rows += throughput_rows(demo, ("fp32",))
    for name in ("engine_text_length", "engine_text_length_torch"):
        lengths = result(results, name)
        row = lengths and next((r for r in lengths["rows"] if r["words"] == 15), lengths["rows"][-1])
        if lengths and row:
            padded = next(k for k in row if k.startswith("padded_"))
            rows.append(_row(
                f"{lengths['model']} text tower, {row['words']}-word query, ms ({lengths['backend']})",
                f"{row['real_ms']} ({row['tokens']} real tokens)",
                f"{row[padded]} ({padded.split('_')[1]} padded tokens)", row["speedup"], group="engine",
            ))  # fmt: skip
    int8 = result(results, "engine_int8")
    if int8:
        row = int8["rows"][-1]
        rows.append(_row(
            f"{int8['model']} image tower batch {row['batch']}, INT8 vs FP32 (ONNX Runtime CPU), ms",
            f"{row['int8_ms']} (min cosine {row['min_cosine']})", f"{row['fp32_ms']}",
            row["speedup"], group="engine",
        ))  # fmt: skip
    return rows


def index_rows(results: dict[str, Any]) -> list[Row]:
    """Search against numpy brute force at the largest sizes, and memory per vector."""
    index = index_sizes(results.get("benchmarks", {}))
    if not index:
        return []
    rows: list[Row] = []
    with_all = [s for s in index["sizes"] if any(r["config"].startswith("HNSW") for r in s["rows"])]
    if with_all:
        size = with_all[-1]
        numpy_row = size["rows"][0]
        good = [r for r in size["rows"][1:] if r["recall@10"] >= GOOD_RECALL]
        fast = min(good, key=lambda r: r["p50_ms"])
        rows.append(_row(
            f"search p50 at {size['n']:,} vectors, ms (fastest with recall@10 >= {GOOD_RECALL})",
            f"{fast['p50_ms']:.3f} ({fast['config']}, recall {fast['recall@10']:.3f})",
            f"{numpy_row['p50_ms']:.3f} (numpy brute force)", fast["speedup_vs_numpy"], group="index",
        ))  # fmt: skip
    largest = index["sizes"][-1]
    flat = next((r for r in largest["rows"] if r["config"] == "Flat"), None)
    if flat:
        rows.append(_row(
            f"exact search p50 at {largest['n']:,} vectors, ms",
            f"{flat['p50_ms']:.2f} (FAISS Flat)", f"{largest['rows'][0]['p50_ms']:.2f} (numpy brute force)",
            flat["speedup_vs_numpy"], group="index",
        ))  # fmt: skip
    sq8 = next((r for r in largest["rows"] if r["config"] == "SQ8"), None)
    if sq8:
        mib, raw = largest["n"] / 2**20, 4 * index["dim"]
        rows.append(_row(
            f"index memory at {largest['n']:,} vectors, MiB",
            f"{sq8['bytes_per_vector'] * mib:.0f} (SQ8, recall {sq8['recall@10']:.3f})",
            f"{raw * mib:.0f} (float32)", raw / sq8["bytes_per_vector"], "smaller", group="index",
        ))  # fmt: skip
    return rows


def service_rows(results: dict[str, Any]) -> list[Row]:
    """The service against a plain FastAPI handler, and ingest against its ceiling and the serial way."""
    rows: list[Row] = []
    search = result(results, "service_search")
    if search:
        clients = max(search["throughput"], key=int)
        rate = search["throughput"][clients]
        rows.append(_row(
            f"/search with {clients} concurrent clients, requests/s",
            f"{rate['service_rps']} (person-search serve)", f"{rate['plain_rps']} (plain FastAPI handler)",
            rate["ratio"], group="service",
        ))  # fmt: skip
        latency = search["latency"]
        rows.append(_row(
            "/search p50 over HTTP vs the same work in process, ms",
            f"{latency['http_service']['p50_ms']} (HTTP)", f"{latency['in_process']['p50_ms']} (in process)",
            None, f"HTTP adds {latency['overhead_p50']:+.0%} at p50", group="service",
        ))  # fmt: skip
    ingest = result(results, "index_ingest")
    if ingest:
        ips = ingest["images_per_s"]
        rows.append(_row(
            "person-search ingest of a folder, images/s",
            f"{ips['pipelined']} (pipelined; raw encoder {ips['raw']})", f"{ips['serial']} (serial)",
            ips["pipelined"] / ips["serial"], group="service",
        ))  # fmt: skip
    upload = result(results, "service_ingest")
    if upload:
        rows.append(_row(
            "POST /gallery, images/s",
            f"{upload['service_ips']} (service)", f"{upload['raw_full_ips']} (raw encoder in process)",
            upload["service_vs_raw_full"], "of the raw encoder", group="service",
        ))  # fmt: skip
    return rows


def memory_rows(results: dict[str, Any]) -> list[Row]:
    """Serving RSS without torch against the torch backend, per model."""
    memory = result(results, "memory")
    rows: list[Row] = []
    for arch, cases in (memory or {}).get("models", {}).items():
        lean, heavy = cases["onnxruntime"], cases["torch_backend"]
        rows.append(_row(
            f"{arch} serving RSS, MiB",
            f"{lean['rss_mib']} (ONNX Runtime, no torch)", f"{heavy['rss_mib']} (torch backend)",
            heavy["rss_mib"] / lean["rss_mib"], "smaller", group="memory",
        ))  # fmt: skip
    return rows


def fleet_rows(results: dict[str, Any]) -> list[Row]:
    """The hub's flushed Milvus search against the edge's own FAISS, per size, and replication's drain
    rate against the ingest rate it ran beside (not ours-vs-naive: what scaling out costs)."""
    sizes = [
        size
        for name in ("fleet_search", "fleet_search_1m")
        for size in (result(results, name) or {}).get("sizes", [])
    ]
    rows: list[Row] = []
    for size in sorted(sizes, key=lambda s: s["n"]):
        hub = next(r for r in size["rows"] if r["config"].endswith("flushed") and r["filter"] == "one site")
        edge = next(r for r in size["rows"] if r["config"].startswith("edge") and r["filter"] == "one site")
        rows.append(_row(
            f"fleet hub search p50 at {size['n']:,} vectors, one site of 16, ms",
            f"{hub['p50_ms']:.1f} (Milvus Lite FLAT, recall {hub['recall@10']:.3f})",
            f"{edge['p50_ms']:.2f} ({edge['config']}, recall {edge['recall@10']:.3f})",
            edge["p50_ms"] / hub["p50_ms"], group="fleet",
        ))  # fmt: skip
    drain = result(results, "fleet_drain")
    if drain:
        live = drain["live"]
        rows.append(_row(
            "fleet replication while ingesting, rows/s",
            f"{live['drain_while_ingesting_per_s']:.0f} (outbox drained into Milvus)",
            f"{live['ingest_items_per_s']:.0f} (gallery ingest, same run)",
            live["drain_over_ingest"], "of the ingest rate", group="fleet",
        ))  # fmt: skip
    return rows


Section = Callable[[dict[str, Any]], list[Row]]
SECTIONS: tuple[Section, ...] = (
    engine_rows, index_rows, service_rows, memory_rows, fleet_rows, camera_rows, investigation_rows,
)  # fmt: skip


def headline(results: dict[str, Any]) -> list[Row]:
    """Every headline row this run has data for."""
    return [row for section in SECTIONS for row in section(results)]


def machine_line(results: dict[str, Any]) -> str:
    """One line naming the machine, the versions, the commit and the load."""
    m, v = results["machine"], results["machine"]["versions"]
    commit = (m["git"].get("commit") or "unknown")[:10]
    commit += " (with local changes)" if m["git"].get("dirty") else ""
    gpus = f", GPU {', '.join(m['gpus'])}" if m.get("gpus") else ", no GPU"
    return (
        f"{m['cpu']}, {m['usable_cores']} cores, {m['memory_gib']} GiB{gpus}; Python {v['python']}, "
        f"torch {v['torch']}, onnxruntime {v['onnxruntime']}, faiss {v['faiss']}; commit {commit}; "
        f"{results['date']}, `person-search bench` ({results['mode']} mode, "
        f"{results['seconds'] / 60:.0f} min{_clock_note(results)}). "
        f"Load average {results['load']['start'][0]} at the start, {results['load']['end'][0]} at the end: "
        f"{results['load']['note']}."
    )


def _clock_note(results: dict[str, Any]) -> str:
    """How the engine rows were timed, where it was not the default wall clock."""
    if results.get("engine_clock") == "cpu":
        return "; engine rows timed in CPU time on one thread, so other work on the machine does not count"
    return ""


def orin_lines(estimate: dict[str, Any] | None) -> list[str]:
    """The Orin estimate as a small table, labelled as what it is."""
    if not estimate:
        return []
    here = estimate["measured_here"]
    lines = [
        "",
        f"**{estimate['label']}.** Exact search reads every vector; here it streamed "
        f"{here['exact_scan_gbs']} GB/s at {here['n']:,} vectors ({here['share_of_bandwidth']:.0%} of this "
        "machine's single-thread read bandwidth), assumed to reach the same share of each module's "
        "bandwidth.",
        "",
        "| module | bandwidth | vectors | estimated exact-search p50 | floor at full bandwidth |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in estimate["rows"]:
        lines.append(
            f"| {r['module']} | {r['bandwidth_gbs']} GB/s | {r['n']:,} | ~{r['estimated_p50_ms']:.1f} ms "
            f"| {r['floor_ms']:.2f} ms |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The headline table as Markdown, with the machine it ran on and the Orin estimate."""
    lines = [
        machine_line(results),
        "",
        "| what | ours | baseline | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for row in headline(results):
        lines.append(f"| {row['what']} | {row['ours']} | {row['baseline']} | {row['ratio']} |")
    failed = {k: v["error"] for k, v in results.get("benchmarks", {}).items() if "error" in v}
    if failed:
        lines += ["", "Did not complete: " + "; ".join(f"{k} ({e})" for k, e in failed.items())]
    return "\n".join(lines + orin_lines(results.get("orin_estimate")) + camera_orin_lines(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a bench/results/<date>.json")
    print(markdown(json.loads(parser.parse_args().results.read_text())))
