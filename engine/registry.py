"""Architecture registry: our JSON configs in engine/configs plus every open_clip model config."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import open_clip

from engine.spec import PERSON_CROP_SIZE, ModelSpec

CONFIG_DIR = Path(__file__).parent / "configs"
UNSUPPORTED_KEYS = ("hf_model_name", "hf_tokenizer_name", "timm_model_name")


@cache
def _local_configs() -> dict[str, dict[str, Any]]:
    """Our own architecture configs, keyed by file stem."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(CONFIG_DIR.glob("*.json"))}


def list_archs() -> list[str]:
    """Every architecture name a spec may use: ours first, then open_clip's."""
    return list(_local_configs()) + open_clip.list_models()


def arch_config(arch: str) -> dict[str, Any]:
    """A fresh copy of an architecture's config; an unknown name fails listing what exists."""
    config = _local_configs().get(arch) or open_clip.get_model_config(arch)
    if config is None:
        ours = ", ".join(_local_configs())
        raise KeyError(f"unknown architecture {arch!r}; ours: {ours}; open_clip has {len(list_archs())} more")
    return copy.deepcopy(config)


def default_geometry(arch: str) -> tuple[tuple[int, int], int]:
    """Default (H, W) input and context length: our configs carry theirs, open_clip ones get person crops."""
    config = arch_config(arch)
    context = int(config["text_cfg"].get("context_length", 77))
    if arch in _local_configs():
        h, w = config["vision_cfg"]["image_size"]
        return (int(h), int(w)), context
    return PERSON_CROP_SIZE, context


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge extra into base recursively (dicts merge, everything else replaces)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def resolve_config(spec: ModelSpec) -> dict[str, Any]:
    """The full open_clip CLIP config a spec describes: arch config + overrides + geometry."""
    config = _deep_merge(arch_config(spec.arch), copy.deepcopy(spec.overrides))
    text_cfg, vision_cfg = config["text_cfg"], config["vision_cfg"]
    bad = [k for k in UNSUPPORTED_KEYS if k in text_cfg or k in vision_cfg]
    if bad or config.get("custom_text"):
        raise ValueError(
            f"architecture {spec.arch!r} uses {bad or 'a custom text tower'}: only CLIP with the built-in "
            "text transformer and ViT image tower is supported"
        )
    vision_cfg["image_size"] = list(spec.image_size)
    text_cfg["context_length"] = spec.context_length
    return config
