"""Device strings as the backends take them: 'cpu', 'cuda' (device 0) or 'cuda:N'."""

from __future__ import annotations


def cuda_index(device: str) -> int | None:
    """'cuda' -> 0, 'cuda:N' -> N; None for anything else, which each backend refuses in its own words."""
    if device == "cuda":
        return 0
    if device.startswith("cuda:") and device[5:].isdigit():
        return int(device[5:])
    return None
