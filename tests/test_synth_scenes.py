"""Synthetic camera scenes: same bytes per seed, MOTChallenge ground truth true to the pixels, the CLI."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import av
import motmetrics
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.app import app
from training.synth.scenes import prepare, renumber, synth_scenes

REPO = Path(__file__).resolve().parents[1]
ARGS = {"cameras": 2, "seconds": 20.0, "fps": 3, "seed": 11, "domain": "source", "size": (96, 160)}
FRAMES = 60
FILES = {
    "scenes.json",
    "identities.json",
    "cam-0.mp4",
    "cam-1.mp4",
    "cam-0/seqinfo.ini",
    "cam-0/gt/gt.txt",
    "cam-1/seqinfo.ini",
    "cam-1/gt/gt.txt",
}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _gt(path: Path) -> np.ndarray:
    """gt.txt as an (N, 9) float array."""
    return np.loadtxt(path, delimiter=",", ndmin=2)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_scenes(tmp_path_factory.mktemp("scenes"), **ARGS).parent  # type: ignore[arg-type]


def test_layout_is_the_agreed_one(scenes: Path) -> None:
    assert set(_files(scenes)) == FILES
    index = json.loads((scenes / "scenes.json").read_text())
    assert list(index) == ["seed", "domain", "fps", "width", "height", "seconds", "cameras"]
    assert (index["seed"], index["domain"], index["fps"], index["width"], index["height"]) == (
        11,
        "source",
        3,
        160,
        96,
    )
    for i, cam in enumerate(index["cameras"]):
        assert cam == {
            "name": f"cam-{i}",
            "background": cam["background"],
            "video": f"cam-{i}.mp4",
            "sequence": f"cam-{i}",
            "start_time": "2026-01-05T08:00:00+00:00",
            "frames": FRAMES,
        }
        assert cam["background"] in {"street", "corridor", "lobby", "night"}
        info = configparser.ConfigParser()
        info.read(scenes / f"cam-{i}" / "seqinfo.ini")
        seq = info["Sequence"]
        assert (seq["name"], seq["frameRate"], seq["seqLength"]) == (f"cam-{i}", "3", str(FRAMES))
        assert (seq["imWidth"], seq["imHeight"]) == ("160", "96")


def test_same_seed_same_bytes_other_seed_other_bytes(scenes: Path, tmp_path: Path) -> None:
    """Rendered again in a fresh process whose heap is pre-filled (MALLOC_PERTURB_): uninitialised memory
    read anywhere (libx264's SIMD code did, with its macroblock tree on) would change the videos."""
    again = tmp_path / "again"
    code = f"from training.synth.scenes import synth_scenes; synth_scenes({str(again)!r}, **{ARGS!r})"
    env = {**os.environ, "MALLOC_PERTURB_": "165", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path, timeout=120)
    assert _files(again) == _files(scenes)  # the videos too: one encoder thread, fixed options
    other = synth_scenes(tmp_path / "other", **{**ARGS, "seed": 12}).parent  # type: ignore[arg-type]
    a, b = _files(scenes), _files(other)
    assert a["cam-0.mp4"] != b["cam-0.mp4"] and a["cam-0/gt/gt.txt"] != b["cam-0/gt/gt.txt"]


@pytest.mark.filterwarnings("ignore:Operation with tuple is deprecated")  # inside motmetrics' loader
def test_gt_is_motchallenge_and_inside_the_frame(scenes: Path) -> None:
    ids = {int(k) for k in json.loads((scenes / "identities.json").read_text())}
    for cam in (0, 1):
        path = scenes / f"cam-{cam}" / "gt" / "gt.txt"
        gt = _gt(path)
        loaded = motmetrics.io.loadtxt(str(path), fmt="mot15-2D")
        assert len(loaded) == len(gt) > 20
        assert loaded.index.is_unique  # one row per person per frame
        frame, pid, x, y, w, h, conf, cls, vis = gt.T
        assert frame.min() >= 1 and frame.max() <= FRAMES and set(pid.astype(int)) <= ids
        assert (conf == 1).all() and (cls == 1).all() and (vis > 0).all() and (vis <= 1).all()
        assert (w >= 1).all() and (h >= 1).all()
        assert (x >= 1).all() and (y >= 1).all()  # 1-based, as MOTChallenge
        assert (x - 1 + w <= 160).all() and (y - 1 + h <= 96).all()
        assert (vis < 1).any()  # props, other people and the frame edges hide some of the time


def test_farther_people_are_smaller_and_higher(scenes: Path) -> None:
    gt = np.concatenate([_gt(scenes / f"cam-{c}" / "gt" / "gt.txt") for c in (0, 1)])
    whole = gt[(gt[:, 8] == 1) & (gt[:, 3] > 1) & (gt[:, 3] + gt[:, 5] - 1 < 96)]
    assert len(whole) > 20
    assert np.corrcoef(whole[:, 3] + whole[:, 5], whole[:, 5])[0, 1] > 0.8  # feet lower -> taller


def test_identities_cross_cameras_and_spans_match_gt(scenes: Path) -> None:
    identities = json.loads((scenes / "identities.json").read_text())
    gts = {f"cam-{c}": _gt(scenes / f"cam-{c}" / "gt" / "gt.txt") for c in (0, 1)}
    start = datetime.fromisoformat("2026-01-05T08:00:00+00:00")
    crossed = 0
    assert list(identities) == [str(i) for i in range(1, len(identities) + 1)]
    for key, person in identities.items():
        assert len(person["captions"]) == 3 and person["attributes"]["upper_type"] in person["captions"][0]
        spans = person["appearances"]
        for cam, gt in gts.items():
            frames = set(gt[gt[:, 1] == int(key), 0].astype(int))
            mine = [s for s in spans if s["camera"] == cam]
            covered = {f for s in mine for f in range(s["first_frame"], s["last_frame"] + 1)}
            assert (
                frames <= covered
                and {s["first_frame"] for s in mine} | {s["last_frame"] for s in mine} <= frames
            )
        for s in spans:
            assert datetime.fromisoformat(s["start"]) == start + timedelta(seconds=(s["first_frame"] - 1) / 3)
            assert datetime.fromisoformat(s["end"]) == start + timedelta(seconds=(s["last_frame"] - 1) / 3)
        on0 = [s for s in spans if s["camera"] == "cam-0"]
        on1 = [s for s in spans if s["camera"] == "cam-1"]
        crossed += any(
            a["last_frame"] < b["first_frame"] or b["last_frame"] < a["first_frame"] for a in on0 for b in on1
        )
    assert crossed >= 1  # someone left one camera and showed up on the other later


def test_video_decodes_to_the_stated_frames(scenes: Path) -> None:
    for cam in (0, 1):
        with av.open(str(scenes / f"cam-{cam}.mp4")) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264" and stream.average_rate == 3
            assert (stream.width, stream.height, stream.codec_context.pix_fmt) == (160, 96, "yuv420p")
            created = container.metadata["creation_time"].replace("Z", "+00:00")
            assert datetime.fromisoformat(created) == datetime.fromisoformat("2026-01-05T08:00:00+00:00")
            assert sum(1 for _ in container.decode(video=0)) == FRAMES


def test_decoded_people_differ_from_the_background(scenes: Path) -> None:
    """Inside a fully visible box the decoded video is far from the empty scene; outside boxes it is close."""
    s = prepare(**ARGS)  # type: ignore[arg-type]
    gt = _gt(scenes / "cam-0" / "gt" / "gt.txt")
    background = s.cameras[0].background.astype(np.float32)
    with av.open(str(scenes / "cam-0.mp4")) as container:
        decoded = [f.to_ndarray(format="rgb24").astype(np.float32) for f in container.decode(video=0)]
    checked = 0
    for frame, _, x, y, w, h, _, _, vis in gt:
        if vis < 1 or w * h < 60:
            continue
        x0, y0 = int(x) - 1, int(y) - 1
        diff = np.abs(decoded[int(frame) - 1] - background).sum(axis=2)
        inside = diff[y0 : y0 + int(h), x0 : x0 + int(w)].mean()
        empty = np.ones(diff.shape, bool)
        for row in gt[gt[:, 0] == frame]:
            empty[int(row[3]) - 1 : int(row[3] + row[5]) + 1, int(row[2]) - 1 : int(row[2] + row[4]) + 1] = (
                False
            )
        assert inside > 20 and inside > 4 * diff[empty].mean(), (frame, inside, diff[empty].mean())
        checked += 1
    assert checked >= 10


def _apart(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int = 3) -> bool:
    """Two (x, y, w, h) boxes at least `gap` pixels apart."""
    return (
        a[0] >= b[0] + b[2] + gap
        or b[0] >= a[0] + a[2] + gap
        or a[1] >= b[1] + b[3] + gap
        or b[1] >= a[1] + a[3] + gap
    )


def test_rendered_rows_are_the_gt_and_boxes_are_tight(scenes: Path) -> None:
    """Every pixel a lone, fully visible person changed lies in its box, and the changes reach each edge."""
    s = prepare(**ARGS)  # type: ignore[arg-type]
    rendered = [list(s.render(cam)) for cam in (0, 1)]
    new = renumber([[rows for _, rows in frames] for frames in rendered])
    checked = exact = 0
    for cam, frames in enumerate(rendered):
        background = s.cameras[cam].background
        props = [(p.x0, p.y0, p.mask.shape[1], p.mask.shape[0]) for p in s.cameras[cam].props]
        written = _gt(scenes / f"cam-{cam}" / "gt" / "gt.txt")
        for k, (frame, rows) in enumerate(frames, start=1):
            expected = sorted((new[r.pid], r.box[0] + 1, r.box[1] + 1, r.box[2], r.box[3]) for r in rows)
            assert expected == sorted(tuple(int(v) for v in row[1:6]) for row in written[written[:, 0] == k])
            for r in rows:
                x, y, w, h = r.box
                near = [o.box for o in rows if o is not r] + props
                if r.visibility < 1 or not all(_apart(r.box, o) for o in near):
                    continue
                if x < 3 or y < 3 or x + w > 157 or y + h > 93:
                    continue
                window = (
                    frame[y - 3 : y + h + 3, x - 3 : x + w + 3]
                    != background[y - 3 : y + h + 3, x - 3 : x + w + 3]
                )
                on_rows, on_cols = (
                    np.nonzero(window.any(axis=(1, 2)))[0],
                    np.nonzero(window.any(axis=(0, 2)))[0],
                )
                assert on_rows[0] >= 3 and on_rows[-1] <= h + 2 and on_cols[0] >= 3 and on_cols[-1] <= w + 2
                edges = (on_rows[0] - 3, h + 2 - on_rows[-1], on_cols[0] - 3, w + 2 - on_cols[-1])
                assert max(edges) <= 1  # a faint edge pixel may blend to the background's colour
                exact += max(edges) == 0
                checked += 1
    assert checked >= 10 and exact >= 0.8 * checked


def test_cli_writes_only_where_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "scenes"
    args = ["synth-scenes", "--out", str(out), "--cameras", "2", "--seconds", "2", "--fps", "2"]
    result = CliRunner().invoke(app, [*args, "--width", "96", "--height", "64", "--domain", "target"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["scenes"] and set(_files(out)) == FILES
    assert json.loads((out / "scenes.json").read_text())["domain"] == "target"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--cameras", "0", "cameras must be at least 1"),
        ("--seconds", "-1", "seconds must be positive"),
        ("--fps", "0", "fps must be at least 1"),
        ("--width", "161", "must be even"),
    ],
)
def test_cli_rejects_bad_arguments(tmp_path: Path, flag: str, value: str, message: str) -> None:
    result = CliRunner().invoke(app, ["synth-scenes", "--out", str(tmp_path / "x"), flag, value])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x").exists()
