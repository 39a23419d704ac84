"""The bundle the service loads in a container: the model read-only, its engines on their own volume.

The model bundle is mounted read-only; TensorRT engines are built on the device and must survive the
container, so they live on an engines volume, one directory per model_id. The entrypoint assembles a
bundle directory of links: every file of the mounted bundle, plus `engines/` pointing at this model's
directory on the volume. Upgrading the model changes the model_id, so old engines are never loaded for
new weights.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.bundle_files import ENGINES_DIR
from engine.spec import ModelSpec

VIEW_NAME = "bundle"


def model_engines_dir(engines_root: Path, bundle: Path) -> Path:
    """This model's directory on the engines volume, named by its model_id."""
    spec = ModelSpec.load(bundle)
    if not spec.model_id:
        raise ValueError(f"{bundle} has no model_id in model.json; save it with engine.bundle.save_bundle")
    return Path(engines_root) / spec.model_id


def link_bundle(bundle: Path, engines_root: Path, workdir: Path) -> Path:
    """Build (afresh) a directory of links to the bundle's files whose engines/ is on the engines volume."""
    bundle, workdir = Path(bundle).resolve(), Path(workdir)
    engines = model_engines_dir(engines_root, bundle)
    engines.mkdir(parents=True, exist_ok=True)
    view = workdir / VIEW_NAME
    if view.is_symlink() or view.is_file():
        view.unlink()
    elif view.exists():
        shutil.rmtree(view)
    view.mkdir(parents=True)
    for entry in sorted(bundle.iterdir()):
        if entry.name != ENGINES_DIR:
            (view / entry.name).symlink_to(entry)
    (view / ENGINES_DIR).symlink_to(engines.resolve(), target_is_directory=True)
    return view


def other_models(engines_root: Path, bundle: Path) -> list[Path]:
    """Engine directories of models other than this bundle's (left by an upgrade), to prune."""
    keep = model_engines_dir(engines_root, bundle).name
    root = Path(engines_root)
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name != keep) if root.is_dir() else []
