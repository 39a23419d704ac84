"""`python -m deploy ...`: the steps docker/entrypoint.sh runs, each printing one answer for the shell.

Exit status 0 means go on; STOP (3) means the container must not start, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from deploy import bundle_view, device
from deploy.engines import prune
from deploy.l4t import L4TPolicy, Verdict, check_host
from deploy.plan import plan_engines, plan_without_engines, wants_tensorrt
from engine.bundle_files import ENGINES_DIR

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


def cmd_engines(args: argparse.Namespace) -> int:
    """Print 'build' or 'serve' for this device's TensorRT engines."""
    if not wants_tensorrt(args.backend, device.tensorrt_installed()):
        plan = plan_without_engines(args.bundle, args.backend)
    else:
        key, files = device.engine_key(args.bundle, args.precision, args.max_batch)
        plan = plan_engines(args.bundle, key, files)
        for path in plan.prune:
            _say(f"removing engines that cannot load on this device: {path.name}")
        prune(plan.prune, args.bundle / ENGINES_DIR)
    _say(plan.message)
    print(plan.action)
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when GET /health answers 200 (the image's HEALTHCHECK)."""
    url = f"http://127.0.0.1:{args.port}/health"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        _say(f"{url}: {exc}")
        return 1


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
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--backend", default="auto")
    p.add_argument("--precision", default="fp16")
    p.add_argument("--max-batch", type=int, default=16)
    p.set_defaults(fn=cmd_engines)
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
