"""Exceptions the gallery raises; the service maps them to HTTP statuses."""

from __future__ import annotations

from pathlib import Path


class ModelMismatchError(RuntimeError):
    """The gallery was built with another model; mixing embeddings of two models would make search useless."""

    def __init__(
        self, data_dir: Path | str, stored_model_id: str, model_id: str, fix: str | None = None
    ) -> None:
        self.data_dir, self.stored_model_id, self.model_id = data_dir, stored_model_id, model_id
        fix = fix or (
            f"re-encode the stored images with `person-search reindex --model BUNDLE --data {data_dir}`"
        )
        super().__init__(
            f"the gallery at {data_dir} holds embeddings of model {stored_model_id}, but the encoder is "
            f"model {model_id}; {fix}, or point the service at the bundle of model {stored_model_id}"
        )


class FieldError(ValueError):
    """A caller's value the gallery cannot store or compare; `field` names it (metadata.zone)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class SnapshotError(ValueError):
    """A FAISS snapshot file is missing, truncated, corrupt or made for another gallery; it gets rebuilt."""


class HeldError(RuntimeError):
    """Items a legal hold covers cannot be removed until the hold is released; `ids` names them and
    `holds` maps each hold that covers some of them to those items."""

    def __init__(self, ids: list[int], holds: dict[int, list[int]]) -> None:
        self.ids, self.holds = ids, holds
        named = "; ".join(f"hold {h} covers items {items}" for h, items in sorted(holds.items()))
        super().__init__(f"items on legal hold, release the hold first: {named}")


class SetChangedError(RuntimeError):
    """The items an erasure would remove differ from those its preview listed; preview again."""

    def __init__(self, added: list[int], gone: list[int]) -> None:
        self.added, self.gone = added, gone
        named = (("now matching", added), ("gone or changed", gone))
        parts = [f"{what}: {ids}" for what, ids in named if ids]
        super().__init__(f"the set changed since the preview ({'; '.join(parts)}); preview again")


class UnknownIdsError(LookupError):
    """Ids that name no stored item or track; `field` says which list they came from."""

    def __init__(self, field: str, ids: list[int]) -> None:
        self.field, self.ids = field, ids
        super().__init__(f"{field}: no such {field.rstrip('s')} {ids}")
