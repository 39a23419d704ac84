"""The investigation benchmarks' own accounting: the grouped-search gallery, its two searches side by side
and their quality per person; the headline rows both benchmarks add."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import grouped_search, table
from bench.plan import BY_NAME, Mode


def test_the_population_is_tracks_of_10_to_30_crops_of_persons_with_1_to_4_tracks() -> None:
    pop = grouped_search.population(5_000, (10, 30), (1, 4), 64, seed=3)
    lengths = np.bincount(pop.crop_track)
    assert len(pop.crop_track) == 5_000 and lengths.sum() == 5_000
    assert lengths[:-1].min() >= 10 and lengths.max() <= 30 and lengths[-1] >= 1  # the last one is cut
    per_person = np.bincount(pop.track_person)
    assert per_person.min() >= 1 and per_person[:-1].max() <= 4 and len(per_person) == len(pop.centres)
    assert np.allclose(np.linalg.norm(pop.centres, axis=1), 1.0, atol=1e-5)


def test_grouped_and_ungrouped_side_by_side_on_a_small_gallery(tmp_path: Path) -> None:
    out = grouped_search.run(size=3_000, queries=20, top_k=5, dim=64, workdir=tmp_path)
    flat = out["factories"]["Flat"]
    grouped, ungrouped = flat["rows"]["grouped"], flat["rows"]["ungrouped"]
    assert grouped["n"] == ungrouped["n"] == 20 and out["tracks"] > 3_000 / 30
    assert flat["ratio_p50"] == round(grouped["p50_ms"] / ungrouped["p50_ms"], 2)
    assert flat["crops_read_p50"] >= 4 * 5 and flat["index_searches_mean"] >= 1  # grouped reads 4k first
    # one result per track finds more of a person's tracks than the k crops of their best track or two
    assert grouped["tracks_found_share"] > ungrouped["tracks_found_share"]
    assert grouped["R1_per_person"] == ungrouped["R1_per_person"] > 0.5  # the same best crop comes first
    assert "grouped / ungrouped" in grouped_search.table(out)
    assert not list(tmp_path.iterdir())  # the gallery was temporary


def test_the_suite_registers_both() -> None:
    assert BY_NAME["grouped_search"].params[Mode.DEFAULT]["size"] == 100_000
    assert BY_NAME["cross_camera"].params[Mode.QUICK]["trained_clip"] is False


def test_investigation_rows_in_the_headline_table() -> None:
    rows = {"grouped": {"p50_ms": 8.0, "p99_ms": 20.0}, "ungrouped": {"p50_ms": 2.0, "p99_ms": 10.0}}
    grouped = {"size": 100_000, "top_k": 10, "factories": {"Flat": {"rows": rows}}}
    crossing = {"top_k": 5, "models": {"demo (trained)": {"rate": 0.75, "chance": 0.25, "queries": 80,
                                                          "persons": 30}}}  # fmt: skip
    results = {"benchmarks": {"grouped_search": {"result": grouped}, "cross_camera": {"result": crossing}}}
    search, found = table.headline(results)
    assert search["ratio"] == "4.00x slower" and search["ours"].startswith("8.00 (grouped")
    assert found["ratio"] == "3.00x of chance" and "demo (trained)" in found["ours"]
