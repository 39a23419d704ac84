"""The benchmark suite's own code: plan, child runs, composition, headline table, chart, Orin estimate."""

from __future__ import annotations

import datetime
import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench import chart, orin, plan, suite, table
from bench.plan import Group, Mode
from bench.suite import Options


def _size(n: int, numpy_ms: float, flat_ms: float, hnsw: bool) -> dict[str, Any]:
    rows = [
        {"config": "numpy brute force", "p50_ms": numpy_ms, "recall@10": 1.0, "bytes_per_vector": 2048},
        {"config": "Flat", "p50_ms": flat_ms, "recall@10": 1.0, "bytes_per_vector": 2056},
        {"config": "SQ8", "p50_ms": flat_ms / 2, "recall@10": 0.99, "bytes_per_vector": 520},
    ]
    if hnsw:
        rows += [
            {"config": "HNSW32 efSearch=32", "p50_ms": 0.1, "recall@10": 0.90, "bytes_per_vector": 2328},
            {"config": "HNSW32 efSearch=64", "p50_ms": 0.2, "recall@10": 0.97, "bytes_per_vector": 2328},
            {"config": "IVF256,Flat nprobe=16", "p50_ms": 0.3, "recall@10": 0.96, "bytes_per_vector": 2077},
        ]
    for r in rows:
        r["speedup_vs_numpy"] = numpy_ms / r["p50_ms"]
    return {"n": n, "rows": rows}


def canned() -> dict[str, Any]:
    """A results dict shaped like a real run, with round numbers."""
    engine_rows = [
        {"backend": b, "precision": p, "device": "cpu", "batch": batch, "images_per_s": ips,
         "image_speedup": ips / 2.0, "queries_per_s": qps, "text_speedup": qps / 10.0}
        for b, p, batch, ips, qps in [
            ("torch", "fp32", 1, 3.0, 20.0), ("torch", "fp32", 8, 4.0, 25.0),
            ("onnxruntime", "fp32", 1, 5.0, 40.0), ("onnxruntime", "fp32", 8, 8.0, 45.0),
            ("onnxruntime", "int8", 1, 9.0, 50.0), ("onnxruntime", "int8", 8, 12.0, 55.0),
        ]
    ]  # fmt: skip
    length_rows = [{"words": 15, "tokens": 19, "real_ms": 10.0, "padded_77_ms": 30.0, "speedup": 3.0}]
    benchmarks = {
        "engine_throughput": {"result": {
            "model": "ViT-B-16", "rows": engine_rows,
            "baseline_open_clip_eager": {"images_per_s": 2.0, "queries_per_s": 10.0}}},
        "engine_throughput_demo": {"result": {
            "model": "PS-Tiny", "rows": engine_rows,
            "baseline_open_clip_eager": {"images_per_s": 2.0, "queries_per_s": 10.0}}},
        "engine_text_length": {"result": {
            "model": "ViT-B-16", "backend": "onnxruntime cpu", "rows": length_rows}},
        "engine_int8": {"result": {"model": "ViT-B-16", "rows": [
            {"batch": 8, "fp32_ms": 900.0, "int8_ms": 450.0, "speedup": 2.0, "min_cosine": 0.99}]}},
        "index_search": {"result": {"dim": 512, "sizes": [
            _size(10_000, 1.0, 0.8, True), _size(100_000, 10.0, 8.0, True)]}},
        "index_search_exact_1m": {"result": {"dim": 512, "sizes": [_size(1_000_000, 100.0, 80.0, False)]}},
        "read_bandwidth": {"result": {"read_bandwidth_gbs": 51.2}},
        "service_search": {"result": {
            "latency": {"in_process": {"p50_ms": 4.0}, "http_service": {"p50_ms": 5.0}, "overhead_p50": 0.25},
            "throughput": {"1": {"service_rps": 100, "plain_rps": 100, "ratio": 1.0},
                           "16": {"service_rps": 300, "plain_rps": 100, "ratio": 3.0}}}},
        "index_ingest": {"result": {"images_per_s": {"raw": 100.0, "pipelined": 90.0, "serial": 60.0}}},
        "service_ingest": {"result": {
            "service_ips": 80.0, "raw_full_ips": 100.0, "service_vs_raw_full": 0.8}},
        "memory": {"result": {"models": {"ViT-B-16": {
            "onnxruntime": {"rss_mib": 500.0}, "torch_backend": {"rss_mib": 1500.0}}}}},
        "engine_gflops": {"error": "RuntimeError: boom"},
    }  # fmt: skip
    results: dict[str, Any] = {
        "date": "2026-01-02",
        "mode": "default",
        "seconds": 600.0,
        "machine": {
            "cpu": "Test CPU",
            "usable_cores": 2,
            "memory_gib": 8.0,
            "gpus": [],
            "versions": {"python": "3.11", "torch": "2", "onnxruntime": "1", "faiss": "1"},
            "git": {"commit": "0123456789abcdef", "dirty": False},
        },
        "load": {"start": [3.0, 2.0, 1.0], "end": [2.0, 2.0, 1.0], "loaded": True, "note": "loaded"},
        "benchmarks": benchmarks,
    }
    results["orin_estimate"] = suite.compose(benchmarks)
    results["headline"] = table.headline(results)
    return results


def by_what(rows: list[dict[str, Any]], start: str) -> dict[str, Any]:
    return next(r for r in rows if r["what"].startswith(start))


def test_headline_reads_each_ratio_from_the_right_rows() -> None:
    rows = canned()["headline"]
    assert (
        by_what(rows, "ViT-B-16 image encoding, images/s (ONNX Runtime FP32)")["factor"] == 4.0
    )  # b8: 8 / 2
    assert by_what(rows, "ViT-B-16 image encoding, images/s (ONNX Runtime INT8)")["factor"] == 6.0  # 12 / 2
    assert by_what(rows, "ViT-B-16 text query one at a time, queries/s (ONNX Runtime FP32)")["factor"] == 4.0
    assert by_what(rows, "ViT-B-16 text query one at a time, queries/s (ONNX Runtime INT8)")["factor"] == 5.0
    demo = [r["what"] for r in rows if r["what"].startswith("PS-Tiny")]
    assert len(demo) == 2 and all("FP32" in w for w in demo)  # the demo model: default precision only
    assert by_what(rows, "ViT-B-16 image batch 8: ONNX Runtime vs torch")["factor"] == 2.0  # 8 / 4
    assert by_what(rows, "ViT-B-16 text tower")["factor"] == 3.0
    assert by_what(rows, "ViT-B-16 image tower batch 8, INT8")["factor"] == 2.0
    search = by_what(rows, "search p50 at 100,000")  # fastest reaching 0.95 is HNSW ef=64, not ef=32
    assert "HNSW32 efSearch=64" in search["ours"] and search["factor"] == 50.0
    assert by_what(rows, "exact search p50 at 1,000,000")["factor"] == 1.25
    assert by_what(rows, "index memory at 1,000,000")["factor"] == round(2048 / 520, 2)
    assert by_what(rows, "/search with 16 concurrent")["factor"] == 3.0
    assert by_what(rows, "person-search ingest")["factor"] == 1.5
    assert by_what(rows, "ViT-B-16 serving RSS")["factor"] == 3.0
    http = by_what(rows, "/search p50 over HTTP")
    assert http["factor"] is None and http["ratio"] == "HTTP adds +25% at p50"


def test_ratio_text_never_says_a_fraction_faster() -> None:
    assert table.ratio_text(4.0, "faster") == "4.00x faster"
    assert table.ratio_text(0.25, "faster") == "4.00x slower"
    assert table.ratio_text(0.5, "smaller") == "2.00x larger"


def test_headline_skips_benchmarks_that_did_not_run() -> None:
    results = canned()
    for name in (
        "engine_throughput",
        "engine_throughput_demo",
        "index_search",
        "index_search_exact_1m",
        "memory",
    ):
        results["benchmarks"].pop(name)
    whats = [r["what"] for r in table.headline(results)]
    gone = ("ViT-B-16 image encoding", "exact search", "ViT-B-16 serving")
    assert not any(w.startswith(gone) for w in whats)
    assert any(w.startswith("/search with 16") for w in whats)


def test_orin_estimate_arithmetic() -> None:
    index = {"dim": 512, "sizes": [_size(100_000, 12.0, 10.0, False)]}
    # Flat scans 100k x 512 x 4 = 204.8 MB in 10 ms: 20.48 GB/s, half of a 40.96 GB/s read bandwidth
    estimate = orin.estimate(index, 40.96, sizes=(1_000_000,))
    here = estimate["measured_here"]
    assert here["exact_scan_gbs"] == pytest.approx(20.48) and here["share_of_bandwidth"] == 0.5
    nano = next(r for r in estimate["rows"] if r["module"] == "Orin Nano 8GB")
    assert nano["floor_ms"] == pytest.approx(2.048e9 / 68e9 * 1e3, abs=1e-3)  # 30.1 ms
    assert nano["estimated_p50_ms"] == pytest.approx(2 * nano["floor_ms"], abs=1e-3)
    agx = next(r for r in estimate["rows"] if r["module"] == "AGX Orin 64GB")
    assert agx["estimated_p50_ms"] == pytest.approx(nano["estimated_p50_ms"] * 68 / 204.8, rel=1e-3)
    assert "ESTIMATE" in estimate["label"]


def test_orin_share_is_capped_and_bandwidth_checked() -> None:
    index = {"dim": 512, "sizes": [_size(100_000, 12.0, 1.0, False)]}  # faster than the read rate
    assert orin.estimate(index, 10.0)["measured_here"]["share_of_bandwidth"] == 1.0
    with pytest.raises(ValueError, match="bandwidth"):
        orin.estimate(index, 0.0)


def test_markdown_names_the_machine_load_failures_and_the_estimate() -> None:
    results = canned()
    results["engine_clock"] = "cpu"
    text = table.markdown(results)
    assert "CPU time on one thread" in text
    assert "Test CPU, 2 cores" in text and "commit 0123456789" in text and "Load average 3.0" in text
    assert "| ViT-B-16 image encoding, images/s (ONNX Runtime FP32) | 8.0 (batch 8) |" in text
    assert "engine_gflops (RuntimeError: boom)" in text
    assert "ESTIMATE from memory bandwidth" in text and "| Orin Nano 8GB | 68.0 GB/s | 1,000,000 |" in text


def test_write_produces_json_and_a_png_chart(tmp_path: Path) -> None:
    results = canned()
    png = suite.write(results, tmp_path / "2026-01-02.json")
    assert json.loads((tmp_path / "2026-01-02.json").read_text())["headline"] == results["headline"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    empty = chart.draw({"date": "x", "mode": "quick", "benchmarks": {}}, tmp_path / "empty.png")
    assert empty.is_file()


def test_plan_arguments_match_every_run_signature(tmp_path: Path) -> None:
    for bench in plan.PLAN:
        run = importlib.import_module(bench.module).run
        for mode in bench.params:
            inspect.signature(run).bind(**bench.kwargs(mode, tmp_path))  # raises on a wrong argument


def test_modes_scale_to_1m_where_promised() -> None:
    def largest(mode: Mode) -> int:
        return max(n for b in suite.selected(Options(mode)) for n in b.params[mode].get("sizes", (0,)))

    assert largest(Mode.QUICK) <= 10_000 and largest(Mode.DEFAULT) == largest(Mode.FULL) == 1_000_000
    full_1m = [
        b for b in suite.selected(Options(Mode.FULL)) if 1_000_000 in b.params[Mode.FULL].get("sizes", ())
    ]
    assert any("only" not in b.params[Mode.FULL] for b in full_1m)  # every structure at 1M in full
    only_memory = suite.selected(Options(Mode.DEFAULT, frozenset({Group.MEMORY})))
    assert [b.name for b in only_memory] == ["memory"]


def test_cpu_clock_pins_engine_benchmarks_to_one_thread(tmp_path: Path) -> None:
    engine = plan.BY_NAME["engine_int8"].kwargs(Mode.DEFAULT, tmp_path, plan.Clock.CPU)
    assert engine["clock"] == "cpu" and engine["threads"] == 1
    assert "clock" not in plan.BY_NAME["index_search"].kwargs(Mode.DEFAULT, tmp_path, plan.Clock.CPU)
    assert "clock" not in plan.BY_NAME["engine_int8"].kwargs(Mode.DEFAULT, tmp_path)


def test_parse_groups() -> None:
    assert plan.parse_groups(None) == frozenset(Group)
    assert plan.parse_groups("engine, index") == {Group.ENGINE, Group.INDEX}
    with pytest.raises(ValueError, match="choose from"):
        plan.parse_groups("engine,gpu")


def test_result_path_keeps_default_runs_apart_from_quick_and_full(tmp_path: Path) -> None:
    day = datetime.date(2026, 1, 2)
    assert suite.result_path(tmp_path, Mode.DEFAULT, day).name == "2026-01-02.json"
    assert suite.result_path(tmp_path, Mode.QUICK, day).name == "2026-01-02-quick.json"


def test_a_real_tiny_run_through_a_child_process(tmp_path: Path) -> None:
    options = Options(Mode.QUICK, names=frozenset({"read_bandwidth"}), out_dir=tmp_path, echo=False)
    results, path = suite.run(options)
    record = results["benchmarks"]["read_bandwidth"]
    assert "error" not in record, record
    assert record["result"]["read_bandwidth_gbs"] > 0 and record["params"] == {"mib": 128}
    assert path.is_file() and path.with_suffix(".png").is_file()
    saved = json.loads(path.read_text())
    assert saved["machine"]["cores"] >= 1 and saved["machine"]["versions"]["faiss"]
    assert len(saved["load"]["start"]) == 3 and isinstance(saved["load"]["loaded"], bool)


def test_a_child_that_runs_too_long_is_recorded_not_fatal(tmp_path: Path) -> None:
    options = Options(Mode.QUICK, timeout_s=0.01, echo=False)
    record = suite.run_one(plan.BY_NAME["read_bandwidth"], options, tmp_path)
    assert record["error"].startswith("timed out")


def test_cli_refuses_conflicting_or_unknown_options() -> None:
    from cli import app

    runner = CliRunner()
    both = runner.invoke(app, ["bench", "--quick", "--full"])
    assert both.exit_code != 0 and "--quick" in both.output
    unknown = runner.invoke(app, ["bench", "--only", "gpu"])
    assert unknown.exit_code != 0 and "choose from" in unknown.output
