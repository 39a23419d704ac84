"""The torch backend: the reference implementation every other backend is compared with."""

from __future__ import annotations

import numpy as np
import torch
from open_clip.model import CLIP

from engine.encoder import Backend, Encoder, Precision
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer
from engine.towers import ImageTower, TextTower


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
    ) -> None:
        super().__init__(spec, tokenizer, max_batch)
        if precision == Precision.INT8:
            raise ValueError("the torch backend has no int8; use onnxruntime or tensorrt for int8")
        if precision == Precision.FP16 and device == "cpu":
            raise ValueError("torch fp16 needs a CUDA device; use fp32 on the CPU")
        self.device, self.precision = device, Precision(precision)
        self._dtype = torch.float16 if precision == Precision.FP16 else torch.float32
        model = model.to(device=device, dtype=self._dtype).eval()
        self.image_tower, self.text_tower = ImageTower(model), TextTower(model)

    @torch.inference_mode()
    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device, self._dtype)
        return self.image_tower(x).float().cpu().numpy()

    @torch.inference_mode()
    def encode_tokens(self, ids: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(ids)).to(self.device)
        return self.text_tower(x).float().cpu().numpy()
