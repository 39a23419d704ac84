"""load_dataset: one entry for every supported format, picked from file names or the file's content."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from training.data.fields import DatasetError, Where
from training.data.folder import CSV_NAME, JSONL_NAME, load_folder
from training.data.label_studio import is_label_studio, load_label_studio
from training.data.reid_json import load_cuhk_pedes, load_icfg_pedes, load_rstpreid, read_json_list
from training.data.types import PersonDataset


class DatasetFormat(StrEnum):
    """The annotation formats load_dataset reads."""

    CUHK_PEDES = "cuhk-pedes"
    ICFG_PEDES = "icfg-pedes"
    RSTPREID = "rstpreid"
    FOLDER = "folder"
    LABEL_STUDIO = "label-studio"


FILE_NAMES: dict[DatasetFormat, tuple[str, ...]] = {
    DatasetFormat.CUHK_PEDES: ("reid_raw.json",),
    DatasetFormat.ICFG_PEDES: ("ICFG-PEDES.json", "ICFG_PEDES.json"),
    DatasetFormat.RSTPREID: ("data_captions.json",),
    DatasetFormat.FOLDER: (CSV_NAME, JSONL_NAME),
}
LOADERS: dict[DatasetFormat, Callable[[Path], PersonDataset]] = {
    DatasetFormat.CUHK_PEDES: load_cuhk_pedes,
    DatasetFormat.ICFG_PEDES: load_icfg_pedes,
    DatasetFormat.RSTPREID: load_rstpreid,
    DatasetFormat.FOLDER: lambda file: load_folder(file.parent),
    DatasetFormat.LABEL_STUDIO: load_label_studio,
}


def _format_of_file(file: Path) -> DatasetFormat:
    """By name, else by content: Label Studio tasks, or reid records with file_path / img_path."""
    for fmt, names in FILE_NAMES.items():
        if file.name in names:
            return fmt
    if file.suffix.lower() != ".json":
        raise Where(file).error(None, "not a dataset annotation file; " + _known())
    records = read_json_list(file)
    if is_label_studio(records):
        return DatasetFormat.LABEL_STUDIO
    first = records[0] if records and isinstance(records[0], dict) else {}
    if "img_path" in first:
        return DatasetFormat.RSTPREID
    if "file_path" in first:
        return DatasetFormat.CUHK_PEDES
    raise Where(file).error(None, "cannot tell the format from its records; " + _known())


def _known() -> str:
    names = ", ".join(n for names in FILE_NAMES.values() for n in names)
    return f"expected one of {names} or a Label Studio JSON export"


def find_annotations(folder: Path, fmt: DatasetFormat | None = None) -> Path:
    """The annotation file of a dataset folder (of a given format, if told)."""
    formats = [fmt] if fmt else list(FILE_NAMES)
    for each in formats:
        for name in FILE_NAMES.get(each, ()):
            if (folder / name).is_file():
                return folder / name
    if fmt in (None, DatasetFormat.LABEL_STUDIO):
        exports = [p for p in sorted(folder.glob("*.json")) if _is_label_studio_file(p)]
        if len(exports) == 1:
            return exports[0]
        if len(exports) > 1:
            raise Where(folder).error(
                None, f"several Label Studio exports ({exports[0].name}, ...); pass one file"
            )
    wanted = f"{fmt} annotation file" if fmt else "annotation file"
    raise Where(folder).error(None, f"no {wanted} in this folder; {_known()}")


def _is_label_studio_file(file: Path) -> bool:
    try:
        return is_label_studio(read_json_list(file))
    except DatasetError:
        return False


def load_dataset(path: Path | str, fmt: DatasetFormat | str | None = None) -> PersonDataset:
    """Read a dataset folder or annotation file into a PersonDataset (format detected unless given)."""
    path = Path(path)
    if fmt and fmt not in set(DatasetFormat):
        raise DatasetError(f"unknown dataset format {fmt!r}; expected one of {', '.join(DatasetFormat)}")
    chosen = DatasetFormat(fmt) if fmt else None
    if not path.exists():
        raise DatasetError(f"{path}: no such dataset file or folder")
    file = find_annotations(path, chosen) if path.is_dir() else path
    return LOADERS[chosen or _format_of_file(file)](file)
