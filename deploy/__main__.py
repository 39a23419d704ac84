"""`python -m deploy ...`: the steps docker/entrypoint.sh runs, each printing one answer for the shell.

Exit status 0 means go on; STOP (3) means the container must not start, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from deploy import build_retry, bundle_view, device, image_check
from deploy.engines import prune
from deploy.faiss_gpu import FaissGpu, mem_total_gib, use_faiss_gpu
from deploy.l4t import L4TPolicy, Verdict, check_host
from deploy.plan import Action, plan_engines, plan_without_engines, wants_tensorrt
from engine.bundle_files import ENGINES_DIR
from engine.tensorrt.profiles import TowerBatches

STOP = 3


def _say(message: str) -> None:
    """Log for people (stderr); stdout carries only the answer the shell reads."""
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


def _read_first(paths: Sequence[Path]) -> str | None:
    """Contents of the first readable, non-empty file among paths."""
    for path in paths:
        if path.is_file() and (text := path.read_text(errors="replace")).strip():
            return text
    return None


def cmd_check_l4t(args: argparse.Namespace) -> int:
    """Compare the host's L4T release with the image's; no image release means not a Jetson image."""
    if not args.image:
        _say("not a Jetson image: no L4T check")
        return 0
    try:
        result = check_host(args.image, _read_first(args.host_file), L4TPolicy(args.policy))
    except ValueError as exc:
        result_message, verdict = str(exc), Verdict.STOP
    else:
        result_message, verdict = result.message, result.verdict
    _say(("L4T mismatch: " if verdict is Verdict.STOP else "") + result_message)
    return STOP if verdict is Verdict.STOP else 0


def cmd_bundle(args: argparse.Namespace) -> int:
    """Print the bundle directory to serve: links to the mounted bundle with engines/ on the volume."""
    if args.engines_root is None:
        print(args.bundle)
        return 0
    for path in bundle_view.other_models(args.engines_root, args.bundle):
        _say(f"removing engines of a previous model: {path}")
        prune([path], args.engines_root)
    view = bundle_view.link_bundle(args.bundle, args.engines_root, args.workdir)
    _say(f"serving {args.bundle} with engines cached in {(view / ENGINES_DIR).resolve()}")
    print(view)
    return 0


def _engine_key(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The engine key this device needs for the bundle, precision and per-tower batches, and its files."""
    batches = TowerBatches(args.text_max_batch, args.image_max_batch)
    return device.engine_key(args.bundle, args.precision, batches)


def _failures_file(args: argparse.Namespace) -> Path:
    """Where failed builds are counted: beside this model's engines (on the engines volume)."""
    return Path(args.bundle) / ENGINES_DIR / build_retry.FAILURES_FILE


def cmd_engines(args: argparse.Namespace) -> int:
    """Print 'build' or 'serve' for this device's TensorRT engines."""
    if not wants_tensorrt(args.backend, device.tensorrt_installed()):
        plan = plan_without_engines(args.bundle, args.backend)
    else:
        key, files = _engine_key(args)
        plan = plan_engines(args.bundle, key, files)
        for path in plan.prune:
            _say(f"removing engines that cannot load on this device: {path.name}")
        prune(plan.prune, args.bundle / ENGINES_DIR)
        if plan.action is Action.SERVE and build_retry.clear(_failures_file(args)):
            _say("engines are built: the record of failed builds is cleared")
    _say(plan.message)
    print(plan.action)
    return 0


def cmd_build_wait(args: argparse.Namespace) -> int:
    """Before a build: sleep what remains of the back-off after earlier failures of the same key."""
    build_retry.wait_before_build(
        _failures_file(args), _engine_key(args)[0], args.retry_s, args.retry_max_s, _say
    )
    return 0


def cmd_build_failed(args: argparse.Namespace) -> int:
    """After a failed build: count it, and say when the next try comes."""
    key = _engine_key(args)[0]
    failures = build_retry.record_failure(_failures_file(args), key, args.status, time.time())
    delay = build_retry.retry_delay(failures.count, args.retry_s, args.retry_max_s)
    _say(
        f"build-engine failed for {key} (exit status {args.status}, failure {failures.count} in a row); "
        f"next try in {delay:.0f} s"
    )
    return 0


def cmd_faiss_gpu(args: argparse.Namespace) -> int:
    """Print 'true' or 'false' for index.use_gpu: off by default on Jetson modules of 8 GB."""
    meminfo = args.meminfo.read_text() if args.meminfo.is_file() else ""
    use, why = use_faiss_gpu(args.mode, bool(args.image), mem_total_gib(meminfo))
    _say(why)
    print("true" if use else "false")
    return 0


def cmd_check_image(args: argparse.Namespace) -> int:
    """At docker build: the serving modules import and their native libraries resolve."""
    report = image_check.check_image(args.faiss, args.tensorrt, args.onnxruntime)
    for line in report.checked:
        _say(f"checked {line}")
    for line in report.problems:
        _say(f"PROBLEM {line}")
    return STOP if report.problems else 0


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when GET /health answers 200 (the image's HEALTHCHECK)."""
    url = f"http://127.0.0.1:{args.port}/health"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        _say(f"{url}: {exc}")
        return 1


def _engine_arguments(p: argparse.ArgumentParser, retry: bool = False) -> None:
    """What names an engine key (the same for engines, build-wait and build-failed)."""
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--backend", default="auto")
    p.add_argument("--precision", default="fp16")
    p.add_argument("--text-max-batch", type=int, default=32)
    p.add_argument("--image-max-batch", type=int, default=16)
    if retry:
        p.add_argument("--retry-s", type=float, default=60.0, help="wait after the first failure")
        p.add_argument("--retry-max-s", type=float, default=3600.0, help="longest wait between tries")


def parser() -> argparse.ArgumentParser:
    """The subcommands and their arguments (the shell passes settings explicitly)."""
    root = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    sub = root.add_subparsers(required=True)
    p = sub.add_parser("check-l4t", help="stop when the host's L4T release differs from the image's")
    p.add_argument("--image", default="", help="release the image was built for, e.g. r36.4.0")
    p.add_argument("--host-file", type=Path, action="append", default=[], help="nv_tegra_release to read")
    p.add_argument("--policy", default=L4TPolicy.STRICT, choices=[str(p) for p in L4TPolicy])
    p.set_defaults(fn=cmd_check_l4t)
    p = sub.add_parser("bundle", help="print the bundle directory to serve")
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument(
        "--engines-root", type=Path, default=None, help="engines volume; omit to use <bundle>/engines"
    )
    p.add_argument("--workdir", type=Path, default=Path("/tmp/person-search"))
    p.set_defaults(fn=cmd_bundle)
    p = sub.add_parser("engines", help="print 'build' or 'serve'")
    _engine_arguments(p)
    p.set_defaults(fn=cmd_engines)
    p = sub.add_parser("build-wait", help="sleep the back-off left after failed builds of this key")
    _engine_arguments(p, retry=True)
    p.set_defaults(fn=cmd_build_wait)
    p = sub.add_parser("build-failed", help="record a failed build of this key")
    _engine_arguments(p, retry=True)
    p.add_argument("--status", type=int, required=True, help="build-engine's exit status")
    p.set_defaults(fn=cmd_build_failed)
    p = sub.add_parser("faiss-gpu", help="print 'true' or 'false' for index.use_gpu")
    p.add_argument("--mode", default=FaissGpu.AUTO, help="auto, true or false (FAISS_USE_GPU)")
    p.add_argument("--image", default="", help="the image's L4T release; empty: not a Jetson image")
    p.add_argument("--meminfo", type=Path, default=Path("/proc/meminfo"))
    p.set_defaults(fn=cmd_faiss_gpu)
    p = sub.add_parser("check-image", help="at docker build: modules import, libraries resolve")
    p.add_argument("--faiss", default=image_check.Build.CPU, choices=[str(b) for b in image_check.Build])
    p.add_argument(
        "--tensorrt",
        default=image_check.TensorRTSource.NONE,
        choices=[str(t) for t in image_check.TensorRTSource],
    )
    p.add_argument(
        "--onnxruntime", default=image_check.Build.CPU, choices=[str(b) for b in image_check.Build]
    )
    p.set_defaults(fn=cmd_check_image)
    p = sub.add_parser("health", help="exit 0 when /health answers 200")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(fn=cmd_health)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; a StartError or bad input stops the container with its message."""
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (RuntimeError, ValueError, OSError, ImportError) as exc:  # StartError is a RuntimeError
        _say(f"cannot start: {exc}")
        return STOP


if __name__ == "__main__":
    sys.exit(main())
