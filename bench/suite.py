"""`person-search bench`: every benchmark in its own process, gathered with the machine's description into
bench/results/<date>.json, with the chart and the headline table next to it.

Each benchmark module exposes `run(...) -> dict`; bench/plan.py decides their parameters per mode; this
file runs each in a child interpreter (so memory and threads never leak from one into the next) and
composes the results. Run: `python -m bench.suite [--mode quick|default|full] [--only engine,index]`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import chart, orin, table
from bench.machine import describe, load_average
from bench.plan import BY_NAME, PLAN, Bench, Clock, Group, Mode, parse_groups


@dataclass
class Options:
    """What one suite run measures and where it writes."""

    mode: Mode = Mode.DEFAULT
    groups: frozenset[Group] = field(default_factory=lambda: frozenset(Group))
    names: frozenset[str] | None = None  # a subset of PLAN by name (tests), else every selected one
    out_dir: Path = Path("bench/results")
    workdir: Path | None = None  # kept between runs when given (exported bundles), else a temporary one
    clock: Clock = Clock.WALL
    timeout_s: float = 1800.0
    echo: bool = True  # let the children print their progress


def selected(options: Options) -> list[Bench]:
    """The benchmarks this run measures, in PLAN order."""
    return [
        b
        for b in PLAN
        if options.mode in b.params
        and b.group in options.groups
        and (options.names is None or b.name in options.names)
    ]


def _jsonable(value: Any) -> Any:
    """numpy scalars and paths as JSON."""
    return value.item() if hasattr(value, "item") else str(value)


def run_one(bench: Bench, options: Options, shared: Path) -> dict[str, Any]:
    """Run one benchmark in a child interpreter; its dict, or an error naming what failed."""
    mode, clock, timeout_s = options.mode, options.clock, options.timeout_s
    record: dict[str, Any] = {"group": str(bench.group), "module": bench.module}
    record["params"] = json.loads(json.dumps(bench.kwargs(mode, shared, clock), default=_jsonable))
    out = shared / f"{bench.name}.result.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.suite", "--child", bench.name, "--mode", mode, "--clock", clock]
    command += ["--workdir", str(shared), "--result", str(out)]
    sink = None if options.echo else subprocess.DEVNULL
    scratch = shared / f"scratch-{bench.name}"
    if bench.workdir == "scratch":
        (shared / "bundles").mkdir(parents=True, exist_ok=True)
        scratch.mkdir(parents=True, exist_ok=True)
        (scratch / "bundles").unlink(missing_ok=True)
        (scratch / "bundles").symlink_to(shared / "bundles", target_is_directory=True)
    start = time.perf_counter()
    try:
        done = subprocess.run(command, stdout=sink, stderr=sink, timeout=timeout_s, check=False)
        code: int | None = done.returncode
    except subprocess.TimeoutExpired:
        code = None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the link goes, the bundles it points at stay
    record["seconds"] = round(time.perf_counter() - start, 1)
    if code is None:
        record["error"] = f"timed out after {timeout_s:.0f} s"
    elif out.is_file():
        record.update(json.loads(out.read_text()))
    else:
        record["error"] = f"the child process exited with {code} without a result"
    return record


def child(name: str, mode: Mode, clock: Clock, shared: Path, result: Path) -> None:
    """Inside the child: call the benchmark's run() and write {"result": ...} or {"error": ...}."""
    bench = BY_NAME[name]
    try:
        value = importlib.import_module(bench.module).run(**bench.kwargs(mode, shared, clock))
        payload: dict[str, Any] = {"result": value}
    except Exception as exc:  # recorded in the results, so one failure does not lose the others
        payload = {"error": f"{type(exc).__name__}: {exc}"}
    result.write_text(json.dumps(payload, default=_jsonable))


def compose(benchmarks: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The Orin estimate from this run's exact-search rows and read bandwidth, when both were measured."""
    index = table.index_sizes(benchmarks)
    bandwidth = benchmarks.get("read_bandwidth", {}).get("result", {}).get("read_bandwidth_gbs")
    if index is None or not bandwidth:
        return None
    return orin.estimate(index, float(bandwidth))


def result_path(out_dir: Path, mode: Mode, day: datetime.date) -> Path:
    """bench/results/<date>.json for the default mode, <date>-quick.json / <date>-full.json otherwise."""
    suffix = "" if mode == Mode.DEFAULT else f"-{mode}"
    return out_dir / f"{day.isoformat()}{suffix}.json"


def write(results: dict[str, Any], path: Path) -> Path:
    """Write the results JSON and the chart PNG beside it; the PNG's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=_jsonable) + "\n")
    return chart.draw(results, path.with_suffix(".png"))


def run(options: Options) -> tuple[dict[str, Any], Path]:
    """Measure every selected benchmark, compose, write JSON + PNG; the results and the JSON's path."""
    started, load_start = datetime.datetime.now(datetime.UTC), load_average()
    shared = options.workdir or Path(tempfile.mkdtemp(prefix="person-search-bench-"))
    shared.mkdir(parents=True, exist_ok=True)
    benchmarks: dict[str, dict[str, Any]] = {}
    try:
        for bench in selected(options):
            _say(f"[bench] {bench.name} ({bench.module}) ...", options.echo)
            benchmarks[bench.name] = run_one(bench, options, shared)
            _say(f"[bench] {bench.name}: {_outcome(benchmarks[bench.name])}", options.echo)
    finally:
        if options.workdir is None:
            shutil.rmtree(shared, ignore_errors=True)
    load_end = load_average()
    results: dict[str, Any] = {
        "schema": 1,
        "date": started.date().isoformat(),
        "started_utc": started.isoformat(timespec="seconds"),
        "mode": str(options.mode),
        "engine_clock": str(options.clock),
        "groups": sorted(str(g) for g in options.groups),
        "seconds": round((datetime.datetime.now(datetime.UTC) - started).total_seconds(), 1),
        "machine": describe(),
        "load": _load_note(load_start, load_end),
        "benchmarks": benchmarks,
    }
    results["orin_estimate"] = compose(benchmarks)
    results["headline"] = table.headline(results)
    path = result_path(options.out_dir, options.mode, started.date())
    write(results, path)
    return results, path


def _load_note(start: list[float], end: list[float]) -> dict[str, Any]:
    """Load averages around the run, and whether other work shared the CPU when it began."""
    cores = os.cpu_count() or 1
    loaded = start[0] > 0.5 * cores
    note = (
        f"taken on a loaded machine (1-min load {start[0]:.1f} on {cores} cores at the start): absolute "
        "timings are pessimistic and noisy; ratios are measured side by side and hold better"
        if loaded
        else "the machine was otherwise idle at the start"
    )
    return {"start": start, "end": end, "loaded": loaded, "note": note}


def _outcome(record: dict[str, Any]) -> str:
    return f"error: {record['error']}" if "error" in record else f"done in {record['seconds']} s"


def _say(line: str, echo: bool) -> None:
    if echo:
        print(line, flush=True)


def main(argv: Iterable[str] | None = None) -> None:
    """`python -m bench.suite`: the suite, or (internally) one child benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", type=Mode, default=Mode.DEFAULT, choices=list(Mode))
    parser.add_argument("--clock", type=Clock, default=Clock.WALL, choices=list(Clock))
    groups = ",".join(g.value for g in Group)
    parser.add_argument("--only", default=None, help=f"comma-separated groups: {groups}")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.child:
        child(args.child, args.mode, args.clock, args.workdir, args.result)
        return
    options = Options(
        args.mode, parse_groups(args.only), out_dir=args.out, workdir=args.workdir, clock=args.clock
    )
    results, path = run(options)
    print(table.markdown(results))
    print(f"\nwrote {path} and {path.with_suffix('.png')}")


if __name__ == "__main__":
    main()
