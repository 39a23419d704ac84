"""The fleet benchmarks at tiny sizes, on a real Milvus Lite server: structure and sane values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import fleet_drain, fleet_search, table


@pytest.mark.slow
def test_fleet_search_is_exact_at_tiny_size_and_skips_what_overruns_the_budget(tmp_path: Path) -> None:
    out = fleet_search.run(sizes=(400, 1_000_000), queries=12, budget_s=60.0, workdir=str(tmp_path))
    (size,) = out["sizes"]
    assert size["n"] == size["stored"] == 400 and size["insert_rows_per_s"] > 0
    configs = {(r["config"], r["filter"]) for r in size["rows"]}
    assert configs == {
        (c, f)
        for c in ("hub Lite FLAT, as inserted", "hub Lite FLAT, flushed", "edge FAISS Flat")
        for f in ("none", "one site")
    }
    for r in size["rows"]:
        assert r["recall@10"] == 1.0, r  # FLAT on both sides: exact against the numpy scan
        assert 0 < r["p50_ms"] <= r["p90_ms"]
        assert ("hub_over_edge_p50" in r) == r["config"].startswith("edge")
    (skipped,) = out["skipped"]  # 400 rows took seconds, so 2,500x that is far past 60 s
    assert skipped["n"] == 1_000_000 and skipped["projected_s"] == pytest.approx(size["seconds"] * 2500)
    assert not list(tmp_path.iterdir())  # the hub's data went with the run


@pytest.mark.slow
def test_fleet_drain_replicates_every_item_of_both_sites(tmp_path: Path) -> None:
    out = fleet_drain.run(items=150, batch=16, replicate_batch=64, workdir=str(tmp_path))
    live, backlog = out["live"], out["backlog"]
    for phase in (live, backlog):
        assert phase["items"] == phase["central_rows"] == 150
        assert phase["changes_replicated"] == 151  # every item plus the sweep queued when the site was set
    assert backlog["pending_before"] == 151 and backlog["drain_per_s"] > 0 and backlog["drain_s"] > 0
    assert out["central_rows"] == 300
    assert live["ingest_items_per_s"] > 0 and live["drain_overall_per_s"] > 0
    assert 0 <= live["backlog_at_end_of_ingest"] <= live["peak_backlog"] <= 151
    assert out["headroom"] == pytest.approx(backlog["drain_per_s"] / live["ingest_items_per_s"])


def test_fleet_rows_in_the_headline_table() -> None:
    row = {"p50_ms": 2.0, "p90_ms": 3.0, "recall@10": 1.0, "filter": "one site"}
    size = {
        "n": 10_000,
        "rows": [
            {**row, "config": "hub Lite FLAT, as inserted", "p50_ms": 300.0},
            {**row, "config": "hub Lite FLAT, flushed", "p50_ms": 8.0},
            {**row, "config": "edge FAISS Flat"},
        ],
    }
    live = {"drain_while_ingesting_per_s": 900.0, "ingest_items_per_s": 1000.0, "drain_over_ingest": 0.9}
    benchmarks = {"fleet_search": {"result": {"sizes": [size]}}, "fleet_drain": {"result": {"live": live}}}
    results = {"benchmarks": benchmarks}
    search, drain = table.fleet_rows(results)
    assert search["ratio"] == "4.00x slower" and "8.0 (Milvus Lite FLAT" in search["ours"]
    assert drain["ratio"] == "0.90x of the ingest rate" and drain["group"] == "fleet"
    assert table.fleet_rows({"benchmarks": {}}) == []
