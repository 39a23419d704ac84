"""Docker cannot run here, so the images are checked as text: hadolint on every Dockerfile, shellcheck on
every shell script, the compose files parsed, and their names held against the settings and the README."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from pydantic import BaseModel

from deploy.l4t import L4TRelease
from service.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE_CPU = DOCKER / "compose.yaml"
COMPOSE_JETSON = DOCKER / "compose.jetson.yaml"
COMPOSE_HUB = DOCKER / "compose.hub.yaml"
FLEET_ENV = {
    "PERSON_SEARCH_FLEET__SITE_ID": "SITE_ID",
    "PERSON_SEARCH_FLEET__URI": "FLEET_URI",
    "PERSON_SEARCH_FLEET__TOKEN": "FLEET_TOKEN",
    "PERSON_SEARCH_FLEET__PUBLIC_URL": "PUBLIC_URL",
    "PERSON_SEARCH_INDEX__MILVUS_URI": "MILVUS_URI",
    "PERSON_SEARCH_INDEX__MILVUS_TOKEN": "MILVUS_TOKEN",
}
SERVING_ONLY_OUT = {"torch", "torchvision", "open-clip-torch", "peft", "matplotlib", "onnxscript"}


def _tool(name: str) -> str:
    """A linter installed by the dev extra, next to this interpreter or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]' provides it")
    return found


def _repo_files() -> list[Path]:
    """Tracked and untracked-but-not-ignored files of the checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPO / name for name in listed if (REPO / name).is_file()]


def _is_shell_script(path: Path) -> bool:
    """A .sh file, or any file whose first line is a sh/bash shebang."""
    if path.suffix == ".sh":
        return True
    with path.open("rb") as handle:
        first = handle.readline(200)
    return bool(re.match(rb"#!\s*/(usr/)?bin/(env\s+)?(ba)?sh\b", first))


def _dockerfiles() -> list[Path]:
    return sorted(p for p in _repo_files() if p.name.startswith("Dockerfile"))


def _compose(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def _default(value: str) -> str:
    """Resolve compose interpolation `${VAR:-default}` to its default."""
    return _interpolate(value, {})


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Resolve `${VAR:-default}` as compose does: the given value when set and not empty, else the default."""
    return re.sub(r"\$\{([A-Z0-9_]+):-([^}]*)\}", lambda m: given.get(m[1]) or m[2], str(value))


def _settings_from(
    environment: dict[str, Any], given: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings as the container sees them: every PERSON_SEARCH_* entry set, empty ones included."""
    for name, value in environment.items():
        if name.startswith("PERSON_SEARCH_"):
            monkeypatch.setenv(name, _interpolate(value, given))
    return Settings()


def _settings_field_exists(env_name: str) -> bool:
    """PERSON_SEARCH_MODEL__BUNDLE names settings.model.bundle (and so on, nested with __)."""
    model: type[BaseModel] = Settings
    parts = env_name.removeprefix("PERSON_SEARCH_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Volume mounts of a compose service as {container path: source}, defaults resolved."""
    pairs = [_default(m).split(":")[:2] for m in service["volumes"]]
    return {target: source for source, target in pairs}


def _dockerfile_env(path: Path) -> dict[str, str]:
    """ENV keys and values of a Dockerfile (continuation lines joined)."""
    text = path.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"([A-Z0-9_]+)=(\S+)", line)))
    return env


def _dockerfile_args(path: Path) -> dict[str, str]:
    """ARG defaults of a Dockerfile."""
    return dict(re.findall(r"^ARG ([A-Z0-9_]+)=(\S*)$", path.read_text(), re.MULTILINE))


# ---- linters ----


def test_dockerfiles_pass_hadolint() -> None:
    files = _dockerfiles()
    assert {p.name for p in files} >= {"Dockerfile", "Dockerfile.jetson"}
    done = subprocess.run([_tool("hadolint"), *map(str, files)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    scripts = sorted(p for p in _repo_files() if _is_shell_script(p))
    assert DOCKER / "entrypoint.sh" in scripts
    done = subprocess.run(
        [_tool("shellcheck"), *map(str, scripts)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_entrypoint_is_executable() -> None:
    assert (DOCKER / "entrypoint.sh").stat().st_mode & 0o111


# ---- compose files: what the README names ----


@pytest.mark.parametrize("path", [COMPOSE_CPU, COMPOSE_JETSON], ids=["cpu", "jetson"])
def test_compose_names_service_port_volumes_and_health(path: Path) -> None:
    compose = _compose(path)
    service = compose["services"]["person-search"]
    assert "gallery" in compose["volumes"]
    mounts = _mounts(service)
    assert mounts["/data"] == "gallery"
    assert mounts["/models/bundle"] == "../bundle" and "${BUNDLE_DIR:-" in str(service["volumes"])
    assert [_default(p) for p in service["ports"]] == ["8000:8000"]
    health = service["healthcheck"]
    assert health["test"][:4] == ["CMD", "python", "-m", "deploy"] and "health" in health["test"]
    assert {"interval", "timeout", "retries", "start_period"} <= health.keys()
    context = path.parent / service["build"]["context"]
    assert context.resolve() == REPO and (context / service["build"]["dockerfile"]).is_file()


def test_jetson_compose_runs_nvidia_with_engines_volume_and_host_release() -> None:
    compose = _compose(COMPOSE_JETSON)
    service = compose["services"]["person-search"]
    assert service["runtime"] == "nvidia"
    assert "engines" in compose["volumes"]
    mounts = _mounts(service)
    assert mounts["/engines"] == "engines"
    host_release = service["environment"]["DEPLOY_HOST_TEGRA_RELEASE"]
    assert mounts[host_release] == "/etc/nv_tegra_release"
    assert service["environment"]["DEPLOY_ENGINES_DIR"] == "/engines"


@pytest.mark.parametrize("path", [COMPOSE_CPU, COMPOSE_JETSON], ids=["cpu", "jetson"])
def test_compose_environment_is_real_settings(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = _compose(path)["services"]["person-search"]["environment"]
    names = [n for n in environment if n.startswith("PERSON_SEARCH_")]
    unknown = [n for n in names if not _settings_field_exists(n)]
    assert not unknown, f"not settings in service/settings.py: {unknown}"
    settings = _settings_from(environment, {}, monkeypatch)
    assert str(settings.model.bundle) == "/models/bundle"
    assert str(settings.index.data_dir) == "/data"
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 8000)


@pytest.mark.parametrize("path", [COMPOSE_CPU, COMPOSE_JETSON], ids=["cpu", "jetson"])
def test_edge_compose_fleet_settings_are_off_unless_given(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = _compose(path)["services"]["person-search"]["environment"]
    for name, variable in FLEET_ENV.items():
        assert environment[name] == f"${{{variable}:-}}", f"{name} should default to empty via {variable}"
    assert _default(environment["PERSON_SEARCH_INDEX__BACKEND"]) == "faiss"
    settings = _settings_from(environment, {}, monkeypatch)  # compose sets them to "" when not given
    assert (settings.fleet.site_id, settings.fleet.uri, settings.fleet.public_url) == (None, None, None)
    assert settings.fleet.token is None and settings.index.milvus_uri is None
    assert settings.index.backend == "faiss"


@pytest.mark.parametrize("path", [COMPOSE_CPU, COMPOSE_JETSON], ids=["cpu", "jetson"])
def test_edge_compose_passes_fleet_settings_through(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = _compose(path)["services"]["person-search"]["environment"]
    given = {
        "SITE_ID": "store-12",
        "FLEET_URI": "http://hub.example:19530",
        "FLEET_TOKEN": "edge:secret",
        "PUBLIC_URL": "http://store-12.example:8000",
        "INDEX_BACKEND": "milvus",
        "MILVUS_URI": "http://milvus.store-12.example:19530",
    }
    settings = _settings_from(environment, given, monkeypatch)
    assert settings.fleet.site_id == "store-12"
    assert settings.fleet.uri == "http://hub.example:19530"
    assert settings.fleet.token is not None and settings.fleet.token.get_secret_value() == "edge:secret"
    assert settings.fleet.public_url == "http://store-12.example:8000"
    assert (settings.index.backend, settings.index.milvus_uri) == ("milvus", given["MILVUS_URI"])


# ---- the hub: Milvus standalone (etcd, MinIO) and the hub service ----


def _hub_services() -> dict[str, Any]:
    return _compose(COMPOSE_HUB)["services"]


def test_hub_compose_runs_milvus_with_etcd_and_minio_and_the_hub() -> None:
    compose = _compose(COMPOSE_HUB)
    services = compose["services"]
    assert set(services) == {"etcd", "minio", "milvus", "hub"}
    assert services["milvus"]["command"] == ["milvus", "run", "standalone"]
    milvus_env = services["milvus"]["environment"]
    assert milvus_env["ETCD_ENDPOINTS"] == "etcd:2379" and milvus_env["MINIO_ADDRESS"] == "minio:9000"
    for name in ("etcd", "minio", "milvus"):
        mounts = _mounts(services[name])
        assert set(mounts.values()) == {name} and name in compose["volumes"], f"{name} keeps its data"


def test_hub_compose_images_are_pinned() -> None:
    images = {name: _default(service["image"]) for name, service in _hub_services().items()}
    for name, image in images.items():
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image} is not pinned to a version"
    assert re.fullmatch(r"milvusdb/milvus:v2\.6\.\d+", images["milvus"])  # Milvus's own compose file
    assert images["etcd"].startswith("quay.io/coreos/etcd:v3.5.")
    assert images["minio"].startswith("minio/minio:RELEASE.")
    assert images["hub"] == "person-search:cpu"


def test_hub_compose_starts_in_dependency_order_on_health() -> None:
    services = _hub_services()
    for name, service in services.items():
        health = service["healthcheck"]
        assert health["test"][0] == "CMD" and {"interval", "timeout", "retries"} <= health.keys(), name
    assert services["milvus"]["depends_on"] == {
        "etcd": {"condition": "service_healthy"},
        "minio": {"condition": "service_healthy"},
    }
    assert services["hub"]["depends_on"] == {"milvus": {"condition": "service_healthy"}}


def test_hub_compose_publishes_only_milvus_grpc_and_the_hub() -> None:
    services = _hub_services()
    assert [_default(p) for p in services["milvus"]["ports"]] == ["19530:19530"]
    assert [_default(p) for p in services["hub"]["ports"]] == ["8000:8000"]
    assert "ports" not in services["etcd"] and "ports" not in services["minio"]


def test_hub_service_is_a_hub_on_the_fleet_milvus(monkeypatch: pytest.MonkeyPatch) -> None:
    hub = _hub_services()["hub"]
    environment = hub["environment"]
    unknown = [n for n in environment if not _settings_field_exists(n)]
    assert not unknown, f"not settings in service/settings.py: {unknown}"
    settings = _settings_from(environment, {}, monkeypatch)
    assert settings.server.role == "hub"
    assert settings.fleet.uri == "http://milvus:19530" and settings.fleet.token is None
    assert str(settings.model.bundle) == "/models/bundle"
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 8000)
    assert settings.auth.read_keys == []
    assert [_default(v) for v in hub["volumes"]] == ["../bundle:/models/bundle:ro"], "bundle read-only"
    assert hub["healthcheck"]["test"][:4] == ["CMD", "python", "-m", "deploy"]
    context = COMPOSE_HUB.parent / hub["build"]["context"]
    assert context.resolve() == REPO and hub["build"]["dockerfile"] == "docker/Dockerfile"


# ---- README: the settings and files it names exist ----


def test_readme_names_real_settings_and_compose_files() -> None:
    readme = (REPO / "README.md").read_text()
    names = set(re.findall(r"PERSON_SEARCH_[A-Z0-9_]+", readme))
    assert "PERSON_SEARCH_FLEET__SITE_ID" in names, "the Scaling out section names the edge settings"
    unknown = sorted(n for n in names if not _settings_field_exists(n))
    assert not unknown, f"README names settings that service/settings.py lacks: {unknown}"
    for compose_file in set(re.findall(r"docker/compose[\w.]*\.yaml", readme)):
        assert (REPO / compose_file).is_file(), f"README names {compose_file}, which does not exist"
    assert "docker/compose.hub.yaml" in readme


# ---- Dockerfiles: settings, L4T release, serving-only requirements ----


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.jetson"])
def test_dockerfile_environment_is_real_settings(name: str) -> None:
    env = _dockerfile_env(DOCKER / name)
    unknown = [n for n in env if n.startswith("PERSON_SEARCH_") and not _settings_field_exists(n)]
    assert not unknown, f"not settings in service/settings.py: {unknown}"
    assert env["PERSON_SEARCH_SERVER__HOST"] == "0.0.0.0"
    assert "HEALTHCHECK" in (DOCKER / name).read_text()
    assert re.search(r"^USER 1000", (DOCKER / name).read_text(), re.MULTILINE), "runs as a non-root user"


def test_jetson_image_records_its_l4t_release_and_compose_agrees() -> None:
    args = _dockerfile_args(DOCKER / "Dockerfile.jetson")
    release = L4TRelease.from_tag(args["L4T_RELEASE"])
    assert (release.major, release.revision) == (36, 4)
    assert _dockerfile_env(DOCKER / "Dockerfile.jetson")["DEPLOY_IMAGE_L4T"] == "${L4T_RELEASE}"
    build_args = _compose(COMPOSE_JETSON)["services"]["person-search"]["build"]["args"]
    assert {"L4T_RELEASE", "CUDA_RUNTIME_TAG", "TENSORRT", "FAISS", "ONNXRUNTIME"} <= build_args.keys()
    for name, value in build_args.items():
        assert _default(value) == args[name], f"compose's default for {name} is not the Dockerfile's"
    assert "PYTHON_VERSION" not in build_args, "the Python version is set in one place: the Dockerfile"


def _requirement_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            names.add(re.split(r"[<>=!~\[; ]", line)[0].lower().replace("_", "-"))
    return names


def test_serving_requirements_are_project_dependencies_without_torch() -> None:
    serving = _requirement_names((DOCKER / "requirements-serve.txt").read_text().splitlines())
    project = _requirement_names(
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    )
    assert serving <= project, f"not in pyproject.toml: {serving - project}"
    assert not serving & SERVING_ONLY_OUT, (
        f"training-only packages in the serving image: {serving & SERVING_ONLY_OUT}"
    )
    assert {"onnxruntime", "fastapi", "uvicorn", "numpy"} <= serving


def test_docker_build_context_keeps_what_the_images_copy() -> None:
    kept = {
        line.strip("!/") for line in (REPO / ".dockerignore").read_text().splitlines() if line.startswith("!")
    }
    copy_source = re.compile(r"^COPY (?!--from)(?:--\S+ )*(\S+)", re.MULTILINE)
    for name in ("Dockerfile", "Dockerfile.jetson"):
        for source in copy_source.findall((DOCKER / name).read_text()):
            assert source.split("/")[0] in kept, f"{name} copies {source} but .dockerignore leaves it out"
            assert (REPO / source).exists(), f"{name} copies {source}, which does not exist"


# ---- the Jetson image's Python runtime: one version, no TensorRT source build, a self-check ----


def _python_minor(text: str, pattern: str) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"no {pattern!r}"
    return found[1]


def test_one_python_version_for_the_images_and_the_serving_test() -> None:
    jetson = _python_minor(
        (DOCKER / "Dockerfile.jetson").read_text(), r"^ARG PYTHON_VERSION=(\d+\.\d+)\.\d+$"
    )
    cpu = _python_minor((DOCKER / "Dockerfile").read_text(), r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)-slim")
    make = subprocess.run(
        ["make", "-s", "-C", str(REPO), "print-serve-python"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert jetson == cpu == make == "3.12", (jetson, cpu, make)
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert jetson in SpecifierSet(requires), f"pyproject.toml's requires-python {requires} excludes {jetson}"


def test_jetson_python_comes_from_uv_identically_in_builder_and_runtime() -> None:
    text = (DOCKER / "Dockerfile.jetson").read_text()
    assert re.search(r"^COPY --from=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ /uv /uvx /bin/$", text, re.MULTILINE)
    assert 'uv python install "${PYTHON_VERSION}"' in text and "UV_PYTHON_INSTALL_DIR=/opt/python" in text
    runtime = text.split(" AS runtime")[1]
    assert (
        "COPY --from=venv /opt/python /opt/python" in runtime
        and "COPY --from=venv /opt/venv /opt/venv" in runtime
    )
    assert not re.search(r"apt-get install[^&]*python3", runtime), "the runtime uses the builder's Python"


def test_jetson_tensorrt_is_the_l4t_tarball_not_a_source_build() -> None:
    text = (DOCKER / "Dockerfile.jetson").read_text()
    args = _dockerfile_args(DOCKER / "Dockerfile.jetson")
    assert args["TENSORRT"] == "tarball" and args["TENSORRT_SHA256"] == ""
    assert args["TENSORRT_URL"].endswith("/TensorRT-10.3.0.26.l4t.aarch64-gnu.cuda-12.6.tar.gz")
    assert "tensorrt-*-${abi}-none-linux_aarch64.whl" in text and "its python/ holds" in text
    for gone in (
        "github.com/NVIDIA/TensorRT",
        "build.sh",
        "libnvinfer10",
        "TENSORRT_APT",
        "python3-libnvinfer-dev",
    ):
        assert gone not in text, f"{gone} is back in docker/Dockerfile.jetson"
    assert "FROM builder AS trt-none" in text and "TENSORRT=none" in text.split("ARG L4T_RELEASE")[0]
    assert 'pip wheel --wheel-dir /wheels "pycuda==${PYCUDA_VERSION}"' in text


def test_every_stage_declares_the_build_args_it_uses() -> None:
    for name in ("Dockerfile", "Dockerfile.jetson"):
        text = (DOCKER / name).read_text().replace("\\\n", " ")
        all_args = set(re.findall(r"^ARG ([A-Z0-9_]+)", text, re.MULTILINE))
        for stage in re.split(r"^FROM .*$", text, flags=re.MULTILINE)[1:]:
            declared = set(re.findall(r"^ARG ([A-Z0-9_]+)", stage, re.MULTILINE))
            used = set(re.findall(r"\$\{([A-Z0-9_]+)", stage)) & all_args
            assert used <= declared, f"{name}: a stage uses {used - declared} without declaring ARG"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("Dockerfile", "--faiss cpu --tensorrt none --onnxruntime cpu"),
        ("Dockerfile.jetson", '--faiss "${FAISS}" --tensorrt "${TENSORRT}" --onnxruntime "${ONNXRUNTIME}"'),
    ],
)
def test_runtime_stage_checks_itself_at_build_time(name: str, args: str) -> None:
    runtime = (DOCKER / name).read_text().split(" AS runtime")[1]
    assert f"python -m deploy check-image {args}" in runtime
    assert runtime.index("check-image") < runtime.index("USER 1000")  # before dropping root, after the venv
    assert runtime.index("COPY --from=venv /opt/venv") < runtime.index("check-image")


def test_jetson_compose_leaves_the_faiss_gpu_copy_to_the_entrypoint() -> None:
    environment = _compose(COMPOSE_JETSON)["services"]["person-search"]["environment"]
    assert "PERSON_SEARCH_INDEX__USE_GPU" not in environment, "deploy decides it from the module's memory"
    assert environment["DEPLOY_FAISS_GPU"] == "${FAISS_USE_GPU:-auto}"


def test_ci_runs_make_test_with_the_serving_venv_ignored_by_git() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text()
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: .*\bserving-test\b", makefile, re.MULTILINE)
    assert "--no-deps -e ." in makefile and "docker/requirements-serve.txt" in makefile
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".venv-serve/bin/python"], cwd=REPO, check=False
    ).returncode
    assert ignored == 0, ".venv-serve/ must be git-ignored"


def test_the_images_copy_every_package_the_service_runs() -> None:
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]["packages"]
    serving = set(packages) - {"training"}  # training needs torch; the images have none
    copy_source = re.compile(r"^COPY (?!--from)(?:--\S+ )*(\S+) /src/app/", re.MULTILINE)
    for name in ("Dockerfile", "Dockerfile.jetson"):
        copied = set(copy_source.findall((DOCKER / name).read_text()))
        assert serving <= copied, f"{name} leaves out {sorted(serving - copied)}"
