"""TensorRT: the pure rules (versions, opsets, profiles, keys, buffers, FP32 pins) for real, and the builder
and runtime against FAKE tensorrt and pycuda modules (tests/fakes). Nothing here proves TensorRT works.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.fake_pycuda import FakePycudaDriver
from fakes.fake_tensorrt import FakeTensorRT
from PIL import Image, UnidentifiedImageError

from engine import Precision, load_encoder
from engine.backends.tensorrt_backend import TensorRTEncoder, device_index, load_tensorrt_encoder
from engine.bundle_files import ENGINES_DIR, bundle_vocab
from engine.graph_io import Tower, onnx_path
from engine.spec import ModelSpec
from engine.tensorrt.buffers import buffer_nbytes, host_view
from engine.tensorrt.build import (
    BuildOptions,
    build_engines,
    build_plan,
    fp32_layer_indices,
    tower_precision,
)
from engine.tensorrt.calibrator import make_entropy_calibrator
from engine.tensorrt.keys import DeviceInfo, PlanMeta, choose_plan, engine_key, slug
from engine.tensorrt.profiles import Profile, TowerBatches, image_profile, text_profile, tower_profiles
from engine.tensorrt.runtime import PlanRunner, primary_context
from engine.tensorrt.versions import (
    check_opset,
    check_supported,
    import_tensorrt,
    install_hint,
    max_onnx_opset,
    network_flags,
    parse_version,
)
from engine.tokenizer import Tokenizer

TEXTS = ["a woman in a red coat and black boots", "man, grey hoodie", "a child"]
ORIN = DeviceInfo("10.3.0", "Orin", (8, 7))


# ---- pure rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "parsed", "opset"),
    [("8.6.2.3", (8, 6, 2), 17), ("10.3.0", (10, 3, 0), 20), ("10.7", (10, 7, 0), 20)],
)
def test_supported_versions_and_their_opsets(version: str, parsed: tuple[int, int, int], opset: int) -> None:
    assert parse_version(version) == check_supported(version) == parsed
    assert max_onnx_opset(version) == opset


@pytest.mark.parametrize("version", ["8.5.3", "7.1.3", "11.0.0"])
def test_unsupported_versions_are_refused(version: str) -> None:
    with pytest.raises(RuntimeError, match=r"supports TensorRT 8\.6 .* 10\.x"):
        check_supported(version)


def test_tensorrt_86_refuses_opset_18_naming_the_fix() -> None:
    check_opset(17, "8.6.2", "text.onnx")
    check_opset(18, "10.3.0", "text.onnx")
    with pytest.raises(RuntimeError, match=r"opset 18 .* up to 17.*JetPack 6\.1.*--opset 17"):
        check_opset(18, "8.6.2", "text.onnx")


def test_network_flags_differ_between_8_and_10() -> None:
    cuda = FakePycudaDriver()
    assert network_flags(FakeTensorRT("8.6.1", cuda), "8.6.1") == 1
    assert network_flags(FakeTensorRT("10.3.0", cuda), "10.3.0") == 0


def test_profiles_cover_dynamic_batch_and_length() -> None:
    image = image_profile((384, 128), 32)
    assert (image.min, image.opt, image.max) == ((1, 3, 384, 128), (32, 3, 384, 128), (32, 3, 384, 128))
    text = text_profile(77, 16)
    assert (text.input_name, text.min, text.opt, text.max) == ("ids", (1, 1), (1, 24), (16, 77))
    assert text_profile(10, 4).opt == (1, 10)
    text.check((3, 40))
    with pytest.raises(ValueError, match=r"outside the plan's \(1, 1\)\.\.\(16, 77\)"):
        text.check((1, 78))
    with pytest.raises(ValueError, match="min <= opt <= max"):
        Profile("ids", (1, 1), (8, 1), (4, 77))


def test_engine_key_names_version_gpu_precision_and_profile() -> None:
    assert slug("NVIDIA Jetson AGX Orin (nvgpu)") == "nvidia-jetson-agx-orin-nvgpu"
    assert engine_key(ORIN, Precision.FP16, 32, 77) == "trt10.3.0-orin-sm87-fp16-b32-l77"


def _meta(**changes: Any) -> PlanMeta:
    fields = dict(key="k", trt_version="10.3.0", gpu_name="Orin", compute_capability=(8, 7),
                  precision=Precision.FP16, tower_precisions={}, max_batch=32, context_length=77,
                  image_size=(384, 128), model_id="m1", onnx_opsets={})  # fmt: skip
    fields.update(changes)
    fields["key"] = "-".join(str(v) for v in changes.values()) or "base"
    return PlanMeta(**fields)


def test_choose_plan_prefers_the_smallest_big_enough_batch() -> None:
    plans = [_meta(max_batch=8), _meta(max_batch=64), _meta(max_batch=32)]
    assert choose_plan(plans, ORIN, Precision.FP16, 16, "m1").max_batch == 32
    assert choose_plan(plans, ORIN, Precision.FP16, 128, "m1").max_batch == 64


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"trt_version": "10.0.1"}, "built with TensorRT 10.0.1, this is 10.3.0"),
        (
            {"gpu_name": "NVIDIA A100", "compute_capability": (8, 0)},
            "built on NVIDIA A100 sm80, this is Orin sm87",
        ),
        ({"model_id": "old"}, "built from model old, the bundle holds m1"),
        ({"precision": Precision.INT8}, "precision int8, asked for fp16"),
    ],
)
def test_a_plan_for_another_device_version_or_model_is_never_chosen(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(FileNotFoundError, match="build-engine BUNDLE --precision fp16") as info:
        choose_plan([_meta(**changes)], ORIN, Precision.FP16, 32, "m1")
    assert reason in str(info.value)


def test_buffers_are_sized_for_the_maximum_and_viewed_per_call() -> None:
    assert buffer_nbytes((32, 3, 384, 128), np.float32) == 32 * 3 * 384 * 128 * 4
    assert buffer_nbytes((16, 77), np.int32) == 16 * 77 * 4
    with pytest.raises(ValueError, match="dynamic dimension"):
        buffer_nbytes((-1, 512), np.float32)
    flat = np.arange(12, dtype=np.float32)
    view = host_view(flat, (2, 3))
    view[...] = -1
    assert flat[:6].tolist() == [-1] * 6 and flat[6] == 6
    with pytest.raises(ValueError, match="holds 12"):
        host_view(flat, (4, 4))


def test_reduced_precision_pins_normalisation_and_reductions_to_fp32() -> None:
    layers = [
        ("NORMALIZATION", True),
        ("SOFTMAX", True),
        ("REDUCE", True),
        ("REDUCE", False),
        ("MATRIX_MULTIPLY", True),
    ]
    assert fp32_layer_indices(layers) == [0, 2]
    assert fp32_layer_indices(layers, fp32_softmax=True) == [0, 1, 2]
    assert tower_precision(Precision.INT8, Tower.IMAGE) == Precision.INT8
    assert tower_precision(Precision.INT8, Tower.TEXT) == Precision.FP16
    assert tower_precision(Precision.FP16, Tower.TEXT) == Precision.FP16


def test_device_index_accepts_only_cuda_devices() -> None:
    assert (device_index(None), device_index("cuda"), device_index("cuda:2")) == (0, 0, 2)
    with pytest.raises(ValueError, match="CUDA device"):
        device_index("cpu")


# ---- builder and runtime against the FAKE modules ------------------------------------------------------


@pytest.fixture
def bundle(exported_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(exported_bundle, copy)
    return copy


def _fakes(version: str = "10.3.0", gpu: str = "Fake Orin") -> tuple[FakeTensorRT, FakePycudaDriver]:
    cuda = FakePycudaDriver(gpu_name=gpu)
    return FakeTensorRT(version, cuda), cuda


def _tensorrt_encoder(
    bundle: Path, modules: tuple[FakeTensorRT, FakePycudaDriver], precision: str, max_batch: int
) -> TensorRTEncoder:
    spec = ModelSpec.load(bundle)
    tokenizer = Tokenizer(bundle_vocab(bundle), spec.context_length)
    return load_tensorrt_encoder(bundle, spec, tokenizer, Precision(precision), "cuda", max_batch, modules)


@pytest.mark.parametrize("version", ["10.3.0", "8.6.1"])
def test_fp16_build_then_run_matches_onnxruntime_through_the_fake(
    bundle: Path, version: str, person_images: list[Image.Image]
) -> None:
    trt, cuda = _fakes(version)
    meta = build_engines(bundle, Precision.FP16, 4, trt, cuda)
    assert (
        meta.key == f"trt{version}-fake-orin-sm87-fp16-b4-l24"
        and meta.directory == bundle / ENGINES_DIR / meta.key
    )
    assert {p.name for p in meta.directory.iterdir()} == {"image.plan", "text.plan", "plan.json"}
    assert (
        bundle / ENGINES_DIR / f"trt{version}-fake-orin-sm87.timing-cache"
    ).read_bytes() == b"FAKE-TIMING-CACHE"
    image_build, text_build = trt.builds
    assert {"FP16", "OBEY_PRECISION_CONSTRAINTS"} <= set(image_build["flags"]) and "INT8" not in image_build[
        "flags"
    ]
    assert any(
        "layer_norm" in name.lower() or "LayerNormalization" in name for name in text_build["fp32_layers"]
    )
    assert text_build["profile"]["ids"] == [[1, 1], [1, 24], [4, 24]]
    assert text_build["inputs"][0][1] == ("INT32" if version.startswith("8") else "INT64")

    encoder = _tensorrt_encoder(bundle, (trt, cuda), "fp16", 32)
    reference = load_encoder(bundle, "onnxruntime", device="cpu", threads=1)
    assert encoder.max_batch == 4 and encoder.describe()["plan"] == meta.key
    np.testing.assert_allclose(encoder.encode_texts(TEXTS * 3), reference.encode_texts(TEXTS * 3), atol=1e-5)
    np.testing.assert_allclose(
        encoder.encode_images(person_images), reference.encode_images(person_images), atol=1e-5
    )
    assert cuda.context_depth == 0
    texts = TEXTS * 3
    per_call = [encoder.tokenizer(texts[i : i + 4])[0].shape for i in range(0, len(texts), 4)]
    assert encoder.runners[Tower.TEXT].context.calls[:3] == per_call
    assert per_call[0][1] < ModelSpec.load(bundle).context_length  # each call runs on its own real length


def test_plans_from_another_gpu_or_tensorrt_are_refused(bundle: Path) -> None:
    build_engines(bundle, Precision.FP16, 4, *_fakes("10.3.0", "Fake Orin"))
    with pytest.raises(FileNotFoundError, match="built on Fake Orin sm87, this is Fake Thor sm87"):
        _tensorrt_encoder(bundle, _fakes("10.3.0", "Fake Thor"), "fp16", 4)
    with pytest.raises(FileNotFoundError, match="built with TensorRT 10.3.0, this is 10.7.0"):
        _tensorrt_encoder(bundle, _fakes("10.7.0"), "fp16", 4)
    trt, cuda = _fakes("10.7.0")
    plan = (bundle / ENGINES_DIR / "trt10.3.0-fake-orin-sm87-fp16-b4-l24" / "image.plan").read_bytes()
    cuda.context_depth = 1
    with pytest.raises(RuntimeError, match="could not deserialize"):
        PlanRunner(trt, cuda, plan, "image")


def test_a_retrained_bundle_needs_a_new_export_and_plan(bundle: Path) -> None:
    build_engines(bundle, Precision.FP16, 4, *_fakes())
    spec = ModelSpec.load(bundle)
    spec.model_copy(update={"model_id": "retrained"}).save(bundle)
    with pytest.raises(FileNotFoundError, match="built from model"):
        _tensorrt_encoder(bundle, _fakes(), "fp16", 4)
    with pytest.raises(RuntimeError, match="person-search export"):
        build_engines(bundle, Precision.FP16, 4, *_fakes())


def test_tensorrt_86_build_refuses_an_opset_18_export(bundle: Path) -> None:
    spec = ModelSpec.load(bundle)
    spec.export["text"]["opset"] = 18
    spec.save(bundle)
    with pytest.raises(RuntimeError, match=r"text\.onnx is ONNX opset 18 .* JetPack 6\.1"):
        build_engines(bundle, Precision.FP16, 4, *_fakes("8.6.1"))


def test_fp16_is_refused_when_the_export_check_failed_unless_forced(bundle: Path) -> None:
    spec = ModelSpec.load(bundle)
    spec.export["image"]["fp16"] = {"min_cosine": 0.9, "safe": False}
    spec.save(bundle)
    with pytest.raises(RuntimeError, match="failed the FP16 check.*--force-fp16"):
        build_engines(bundle, Precision.FP16, 4, *_fakes())
    build_engines(bundle, Precision.FP32, 4, *_fakes())
    build_engines(bundle, Precision.FP16, 4, *_fakes(), BuildOptions(force_fp16=True))


def test_int8_calibrates_the_image_tower_on_crops_and_reuses_the_cache(
    bundle: Path, tmp_path: Path, person_images: list[Image.Image]
) -> None:
    crops = tmp_path / "crops"
    crops.mkdir()
    for i, image in enumerate(person_images * 2):
        image.convert("RGB").save(crops / f"{i:02d}.png")
    with pytest.raises(ValueError, match="--calibration-dir"):
        build_engines(bundle, Precision.INT8, 4, *_fakes())
    trt, cuda = _fakes()
    meta = build_engines(
        bundle, Precision.INT8, 4, trt, cuda, BuildOptions(calibration_dir=crops, calibration_batch=4)
    )
    assert meta.tower_precisions == {"image": Precision.INT8, "text": Precision.FP16}
    assert cuda.memory == {} and cuda.context_depth == 0  # calibration buffer freed inside its context
    image_build, text_build = trt.builds
    assert image_build["calibrated_batches"] == 2 and "INT8" in image_build["flags"]  # 10 crops, batches of 4
    assert "INT8" not in text_build["flags"] and "FP16" in text_build["flags"]
    cache = bundle / ENGINES_DIR / f"calibration-{meta.model_id}-trt10.3.0.cache"
    assert cache.read_bytes() == b"FAKE-CALIBRATION"
    trt2, cuda2 = _fakes()
    build_engines(bundle, Precision.INT8, 8, trt2, cuda2)
    assert (
        trt2.builds[0]["calibrated_batches"] == 0 and trt2.builds[0]["timing_cache_in"] == "FAKE-TIMING-CACHE"
    )
    assert json.loads((bundle / ENGINES_DIR / meta.key / "plan.json").read_text())["precision"] == "int8"


def _crops(folder: Path, images: list[Image.Image], copies: int = 2) -> Path:
    folder.mkdir()
    for i, image in enumerate(images * copies):
        image.convert("RGB").save(folder / f"{i:02d}.png")
    return folder


def test_an_exception_in_get_batch_surfaces_after_the_build_and_no_cache_is_kept(
    bundle: Path, tmp_path: Path, person_images: list[Image.Image]
) -> None:
    crops = _crops(tmp_path / "crops", person_images)
    (crops / "05.png").write_bytes(b"not a png")  # read in the second batch of 4
    trt, cuda = _fakes()
    options = BuildOptions(calibration_dir=crops, calibration_batch=4)
    with pytest.raises(UnidentifiedImageError, match=r"05\.png") as info:
        build_engines(bundle, Precision.INT8, 4, trt, cuda, options)
    assert trt.builds[0]["calibrated_batches"] == 1  # the build went on after batch 2 failed, as in TensorRT
    assert any("INT8 calibration" in note for note in info.value.__notes__)
    assert not list((bundle / ENGINES_DIR).glob("calibration-*.cache"))
    assert not list((bundle / ENGINES_DIR).glob("*/image.plan"))
    assert cuda.memory == {} and cuda.context_depth == 0  # the calibration buffer is freed on failure too


def test_the_fake_builder_swallows_get_batch_exceptions_as_tensorrt_does(bundle: Path) -> None:
    trt, _ = _fakes()
    spec = ModelSpec.load(bundle)
    shape = (2, 3, *spec.image_size)
    written: list[bytes] = []
    calls: list[list[str]] = []

    class Raising(trt.IInt8EntropyCalibrator2):  # type: ignore[name-defined]
        def get_batch_size(self) -> int:
            return 2

        def get_batch(self, names: list[str]) -> list[int] | None:
            calls.append(names)
            raise OSError("crop folder unmounted")

        def read_calibration_cache(self) -> bytes | None:
            return None

        def write_calibration_cache(self, cache: bytes) -> None:
            written.append(cache)

    builder, logger = trt.Builder(trt.Logger()), trt.Logger()
    network = builder.create_network(0)
    assert trt.OnnxParser(network, logger).parse_from_file(str(onnx_path(bundle, Tower.IMAGE)))
    config = builder.create_builder_config()
    profile, fixed = builder.create_optimization_profile(), builder.create_optimization_profile()
    profile.set_shape("pixels", shape, shape, shape)
    fixed.set_shape("pixels", shape, shape, shape)
    config.add_optimization_profile(profile)
    config.set_flag(trt.BuilderFlag.INT8)
    config.int8_calibrator = Raising()
    config.set_calibration_profile(fixed)
    assert builder.build_serialized_network(network, config) is None  # no batch: no scales, no plan
    assert calls == [["pixels"]] and [str(e) for e in trt.swallowed] == ["crop folder unmounted"]
    assert written == []


def _calibrated_build(
    bundle: Path, batches: list[np.ndarray], min_batches: int, cache: Path
) -> tuple[FakeTensorRT, Any]:
    """build_plan of the image tower at INT8 with a calibrator over `batches`."""
    trt, cuda = _fakes()
    spec = ModelSpec.load(bundle)
    shape = (2, 3, *spec.image_size)
    with primary_context(cuda):
        calibrator = make_entropy_calibrator(trt, cuda, iter(batches), shape, cache, min_batches)
        try:
            profile = image_profile(spec.image_size, 4)
            build_plan(trt, onnx_path(bundle, Tower.IMAGE), profile, Precision.INT8, calibrator)
        finally:
            calibrator.device.free()
    return trt, calibrator


@pytest.mark.parametrize(("given", "needed"), [(0, 1), (1, 2)])
def test_too_few_calibration_batches_write_no_cache_and_say_so(
    bundle: Path, tmp_path: Path, given: int, needed: int
) -> None:
    spec = ModelSpec.load(bundle)
    batches = [np.zeros((2, 3, *spec.image_size), np.float32)] * given
    cache = tmp_path / "calibration.cache"
    with pytest.raises(RuntimeError, match=f"on {given} batches, fewer than the {needed} required"):
        _calibrated_build(bundle, batches, needed, cache)
    assert not cache.exists()


def test_enough_calibration_batches_write_the_cache(bundle: Path, tmp_path: Path) -> None:
    spec = ModelSpec.load(bundle)
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((2, 3, *spec.image_size), dtype=np.float32) for _ in range(3)]
    cache = tmp_path / "calibration.cache"
    trt, calibrator = _calibrated_build(bundle, batches, 3, cache)
    assert calibrator.count == 3 and trt.builds[0]["calibrated_batches"] == 3
    assert cache.read_bytes() == b"FAKE-CALIBRATION"


def test_a_text_query_completes_while_an_image_batch_is_in_flight(
    bundle: Path, person_images: list[Image.Image]
) -> None:
    trt, cuda = _fakes()
    build_engines(bundle, Precision.FP16, 4, trt, cuda)
    encoder = _tensorrt_encoder(bundle, (trt, cuda), "fp16", 4)
    image, text = encoder.runners[Tower.IMAGE], encoder.runners[Tower.TEXT]
    assert image.stream is not text.stream and image.stream.handle != text.stream.handle
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:  # the image kernel "runs" until the test lets it finish
        inside.set()
        assert release.wait(timeout=30)

    image.context.on_execute = hold
    results: dict[str, np.ndarray] = {}
    pixels = encoder.preprocess(person_images[:4])
    ingest = threading.Thread(target=lambda: results.update(image=encoder.encode_pixels(pixels)))
    query = threading.Thread(target=lambda: results.update(text=encoder.encode_texts(TEXTS)))
    ingest.start()
    try:
        assert inside.wait(timeout=30), "the image batch never reached execute"
        assert image.lock.locked() and not text.lock.locked()
        query.start()
        query.join(timeout=30)
        assert not query.is_alive(), "the text query waited behind the image batch"
        assert "text" in results and "image" not in results
    finally:
        release.set()
        ingest.join(timeout=30)
    assert results["image"].shape == (4, encoder.embed_dim)
    assert image.context.streams == [image.stream.handle]
    assert text.context.streams == [text.stream.handle]
    assert cuda.context_depth == 0


# ---- one batch limit per tower (the service batches text and images separately) ----------------------


def test_per_tower_batches_shape_the_profiles_and_the_key() -> None:
    profiles = tower_profiles((96, 32), 40, TowerBatches(text=32, image=8))
    assert profiles[Tower.TEXT].max == (32, 40) and profiles[Tower.IMAGE].max == (8, 3, 96, 32)
    assert engine_key(ORIN, Precision.FP16, TowerBatches(32, 8), 77) == "trt10.3.0-orin-sm87-fp16-t32-i8-l77"
    assert engine_key(ORIN, Precision.FP16, TowerBatches(16, 16), 77) == engine_key(
        ORIN, Precision.FP16, 16, 77
    )
    with pytest.raises(ValueError, match="at least 1"):
        TowerBatches(text=0, image=8)


def test_build_engine_cli_builds_each_tower_at_its_own_batch(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, person_images: list[Image.Image]
) -> None:
    from typer.testing import CliRunner

    from cli import app

    trt, cuda = _fakes()
    monkeypatch.setattr("engine.tensorrt.versions.import_tensorrt", lambda: (trt, cuda))
    args = ["build-engine", str(bundle), "--text-max-batch", "6", "--image-max-batch", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    image_build, text_build = trt.builds
    assert text_build["profile"]["ids"][2] == [6, 24]
    assert [shape[0] for shape in next(iter(image_build["profile"].values()))] == [1, 3, 3]
    meta = PlanMeta.load(bundle / ENGINES_DIR / "trt10.3.0-fake-orin-sm87-fp16-t6-i3-l24")
    assert (meta.max_batch, meta.tower_max_batch) == (3, {"text": 6, "image": 3})
    encoder = _tensorrt_encoder(bundle, (trt, cuda), "fp16", 32)
    assert encoder.max_batch == 3 and encoder.encode_images(person_images).shape[0] == len(person_images)
    assert CliRunner().invoke(app, [*args[:2], "--image-max-batch", "0"]).exit_code == 2


def test_missing_tensorrt_says_how_to_install_it_without_a_source_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hint = install_hint((3, 12))
    assert "tensorrt-*-cp312-none-linux_aarch64.whl" in hint and "L4T TensorRT tarball" in hint
    assert "python3-libnvinfer" in hint and "Python 3.10" in hint and "pip install pycuda" in hint
    assert "build" not in hint.lower().replace("docker/dockerfile", "")
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` raises ImportError
    with pytest.raises(ImportError) as info:
        import_tensorrt()
    assert install_hint() in str(info.value)
