"""Edges replicate into one central Milvus collection (a real Milvus Lite server): ranking, filters,
outages and SIGKILL leave the hub with every item exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fleet_helpers import (
    DIM,
    add_items,
    bare_rows,
    central,
    central_contents,
    local_contents,
    open_edge,
    start_replicator,
    unit,
    wait_for,
)
from service_live import crop_bytes

from index import Gallery, ItemMeta, SearchFilters, reindex
from index.fleet import CentralCollection
from index.fleet.lite_server import LiteServer
from index.milvus_conn import connect


def brute_force(q: np.ndarray, rows: dict[str, np.ndarray], k: int) -> list[str]:
    gids = sorted(rows)
    scores = np.stack([rows[g] for g in gids]) @ q
    return [gids[i] for i in np.argsort(-scores, kind="stable")[:k]]


def test_two_edges_replicate_and_the_hub_ranks_like_brute_force(milvus: LiteServer, tmp_path: Path) -> None:
    edges = {site: open_edge(tmp_path / site, site) for site in ("north", "south")}
    add_items(edges["north"], range(0, 40))
    add_items(edges["south"], range(100, 140))
    edges["south"].delete(5)
    replicators = [start_replicator(g, milvus.uri, site) for site, g in edges.items()]
    for r in replicators:
        wait_for(lambda r=r: r.status()["pending"] == 0, what="outbox drained")
    union = local_contents(edges["north"], "north") | local_contents(edges["south"], "south")
    held = {g for g in central_contents(milvus.uri) if g.split(":")[0] in edges}  # the server is shared
    assert held == set(union) and len(union) == 79
    hub = central(milvus.uri)
    for q in unit(7, 5):
        hits = hub.search(q, 10, sites=list(edges))
        assert [h.global_id for h in hits] == brute_force(q, union, 10)
        south = {g: v for g, v in union.items() if g.startswith("south:")}
        assert [h.global_id for h in hub.search(q, 10, sites=["south"])] == brute_force(q, south, 10)
        lobby = SearchFilters(cameras=frozenset({"lobby"}), metadata={"seed": 21})
        only = hub.search(q, 10, lobby, sites=["north"])
        assert [(h.fields["site"], h.fields["camera"], h.fields["local_id"]) for h in only] == [
            ("north", "lobby", 22)
        ]
    for h in hits:  # the link the service's builder made from each item's local id
        assert (
            h.fields["image_url"]
            == f"http://{h.fields['site']}.example:8000/gallery/{h.fields['local_id']}/image"
        )
    for r in replicators:
        r.stop()
    for g in edges.values():
        g.close()


def test_outage_edge_keeps_working_and_hub_converges_exactly_once(tmp_path: Path) -> None:
    server = LiteServer(tmp_path / "milvus").start()
    edge = open_edge(tmp_path / "edge", "west")
    replicator = start_replicator(edge, server.uri, "west")
    first = add_items(edge, range(0, 10))
    wait_for(lambda: replicator.status()["pending"] == 0, what="first batch replicated")
    server.stop()
    more = add_items(edge, range(10, 20))  # uploads go on while the fleet is away
    for item_id in (first[0], first[1], more[0]):
        assert edge.delete(item_id)
    assert [h.item.id for h in edge.search(unit(15, 1)[0], 1)] == [more[5]]  # local search still answers
    wait_for(lambda: replicator.status()["last_error"] is not None, what="replication error seen")
    assert replicator.status()["pending"] == 13
    server.start()
    wait_for(lambda: replicator.status()["pending"] == 0, what="backlog drained after the outage")
    held = central_contents(server.uri)
    assert held.keys() == local_contents(edge, "west").keys() and len(held) == 17
    assert not {f"west:{i}" for i in (first[0], first[1], more[0])} & held.keys()
    replicator.stop()
    edge.close()
    server.stop()


CHILD = """
import sys, time
sys.path[:0] = [{tests!r}]
from fleet_helpers import add_items, open_edge, start_replicator
edge = open_edge({data!r}, "east")
start_replicator(edge, {uri!r}, "east")
start = {start}
for batch in range(100):
    ids = add_items(edge, range(start + 5 * batch, start + 5 * batch + 5))
    edge.delete(ids[0])
    print(batch, flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_sigkill_during_replication_loses_and_duplicates_nothing(milvus: LiteServer, tmp_path: Path) -> None:
    rng = random.Random(0)
    for round_ in range(4):
        code = CHILD.format(
            tests=str(Path(__file__).parent), data=str(tmp_path / "edge"), uri=milvus.uri, start=1000 * round_
        )
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        for _ in range(rng.randint(2, 12)):  # killed after a random number of committed batches
            assert child.stdout.readline(), "the child edge died on its own"
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    edge = open_edge(tmp_path / "edge", "east")
    replicator = start_replicator(edge, milvus.uri, "east")
    wait_for(lambda: replicator.status()["pending"] == 0, what="backlog drained after the kills")
    held = {g: v for g, v in central_contents(milvus.uri).items() if g.startswith("east:")}
    local = local_contents(edge, "east")
    assert held.keys() == local.keys() and len(local) >= 4 * 2 * 4
    for gid, vector in local.items():
        np.testing.assert_allclose(held[gid], vector, atol=1e-6)
    assert len(central(milvus.uri).site_ids("east")) == len(local)  # one row per item, no duplicates
    replicator.stop()
    edge.close()


def test_reindex_to_a_new_model_fills_that_models_collection(milvus: LiteServer, tmp_path: Path) -> None:
    edge = open_edge(tmp_path / "edge", "reidx")
    ids = add_items(edge, range(300, 306))
    start_replicator(edge, milvus.uri, "reidx").stop()
    edge.close()
    reindex(tmp_path / "edge", "fleet-model-b", DIM, lambda blobs: unit(len(blobs), len(blobs)))
    with Gallery.open(tmp_path / "edge", "fleet-model-b", DIM, use_gpu=False, site_id="reidx") as g:
        replicator = start_replicator(g, milvus.uri, "reidx")
        wait_for(lambda: replicator.status()["pending"] == 0, what="new model's backlog drained")
        replicator.stop()
    new = CentralCollection(connect(milvus.uri), "fleet-model-b", DIM)
    assert sorted(new.site_ids("reidx")) == ids


def test_overlong_values_are_cut_not_poison_rows(milvus: LiteServer, tmp_path: Path) -> None:
    edge = open_edge(tmp_path / "edge", "long")
    camera = "Kamera-Ä" * 300  # 2700 UTF-8 bytes: past the central VARCHAR limit
    notes = {"notes": "x" * 70_000}  # past the 65,536 bytes Milvus allows a JSON field
    (added,) = edge.add([crop_bytes(900)], unit(900, 1), [ItemMeta(camera=camera, extra=notes)])
    add_items(edge, range(901, 904))
    replicator = start_replicator(edge, milvus.uri, "long")
    wait_for(lambda: replicator.status()["pending"] == 0, what="batch with an overlong camera replicated")
    replicator.stop()
    (hit,) = central(milvus.uri).search(unit(900, 1)[0], 1, sites=["long"])
    assert hit.fields["local_id"] == added.id and camera.startswith(hit.fields["camera"])
    assert 1020 <= len(hit.fields["camera"].encode()) <= 1024
    assert list(hit.fields["metadata"]) == ["_omitted"]
    assert edge.get(added.id).meta.extra == notes  # type: ignore[union-attr]  # the site keeps it whole
    assert len(central(milvus.uri).site_ids("long")) == 4
    edge.close()


def test_hub_switches_the_central_index_to_hnsw_and_keeps_recall(milvus: LiteServer) -> None:
    from service.fleet import HubIndex
    from service.settings import FleetSettings

    edge_side = CentralCollection(connect(milvus.uri), "hnsw-model", DIM).ensure()  # edges create FLAT
    vectors = unit(77, 3000)
    edge_side.upsert(bare_rows("a", vectors))
    hub = HubIndex(FleetSettings(uri=milvus.uri, index_type="HNSW", ef_search=64), "hnsw-model", DIM)
    central = hub.central()
    assert central.client.describe_index(central.name, "embedding")["index_type"] == "HNSW"
    rows = {f"a:{i}": v for i, v in enumerate(vectors)}
    found = 0
    for q in unit(78, 20):
        found += len({h.global_id for h in hub.search(q, 10, None, None)} & set(brute_force(q, rows, 10)))
    assert found / 200 >= 0.95 and len(central) == 3000
    central.use_index("HNSW")  # already HNSW: a no-op, the collection stays loaded
    assert len(hub.search(unit(79, 1)[0], 5, None, ["a"])) == 5
