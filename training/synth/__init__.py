"""Procedural synthetic persons with captions, in two domains (source and target) with a real gap."""

from training.synth.generate import DEFAULT_SIZE, generate
from training.synth.vocab import Domain

__all__ = ["DEFAULT_SIZE", "Domain", "generate"]
