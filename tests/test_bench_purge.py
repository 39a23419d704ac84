"""The purge-rate benchmark at a tiny size: it ingests, purges everything and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from bench import purge_rate


def test_the_purge_bench_removes_all_it_ingested(tmp_path: Path) -> None:
    out = purge_rate.run(items=40, batch=16, ingest_batch=8, workdir=str(tmp_path))
    assert out["stored"] == out["purged"] == 40 and out["purge_batches"] == 3
    assert out["left_rows"] == 0 and out["left_files"] == 0
    assert out["ingest_items_per_s"] > 0 and out["purge_items_per_s"] > 0
    expected = out["purge_items_per_s"] / out["ingest_items_per_s"]
    assert abs(out["purge_over_ingest"] - expected) < 0.01 + 0.01 * expected
    assert "load average" in out["uptime"] and len(out["load_average"]) == 3
    assert not list(tmp_path.iterdir())  # the gallery went with the run
