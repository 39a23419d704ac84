"""`person-search bench`: the engine, index, service and memory benchmarks side by side in one run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.app import app

CACHE = Path.home() / ".cache" / "person-search" / "bench"


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="a smoke run: demo model, small galleries")] = False,
    full: Annotated[bool, typer.Option("--full", help="more repeats, every structure at 1M vectors")] = False,
    only: Annotated[
        str | None, typer.Option(help="comma-separated groups: engine,index,service,memory")
    ] = None,
    out: Annotated[Path, typer.Option(help="folder for <date>.json and its chart")] = Path("bench/results"),
    clock: Annotated[
        str,
        typer.Option(help="engine timing: wall (every core) or cpu (CPU time, one thread; shared machines)"),
    ] = "wall",
    workdir: Annotated[
        Path, typer.Option(help="exported benchmark bundles, kept so a second run skips the export")
    ] = CACHE,
) -> None:
    """Measure ours against the naive pipeline and backend against backend; write JSON, PNG and a table."""
    from bench.plan import Clock, Mode, parse_groups
    from bench.suite import Options, run
    from bench.table import markdown

    if quick and full:
        raise typer.BadParameter("choose one of --quick and --full")
    mode = Mode.QUICK if quick else Mode.FULL if full else Mode.DEFAULT
    try:
        groups = parse_groups(only)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--only") from exc
    if clock not in {c.value for c in Clock}:
        raise typer.BadParameter(f"choose from {[c.value for c in Clock]}", param_hint="--clock")
    results, path = run(Options(mode, groups, out_dir=out, workdir=workdir, clock=Clock(clock)))
    typer.echo(markdown(results))
    typer.echo(f"\nwrote {path} and {path.with_suffix('.png')}")
