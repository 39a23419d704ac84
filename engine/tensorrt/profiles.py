"""Optimization profiles: the range of input shapes each tower's plan accepts, and where it is tuned."""

from __future__ import annotations

from dataclasses import dataclass

from engine.graph_io import INPUT_NAMES, Tower

Shape = tuple[int, ...]
TYPICAL_QUERY_TOKENS = 24  # a 15-20 word description, with start and end tokens


@dataclass(frozen=True)
class Profile:
    """One optimization profile for one input: TensorRT tunes kernels for `opt` and accepts min..max."""

    input_name: str
    min: Shape
    opt: Shape
    max: Shape

    def __post_init__(self) -> None:
        if not (len(self.min) == len(self.opt) == len(self.max)):
            raise ValueError(f"profile shapes differ in rank: {self.min}, {self.opt}, {self.max}")
        if not all(1 <= a <= b <= c for a, b, c in zip(self.min, self.opt, self.max, strict=True)):
            raise ValueError(
                f"profile needs 1 <= min <= opt <= max per axis: {self.min} {self.opt} {self.max}"
            )

    def check(self, shape: Shape) -> None:
        """Raise when an input shape is outside the profile (TensorRT would fail less clearly)."""
        ok = len(shape) == len(self.max) and all(
            a <= s <= b for a, s, b in zip(self.min, shape, self.max, strict=True)
        )
        if not ok:
            raise ValueError(
                f"{self.input_name} shape {tuple(shape)} is outside the plan's {self.min}..{self.max}"
            )


def image_profile(image_size: tuple[int, int], max_batch: int, opt_batch: int | None = None) -> Profile:
    """Image tower: batch 1..max_batch at the bundle's (H, W), tuned for full batches (gallery ingest)."""
    h, w = image_size
    opt = min(opt_batch or max_batch, max_batch)
    return Profile(INPUT_NAMES[Tower.IMAGE], (1, 3, h, w), (opt, 3, h, w), (max_batch, 3, h, w))


def text_profile(
    context_length: int, max_batch: int, opt_batch: int = 1, opt_length: int = TYPICAL_QUERY_TOKENS
) -> Profile:
    """Text tower: batch 1..max_batch and length 1..context, tuned for one typical query (search latency)."""
    opt = (min(opt_batch, max_batch), min(opt_length, context_length))
    return Profile(INPUT_NAMES[Tower.TEXT], (1, 1), opt, (max_batch, context_length))


def tower_profiles(image_size: tuple[int, int], context_length: int, max_batch: int) -> dict[Tower, Profile]:
    """The profile of each tower for a bundle's geometry and a batch limit."""
    if max_batch < 1:
        raise ValueError(f"max batch must be at least 1, not {max_batch}")
    return {
        Tower.IMAGE: image_profile(image_size, max_batch),
        Tower.TEXT: text_profile(context_length, max_batch),
    }


def profile_tag(max_batch: int, context_length: int) -> str:
    """The profile part of an engine key: 'b32-l77'."""
    return f"b{max_batch}-l{context_length}"
