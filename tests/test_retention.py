"""Retention on a real gallery (SQLite, FAISS or a Milvus Lite collection): what expires goes with
everything derived from it, in batches; holds keep items until released; damage is reported and removed."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from privacy_helpers import DIM, MODEL, Opener, add, ago, files_on_disk, open_gallery, outbox_deletes, unit
from service_live import crop_bytes

from alerts.delivery import TABLE
from alerts.schema import ensure
from alerts.scoring import Crop
from alerts.store import AlertStore, forget_items
from alerts.watchlists import QueryKind, WatchlistSpec, WatchlistStore
from index import ItemMeta
from index.errors import HeldError, UnknownIdsError
from index.fleet.lite_server import LiteServer
from index.holds import Holds
from index.milvus_store import MilvusStore
from index.outbox import Queue
from index.purge import Purger
from index.records import DB_FILE
from index.removal import OnHold
from index.retention import RetentionPolicy

_names = itertools.count()
POLICY = RetentionPolicy(default_s=3600, cameras={"gate": 60, "lobby": None})


@pytest.fixture(params=["faiss", "milvus"])
def store(request: pytest.FixtureRequest) -> Opener | None:
    """The vector store under test: FAISS (the gallery's own) or a fresh Milvus Lite collection."""
    if request.param == "faiss":
        return None
    server: LiteServer = request.getfixturevalue("milvus")
    name = f"retention_{next(_names)}"
    return lambda model_id, dim: MilvusStore.open(server.uri, model_id, dim, collection=name)


def test_expired_items_go_with_their_vectors_files_tracks_and_fleet_rows(
    tmp_path: Path, store: Opener | None
) -> None:
    shared, alone = crop_bytes(1, "JPEG", (90, 160)), crop_bytes(2, "JPEG", (90, 160))
    removed: list[int] = []
    with open_gallery(tmp_path, store, site="ret-site") as g:
        g.dependents.append(lambda conn, ids: removed.extend(ids))
        old_upload = add(g, captured=ago(7200))
        fresh_upload = add(g)  # no capture time: its age runs from now, when it was stored
        gate_old = add(g, "gate", ago(120), track="gate|1", frame=shared)
        gate_old2 = add(g, "gate", ago(110), track="gate|1", frame=alone)
        gate_new = add(g, "gate", ago(10), track="gate|2", frame=shared)  # shares the frame: it stays
        lobby_old = add(g, "lobby", ago(30 * 86400))  # lobby keeps for ever
        yard_old = add(g, "yard", ago(7200))  # unlisted camera: the default
        expired = {old_upload, gate_old, gate_old2, yard_old}
        kept = {fresh_upload, gate_new, lobby_old}
        frame_of = {i: g.frame_file(i) for i in (gate_old, gate_old2)}
        vectors = {i: g.vector(i) for i in expired}

        run = Purger(g, POLICY, batch=2).run_once()

        assert (run.purged, run.batches) == (4, 2) and sorted(removed) == sorted(expired)
        assert {i.id for i in g.list(0, 100)} == kept and len(g) == 3
        assert set(g.index.store.ids().tolist()) == kept
        for item_id, vector in vectors.items():
            assert g.get(item_id) is None
            assert {h.item.id for h in g.search(vector, 10)} <= kept
        assert files_on_disk(tmp_path) == g.records.image_paths()  # no file without a row
        assert frame_of[gate_old] == g.frame_file(gate_new) and frame_of[gate_old].is_file()  # type: ignore[union-attr]
        assert not frame_of[gate_old2].exists()  # type: ignore[union-attr]
        assert g.track_id("gate|1") is None and g.track_id("gate|2") is not None
        assert outbox_deletes(g) == expired

        later = Purger(g, POLICY, clock=lambda: time.time() + 7200).run_once()  # two hours on
        assert later.purged == 2 and {i.id for i in g.list(0, 100)} == {lobby_old}
    with open_gallery(tmp_path, store) as g:  # reopened: the store agrees with SQLite
        assert set(g.index.store.ids().tolist()) == {lobby_old} and len(g) == 1


def test_the_purge_works_in_batches_and_reports_each(tmp_path: Path) -> None:
    seen: list[tuple[str, list[int]]] = []
    with open_gallery(tmp_path) as g:
        old = [add(g, captured=ago(100 + i)) for i in range(23)]
        young = add(g, captured=ago(1))
        purger = Purger(
            g, RetentionPolicy(default_s=50), batch=5, on_removed=lambda w, r: seen.append((w, r.ids))
        )
        run = purger.run_once()
        assert (run.purged, run.batches) == (23, 5) and purger.purged == 23
        assert [len(ids) for _, ids in seen] == [5, 5, 5, 5, 3] and {w for w, _ in seen} == {"retention"}
        assert seen[0][1] == sorted(old)[-5:]  # the oldest first: the last added were captured earliest
        assert [i.id for i in g.list()] == [young]
        assert Purger(g, RetentionPolicy(default_s=50)).run_once().purged == 0


def test_holds_keep_items_past_retention_until_released(tmp_path: Path) -> None:
    policy = RetentionPolicy(default_s=60)
    with open_gallery(tmp_path) as g:
        holds = Holds(g.records)
        upload = add(g, captured=ago(3600))
        crops = [add(g, "hall", ago(3600), track="hall|7") for _ in range(2)]
        free = add(g, captured=ago(3600))
        track = g.track_id("hall|7")
        assert track is not None
        on_item = holds.place([upload], [], "case 1", "key:abc")
        on_track = holds.place([], [track], "case 2", "anonymous")
        late = add(g, "hall", ago(3600), track="hall|7")  # stored after the hold: the hold covers it too
        with pytest.raises(UnknownIdsError, match="tracks"):
            holds.place([upload], [track, 999], "case 3", "anonymous")
        assert len(holds.list()) == 2 and holds.covered() == 4

        assert Purger(g, policy).run_once().purged == 1 and g.get(free) is None
        assert {i.id for i in g.list()} == {upload, *crops, late}
        with pytest.raises(HeldError) as refused:
            g.remove([upload, crops[0]], OnHold.REFUSE)
        assert refused.value.ids == [upload, crops[0]] and len(g) == 4
        assert refused.value.holds == {on_item.id: [upload], on_track.id: [crops[0]]}
        assert f"hold {on_track.id} covers items [{crops[0]}]" in str(refused.value)
        with pytest.raises(HeldError):
            g.delete(late)

        released = holds.release(on_item.id, "key:def")
        assert released is not None and released[1] and released[0].released_by == "key:def"
        assert holds.release(on_item.id, "key:def") == (holds.get(on_item.id), False)
        assert Purger(g, policy).run_once().purged == 1 and g.get(upload) is None
        holds.release(on_track.id, "anonymous")
        assert Purger(g, policy).run_once().purged == 3 and len(g) == 0
        assert g.track_id("hall|7") is None
        assert [h.id for h in holds.list(include_released=True)] == [on_track.id, on_item.id]
        assert holds.list() == [] and on_track.items == () and on_track.tracks == (track,)


def test_alerts_go_with_the_crops_they_were_raised_on(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g:
        ensure(g.records)
        g.dependents.append(forget_items)
        old, young = add(g, captured=ago(3600)), add(g, captured=ago(1))
        spec = WatchlistSpec("w", QueryKind.DESCRIPTION, unit(1)[0], MODEL, 0.5, text="a red coat")
        watchlist = WatchlistStore(g.records, DIM).add(spec)
        alerts = AlertStore(g.records)
        with g.records.write() as conn:
            for item in (old, young):
                alert_id = alerts.insert(
                    conn, watchlist, Crop(item, None, None, None, None, False), (0.5, None, 0.2)
                )
                Queue(g.records, TABLE, ("alert_id",), ("sink", "mqtt")).put(conn, [(alert_id,)])
        Purger(g, RetentionPolicy(default_s=60)).run_once()
        rows = g.records.conn().execute("SELECT item_id FROM alerts").fetchall()
        queued = g.records.conn().execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]
        assert rows == [(young,)] and queued == 1


def test_the_first_run_reports_and_removes_rows_whose_files_are_gone(tmp_path: Path) -> None:
    seen: list[tuple[str, list[int]]] = []
    with open_gallery(tmp_path, site="damaged") as g:
        lost, kept = add(g), add(g)
        framed = add(g, "gate", ago(5), track="gate|1", frame=crop_bytes(3, "JPEG", (90, 160)))
        image, frame = g.image_file(lost), g.frame_file(framed)
        assert image is not None and frame is not None
        image.unlink()
        frame.unlink()
        purger = Purger(g, RetentionPolicy(), on_removed=lambda w, r: seen.append((w, r.ids)))
        run = purger.run_once()
        assert (run.missing_files, run.frames_cleared) == ([lost], [framed]) and seen == [
            ("missing_file", [lost])
        ]
        assert g.get(lost) is None and lost not in g.index.store.ids() and outbox_deletes(g) == {lost}
        assert g.frame_file(framed) is None and g.get(framed) is not None and g.get(kept) is not None
        assert purger.run_once().missing_files == []  # checked once per start


def test_a_gallery_from_before_retention_gets_its_created_ts(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g:
        item = add(g)
        created = g.get(item).created_at.timestamp()  # type: ignore[union-attr]
    conn = sqlite3.connect(tmp_path / DB_FILE)
    conn.execute("DROP INDEX items_age")
    conn.execute("ALTER TABLE items DROP COLUMN created_ts")
    conn.commit()
    conn.close()
    with open_gallery(tmp_path) as g:
        (stored,) = g.records.conn().execute("SELECT created_ts FROM items").fetchone()
        assert stored == pytest.approx(created, abs=0.01)
        assert Purger(g, RetentionPolicy(default_s=1), clock=lambda: created + 2).run_once().purged == 1


def test_status_says_how_old_the_oldest_item_is_and_when_the_next_purge_runs(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g:
        oldest = add(g, "lobby", ago(7200))
        add(g)
        idle = Purger(g, POLICY)
        assert idle.status()["next_purge_at"] is None and idle.status()["oldest_item_id"] == oldest
        keeper = Purger(g, RetentionPolicy(cameras={"lobby": None}))
        keeper.start()  # a policy that keeps everything never runs
        assert keeper.status()["next_purge_at"] is None and keeper.last is None
        purger = Purger(g, POLICY, interval_s=600)
        purger.start()
        try:
            deadline = time.monotonic() + 10
            while purger.last is None and time.monotonic() < deadline:
                time.sleep(0.02)
            status = purger.status()
        finally:
            purger.stop()
        assert status["oldest_item_age_s"] == pytest.approx(7200, abs=30)
        assert 590 < status["next_purge_in_s"] <= 600 and status["last_purge"]["purged"] == 0
        assert status["cameras_s"] == {"gate": 60, "lobby": None} and status["holds"] == 0


def test_a_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="gate"):
        RetentionPolicy(default_s=10, cameras={"gate": 0})
    with pytest.raises(ValueError, match="default"):
        RetentionPolicy(default_s=-1)


def test_searches_during_a_purge_never_see_half_an_item(tmp_path: Path, store: Opener | None) -> None:
    k = 10
    with open_gallery(tmp_path, store) as g:
        images = [crop_bytes(5000 + i) for i in range(300)]
        metas = [ItemMeta(captured_at=ago(7200)) for _ in images]
        g.add(images, unit(77, len(images)), metas)
        fresh = {add(g) for _ in range(k)}  # never expire: a search always has k live items to return
        short: list[int] = []
        done = threading.Event()

        def search() -> None:
            queries = unit(78, 64)
            while not done.is_set():
                for q in queries:
                    hits = g.search(q, k)
                    if len(hits) != k:
                        short.append(len(hits))

        searcher = threading.Thread(target=search)
        searcher.start()
        try:
            run = Purger(g, RetentionPolicy(default_s=3600), batch=7).run_once()
        finally:
            done.set()
            searcher.join(30)
        assert run.purged == 300 and run.batches == 43 and {i.id for i in g.list()} == fresh
        assert short == []  # rows and vectors always went together
