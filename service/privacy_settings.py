"""Settings groups for retention (how long crops are kept, the purge) and erasure, part of Settings."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from index.retention import RetentionPolicy

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
KEEP = {"keep", "forever", "none", "null"}


def parse_duration(value: Any) -> float | None:
    """A retention period in seconds: '30d', '12h', '90m', '45s', '2w', a bare number of days, or
    None / 'keep' / 'forever' to keep for ever; ValueError naming what was wrong."""
    if value is None or (isinstance(value, str) and value.strip().lower() in KEEP):
        return None
    if isinstance(value, bool):
        raise ValueError(f"a retention period is like 30d, 12h or 90s, not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value) * UNITS["d"]
    elif isinstance(value, str) and (match := _DURATION.match(value.lower())):
        seconds = float(match[1]) * UNITS[match[2]]
    else:
        raise ValueError(f"a retention period is like 30d, 12h, 90m or 45s (or keep), not {value!r}")
    if not seconds > 0:
        raise ValueError(f"a retention period must be longer than zero, not {value!r}")
    return seconds


Period = Annotated[float | None, BeforeValidator(parse_duration)]


class RetentionSettings(BaseModel):
    """How long crops are kept (from their capture time, else from when they were stored), per camera."""

    default: Period = Field(
        default=None, description="uploads and unlisted cameras: 30d, 12h, 90s...; None keeps them for ever"
    )
    cameras: dict[str, Period] = Field(
        default_factory=dict, description='per camera name, e.g. {"gate-2": "7d", "lobby": "keep"}'
    )
    interval_s: float = Field(default=300.0, gt=0, le=86_400, description="how often the purge runs")
    batch_size: int = Field(default=256, ge=1, le=10_000, description="items removed per transaction")

    @field_validator("cameras", mode="before")
    @classmethod
    def _camera_names(cls, value: Any) -> Any:
        """Camera names are the names crops carry: non-empty; 'NAME=PERIOD' strings (the CLI's
        repeatable --camera-retention) count as entries too."""
        if isinstance(value, list | tuple):
            if bad := [v for v in value if not isinstance(v, str) or "=" not in v]:
                raise ValueError(f"retention.cameras: give NAME=PERIOD (gate-2=7d), not {bad[0]!r}")
            value = dict(v.rsplit("=", 1) for v in value)
        if isinstance(value, dict) and any(not str(k).strip() for k in value):
            raise ValueError("retention.cameras: a camera name cannot be empty")
        return value

    def policy(self) -> RetentionPolicy:
        """The index's retention policy these settings describe."""
        return RetentionPolicy(self.default, dict(self.cameras))


class ErasureSettings(BaseModel):
    """Erasure by id, by track or by example: how big one may be, how long a preview stays valid."""

    max_items: int = Field(default=10_000, ge=1, le=1_000_000, description="most items one erasure removes")
    preview_ttl_s: float = Field(
        default=900.0, gt=0, le=86_400, description="how long an erasure preview's token stays valid"
    )
