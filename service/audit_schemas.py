"""What GET /audit answers: rows of the trail exactly as stored (so an export can be checked offline)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from index.audit_chain import AuditRow


class AuditRowPublic(BaseModel):
    """One audited action and its place in the hash chain."""

    id: int
    at: str = Field(description="when, ISO 8601 UTC with microseconds, as hashed")
    actor: str = Field(description="the API key's name, or anonymous")
    address: str | None = Field(description="the client's address")
    action: str = Field(examples=["search", "view.image", "export", "auth.denied"])
    details: dict[str, Any] = Field(description="what was asked: query, ids, filters, result count")
    prev_hash: str = Field(description="sha256 of the row before (64 zeros for row 1)")
    hash: str = Field(description="sha256 over this row's fields and prev_hash")


class AuditPage(BaseModel):
    """A page of the trail, oldest first; pass next_after_id as after_id for the next page."""

    rows: list[AuditRowPublic]
    count: int
    next_after_id: int | None


def audit_public(row: AuditRow) -> AuditRowPublic:
    """A stored row as the API shows it (details parsed from their stored JSON)."""
    e = row.entry
    details = json.loads(e.details)
    return AuditRowPublic(
        id=row.id,
        at=e.at,
        actor=e.actor,
        address=e.address,
        action=e.action,
        details=details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
