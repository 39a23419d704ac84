"""The baseline the service is compared with: a plain FastAPI handler, no batching, cache or middleware."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool


def create_plain_app(bundle: Path, data_dir: Path, backend: str, threads: int | None = None) -> FastAPI:
    """POST /search {text, top_k}: encode and search inside one threadpool call per request."""
    from engine import load_encoder
    from index import Gallery

    encoder = load_encoder(bundle, backend, **({"threads": threads} if threads else {}))
    gallery = Gallery.open(data_dir, encoder.model_id, encoder.embed_dim, use_gpu=False)
    app = FastAPI()

    def work(text: str, k: int) -> list[dict[str, Any]]:
        query = encoder.encode_texts([text])[0]
        return [{"id": h.item.id, "score": h.score, "rank": h.rank} for h in gallery.search(query, k)]

    @app.post("/search")
    async def search(body: dict[str, Any]) -> dict[str, Any]:
        return {"matches": await run_in_threadpool(work, body["text"], int(body.get("top_k", 10)))}

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ready": True}

    return app


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    app = create_plain_app(args.bundle, args.data_dir, args.backend, args.threads)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
