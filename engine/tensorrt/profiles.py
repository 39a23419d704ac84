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


@dataclass(frozen=True)
class TowerBatches:
    """The largest batch each tower's plan accepts (the service batches text and images separately)."""

    text: int
    image: int

    def __post_init__(self) -> None:
        if min(self.text, self.image) < 1:
            raise ValueError(f"max batch must be at least 1, not text {self.text} / image {self.image}")

    @classmethod
    def of(cls, batches: TowerBatches | int) -> TowerBatches:
        """One limit for both towers, or the per-tower limits as given."""
        return batches if isinstance(batches, TowerBatches) else cls(batches, batches)

    @property
    def shared(self) -> int:
        """The batch both plans accept (what a single-limit encoder may send to either)."""
        return min(self.text, self.image)


def tower_profiles(
    image_size: tuple[int, int], context_length: int, max_batch: TowerBatches | int
) -> dict[Tower, Profile]:
    """The profile of each tower for a bundle's geometry and its batch limit (one for both, or per tower)."""
    batches = TowerBatches.of(max_batch)
    return {
        Tower.IMAGE: image_profile(image_size, batches.image),
        Tower.TEXT: text_profile(context_length, batches.text),
    }


def profile_tag(max_batch: TowerBatches | int, context_length: int) -> str:
    """The profile part of an engine key: 'b32-l77' for one limit, 't32-i16-l77' per tower."""
    batches = TowerBatches.of(max_batch)
    if batches.text == batches.image:
        return f"b{batches.text}-l{context_length}"
    return f"t{batches.text}-i{batches.image}-l{context_length}"
