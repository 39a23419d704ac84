"""Dataset loaders (CUHK-PEDES, ICFG-PEDES, RSTPReid, folders, Label Studio) into one representation."""

from training.data.types import PersonDataset, PersonImage

__all__ = ["PersonDataset", "PersonImage"]
