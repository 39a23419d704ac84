"""`person-search demo` stages: reuse on a second run, the R@K table, and curl commands that work verbatim."""

import json
import shlex
import subprocess
from pathlib import Path

import pytest
from service_live import LiveServer, live_settings

from cli import demo_stages as stages
from engine.spec import ModelSpec


def test_synthesise_twice_reuses_the_first_run(tmp_path: Path) -> None:
    plan = stages.DemoPlan(
        source_identities=3, source_images_per_id=1, target_identities=3, target_images_per_id=1
    )
    paths, said = stages.DemoPaths(tmp_path), []
    stages.synthesise(paths, plan, said.append)
    first = (paths.target / "reid_raw.json").read_bytes()
    stages.synthesise(paths, plan, said.append)
    assert [s for s in said if s.startswith("reusing")] == [
        f"reusing the synthetic source domain in {paths.source}",
        f"reusing the synthetic target domain in {paths.target}",
    ]
    assert (paths.target / "reid_raw.json").read_bytes() == first


def test_recall_table_shows_base_and_tuned(tmp_path: Path) -> None:
    scores = {"R1": 41.25, "R5": 70.0, "R10": 80.0, "mAP": 35.5, "mINP": 12.0}
    provenance = {"metrics": {"base": {"test": scores}, "tuned": {"test": {**scores, "R1": 63.75}}}}
    ModelSpec(arch="PS-Micro", provenance=provenance).save(tmp_path)
    table = stages.recall_table(tmp_path, tmp_path).splitlines()
    assert table[1].split() == ["model", "R1", "R5", "R10", "mAP", "mINP"]
    assert table[2].split() == ["base", "41.2", "70.0", "80.0", "35.5", "12.0"]
    assert table[3].split()[:2] == ["tuned", "63.8"]


def _curl(command: str) -> dict:
    """Run one printed command exactly as a user would paste it, failing on HTTP errors."""
    args = shlex.split(command)
    out = subprocess.run([args[0], "--fail-with-body", *args[1:]], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


@pytest.mark.slow
def test_printed_curl_commands_work_verbatim(tmp_path: Path, micro_bundle: Path) -> None:
    plan = stages.DemoPlan(
        source_identities=1, source_images_per_id=1, target_identities=4, target_images_per_id=2
    )
    paths = stages.DemoPaths(tmp_path)
    stages.synthesise(paths, plan, print)
    sample = next((paths.target / "imgs").rglob("*.png"))
    with LiveServer(live_settings(micro_bundle, tmp_path / "gallery")) as server:
        get_search, post_search, upload = stages.curl_examples(server.url, sample)
        uploaded = _curl(upload)
        assert uploaded["added"] == 1 and uploaded["items"][0]["filename"] == sample.name
        for command in (get_search, post_search):
            results = _curl(command)
            assert [m["item"]["id"] for m in results["matches"]] == [uploaded["items"][0]["id"]]
            assert results["matches"][0]["item"]["camera"] == "lobby"
