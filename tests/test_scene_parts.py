"""The parts of the scene renderer: sprites, gait, views from the walking direction, masks and blending."""

from __future__ import annotations

import numpy as np
import pytest

from training.synth.attributes import sample_person
from training.synth.scene_plan import Walk
from training.synth.scene_render import CameraScene, composite, render_frame, visibilities
from training.synth.scene_sprites import PHASES, REF_HEIGHT, SpriteBook, place
from training.synth.scenes import prepare


def _scene(size: tuple[int, int] = (96, 160)) -> CameraScene:
    s = prepare(1, 1.0, 1, 0, "source", size)
    return s.cameras[0]


def test_placed_sprite_box_is_its_alpha_bbox() -> None:
    book = SpriteBook(sample_person(np.random.default_rng(3)))
    sprite = book.get("side", 1, 1)
    full = np.asarray(sprite.image)[..., 3]
    assert full[0].any() and full[-1].any() and full[:, 0].any() and full[:, -1].any()  # cropped tight
    placed = place(sprite, 80.0, 90.0, 60.0, np.ones(3))
    assert placed is not None
    canvas = np.zeros((200, 200), np.uint8)
    canvas[placed.y0 : placed.y0 + placed.alpha.shape[0], placed.x0 : placed.x0 + placed.alpha.shape[1]] = (
        placed.alpha
    )
    rows, cols = np.nonzero(canvas.any(axis=1))[0], np.nonzero(canvas.any(axis=0))[0]
    assert placed.box == (cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1)
    assert abs(placed.y0 + placed.box[3] - 90) <= 2  # the feet stand on the floor point
    assert abs(placed.box[3] - 60 * sprite.image.size[1] / REF_HEIGHT) <= 2
    assert place(sprite, 80.0, 90.0, 3.0, np.ones(3)) is None  # too small to draw


def test_gait_phases_and_views_differ() -> None:
    book = SpriteBook(sample_person(np.random.default_rng(4)))
    side = [np.asarray(book.get("side", 1, k).image) for k in range(PHASES)]
    assert side[0].shape != side[1].shape or not np.array_equal(side[0], side[1])  # legs apart vs together
    assert not np.array_equal(np.asarray(book.get("side", -1, 1).image), side[1])  # facing left vs right
    assert book.get("front", 1, 0).image.size != book.get("side", 1, 0).image.size


@pytest.mark.parametrize(
    ("start", "end", "view", "facing"),
    [
        ((0.0, 20.0), (0.0, 5.0), "front", 1),  # straight at the camera
        ((0.0, 5.0), (0.0, 20.0), "back", 1),  # away from it
        ((-6.0, 10.0), (6.0, 10.0), "side", 1),  # left to right
        ((6.0, 10.0), (-6.0, 10.0), "side", -1),  # right to left
    ],
)
def test_view_follows_the_walking_direction(start, end, view, facing) -> None:  # type: ignore[no-untyped-def]
    walk = Walk(1, 0, 0.0, start, end, 1.4)
    x, z, walked = walk.at(walk.t1 / 2)
    assert walk.view(x, z) == (view, facing)
    assert walked == pytest.approx(walk.length / 2)


def test_visibility_counts_nearer_masks_and_the_frame_edge() -> None:
    solid = np.full((10, 10), 255, np.uint8)
    half = np.zeros((10, 10), np.uint8)
    half[:, :5] = 255
    rgb = np.zeros((10, 10, 3), np.uint8)
    far, near = (20, 20, rgb, solid), (20, 20, rgb, half)  # the near patch covers the far one's left half
    assert visibilities([far, near], (96, 160)) == [0.5, 1.0]
    assert visibilities([near, far], (96, 160)) == [0.0, 1.0]  # transparent pixels of `half` hide nothing
    assert visibilities([(-5, 20, rgb, solid)], (96, 160)) == [0.5]  # half outside the frame
    assert visibilities([(-20, 20, rgb, solid)], (96, 160)) == [0.0]


def test_a_person_wholly_behind_a_prop_gets_no_row() -> None:
    scene = _scene()
    placed = place(
        SpriteBook(sample_person(np.random.default_rng(5))).get("front", 1, 0), 80, 70, 40, np.ones(3)
    )
    assert placed is not None
    _, rows = render_frame(
        CameraScene(scene.geometry, scene.background, (), scene.gain), [(placed, 7, "front")]
    )
    assert [(r.pid, r.box, r.visibility) for r in rows] == [(7, placed.box, 1.0)]
    wall = type(scene.props[0])(
        "wall", 0, 0, np.zeros((96, 160, 3), np.uint8), np.ones((96, 160), bool), 95.0
    )
    frame, rows = render_frame(
        CameraScene(scene.geometry, scene.background, (wall,), scene.gain), [(placed, 7, "front")]
    )
    assert rows == [] and not frame.any()  # drawn, but hidden: no row


def test_composite_blends_by_alpha() -> None:
    frame = np.full((4, 4, 3), 100, np.uint8)
    alpha = np.array([[0, 255], [128, 255]], np.uint8)
    composite(frame, (3, 3, np.full((2, 2, 3), 200, np.uint8), alpha))  # hangs off the corner
    assert frame[3, 3].tolist() == [100, 100, 100] and frame[:3].max() == 100
