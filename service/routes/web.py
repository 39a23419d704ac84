"""The web page at / (plain HTML, JS and CSS from service/web; no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def index() -> HTMLResponse:
    """Search box, ranked thumbnails, camera filter and upload form."""
    return HTMLResponse((WEB_DIR / "index.html").read_text(encoding="utf-8"))
