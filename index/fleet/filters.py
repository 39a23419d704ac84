"""Search filters as Milvus boolean expressions over the central collection's fields."""

from __future__ import annotations

from collections.abc import Sequence

from index.metadata import check_text
from index.milvus_conn import literal
from index.rows import timestamp
from index.types import SearchFilters


def fleet_expr(filters: SearchFilters | None, sites: Sequence[str] | None) -> str:
    """The expression matching what SQLite's filter_sql matches on an edge, plus a site restriction."""
    clauses: list[str] = []
    for site in sites or ():
        check_text("filters.sites", site)
    if sites is not None:
        clauses.append(f"site in [{', '.join(literal(s) for s in sorted(sites))}]" if sites else "false")
    if filters is not None:
        clauses += _item_clauses(filters)
    return " and ".join(clauses)


def _item_clauses(filters: SearchFilters) -> list[str]:
    """Camera, capture-time and metadata-equality clauses (an item without the field never matches)."""
    clauses: list[str] = []
    if filters.cameras is not None:
        cameras = sorted(filters.cameras)
        clauses.append(f"camera in [{', '.join(literal(c) for c in cameras)}]" if cameras else "false")
    if filters.captured_from is not None:
        clauses.append(f"captured_ts >= {timestamp(filters.captured_from)!r}")
    if filters.captured_to is not None:
        clauses.append(f"captured_ts <= {timestamp(filters.captured_to)!r}")
    for key, value in sorted(filters.metadata.items()):  # checked by SearchFilters: scalars or None
        if value is None:  # as on an edge: the key is missing or null
            clauses.append(f"metadata[{literal(key)}] is null")
        else:
            clauses.append(f"metadata[{literal(key)}] == {literal(value)}")
    return clauses
