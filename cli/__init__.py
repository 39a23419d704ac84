"""The `person-search` command line: one Typer app, one module of subcommands per area."""

from cli import (
    audit_cmds,  # noqa: F401  (registers its commands)
    bench_cmds,  # noqa: F401  (registers its commands)
    data_cmds,  # noqa: F401  (registers its commands)
    demo_cmds,  # noqa: F401  (registers its commands)
    detector_cmds,  # noqa: F401  (registers its commands)
    engine_cmds,  # noqa: F401  (registers its commands)
    fleet_cmds,  # noqa: F401  (registers its commands)
    gallery_cmds,  # noqa: F401  (registers its commands)
    keys_cmds,  # noqa: F401  (registers its commands)
    model_cmds,  # noqa: F401  (registers its commands)
    search_cmds,  # noqa: F401  (registers its commands)
    serve_cmds,  # noqa: F401  (registers its commands)
    train_cmds,  # noqa: F401  (registers its commands)
    video_cmds,  # noqa: F401  (registers its commands)
)
from cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()
