"""The purge SIGKILLed mid-batch in a child process: the next open and run leave no orphans anywhere
(files, rows, vectors, the fleet hub on a real Milvus Lite server) and finish the job."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from privacy_helpers import ago, drain, files_on_disk, hub, open_gallery, outbox_deletes, unit
from service_live import crop_bytes

from index import Gallery, ItemMeta, TrackRef
from index.fleet.lite_server import LiteServer
from index.purge import Purger
from index.retention import RetentionPolicy

SITE = "crash-purge"
POLICY_S = 3600.0
# The child purges with batches of 25 and reports every file it unlinks, pausing after each so that a
# kill lands between a batch's commit and the end of its unlinks.
CHILD = r"""
import sys, time
from pathlib import Path
from index import Gallery
from index.purge import Purger
from index.retention import RetentionPolicy

gallery = Gallery.open(Path(sys.argv[1]), "privacy-model", 16, use_gpu=False, site_id=sys.argv[2])
remove = gallery.images.remove
def reported(path):
    print("UNLINK", path, flush=True)
    remove(path)
    time.sleep(0.003)
gallery.images.remove = reported
print("START", flush=True)
Purger(gallery, RetentionPolicy(default_s=float(sys.argv[3])), batch=25).run_once()
print("DONE", flush=True)
"""


def populate(data: Path, n: int = 300) -> tuple[set[int], set[int]]:
    """Camera crops in pairs sharing an evidence frame, two in three pairs expired -> (expired, fresh)."""
    images, metas, frames, old = [], [], [], []
    for pair in range(n // 2):
        frame = crop_bytes(10_000 + pair, "JPEG", (60, 96))
        for j in range(2):
            stale = pair % 3 != 0 or j == 0  # every third pair straddles: one expired, one fresh
            when = ago(2 * POLICY_S if stale else 10)
            ref = TrackRef(f"cam|{pair}|{j}", when, when)
            images.append(crop_bytes(20_000 + 2 * pair + j))
            metas.append(ItemMeta(camera="cam", captured_at=when, track=ref, box=(1, 1, 9, 20)))
            frames.append(frame)
            old.append(stale)
    with open_gallery(data, site=SITE) as g:
        results = g.add(images, unit(7, len(images)), metas, frames)
    pairs = list(zip((r.id for r in results), old, strict=True))
    return {i for i, s in pairs if s}, {i for i, s in pairs if not s}


def kill_mid_purge(data: Path, mode: str, rng: random.Random) -> list[str]:
    """Run the child and SIGKILL it mid-purge -> the lines it printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), SITE, str(POLICY_S)], stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    at = rng.randint(3, 60)
    started = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line.strip())
            if line.startswith("START"):
                started.set()
            unlinked = sum(entry.startswith("UNLINK") for entry in lines)
            if mode == "after an unlink" and unlinked >= at:
                child.send_signal(signal.SIGKILL)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(60), "the child never started"
    if mode == "at a random moment":
        time.sleep(rng.uniform(0.0, 0.5))
        child.send_signal(signal.SIGKILL)
    child.wait(60)
    reader.join(10)
    assert "DONE" not in lines, "the purge finished before the kill; nothing was tested"
    return lines


def assert_whole(gallery: Gallery, data: Path) -> None:
    """No file without a row, no row without its files, the vectors equal to the rows."""
    assert files_on_disk(data) == gallery.records.image_paths()
    rows = set(gallery.records.ids().tolist())
    assert set(gallery.index.store.ids().tolist()) == rows and len(gallery) == len(rows)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["after an unlink", "at a random moment"])
def test_a_killed_purge_resumes_with_no_orphans(tmp_path: Path, milvus: LiteServer, mode: str) -> None:
    rng = random.Random(mode)
    data = tmp_path / "gallery"
    expired, fresh = populate(data)
    with open_gallery(data, site=SITE) as g:
        drain(g, milvus.uri, SITE)
    central = hub(milvus.uri)
    assert set(central.site_ids(SITE).tolist()) == expired | fresh

    for _ in range(2):
        lines = kill_mid_purge(data, mode, rng)
        if mode == "after an unlink":
            assert any(line.startswith("UNLINK") for line in lines)
        with open_gallery(data, site=SITE) as g:  # alone: files of committed batches are swept
            assert_whole(g, data)
            gone = (expired | fresh) - set(g.records.ids().tolist())
            assert gone <= expired and outbox_deletes(g) >= gone  # each removed row queued its delete

    with open_gallery(data, site=SITE) as g:
        run = Purger(g, RetentionPolicy(default_s=POLICY_S)).run_once()
        assert run.missing_files == [] and set(g.records.ids().tolist()) == fresh
        assert_whole(g, data)
        assert all(g.frame_file(i) is not None for i in fresh)  # frames shared with expired crops stayed
        assert outbox_deletes(g) == expired
        drain(g, milvus.uri, SITE)
    assert set(central.site_ids(SITE).tolist()) == fresh
