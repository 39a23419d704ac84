"""Build open_clip CLIP models: resolve a spec -> build the module -> load weights."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.model import CLIP

from engine.registry import default_geometry, resolve_config
from engine.spec import ModelSpec


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were asked for but cannot be had (offline, or an unknown file)."""


def new_spec(
    arch: str,
    image_size: tuple[int, int] | None = None,
    context_length: int | None = None,
    overrides: dict[str, Any] | None = None,
    pretrained: str | None = None,
) -> ModelSpec:
    """A spec for an architecture with its default geometry unless told otherwise."""
    default_size, default_context = default_geometry(arch)
    spec = ModelSpec(
        arch=arch,
        overrides=overrides or {},
        image_size=image_size or default_size,
        context_length=context_length or default_context,
        pretrained=pretrained,
    )
    spec.embed_dim = int(resolve_config(spec)["embed_dim"])
    return spec


def build_model(spec: ModelSpec) -> CLIP:
    """A randomly initialised CLIP for a spec, in eval mode."""
    config = resolve_config(spec)
    model = CLIP(**config)
    return model.eval()


def model_id_of(model: torch.nn.Module) -> str:
    """A short stable hash of the weights: name, dtype, shape and bytes of every tensor."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _weights_path(arch: str, tag: str, cache_dir: Path | None) -> tuple[str, dict[str, Any]]:
    """Find or fetch the checkpoint for 'ARCH:TAG'; a TAG that is a file path is used as it is."""
    if Path(tag).suffix in (".pt", ".pth", ".bin", ".safetensors"):
        if not Path(tag).is_file():
            raise WeightsUnavailableError(f"checkpoint file {tag} does not exist")
        return tag, {}
    pretrained_cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not pretrained_cfg:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise WeightsUnavailableError(f"no pretrained tag {tag!r} for {arch}; known tags: {known}")
    try:
        path = open_clip.download_pretrained(pretrained_cfg, cache_dir=str(cache_dir) if cache_dir else None)
    except Exception as exc:  # hub and url errors vary by library version
        raise WeightsUnavailableError(
            f"weights for {arch}:{tag} cannot be had ({type(exc).__name__}: {exc}). Offline, pass the "
            f"checkpoint file as '{arch}:/path/to/weights.bin' or a model bundle directory instead"
        ) from exc
    if not path:
        raise WeightsUnavailableError(f"no download location is known for {arch}:{tag}")
    return path, pretrained_cfg


def load_pretrained(
    source: str, image_size: tuple[int, int] | None = None, cache_dir: Path | None = None
) -> tuple[CLIP, ModelSpec]:
    """Build from an open_clip pretrained tag 'ARCH:TAG', interpolating position embeddings to the grid."""
    arch, _, tag = source.partition(":")
    if not tag:
        raise ValueError(f"{source!r} is not 'ARCH:TAG' (for example 'ViT-B-16:openai')")
    path, pretrained_cfg = _weights_path(arch, tag, cache_dir)
    overrides = {"quick_gelu": True} if pretrained_cfg.get("quick_gelu") else {}
    spec = new_spec(arch, image_size=image_size, overrides=overrides, pretrained=source)
    model = build_model(spec)
    open_clip.load_checkpoint(model, path)  # also resizes visual and text position embeddings
    spec.model_id = model_id_of(model)
    return model.eval(), spec


def create_model(source: str | Path, image_size: tuple[int, int] | None = None) -> tuple[CLIP, ModelSpec]:
    """One entry for every source: a bundle directory, 'ARCH:TAG' pretrained, or a bare arch name (random)."""
    if Path(source).is_dir():
        from engine.bundle import load_bundle

        return load_bundle(Path(source))
    if ":" in str(source):
        return load_pretrained(str(source), image_size=image_size)
    spec = new_spec(str(source), image_size=image_size)
    model = build_model(spec)
    spec.model_id = model_id_of(model)
    return model, spec
