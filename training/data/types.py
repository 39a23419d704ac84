"""The one in-memory representation every dataset loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class PersonImage:
    """One image of one person, with the captions that describe it."""

    path: Path  # absolute path of the image file
    person_id: int  # identity; images of the same person share it
    split: str  # train, val or test
    captions: tuple[str, ...]
    attributes: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class PersonDataset:
    """A list of images with captions, and where it was read from."""

    name: str
    root: Path
    items: list[PersonImage]

    def split(self, name: str) -> PersonDataset:
        """Only the items of one split (train, val or test)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return PersonDataset(f"{self.name}:{name}", self.root, [i for i in self.items if i.split == name])

    def person_ids(self) -> list[int]:
        """Distinct identities in order of first appearance."""
        return list(dict.fromkeys(i.person_id for i in self.items))

    def __len__(self) -> int:
        return len(self.items)
