"""Buffer sizing for a plan: one pinned host and one device buffer per I/O tensor, sized for the maximum."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

Shape = tuple[int, ...]


@dataclass(frozen=True)
class TensorSlot:
    """An I/O tensor of a plan and the largest shape it can take under the profile."""

    name: str
    is_input: bool
    dtype: np.dtype
    max_shape: Shape

    @property
    def nbytes(self) -> int:
        """Bytes of the buffer that holds the largest shape."""
        return buffer_nbytes(self.max_shape, self.dtype)


def buffer_nbytes(shape: Shape, dtype: np.dtype | type) -> int:
    """Bytes for a shape of a dtype; every dimension must be concrete."""
    if any(d < 0 for d in shape):
        raise ValueError(f"shape {tuple(shape)} has a dynamic dimension; resolve it before sizing")
    return prod(shape) * np.dtype(dtype).itemsize


def host_view(buffer: np.ndarray, shape: Shape) -> np.ndarray:
    """The leading part of a flat host buffer seen as `shape` (no copy)."""
    count = prod(shape)
    if count > buffer.size:
        raise ValueError(f"shape {tuple(shape)} needs {count} elements; the buffer holds {buffer.size}")
    return buffer[:count].reshape(shape)
