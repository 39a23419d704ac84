"""One image-decode policy: `person-search ingest` and POST /gallery accept and refuse the same files, for
the same reasons, under the same limits."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from service_live import LiveServer, crop_bytes, live_settings, png_bomb
from typer.testing import CliRunner

from cli import app
from index.images import ImageFormat, sniff_extension
from service.image_policy import ImageLimits, ImageRejected, RejectKind, decode_image

LIMITS = ImageLimits(max_bytes=50_000, max_pixels=20_000, min_side=8)


def flat(width: int, height: int) -> bytes:
    """A one-colour PNG: few bytes, however many pixels."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 30, 160)).save(out, "PNG")
    return out.getvalue()


ACCEPTED = {"ok.jpg": "JPEG", "ok.png": "PNG", "ok.webp": "WEBP", "ok.bmp": "BMP"}
REFUSED = {"anim.gif": (crop_bytes(5, "GIF"), 415), "scan.tif": (crop_bytes(6, "TIFF"), 415)}
REFUSED |= {"big.png": (flat(200, 150), 413), "dot.png": (crop_bytes(8, size=(4, 4)), 422)}


@pytest.mark.parametrize("fmt", list(ImageFormat))
def test_every_accepted_format_decodes_and_names_its_file(fmt: ImageFormat) -> None:
    data = crop_bytes(1, fmt.value)
    found, image = decode_image(data, LIMITS)
    assert found is fmt and image.size == (24, 48)
    assert sniff_extension(data) == fmt.extension  # the gallery names files from the same list


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (crop_bytes(2, "GIF"), RejectKind.UNSUPPORTED),
        (crop_bytes(2, "TIFF"), RejectKind.UNSUPPORTED),
        (b"just text", RejectKind.UNSUPPORTED),
        (b"", RejectKind.UNREADABLE),
        (crop_bytes(3)[:200], RejectKind.UNREADABLE),
        (flat(200, 150), RejectKind.TOO_LARGE),  # pixels
        (b"\xff\xd8\xff" + bytes(60_000), RejectKind.TOO_LARGE),  # bytes
        (png_bomb(), RejectKind.TOO_LARGE),
        (crop_bytes(4, size=(4, 4)), RejectKind.TOO_SMALL),
    ],
)
def test_refusals_have_a_kind(data: bytes, kind: RejectKind) -> None:
    with pytest.raises(ImageRejected) as refused:
        decode_image(data, LIMITS)
    assert refused.value.kind is kind and str(refused.value) == refused.value.reason


@pytest.fixture(scope="module")
def server(micro_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    limits = {"max_file_bytes": LIMITS.max_bytes, "max_pixels": LIMITS.max_pixels, "min_side": 8}
    settings = live_settings(micro_bundle, tmp_path_factory.mktemp("gallery"), limits=limits)
    with LiveServer(settings) as live, live.client() as http:
        yield http


def test_cli_ingest_and_http_upload_refuse_the_same_files_for_the_same_reasons(
    server: httpx.Client, micro_bundle: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "crops"
    folder.mkdir()
    for i, (name, fmt) in enumerate(ACCEPTED.items()):
        (folder / name).write_bytes(crop_bytes(10 + i, fmt))
    for name, (data, _) in REFUSED.items():
        (folder / name).write_bytes(data)
    env = {
        "PERSON_SEARCH_LIMITS__MAX_FILE_BYTES": str(LIMITS.max_bytes),
        "PERSON_SEARCH_LIMITS__MAX_PIXELS": str(LIMITS.max_pixels),
        "PERSON_SEARCH_LIMITS__MIN_SIDE": str(LIMITS.min_side),
    }
    result = CliRunner(env=env).invoke(
        app, ["ingest", str(folder), "--model", str(micro_bundle), "--data", str(tmp_path / "gallery")]
    )
    assert result.exit_code == 0, result.output
    assert f"added {len(ACCEPTED)}, duplicate 0, rejected {len(REFUSED)}" in result.output
    reasons = {}
    for line in result.output.splitlines():
        if line.strip().startswith("rejected /"):
            path, _, reason = line.strip().removeprefix("rejected ").partition(": ")
            reasons[Path(path).name] = reason
    assert set(reasons) == set(REFUSED)
    for name, (data, status) in REFUSED.items():
        response = server.post("/gallery", files=[("files", (name, data))])
        assert response.status_code == status, response.text
        assert response.json()["error"]["message"] == f"{name}: {reasons[name]}"
    unsupported = "not a supported image (accepted: JPEG, PNG, WEBP, BMP)"
    assert reasons["anim.gif"] == reasons["scan.tif"] == unsupported
    assert reasons["big.png"] == "200x150 pixels exceeds the limit of 20000 pixels per image"
    for name in ACCEPTED:
        body = server.post("/gallery", files=[("files", (name, (folder / name).read_bytes()))]).json()
        assert body["added"] == 1, body
