"""Milvus connections and collections: one code path for Milvus Lite (a file or a loopback server) and Milvus.

A collection records the model_id and dimension it was made for in its properties, so a store or a hub
never mixes embeddings of two models even when two model ids map to the same collection name.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pymilvus import CollectionSchema, MilvusClient

from index.errors import ModelMismatchError

MODEL_KEY, DIM_KEY = "person_search.model_id", "person_search.dim"
TIMEOUT_S = 10.0  # per call: a lost uplink or a hung server fails fast and the caller backs off


def connect(uri: str, token: str | None = None, timeout: float = TIMEOUT_S) -> MilvusClient:
    """A client for a Milvus URI: http(s)://host:19530, or a Milvus Lite file path (*.db).

    `timeout` bounds connecting only: pymilvus waits forever on a call without its own `timeout=`.
    Idle connections send no keepalive pings: pymilvus pings every 10 s even without calls, and once in
    the test suite a Milvus Lite server answered GOAWAY "too_many_pings", failing the next call (not
    reproduced on purpose). Every call has its own timeout, so a dead server is still noticed on use.
    """
    options = {"grpc.keepalive_permit_without_calls": 0}
    return MilvusClient(uri=uri, token=token or "", timeout=timeout, grpc_options=options)


def collection_name(prefix: str, model_id: str) -> str:
    """A valid Milvus collection name for a model: letters, digits and underscores, at most 255 chars."""
    slug = re.sub(r"[^0-9A-Za-z_]", "_", model_id)
    return f"{prefix}_{slug}"[:255]


def ensure_collection(
    client: MilvusClient,
    name: str,
    schema: CollectionSchema,
    index_params: Any,
    model_id: str,
    dim: int,
    timeout: float | None = None,
) -> None:
    """Create the collection if missing; else check it was made for this model and dimension."""
    if not client.has_collection(name, timeout=timeout):
        client.create_collection(
            name,
            schema=schema,
            index_params=index_params,
            consistency_level="Strong",  # a search sees every committed write: deletes vanish at once
            properties={MODEL_KEY: model_id, DIM_KEY: str(dim)},
            timeout=timeout,
        )
        return
    props = client.describe_collection(name, timeout=timeout).get("properties", {})
    stored = props.get(MODEL_KEY)
    if stored != model_id:
        fix = "use another collection name, or drop this one so it is refilled from SQLite"
        raise ModelMismatchError(f"Milvus collection {name}", str(stored), model_id, fix)
    if int(props.get(DIM_KEY, dim)) != dim:
        raise ValueError(f"Milvus collection {name} stores {props.get(DIM_KEY)}-d vectors, not {dim}-d")
    client.load_collection(name, timeout=timeout)


def count(client: MilvusClient, name: str, timeout: float | None = None) -> int:
    """Rows in a collection (a strong-consistency count, so just-written rows are counted)."""
    rows = client.query(name, filter="", output_fields=["count(*)"], timeout=timeout)
    return int(rows[0]["count(*)"])


def column(
    client: MilvusClient, name: str, field: str, expr: str = "", timeout: float | None = None
) -> list[Any]:
    """Every value of one field over the rows matching expr (paged, any collection size)."""
    iterator = client.query_iterator(
        name, batch_size=8192, filter=expr, output_fields=[field], timeout=timeout
    )
    out: list[Any] = []
    while batch := iterator.next():
        out += [row[field] for row in batch]
    iterator.close()
    return out


def id_column(
    client: MilvusClient, name: str, field: str, expr: str = "", timeout: float | None = None
) -> np.ndarray:
    """An int64 field's values over the rows matching expr, int64 [N]."""
    return np.array(column(client, name, field, expr, timeout), np.int64)


_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def literal(value: str | float | bool) -> str:
    """A Milvus expression literal: strings quoted and escaped, booleans as true/false.

    The parser refuses a raw line break inside a string, so CR and LF are escaped too.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPES) + '"'
    return repr(float(value)) if isinstance(value, float) else str(int(value))
