"""Dataset loaders (CUHK-PEDES, ICFG-PEDES, RSTPReid, folders, Label Studio) into one representation."""

from training.data.fields import DatasetError, MissingImageError
from training.data.load import DatasetFormat, load_dataset
from training.data.types import PersonDataset, PersonImage

__all__ = [
    "DatasetError",
    "DatasetFormat",
    "MissingImageError",
    "PersonDataset",
    "PersonImage",
    "load_dataset",
]
