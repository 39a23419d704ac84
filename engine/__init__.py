"""engine: everything that turns pixels or text into an L2-normalised embedding."""

from engine.encoder import Backend, Encoder, Precision
from engine.loader import load_encoder

__all__ = ["Backend", "Encoder", "Precision", "load_encoder"]
