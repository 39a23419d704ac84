"""The audit trail's hash chain on a real SQLite file: rows edited, removed or inserted by hand (with the
sqlite3 module, as an intruder would) make `person-search audit verify` (run as a real process) fail
naming the first bad row."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from index.audit_chain import AuditEntry, canonical_details, row_hash
from index.audit_log import AUDIT_FILE, AuditLog, AuditQuery


def _entry(n: int, actor: str = "alice", action: str = "search") -> AuditEntry:
    at = f"2026-12-01T10:00:{n:02d}.000000+00:00"
    return AuditEntry(at, actor, "10.0.0.7", action, canonical_details({"text": f"query {n}", "count": n}))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir whose trail holds rows 1..6, written in three transactions."""
    trail = AuditLog(tmp_path / AUDIT_FILE)
    for start in (1, 3, 5):
        trail.append([_entry(start), _entry(start + 1, actor="bob", action="view.image")])
    trail.close()
    return tmp_path


def _sql(data: Path, *statements: str) -> None:
    conn = sqlite3.connect(data / AUDIT_FILE, isolation_level=None)
    for statement in statements:
        conn.execute(statement)
    conn.close()


REPO = Path(__file__).resolve().parents[1]


def _verify(data: Path) -> tuple[int, str]:
    """`person-search audit verify --data-dir DATA` in a child process -> (exit code, stdout + stderr)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "cli", "audit", "verify", "--data-dir", str(data)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=data.parent)
    return done.returncode, done.stdout + done.stderr


def test_an_untouched_trail_verifies_and_queries_by_actor_action_and_time(data: Path) -> None:
    code, output = _verify(data)
    assert code == 0 and output.startswith("OK: 6 rows; head row 6"), output
    trail = AuditLog(data / AUDIT_FILE, create=False)
    assert [r.id for r in trail.find(AuditQuery(actors=("bob",)))] == [2, 4, 6]
    assert [r.id for r in trail.find(AuditQuery(actions=("search",), after_id=1, limit=1))] == [3]
    window = AuditQuery(since="2026-12-01T10:00:02.000000+00:00", until="2026-12-01T10:00:04.000000+00:00")
    assert [r.id for r in trail.find(window)] == [2, 3, 4]
    assert [r.id for r in trail.find(AuditQuery(through_id=2))] == [1, 2]
    first = trail.find(AuditQuery(limit=1))[0]
    assert first.prev_hash == "0" * 64 and first.hash == row_hash(1, _entry(1), "0" * 64)
    trail.close()


def test_an_edited_row_is_named(data: Path) -> None:
    _sql(data, "UPDATE audit SET details = replace(details, 'query 3', 'query 33') WHERE id = 3")
    code, output = _verify(data)
    assert code == 1 and "first bad row: 3" in output and "changed" in output, output


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(data: Path) -> None:
    trail = AuditLog(data / AUDIT_FILE)
    row = trail.find(AuditQuery(after_id=2, limit=1))[0]
    forged = AuditEntry(row.entry.at, "mallory", row.entry.address, row.entry.action, row.entry.details)
    trail.close()
    digest = row_hash(3, forged, row.prev_hash)
    _sql(data, f"UPDATE audit SET actor = 'mallory', hash = '{digest}' WHERE id = 3")
    code, output = _verify(data)
    assert code == 1 and "first bad row: 4" in output and "does not link to row 3" in output, output


def test_a_removed_row_is_named(data: Path) -> None:
    _sql(data, "DELETE FROM audit WHERE id = 4")
    code, output = _verify(data)
    assert code == 1 and "first bad row: 5" in output and "rows 4..4 were removed" in output, output


def test_rows_cut_off_the_end_are_named(data: Path) -> None:
    _sql(data, "DELETE FROM audit WHERE id > 4")
    code, output = _verify(data)
    assert code == 1 and "first bad row: 5" in output and "removed from the end" in output, output


def test_an_inserted_row_is_named(data: Path) -> None:
    fake = _entry(9, actor="mallory")
    _sql(
        data,
        "UPDATE audit SET id = -id WHERE id >= 3",  # two steps: ids are unique at every moment
        "UPDATE audit SET id = 1 - id WHERE id < 0",
        f"INSERT INTO audit VALUES (3, '{fake.at}', 'mallory', NULL, 'search', '{fake.details}', "
        f"'{'0' * 64}', '{'f' * 64}')",
    )
    code, output = _verify(data)
    assert code == 1 and "first bad row: 3" in output, output


def test_a_well_forged_insertion_breaks_the_row_after_it(data: Path) -> None:
    fake = _entry(9, actor="mallory")
    trail = AuditLog(data / AUDIT_FILE)
    link = trail.find(AuditQuery(after_id=1, limit=1))[0].hash  # row 2's hash: the forger links to it
    trail.close()
    _sql(
        data,
        "UPDATE audit SET id = -id WHERE id >= 3",
        "UPDATE audit SET id = 1 - id WHERE id < 0",
        f"INSERT INTO audit VALUES (3, '{fake.at}', 'mallory', '10.0.0.7', 'search', '{fake.details}', "
        f"'{link}', '{row_hash(3, fake, link)}')",
    )
    code, output = _verify(data)
    assert code == 1 and "first bad row: 4" in output and "changed" in output, output  # old 3, now 4


def test_rows_past_the_head_are_reported(data: Path) -> None:
    trail = AuditLog(data / AUDIT_FILE)
    last = trail.find(AuditQuery(after_id=5))[0]
    extra = _entry(7)
    _sql(
        data,
        f"INSERT INTO audit VALUES (7, '{extra.at}', 'alice', '10.0.0.7', 'search', '{extra.details}', "
        f"'{last.hash}', '{row_hash(7, extra, last.hash)}')",
    )
    trail.close()
    code, output = _verify(data)
    assert code == 0 and "note: rows 7..7 came after the head file's last update" in output, output


def test_a_missing_head_or_trail_fails(data: Path, tmp_path: Path) -> None:
    (data / f"{AUDIT_FILE}.head").unlink()
    code, output = _verify(data)
    assert code == 1 and "head file is missing" in output
    code, output = _verify(tmp_path / "nowhere")
    assert code == 2 and "no audit trail" in output
    assert not (tmp_path / "nowhere" / AUDIT_FILE).exists()  # verifying never creates a trail


def test_two_writers_on_one_file_keep_one_chain(tmp_path: Path) -> None:
    first, second = AuditLog(tmp_path / AUDIT_FILE), AuditLog(tmp_path / AUDIT_FILE)
    for n in range(10):
        (first if n % 2 else second).append([_entry(n)])
    assert first.verify().ok and first.verify().rows == 10
    first.close()
    second.close()
