"""Save and load model bundles: model.json + weights.safetensors + tokenizer/ (see DESIGN.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

from open_clip.model import CLIP
from safetensors.torch import load_file, save_file

from engine.bundle_files import TOKENIZER_DIR, WEIGHTS_FILE
from engine.model import build_model, model_id_of
from engine.spec import ModelSpec
from engine.tokenizer import VOCAB_FILE, default_vocab_path


def save_bundle(model: CLIP, spec: ModelSpec, directory: Path) -> ModelSpec:
    """Write weights, tokenizer vocabulary and model.json (with a fresh model_id); return the saved spec."""
    directory = Path(directory)
    (directory / TOKENIZER_DIR).mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = directory / (WEIGHTS_FILE + ".tmp")
    save_file(state, str(tmp))
    tmp.replace(directory / WEIGHTS_FILE)
    vocab_target = directory / TOKENIZER_DIR / VOCAB_FILE
    if not vocab_target.exists():
        shutil.copyfile(default_vocab_path(), vocab_target)
    saved = spec.model_copy(update={"model_id": model_id_of(model)})
    saved.save(directory)
    return saved


def load_bundle(directory: Path, verify: bool = False) -> tuple[CLIP, ModelSpec]:
    """Build the model a bundle describes and load its weights; verify=True re-hashes against model_id."""
    directory = Path(directory)
    spec = ModelSpec.load(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found: the bundle has no weights")
    model = build_model(spec)
    missing, unexpected = model.load_state_dict(load_file(str(weights)), strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{weights} does not fit {spec.arch}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    if verify and model_id_of(model) != spec.model_id:
        raise ValueError(f"{weights} does not hash to model_id {spec.model_id}: the bundle is inconsistent")
    return model.eval(), spec
