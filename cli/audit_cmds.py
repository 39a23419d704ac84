"""`person-search audit verify`: check the audit trail's hash chain; exit 1 naming the first bad row."""

from __future__ import annotations

import typer

from cli.app import app
from cli.settings_flags import DataDirFlag, settings_from_flags

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(data_dir: DataDirFlag = None) -> None:
    """Recompute every row's hash and link; report the first row that was changed, inserted or removed."""
    from index.audit_log import AuditLog
    from service.audit import audit_path

    path = audit_path(settings_from_flags({"data_dir": data_dir}))
    if path is None:
        raise typer.BadParameter(
            "name the data directory with --data-dir or set PERSON_SEARCH_AUDIT__FILE",
            param_hint="--data-dir",
        )
    try:
        trail = AuditLog(path, create=False)
    except FileNotFoundError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        verdict = trail.verify()
    except ValueError as error:  # an unreadable head file
        typer.echo(f"FAILED: {error}")
        raise typer.Exit(1) from None
    finally:
        trail.close()
    if not verdict.ok:
        where = f"first bad row: {verdict.bad_row}; " if verdict.bad_row is not None else ""
        typer.echo(f"FAILED: {where}{verdict.problem} ({verdict.rows} rows before it check out)")
        raise typer.Exit(1)
    typer.echo(f"OK: {verdict.rows} rows; head row {verdict.head_id} sha256 {verdict.head_hash}")
    if verdict.past_head:
        first = verdict.head_id - verdict.past_head + 1
        typer.echo(
            f"note: rows {first}..{verdict.head_id} came after the head file's last update (a crash "
            "between a commit and the head's update, or rows appended by hand); the next write covers them"
        )
