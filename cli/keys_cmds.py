"""`person-search keys`: named API keys in a keys file (add prints a new key once; only its hash is kept)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.app import app
from cli.settings_flags import settings_from_flags
from service.keys_file import Scope, add_key, load_keys, remove_key

keys_app = typer.Typer(help="Named API keys with read, write or admin scope.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

NameArg = Annotated[str, typer.Argument(help="who or what the key is for, e.g. alice or nvr-2")]
FileOpt = Annotated[
    Path | None,
    typer.Option("--keys-file", help="the keys file; default: PERSON_SEARCH_AUTH__KEYS_FILE"),
]


def _file(given: Path | None) -> Path:
    """The keys file named by --keys-file or the setting, or a usage error."""
    path = given or settings_from_flags({}).auth.keys_file
    if path is None:
        raise typer.BadParameter(
            "name the keys file with --keys-file or PERSON_SEARCH_AUTH__KEYS_FILE",
            param_hint="--keys-file",
        )
    return path


def _fail(error: ValueError) -> None:
    """Exit 2 with the reason."""
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


@keys_app.command("add")
def add(
    name: NameArg,
    scope: Annotated[
        Scope, typer.Option(help="read < write < admin; each includes the ones before")
    ] = Scope.READ,
    keys_file: FileOpt = None,
) -> None:
    """Create a random key: it is printed once (stdout) and only its sha256 is stored."""
    path = _file(keys_file)
    try:
        key = add_key(path, name, scope)
    except ValueError as error:
        _fail(error)
        return
    typer.echo(key)
    typer.echo(f"added {scope} key {name!r} to {path}; it is shown only this once", err=True)


@keys_app.command("remove")
def remove(name: NameArg, keys_file: FileOpt = None) -> None:
    """Revoke a key: a running service stops accepting it at its next request."""
    path = _file(keys_file)
    try:
        remove_key(path, name)
    except (ValueError, FileNotFoundError) as error:
        _fail(ValueError(str(error)))
        return
    typer.echo(f"removed key {name!r} from {path}")


@keys_app.command("list")
def list_keys(keys_file: FileOpt = None) -> None:
    """Print each key's name, scope and creation time (the keys themselves are not stored)."""
    path = _file(keys_file)
    try:
        keys = load_keys(path).keys
    except (ValueError, FileNotFoundError) as error:
        _fail(ValueError(str(error)))
        return
    for entry in keys:
        created = entry.created_at.isoformat() if entry.created_at else "-"
        typer.echo(f"{entry.name}\t{entry.scope}\t{created}\t{entry.sha256[:12]}")
