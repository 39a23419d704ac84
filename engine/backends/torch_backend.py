"""The torch backend: the reference implementation every other backend is compared with."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import torch
from open_clip.model import CLIP
from torch import nn

from engine.encoder import Backend, Encoder, Precision
from engine.graph_io import Tower
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer
from engine.towers import tower_module

# The attributes of an open_clip CLIP that belong to one tower only (logit_scale is shared and kept).
TOWER_ATTRIBUTES = {
    Tower.IMAGE: ("visual",),
    Tower.TEXT: (
        "transformer",
        "token_embedding",
        "positional_embedding",
        "ln_final",
        "text_projection",
        "attn_mask",
    ),
}


def drop_towers(model: CLIP, keep: Collection[Tower]) -> CLIP:
    """Remove the towers not in `keep` from the model, so that their parameters are freed, not carried."""
    for tower in Tower:
        if tower not in keep:
            for name in TOWER_ATTRIBUTES[tower]:
                setattr(model, name, None)
    return model


class TorchEncoder(Encoder):
    """Runs the CLIP towers eagerly in torch, on CUDA when asked and present."""

    backend = Backend.TORCH

    def __init__(
        self,
        model: CLIP,
        spec: ModelSpec,
        tokenizer: Tokenizer,
        device: str = "cpu",
        precision: Precision = Precision.FP32,
        max_batch: int = 32,
        towers: Collection[Tower] | None = None,
    ) -> None:
        super().__init__(spec, tokenizer, max_batch, towers)
        if precision == Precision.INT8:
            raise ValueError("the torch backend has no int8; use onnxruntime or tensorrt for int8")
        if precision == Precision.FP16 and device == "cpu":
            raise ValueError("torch fp16 needs a CUDA device; use fp32 on the CPU")
        self.device, self.precision = device, Precision(precision)
        self._dtype = torch.float16 if precision == Precision.FP16 else torch.float32
        self.model = drop_towers(model, self.towers).to(device=device, dtype=self._dtype).eval()
        self.modules: dict[Tower, nn.Module] = {
            t: tower_module(self.model, t, tokenizer.eot_id) for t in self.towers
        }

    @torch.inference_mode()
    def _encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device, self._dtype)
        return self.modules[Tower.IMAGE](x).float().cpu().numpy()

    @torch.inference_mode()
    def _encode_tokens(self, ids: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(ids)).to(self.device)
        return self.modules[Tower.TEXT](x).float().cpu().numpy()
