"""What the images decide and check about themselves: the build-time self-check (real ldd and imports on
this machine's faiss-cpu and onnxruntime; a FAKE ldd for libraries only a Jetson has) and whether FAISS
keeps a GPU copy of the index on a module's shared memory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deploy import image_check
from deploy.__main__ import STOP, main
from deploy.faiss_gpu import MIN_SHARED_GIB, mem_total_gib, use_faiss_gpu
from deploy.image_check import DRIVER_LIB, Report, check_image, check_module, parse_ldd, run_ldd

LDD_SAMPLE = """\tlinux-vdso.so.1 (0x0000ffff8f1a0000)
\tlibcuda.so.1 => not found
\tlibcublas.so.12 => /usr/local/cuda/lib64/libcublas.so.12 (0x0000ffff86000000)
\tlibc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 (0x0000ffff85e50000)
\t/lib/ld-linux-aarch64.so.1 (0x0000ffff8f167000)
"""


def test_ldd_output_parses_to_resolved_and_missing_libraries() -> None:
    assert parse_ldd(LDD_SAMPLE) == {
        "libcuda.so.1": None,
        "libcublas.so.12": "/usr/local/cuda/lib64/libcublas.so.12",
        "libc.so.6": "/lib/aarch64-linux-gnu/libc.so.6",
    }


def test_real_faiss_extension_resolves_here_and_lacks_cublas() -> None:
    (extension,) = image_check.extensions("faiss", "_swigfaiss.*so")
    links = run_ldd(extension)
    assert links and all(path is not None for path in links.values()), links
    report = Report()
    assert check_module(report, "faiss", "_swigfaiss*.so", driver=False)
    assert not report.problems and "import faiss: ok" in report.checked
    gpu = Report()
    check_module(gpu, "faiss", "_swigfaiss*.so", driver=False, require=("libcublas",))
    assert any("does not link libcublas" in p for p in gpu.problems)


def test_the_cpu_image_configuration_passes_here_and_a_gpu_one_fails_naming_why() -> None:
    assert not check_image("cpu", "none", "cpu", driver=False).problems
    problems = check_image("gpu", "none", "gpu", driver=False).problems
    assert any("libcublas" in p for p in problems)
    assert any("StandardGpuResources" in p for p in problems)
    assert any("CUDAExecutionProvider" in p for p in problems)
    assert main(["check-image", "--faiss", "cpu", "--tensorrt", "none"]) == 0
    assert main(["check-image", "--faiss", "gpu", "--tensorrt", "none"]) == STOP


@pytest.fixture
def fake_driver_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package `fakecudadrv` with an extension file (its links come from a fake ldd) and a module that
    records being imported."""
    package = tmp_path / "fakecudadrv"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "driver.py").write_text("IMPORTED = True\n")
    (package / "_driver.cpython-312-aarch64-linux-gnu.so").write_bytes(b"not really ELF")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fakecudadrv.driver", raising=False)
    return "fakecudadrv.driver"


def _fake_ldd(links: dict[str, str | None]) -> image_check.Ldd:
    """A FAKE ldd answering the same links for every file."""
    return lambda path: dict(links)


def test_without_the_driver_an_extension_linking_it_is_checked_by_ldd_not_imported(
    fake_driver_package: str,
) -> None:
    links = {DRIVER_LIB: None, "libstdc++.so.6": "/usr/lib/libstdc++.so.6"}
    report = Report()
    assert not check_module(report, fake_driver_package, "_driver*.so", False, ldd=_fake_ldd(links))
    assert not report.problems and fake_driver_package not in sys.modules
    assert any("not imported" in line and DRIVER_LIB in line for line in report.checked)


def test_any_other_missing_library_fails_and_the_driver_counts_once_present(fake_driver_package: str) -> None:
    report = Report()
    missing = {DRIVER_LIB: None, "libcudart.so.12": None}
    check_module(report, fake_driver_package, "_driver*.so", False, ldd=_fake_ldd(missing))
    assert report.problems == ["_driver.cpython-312-aarch64-linux-gnu.so: not found: libcudart.so.12"]
    with_driver = Report()
    check_module(with_driver, fake_driver_package, "_driver*.so", True, ldd=_fake_ldd({DRIVER_LIB: None}))
    assert with_driver.problems == [f"_driver.cpython-312-aarch64-linux-gnu.so: not found: {DRIVER_LIB}"]
    resolved = Report()
    assert check_module(resolved, fake_driver_package, "_driver*.so", True, ldd=_fake_ldd({DRIVER_LIB: "/x"}))
    assert f"import {fake_driver_package}: ok" in resolved.checked


def test_a_missing_package_or_extension_is_a_problem() -> None:
    report = Report()
    assert not check_module(report, "no_such_package_here", "*.so", True)
    assert not check_module(report, "deploy", "*.so", True)  # a package without native code
    assert report.problems == [
        "package no_such_package_here is not installed",
        "deploy: no native extension matching *.so",
    ]


# ---- the FAISS GPU copy on shared memory ----

ORIN_NANO_8GB = "MemTotal:        7620748 kB\nMemFree:         1234567 kB\n"
ORIN_NX_16GB = "MemTotal:       15657704 kB\n"


def test_meminfo_reads_total_memory() -> None:
    assert mem_total_gib(ORIN_NANO_8GB) == pytest.approx(7.27, abs=0.01)
    assert mem_total_gib("garbage") is None


@pytest.mark.parametrize(
    ("mode", "jetson", "meminfo", "want"),
    [
        ("auto", True, ORIN_NANO_8GB, False),  # 8 GB modules: off by default
        ("auto", True, ORIN_NX_16GB, True),
        ("auto", True, "", False),  # unknown size on a Jetson: the safe side
        ("auto", False, ORIN_NANO_8GB, True),  # not a Jetson: FAISS decides by the GPUs it sees
        ("true", True, ORIN_NANO_8GB, True),  # asked for explicitly
        ("FALSE", True, ORIN_NX_16GB, False),
    ],
)
def test_faiss_gpu_copy_is_off_by_default_on_8gb_modules(
    mode: str, jetson: bool, meminfo: str, want: bool
) -> None:
    use, why = use_faiss_gpu(mode, jetson, mem_total_gib(meminfo))
    assert use is want and why
    if mode == "auto" and jetson and meminfo == ORIN_NANO_8GB:
        assert f"under {MIN_SHARED_GIB:.0f}" in why and "FAISS_USE_GPU=true" in why


def test_cli_faiss_gpu_prints_the_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(ORIN_NANO_8GB)
    assert main(["faiss-gpu", "--image", "r36.4.0", "--meminfo", str(meminfo)]) == 0
    assert capsys.readouterr().out.strip() == "false"
    meminfo.write_text(ORIN_NX_16GB)
    assert main(["faiss-gpu", "--image", "r36.4.0", "--meminfo", str(meminfo)]) == 0
    assert capsys.readouterr().out.strip() == "true"
    with pytest.raises(ValueError, match="FAISS_USE_GPU is auto, true or false, not 'sometimes'"):
        use_faiss_gpu("sometimes", True, 16.0)
    assert main(["faiss-gpu", "--mode", "sometimes"]) == STOP
