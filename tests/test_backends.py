"""One conformance suite over every backend present here: same inputs, embeddings agree within tolerance.

torch FP32 is the reference. ONNX Runtime (CPU FP32 and INT8, CUDA where present) always runs here; torch
CUDA FP16 and TensorRT join where a GPU (and TensorRT, with a plan built in the fixture) exist.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from engine import Backend, Encoder, Precision, load_encoder
from engine.backends.onnxruntime_backend import open_session, providers_for, session_options
from engine.graph_io import Tower, onnx_path
from engine.loader import auto_candidates
from engine.spec import ModelSpec

TEXTS = [
    "a man in a grey hoodie, blue jeans and white sneakers carrying a black backpack",
    "woman, red coat",
    "a person with long brown hair wearing a green dress and black shoes, holding a small white handbag",
    "kid",
]
# (backend, precision, device) -> minimum cosine with the torch FP32 reference, and max abs difference
TOLERANCES = {Precision.FP32: (0.9999, 1e-4), Precision.FP16: (0.999, None), Precision.INT8: (0.99, None)}


def _has_cuda() -> bool:
    return importlib.util.find_spec("torch") is not None and __import__("torch").cuda.is_available()


def _cases() -> list[tuple[Backend, Precision, str]]:
    cases = [
        (Backend.TORCH, Precision.FP32, "cpu"),
        (Backend.ONNXRUNTIME, Precision.FP32, "cpu"),
        (Backend.ONNXRUNTIME, Precision.INT8, "cpu"),
    ]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        cases.append((Backend.ONNXRUNTIME, Precision.FP32, "cuda"))
    if _has_cuda():
        cases.append((Backend.TORCH, Precision.FP16, "cuda"))
    if importlib.util.find_spec("tensorrt") and importlib.util.find_spec("pycuda"):
        cases += [(Backend.TENSORRT, Precision.FP32, "cuda"), (Backend.TENSORRT, Precision.FP16, "cuda")]
    return cases


CASES = _cases()


def _ids(case: tuple[Backend, Precision, str]) -> str:
    return "-".join(case)


@pytest.fixture(scope="module")
def reference(exported_bundle: Path) -> Encoder:
    return load_encoder(exported_bundle, backend="torch", device="cpu")


@pytest.fixture(scope="module", params=CASES, ids=_ids)
def encoder(request: pytest.FixtureRequest, exported_bundle: Path) -> Encoder:
    backend, precision, device = request.param
    if backend == Backend.TENSORRT:  # plans are built on the device that runs them
        from engine.tensorrt.build import build_engines
        from engine.tensorrt.versions import import_tensorrt

        build_engines(exported_bundle, precision, 4, *import_tensorrt())
    return load_encoder(exported_bundle, backend, precision, device, max_batch=4, threads=1)


def _agree(got: np.ndarray, want: np.ndarray, precision: Precision) -> None:
    min_cosine, max_abs = TOLERANCES[precision]
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=2e-3)
    assert float((got * want).sum(1).min()) >= min_cosine
    if max_abs is not None:
        assert float(np.abs(got - want).max()) <= max_abs


def test_images_agree_with_torch(
    encoder: Encoder, reference: Encoder, person_images: list[Image.Image]
) -> None:
    many = person_images * 2  # 10 crops through max_batch 4: three chunks, the last partial
    _agree(encoder.encode_images(many), reference.encode_images(many), encoder.precision)


def test_texts_agree_with_torch(encoder: Encoder, reference: Encoder) -> None:
    _agree(encoder.encode_texts(TEXTS * 2), reference.encode_texts(TEXTS * 2), encoder.precision)


def test_padding_in_a_batch_does_not_change_a_text(encoder: Encoder) -> None:
    together = encoder.encode_texts(TEXTS)
    alone = np.concatenate([encoder.encode_texts([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5 if encoder.precision == Precision.FP32 else 2e-2)


def test_empty_inputs_and_report(encoder: Encoder) -> None:
    assert encoder.encode_texts([]).shape == encoder.encode_images([]).shape == (0, encoder.embed_dim)
    described = encoder.describe()
    assert (described["backend"], described["precision"]) == (str(encoder.backend), str(encoder.precision))
    assert described["device"].startswith(("cpu", "cuda")) and described["model_id"] == encoder.model_id


def test_onnxruntime_sessions_use_the_thread_settings_given(exported_bundle: Path) -> None:
    encoder = load_encoder(exported_bundle, "onnxruntime", device="cpu", threads=1)
    described = encoder.describe()
    assert described["threads"] == {"intra_op": 1, "inter_op": 1}
    assert described["providers"] == ["CPUExecutionProvider"]
    options = encoder.sessions["image"].get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL


def test_cuda_provider_gets_device_id_and_exact_arena_growth() -> None:
    assert providers_for("cuda:1") == [
        ("CUDAExecutionProvider", {"device_id": "1", "arena_extend_strategy": "kSameAsRequested"}),
        "CPUExecutionProvider",
    ]
    assert providers_for("cuda")[0] == (
        "CUDAExecutionProvider",
        {"device_id": "0", "arena_extend_strategy": "kSameAsRequested"},
    )
    assert providers_for("cpu") == ["CPUExecutionProvider"]
    for bad in ("gpu", "cuda:", "cuda:x", "cuda:-1", "CUDA"):
        with pytest.raises(ValueError, match=f"'cpu', 'cuda' or 'cuda:N', not '{bad}'"):
            providers_for(bad)


def test_a_cuda_request_hands_its_provider_options_to_onnxruntime(
    exported_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []

    class Recorded:
        def __init__(self, path: str, options: ort.SessionOptions, providers: list[object]) -> None:
            seen.append(providers)

        def get_providers(self) -> list[str]:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", Recorded)
    open_session(onnx_path(exported_bundle, Tower.TEXT), "cuda:2", session_options(1))
    assert seen == [providers_for("cuda:2")] and seen[0][0][1]["device_id"] == "2"  # type: ignore[index]


def test_a_cpu_session_keeps_the_cpu_provider_alone_and_runs(exported_bundle: Path, eot_id: int) -> None:
    session = open_session(onnx_path(exported_bundle, Tower.TEXT), "cpu", session_options(1))
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert set(session.get_provider_options()) == {"CPUExecutionProvider"}
    ids = np.array([[1, 320, eot_id]], np.int64)
    assert session.run(None, {"ids": ids})[0].shape == (1, ModelSpec.load(exported_bundle).embed_dim)


def test_auto_picks_the_best_present_and_logs_why_not_the_others(
    exported_bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="engine.loader"):
        encoder = load_encoder(exported_bundle, device="cpu")
    assert (encoder.backend, encoder.device) == (Backend.ONNXRUNTIME, "cpu")
    if not _has_cuda() and "CUDAExecutionProvider" not in ort.get_available_providers():
        with caplog.at_level(logging.INFO, logger="engine.loader"):
            load_encoder(exported_bundle)
        assert "not tensorrt" in caplog.text and "CUDAExecutionProvider" in caplog.text


def test_auto_falls_back_to_torch_without_onnx_files(micro_bundle: Path) -> None:
    encoder = load_encoder(micro_bundle, device="cpu")
    assert encoder.backend == Backend.TORCH


def test_explicit_choices_that_cannot_be_honoured_are_errors(
    micro_bundle: Path, exported_bundle: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="person-search export"):
        load_encoder(micro_bundle, "onnxruntime", device="cpu")
    with pytest.raises(ValueError, match="fp32 and int8"):
        load_encoder(exported_bundle, "onnxruntime", "fp16", device="cpu")
    with pytest.raises(ValueError, match="CPU"):
        load_encoder(exported_bundle, "onnxruntime", "int8", device="cuda")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(RuntimeError, match="CUDAExecutionProvider"):
            load_encoder(exported_bundle, "onnxruntime", device="cuda")
    if importlib.util.find_spec("tensorrt") is None:
        with pytest.raises(ImportError, match="tensorrt"):
            load_encoder(exported_bundle, "tensorrt")


def test_auto_candidates_order_and_device_restriction() -> None:
    assert auto_candidates(None) == [
        (Backend.TENSORRT, "cuda"),
        (Backend.ONNXRUNTIME, "cuda"),
        (Backend.ONNXRUNTIME, "cpu"),
        (Backend.TORCH, None),
    ]
    assert auto_candidates("cpu") == [(Backend.ONNXRUNTIME, "cpu"), (Backend.TORCH, "cpu")]
    assert [b for b, _ in auto_candidates("cuda:1")] == [Backend.TENSORRT, Backend.ONNXRUNTIME, Backend.TORCH]


def test_onnxruntime_path_imports_neither_torch_nor_open_clip(exported_bundle: Path) -> None:
    code = (
        "import sys\n"
        "from engine import load_encoder\n"
        f"e = load_encoder({str(exported_bundle)!r}, 'onnxruntime', device='cpu', threads=1)\n"
        "assert e.encode_texts(['a woman in a red coat']).shape == (1, e.embed_dim)\n"
        "print(sorted(m for m in ('torch', 'open_clip', 'torchvision') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
