"""The background writer: rows are queued and committed in order, a full queue refuses (503) rather than
drops, details must be plain JSON (no crops, no embeddings), and a killed process leaves a valid chain."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from index.audit_log import AUDIT_FILE, AuditLog, AuditQuery
from service.audit import AuditTrail, audit_path
from service.errors import ApiError
from service.keys import Actor
from service.settings import Settings

REPO = Path(__file__).resolve().parents[1]
ALICE = Actor("alice", "10.0.0.7")


def test_rows_arrive_in_order_and_a_stop_writes_what_is_queued(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / AUDIT_FILE, queue_size=100)
    trail.record("search", ALICE, {"text": "before the writer started"})  # queued before open: kept
    trail.open()
    for n in range(50):
        trail.record("search", ALICE, {"n": n})
    trail.stop()
    log = AuditLog(tmp_path / AUDIT_FILE, create=False)
    rows = log.find(AuditQuery(limit=1000))
    assert [json.loads(r.entry.details).get("n") for r in rows] == [None, *range(50)]
    assert {(r.entry.actor, r.entry.address) for r in rows} == {("alice", "10.0.0.7")}
    assert [r.entry.at for r in rows] == sorted(r.entry.at for r in rows)
    assert log.verify().ok and trail.status()["written"] == 51
    log.close()


def test_a_full_queue_answers_503_and_loses_nothing(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / AUDIT_FILE, queue_size=2)  # not open yet: nothing drains the queue
    trail.record("search", ALICE, {"n": 1})
    trail.record("search", ALICE, {"n": 2})
    with pytest.raises(ApiError) as refused:
        trail.record("search", ALICE, {"n": 3})
    assert refused.value.status_code == 503 and "audit" in refused.value.message
    trail.open()
    assert trail.flush(10)
    assert trail.status()["written"] == 2 and trail.status()["backlog"] == 0
    trail.stop()


def test_details_must_be_plain_json(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / AUDIT_FILE, queue_size=10)
    crop_b64 = base64.b64encode(bytes(range(256)) * 40).decode()  # a ~14 KB crop as text
    refused = {
        "plain JSON": [b"\xff\xd8 jpeg bytes", np.zeros(4, np.float32), float("nan"), np.float32(0.5)],
        "no floats": [[0.1] * 512, {"vector": [0.25, -0.5]}],  # an embedding, bare or wrapped
        "at most 10000": [crop_b64],
        "nested deeper": [{"a": {"b": {"c": {"d": 1}}}}],
    }
    for reason, values in refused.items():
        for bad in values:
            with pytest.raises(TypeError, match=reason):
                trail.record("search", ALICE, {"value": bad})
    assert trail.status()["backlog"] == 0
    ok = {"text": "red coat", "filters": {"metadata": {"zone": "north"}}, "items": [1, 2], "score": 0.3}
    trail.record("search", ALICE, ok)
    assert trail.status()["backlog"] == 1


def test_where_the_trail_lives(tmp_path: Path) -> None:
    assert audit_path(Settings(index={"data_dir": tmp_path})) == tmp_path / AUDIT_FILE
    assert audit_path(Settings(index={"data_dir": tmp_path}, audit={"file": tmp_path / "x.db"})) == (
        tmp_path / "x.db"
    )
    assert audit_path(Settings(index={"data_dir": tmp_path}, audit={"enabled": False})) is None
    assert audit_path(Settings()) is None
    AuditTrail(None, 1).record("search", ALICE, {"ignored": True})  # off: recording does nothing


WRITER = """
import sys, time
from pathlib import Path
from service.audit import AuditTrail
from service.keys import Actor
trail = AuditTrail(Path(sys.argv[1]), queue_size=100_000)
trail.open()
n = 0
while True:
    trail.record("search", Actor("alice", None), {"n": n})
    n += 1
    if n == 200:
        print("writing", flush=True)
    if n % 50 == 0:
        time.sleep(0.001)
"""


def test_a_killed_writer_leaves_a_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / AUDIT_FILE
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    log = AuditLog(path, create=False)
    verdict = log.verify()
    assert verdict.ok and verdict.rows > 200, verdict
    numbers = [json.loads(r.entry.details)["n"] for r in log.rows()]
    assert numbers == list(range(len(numbers)))  # a prefix of what was recorded: no gap, no reordering
    log.close()
