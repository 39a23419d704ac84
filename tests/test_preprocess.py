"""The one preprocessing function: exact values, EXIF, modes, determinism, bad input."""

import io

import numpy as np
import pytest
from PIL import Image

from engine.preprocess import preprocess, preprocess_batch
from engine.spec import CLIP_MEAN, CLIP_STD


def test_matches_hand_built_reference_without_resize() -> None:
    pixels = np.array([[[0, 128, 255], [10, 20, 30]], [[255, 255, 255], [0, 0, 0]]], dtype=np.uint8)
    out = preprocess(pixels, (2, 2), CLIP_MEAN, CLIP_STD)
    assert out.shape == (3, 2, 2) and out.dtype == np.float32
    for c in range(3):
        for y in range(2):
            for x in range(2):
                want = (pixels[y, x, c] / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c]
                assert out[c, y, x] == pytest.approx(want, abs=1e-6)


def test_resizes_to_height_width_and_is_deterministic(person_images: list[Image.Image]) -> None:
    a = preprocess_batch(person_images, (48, 16), CLIP_MEAN, CLIP_STD)
    b = preprocess_batch(person_images, (48, 16), CLIP_MEAN, CLIP_STD)
    assert a.shape == (len(person_images), 3, 48, 16)
    np.testing.assert_array_equal(a, b)


def test_grey_and_rgba_become_rgb() -> None:
    grey = Image.new("L", (4, 8), 200)
    rgba = Image.new("RGBA", (4, 8), (200, 200, 200, 0))
    np.testing.assert_allclose(
        preprocess(grey, (8, 4), CLIP_MEAN, CLIP_STD), preprocess(rgba, (8, 4), CLIP_MEAN, CLIP_STD)
    )


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (8, 4), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 4, 4))  # left half blue, right half red
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif, quality=100)
    out = preprocess(Image.open(io.BytesIO(buf.getvalue())), (8, 4), (0, 0, 0), (1, 1, 1))
    # displayed upright it is 4 wide and 8 tall, blue on top
    assert out[2, 1, 2] > 0.8 and out[0, 1, 2] < 0.2
    assert out[0, 6, 2] > 0.8 and out[2, 6, 2] < 0.2


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((2, 2, 2, 2), np.uint8), "img"])
def test_bad_input_names_the_problem(bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match="expected"):
        preprocess(bad, (4, 4), CLIP_MEAN, CLIP_STD)  # type: ignore[arg-type]
