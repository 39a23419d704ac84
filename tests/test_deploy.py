"""The container entrypoint's decisions as code: L4T release check, engines present/missing/changed, the
bundle view on the engines volume, and the entrypoint script run for real with a fake `person-search`.
The Jetson side (engine keys, builds and their back-off) is in test_deploy_engines.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deploy_helpers import ORIN_62, calls, onnx_bundle, run_entrypoint

from deploy import bundle_view
from deploy.__main__ import STOP, main
from deploy.engines import EngineState, check_engines, prune
from deploy.l4t import L4TPolicy, L4TRelease, Verdict, check_host, compare
from deploy.plan import Action, StartError, plan_engines, plan_without_engines, wants_tensorrt
from engine.bundle_files import ENGINES_DIR

ORIN_60 = (
    "# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, DATE: Fri Jul 19 2024\n"
)
XAVIER_51 = (
    "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug 1 2023\n"
)
PLANS = ("image.plan", "text.plan")


# ---- L4T ----


@pytest.mark.parametrize(
    ("tag", "want"),
    [("r36.4.0", (36, 4, 0)), ("R36.4", (36, 4, 0)), ("36.4.3", (36, 4, 3)), ("r35.4.1", (35, 4, 1))],
)
def test_release_tags_parse(tag: str, want: tuple[int, int, int]) -> None:
    assert L4TRelease.from_tag(tag) == L4TRelease(*want)


def test_nv_tegra_release_parses_and_names_jetpack() -> None:
    release = L4TRelease.from_tegra_release(ORIN_62)
    assert release == L4TRelease(36, 4, 3)
    assert str(release) == "R36.4.3 (JetPack 6.2)"


@pytest.mark.parametrize("text", ["", "garbage\n", "R36 revision 4"])
def test_unreadable_release_is_an_error_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="nv_tegra_release"):
        L4TRelease.from_tegra_release(text)


@pytest.mark.parametrize("tag", ["", "jetpack6", "r36"])
def test_bad_image_tag_is_an_error(tag: str) -> None:
    with pytest.raises(ValueError, match="r36.4.0"):
        L4TRelease.from_tag(tag)


def test_patch_releases_share_user_space() -> None:
    result = compare(L4TRelease(36, 4, 0), L4TRelease(36, 4, 3))
    assert result.verdict is Verdict.OK
    assert "patch releases differ" in result.message


@pytest.mark.parametrize("host", [ORIN_60, XAVIER_51])
def test_other_release_stops_with_the_fix(host: str) -> None:
    result = check_host("r36.4.0", host)
    assert result.verdict is Verdict.STOP
    assert "R36.4.0 (JetPack 6.1)" in result.message
    assert "L4T_RELEASE" in result.message and "warn" in result.message


def test_policies_soften_or_skip_the_check() -> None:
    assert check_host("r36.4.0", ORIN_60, L4TPolicy.WARN).verdict is Verdict.WARN
    assert check_host("r36.4.0", ORIN_60, L4TPolicy.OFF).verdict is Verdict.OK
    assert check_host("not-a-tag", None, L4TPolicy.OFF).verdict is Verdict.OK


def test_invisible_host_release_stops_and_says_how_to_mount_it() -> None:
    result = check_host("r36.4.0", None)
    assert result.verdict is Verdict.STOP
    assert "/etc/nv_tegra_release" in result.message
    assert check_host("r36.4.0", "  \n", L4TPolicy.WARN).verdict is Verdict.WARN


# ---- engines ----


def _built(root: Path, key: str, files: tuple[str, ...] = PLANS) -> Path:
    directory = root / key
    directory.mkdir(parents=True)
    for name in files:
        (directory / name).write_bytes(b"plan")
    return directory


def test_engine_state_missing_current_changed(tmp_path: Path) -> None:
    engines = tmp_path / "engines"
    assert check_engines(engines, "trt10.3_orin_fp16_b16", PLANS).state is EngineState.MISSING
    old = _built(engines, "trt10.3_orin_fp16_b8")
    changed = check_engines(engines, "trt10.3_orin_fp16_b16", PLANS)
    assert changed.state is EngineState.CHANGED and changed.stale == (old,)
    _built(engines, "trt10.3_orin_fp16_b16")
    current = check_engines(engines, "trt10.3_orin_fp16_b16", PLANS)
    assert current.state is EngineState.CURRENT and current.stale == (old,)


def test_half_built_key_is_rebuilt_not_loaded(tmp_path: Path) -> None:
    key_dir = _built(tmp_path, "k", files=("image.plan",))
    assert check_engines(tmp_path, "k", PLANS).state is EngineState.MISSING
    (key_dir / "text.plan").write_bytes(b"")  # an empty plan is a killed build
    assert check_engines(tmp_path, "k", PLANS).state is EngineState.MISSING


def test_prune_deletes_only_key_directories(tmp_path: Path) -> None:
    stale = _built(tmp_path / "engines", "old")
    assert prune([stale], tmp_path / "engines") == [stale]
    assert not stale.exists()
    outside = _built(tmp_path, "elsewhere")
    with pytest.raises(ValueError, match="not a key directory"):
        prune([outside], tmp_path / "engines")
    assert outside.exists()


# ---- plans ----


def test_plan_builds_then_serves_and_prunes(tmp_path: Path) -> None:
    bundle = onnx_bundle(tmp_path)
    assert plan_engines(bundle, "new", PLANS).action is Action.BUILD
    old = _built(bundle / ENGINES_DIR, "old")
    _built(bundle / ENGINES_DIR, "new")
    plan = plan_engines(bundle, "new", PLANS)
    assert plan.action is Action.SERVE and plan.prune == (old,)


def test_no_onnx_stops_with_the_export_command(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    with pytest.raises(StartError, match="person-search export"):
        plan_engines(bundle, "k", PLANS)
    with pytest.raises(StartError, match="ONNX Runtime"):
        plan_without_engines(bundle, "onnxruntime")
    assert plan_without_engines(bundle, "torch").action is Action.SERVE


@pytest.mark.parametrize(
    ("backend", "installed", "want"),
    [("auto", True, True), ("auto", False, False), ("tensorrt", True, True), ("onnxruntime", True, False)],
)
def test_which_backends_want_engines(backend: str, installed: bool, want: bool) -> None:
    assert wants_tensorrt(backend, installed) is want


def test_explicit_tensorrt_without_tensorrt_is_an_error() -> None:
    with pytest.raises(StartError, match="not installed"):
        wants_tensorrt("tensorrt", False)


# ---- the bundle view: read-only model, engines on their own volume per model_id ----


def test_bundle_view_links_files_and_puts_engines_on_the_volume(micro_bundle: Path, tmp_path: Path) -> None:
    readonly = tmp_path / "ro-bundle"
    shutil.copytree(micro_bundle, readonly)
    (readonly / ENGINES_DIR).mkdir()  # engines shipped inside the bundle are not used
    view = bundle_view.link_bundle(readonly, tmp_path / "engines", tmp_path / "work")
    model_id = (readonly / "model.json").read_text().split('"model_id": "')[1].split('"')[0]
    assert (view / ENGINES_DIR).resolve() == (tmp_path / "engines" / model_id).resolve()
    assert (view / "model.json").read_text() == (readonly / "model.json").read_text()
    (view / ENGINES_DIR / "key").mkdir()
    assert (tmp_path / "engines" / model_id / "key").is_dir()
    again = bundle_view.link_bundle(readonly, tmp_path / "engines", tmp_path / "work")
    assert again == view and (again / ENGINES_DIR / "key").is_dir()  # rebuilt view, cache kept


def test_other_models_engines_are_found_for_pruning(micro_bundle: Path, tmp_path: Path) -> None:
    engines = tmp_path / "engines"
    (engines / "some-older-model-id").mkdir(parents=True)
    bundle_view.link_bundle(micro_bundle, engines, tmp_path / "work")
    assert [p.name for p in bundle_view.other_models(engines, micro_bundle)] == ["some-older-model-id"]


def test_bundle_without_model_id_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text('{"arch": "PS-Micro"}')
    with pytest.raises(ValueError, match="model_id"):
        bundle_view.link_bundle(tmp_path, tmp_path / "engines", tmp_path / "work")


# ---- the CLI the entrypoint calls ----


def test_cli_check_l4t_exit_codes(tmp_path: Path) -> None:
    host = tmp_path / "nv_tegra_release"
    host.write_text(ORIN_62)
    assert main(["check-l4t", "--image", "r36.4.0", "--host-file", str(host)]) == 0
    assert main(["check-l4t", "--image", "r35.4.1", "--host-file", str(host)]) == STOP
    assert main(["check-l4t", "--image", "r35.4.1", "--host-file", str(host), "--policy", "warn"]) == 0
    assert main(["check-l4t", "--image", "r36.4.0", "--host-file", str(tmp_path / "absent")]) == STOP
    assert main(["check-l4t", "--image", ""]) == 0  # the CPU image


def test_cli_engines_on_the_cpu_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = onnx_bundle(tmp_path)
    assert main(["engines", "--bundle", str(bundle), "--backend", "onnxruntime"]) == 0
    assert capsys.readouterr().out.strip() == "serve"
    assert main(["engines", "--bundle", str(tmp_path / "empty"), "--backend", "onnxruntime"]) == STOP


def test_cli_health_fails_when_nothing_listens() -> None:
    assert main(["health", "--port", "9", "--timeout", "0.5"]) == 1


# ---- the entrypoint script itself, with a fake person-search that records how it was called ----


def test_entrypoint_serves_on_the_cpu_image(tmp_path: Path) -> None:
    bundle = onnx_bundle(tmp_path)
    env = {"PERSON_SEARCH_MODEL__BUNDLE": str(bundle), "PERSON_SEARCH_MODEL__BACKEND": "onnxruntime"}
    done = run_entrypoint(tmp_path, env, "serve", "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calls").read_text().split() == [str(bundle), "serve", "--log-level", "debug"]


@pytest.mark.parametrize(("precision", "want"), [("int8", "int8"), (None, "fp32")])
def test_entrypoint_reindexes_with_the_prepared_bundle_and_precision(
    tmp_path: Path, precision: str | None, want: str
) -> None:
    bundle = onnx_bundle(tmp_path)
    env = {
        "PERSON_SEARCH_MODEL__BUNDLE": str(bundle),
        "PERSON_SEARCH_MODEL__BACKEND": "onnxruntime",
        "PERSON_SEARCH_INDEX__DATA_DIR": "/data",
        **({"PERSON_SEARCH_MODEL__PRECISION": precision} if precision else {}),
    }
    done = run_entrypoint(tmp_path, env, "reindex", "--batch-size", "8")
    assert done.returncode == 0, done.stderr
    flags = ["--model", str(bundle), "--data", "/data", "--backend", "onnxruntime", "--precision", want]
    assert calls(tmp_path) == [[str(bundle), "reindex", *flags, "--batch-size", "8"]]


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({}, "true"),  # the CPU image: FAISS keeps a GPU copy only if its build sees a GPU
        ({"DEPLOY_FAISS_GPU": "false"}, "false"),
        ({"DEPLOY_FAISS_GPU": "true", "PERSON_SEARCH_INDEX__USE_GPU": "false"}, "false"),  # explicit wins
    ],
)
def test_entrypoint_decides_the_faiss_gpu_copy_unless_set(
    tmp_path: Path, env: dict[str, str], want: str
) -> None:
    base = {
        "PERSON_SEARCH_MODEL__BUNDLE": str(onnx_bundle(tmp_path)),
        "PERSON_SEARCH_MODEL__BACKEND": "onnxruntime",
    }
    done = run_entrypoint(tmp_path, {**base, **env})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "use_gpu").read_text().strip() == want


def test_entrypoint_stops_on_l4t_mismatch_before_serving(tmp_path: Path) -> None:
    host = tmp_path / "nv_tegra_release"
    host.write_text(ORIN_60)
    env = {
        "PERSON_SEARCH_MODEL__BUNDLE": str(onnx_bundle(tmp_path)),
        "DEPLOY_IMAGE_L4T": "r36.4.0",
        "DEPLOY_HOST_TEGRA_RELEASE": str(host),
    }
    done = run_entrypoint(tmp_path, env)
    assert done.returncode == STOP
    assert "L4T mismatch" in done.stderr and "R36.3.0 (JetPack 6.0)" in done.stderr
    assert not (tmp_path / "calls").exists()


def test_entrypoint_runs_other_commands_as_given(tmp_path: Path) -> None:
    done = run_entrypoint(tmp_path, {}, "person-search", "info", "/models/bundle")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calls").read_text().split() == ["info", "/models/bundle"]
