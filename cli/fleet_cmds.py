"""`person-search fleet`: what the fleet's Milvus holds per site, and dropping a site that is gone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.app import app

if TYPE_CHECKING:
    from index.fleet import CentralCollection

fleet_app = typer.Typer(help="The fleet's central collection in Milvus.", no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")

BundleOpt = Annotated[Path, typer.Option("--bundle", help="the fleet's bundle (it names the collection)")]
UriOpt = Annotated[str, typer.Option("--fleet-uri", help="the fleet's Milvus, http://host:19530")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Milvus user:password or API key")]


def _central(bundle: Path, uri: str, token: str | None) -> CentralCollection:
    """The bundle's central collection, or a clear exit when it does not exist."""
    from engine.spec import ModelSpec
    from index.fleet import CentralCollection
    from index.milvus_conn import connect

    spec = ModelSpec.load(bundle)
    central = CentralCollection(connect(uri, token), spec.model_id, spec.embed_dim)
    if not central.client.has_collection(central.name):
        typer.echo(f"error: {uri} has no collection {central.name} for model {spec.model_id}", err=True)
        raise typer.Exit(2)
    return central


@fleet_app.command("sites")
def sites(bundle: BundleOpt, fleet_uri: UriOpt, token: TokenOpt = None) -> None:
    """Print each site and how many of its crops the fleet holds."""
    central = _central(bundle, fleet_uri, token)
    for site, rows in central.sites().items():
        typer.echo(f"{site}\t{rows}")


@fleet_app.command("drop-site")
def drop_site(
    site: Annotated[str, typer.Argument(help="the site id to remove from the fleet")],
    bundle: BundleOpt,
    fleet_uri: UriOpt,
    token: TokenOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="do it without asking")] = False,
) -> None:
    """Remove a decommissioned or renamed site's rows (its own gallery is untouched)."""
    central = _central(bundle, fleet_uri, token)
    if not yes:
        typer.confirm(f"delete every row of site {site!r} from {central.name}?", abort=True)
    typer.echo(f"deleted {central.drop_site(site)} rows of site {site}")
