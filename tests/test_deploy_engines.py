"""The Jetson side of the entrypoint: engine keys per tower batch, builds on first start, rebuilds when the
key changes, and a failing build that backs off (recorded on the engines volume) instead of crash-looping.
TensorRT and pycuda are FAKES here (tests/deploy_helpers.py): nothing proves a real build works."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from deploy_helpers import calls, jetson_setup, run_entrypoint, write_fake_tensorrt

from deploy import build_retry
from deploy.__main__ import main
from deploy.plan import StartError
from engine.bundle_files import ENGINES_DIR
from engine.tensorrt.profiles import TowerBatches


@pytest.fixture
def fake_tensorrt(tmp_path: Path) -> Path:
    """Fake `tensorrt` and `pycuda` packages in a directory, for PYTHONPATH."""
    return write_fake_tensorrt(tmp_path / "fakes")


@pytest.fixture
def fake_trt_imported(fake_tensorrt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fakes importable in this process (and any real ones out of the way)."""
    monkeypatch.syspath_prepend(str(fake_tensorrt))
    for name in ("tensorrt", "pycuda", "pycuda.driver"):
        monkeypatch.delitem(sys.modules, name, raising=False)


# ---- the key ----


@pytest.mark.usefixtures("fake_trt_imported")
def test_engine_key_names_tensorrt_gpu_precision_and_each_tower_batch(micro_bundle: Path) -> None:
    from deploy import device

    key, files = device.engine_key(micro_bundle, "fp16", TowerBatches(text=32, image=16))
    assert key.startswith("trt10.3.0-orin-nvgpu-sm87-fp16-t32-i16-l")
    assert files == ["image.plan", "text.plan", "plan.json"]
    assert device.engine_key(micro_bundle, "fp16", 32)[0].startswith("trt10.3.0-orin-nvgpu-sm87-fp16-b32-l")
    assert device.engine_key(micro_bundle, "fp16", TowerBatches(32, 8))[0] != key  # another image batch


def test_no_gpu_visible_stops_with_the_runtime_hint(micro_bundle: Path) -> None:
    class FakeCudaWithoutGpu:
        """FakePyCUDA driver whose init fails as it does without the NVIDIA runtime."""

        @staticmethod
        def init() -> None:
            raise OSError("cuInit failed: no CUDA-capable device is detected")

    from deploy import device

    fake_trt = type(sys)("tensorrt")
    fake_trt.__version__ = "10.3.0.30"  # type: ignore[attr-defined]
    with pytest.raises(StartError, match="runtime nvidia"):
        device.engine_key(micro_bundle, "fp16", 8, trt=fake_trt, cuda=FakeCudaWithoutGpu)  # type: ignore[arg-type]


# ---- the entrypoint on a (fake) Jetson ----


@pytest.mark.slow
def test_entrypoint_builds_engines_once_and_rebuilds_when_the_key_changes(
    micro_bundle: Path, fake_tensorrt: Path, tmp_path: Path
) -> None:
    env, build = jetson_setup(micro_bundle, tmp_path, fake_tensorrt)
    first = run_entrypoint(tmp_path, env, fake_build=build)
    assert first.returncode == 0, first.stderr
    assert "building TensorRT engines (fp16, text batch 1..32, image batch 1..16)" in first.stderr
    made = calls(tmp_path)
    assert [c[1] for c in made] == ["build-engine", "serve"]
    flags = [
        "--precision",
        "fp16",
        "--text-max-batch",
        "32",
        "--image-max-batch",
        "16",
        "--workspace-mb",
        "1024",
    ]
    assert made[0][3:] == flags
    (model_dir,) = (tmp_path / "engines").iterdir()
    (key_dir,) = model_dir.iterdir()
    assert key_dir.name.startswith("trt10.3.0-orin-nvgpu-sm87-fp16-t32-i16")
    assert Path(made[-1][0], ENGINES_DIR).resolve() == model_dir.resolve()

    (tmp_path / "calls").unlink()
    second = run_entrypoint(tmp_path, env, fake_build=build)
    assert second.returncode == 0, second.stderr
    assert [c[1] for c in calls(tmp_path)] == ["serve"]

    (tmp_path / "calls").unlink()
    third = run_entrypoint(
        tmp_path, {**env, "PERSON_SEARCH_BATCHING__IMAGE__MAX_BATCH": "4"}, fake_build=build
    )
    assert third.returncode == 0, third.stderr
    assert [c[1] for c in calls(tmp_path)] == ["build-engine", "serve"]
    assert calls(tmp_path)[0][5:9] == ["--text-max-batch", "32", "--image-max-batch", "4"]
    names = [p.name for p in model_dir.iterdir() if p.is_dir()]
    assert len(names) == 1 and "-fp16-t32-i4-" in names[0]  # the i16 plans are pruned


@pytest.mark.slow
def test_a_failing_build_backs_off_and_retries_without_exiting(
    micro_bundle: Path, fake_tensorrt: Path, tmp_path: Path
) -> None:
    env, build = jetson_setup(micro_bundle, tmp_path, fake_tensorrt)
    (tmp_path / "fail-first").write_text("2")  # the fake build fails twice, then builds
    retry = {"DEPLOY_BUILD_RETRY_S": "0.1", "DEPLOY_BUILD_RETRY_MAX_S": "0.15"}
    done = run_entrypoint(tmp_path, {**env, **retry}, fake_build=build)
    assert done.returncode == 0, done.stderr
    assert [c[1] for c in calls(tmp_path)] == ["build-engine", "build-engine", "build-engine", "serve"]
    assert "exit status 7, failure 1 in a row); next try in 0 s" in done.stderr
    assert "failure 2 in a row" in done.stderr and "failed 2 time(s)" in done.stderr
    (model_dir,) = (tmp_path / "engines").iterdir()
    assert not (model_dir / build_retry.FAILURES_FILE).exists(), "built engines clear the record"


# ---- the record and the wait, as plain functions ----


def test_retry_delay_doubles_up_to_the_cap() -> None:
    assert [build_retry.retry_delay(n, 60, 3600) for n in range(8)] == [0, 60, 120, 240, 480, 960, 1920, 3600]
    assert build_retry.retry_delay(10_000, 60, 3600) == 3600


def test_failures_are_counted_per_key_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "engines" / build_retry.FAILURES_FILE
    build_retry.record_failure(path, "k1", 1, now=1000.0)
    second = build_retry.record_failure(path, "k1", 137, now=1100.0)
    assert (second.count, second.last_status) == (2, 137)
    assert json.loads(path.read_text())["count"] == 2  # on the volume, read by the next container
    assert build_retry.record_failure(path, "k2", 1, now=1200.0).count == 1  # a new key starts over
    assert build_retry.clear(path) and not path.exists() and not build_retry.clear(path)


def test_the_wait_is_what_remains_of_the_delay_for_that_key(tmp_path: Path) -> None:
    path = tmp_path / build_retry.FAILURES_FILE
    build_retry.record_failure(path, "k", 1, now=1000.0)
    build_retry.record_failure(path, "k", 1, now=1000.0)  # two failures: the delay is 2 x 60 s
    failures = build_retry.load(path)
    assert build_retry.remaining_wait(failures, "k", 1030.0, 60, 3600) == 90
    assert build_retry.remaining_wait(failures, "k", 1200.0, 60, 3600) == 0
    assert build_retry.remaining_wait(failures, "other", 1030.0, 60, 3600) == 0
    assert build_retry.remaining_wait(failures, "k", 0.0, 60, 3600) == 120  # clock set back: one delay
    slept: list[float] = []
    said: list[str] = []
    waited = build_retry.wait_before_build(path, "k", 60, 3600, said.append, lambda: 1030.0, slept.append)
    assert waited == 90 and slept == [90] and "failed 2 time(s)" in said[0] and "onnxruntime" in said[0]
    assert (
        build_retry.wait_before_build(path, "new", 60, 3600, said.append, lambda: 1030.0, slept.append) == 0
    )
    assert slept == [90]


def test_an_unreadable_record_does_not_block_the_build(tmp_path: Path) -> None:
    path = tmp_path / build_retry.FAILURES_FILE
    path.write_text("{not json")
    assert build_retry.load(path) is None
    assert build_retry.record_failure(path, "k", 1, now=5.0).count == 1


@pytest.mark.usefixtures("fake_trt_imported")
def test_cli_records_failures_for_the_key_and_engines_clear_them(
    micro_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy import device

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for entry in micro_bundle.iterdir():
        (bundle / entry.name).symlink_to(entry)
    args = ["--bundle", str(bundle), "--precision", "fp16", "--text-max-batch", "8", "--image-max-batch", "4"]
    assert main(["build-failed", "--status", "9", *args]) == 0
    record = build_retry.load(bundle / ENGINES_DIR / build_retry.FAILURES_FILE)
    key, files = device.engine_key(bundle, "fp16", TowerBatches(8, 4))
    assert record is not None and (record.key, record.count, record.last_status) == (key, 1, 9)
    for name in files:
        (bundle / ENGINES_DIR / key).mkdir(parents=True, exist_ok=True)
        (bundle / ENGINES_DIR / key / name).write_text("fake plan")
    capsys.readouterr()
    assert main(["engines", "--backend", "tensorrt", *args]) == 0
    assert capsys.readouterr().out.strip() == "serve"
    assert build_retry.load(bundle / ENGINES_DIR / build_retry.FAILURES_FILE) is None
