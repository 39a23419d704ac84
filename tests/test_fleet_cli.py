"""`person-search fleet sites` and `fleet drop-site` against a real Milvus Lite server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from fleet_helpers import bare_rows
from typer.testing import CliRunner

from cli import app
from engine.spec import ModelSpec
from index.fleet import CentralCollection
from index.fleet.lite_server import LiteServer
from index.milvus_conn import connect


def rows(site: str, n: int, dim: int) -> list[dict[str, Any]]:
    """n central rows of one site with seeded unit vectors."""
    x = np.random.default_rng(n).standard_normal((n, dim)).astype(np.float32)
    return bare_rows(site, x / np.linalg.norm(x, axis=1, keepdims=True))


def test_sites_counts_and_drop_site_removes_only_that_site(milvus: LiteServer, micro_bundle: Path) -> None:
    spec = ModelSpec.load(micro_bundle)
    central = CentralCollection(connect(milvus.uri), spec.model_id, spec.embed_dim).ensure()
    central.upsert(rows("cli-old", 5, spec.embed_dim) + rows("cli-keep", 3, spec.embed_dim))
    runner = CliRunner()
    args = ["--bundle", str(micro_bundle), "--fleet-uri", milvus.uri]
    listed = runner.invoke(app, ["fleet", "sites", *args])
    assert listed.exit_code == 0 and "cli-old\t5" in listed.stdout and "cli-keep\t3" in listed.stdout
    refused = runner.invoke(app, ["fleet", "drop-site", "cli-old", *args], input="n\n")
    assert refused.exit_code == 1 and len(central.site_ids("cli-old")) == 5  # asked, declined, kept
    dropped = runner.invoke(app, ["fleet", "drop-site", "cli-old", *args, "--yes"])
    assert dropped.exit_code == 0 and "deleted 5 rows of site cli-old" in dropped.stdout
    assert len(central.site_ids("cli-old")) == 0 and len(central.site_ids("cli-keep")) == 3
    central.drop_site("cli-keep")  # leave the shared collection as other tests expect it


def test_a_fleet_without_the_models_collection_is_a_clear_error(tmp_path: Path, micro_bundle: Path) -> None:
    with LiteServer(tmp_path / "milvus") as empty:
        args = ["fleet", "sites", "--bundle", str(micro_bundle), "--fleet-uri", empty.uri]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "has no collection fleet_" in result.stderr
