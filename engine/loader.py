"""load_encoder: the one entry point that turns a bundle into an Encoder on the best available backend."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.bundle_files import bundle_vocab
from engine.encoder import Backend, Encoder, Precision
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer

log = logging.getLogger(__name__)


def _torch_encoder(bundle: Path, precision: Precision, device: str | None, max_batch: int) -> Encoder:
    """The torch reference backend (imports torch only when chosen)."""
    import torch

    from engine.backends.torch_backend import TorchEncoder
    from engine.bundle import load_bundle

    model, spec = load_bundle(bundle)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = Tokenizer(bundle_vocab(bundle), spec.context_length)
    return TorchEncoder(model, spec, tokenizer, device=device, precision=precision, max_batch=max_batch)


def load_encoder(
    bundle: str | Path,
    backend: Backend | str = Backend.AUTO,
    precision: Precision | str = Precision.FP32,
    device: str | None = None,
    max_batch: int = 32,
) -> Encoder:
    """An Encoder for a bundle; an explicit backend that cannot be honoured is an error, never a fallback."""
    bundle, backend, precision = Path(bundle), Backend(backend), Precision(precision)
    ModelSpec.load(bundle)  # fail early, naming the file, when this is not a bundle
    match backend:
        case Backend.TORCH:
            return _torch_encoder(bundle, precision, device, max_batch)
        case Backend.AUTO:
            log.info("backend auto: torch (no other backend is built in yet)")
            return _torch_encoder(bundle, precision, device, max_batch)
        case _:
            raise ValueError(f"backend {backend} is not available in this build; choose torch")
