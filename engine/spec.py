"""ModelSpec: the self-description of a model bundle (model.json), shared by training, export and serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

# CLIP's own normalisation constants (OpenAI), the default for every open_clip ViT config.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PERSON_CROP_SIZE = (384, 128)  # (H, W): person crops are tall, as in the text-to-person literature
SPEC_FILE = "model.json"


class ModelSpec(BaseModel):
    """What a model is: architecture, input geometry, normalisation, and where it came from."""

    arch: str = Field(description="open_clip model config name, or one of engine/configs")
    overrides: dict[str, Any] = Field(default_factory=dict, description="deep-merged into the config")
    image_size: tuple[int, int] = PERSON_CROP_SIZE
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    context_length: int = 77
    embed_dim: int = 512
    model_id: str = Field(default="", description="hash of the weights; galleries record it")
    pretrained: str | None = Field(default=None, description="base weights, e.g. 'ViT-B-16:openai'")
    provenance: dict[str, Any] = Field(default_factory=dict, description="LoRA config, data, metrics")
    export: dict[str, Any] = Field(default_factory=dict, description="ONNX opset, parity, fp16 checks")

    def save(self, directory: Path) -> Path:
        """Write model.json into a bundle directory and return its path."""
        path = Path(directory) / SPEC_FILE
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, directory: Path) -> ModelSpec:
        """Read model.json from a bundle directory, naming the file when it is missing or malformed."""
        path = Path(directory) / SPEC_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: a model bundle needs {SPEC_FILE}")
        try:
            return cls.model_validate_json(path.read_text())
        except ValueError as exc:
            raise ValueError(f"{path} is not a valid model spec: {exc}") from exc
