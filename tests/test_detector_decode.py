"""Letterboxing, decoding, class filter, NMS and clipping against outputs built by hand."""

from __future__ import annotations

import numpy as np
import pytest
from detector_helpers import candidates_from

from engine.detector.boxes import box_iou, cxcywh_to_xyxy, nms
from engine.detector.decode import PostProcess, decode, decode_batch
from engine.detector.letterbox import fit, letterbox_batch

POST = PostProcess(person_class=0, score_threshold=0.25, nms_iou=0.45, max_detections=100)


def test_fit_scales_to_the_tighter_side_and_centres_the_padding() -> None:
    t = fit((360, 640), (192, 320), center=True)
    assert (t.scale, t.pad_x, t.pad_y, t.resized) == (0.5, 0, 6, (180, 320))
    tall = fit((400, 100), (192, 320), center=True)
    assert (tall.scale, tall.resized, tall.pad_x, tall.pad_y) == (0.48, (192, 48), 136, 0)
    corner = fit((360, 640), (192, 320), center=False)
    assert (corner.pad_x, corner.pad_y) == (0, 0)


def test_letterbox_puts_the_frame_where_the_transform_says() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[100:140, 200:260] = (255, 0, 0)  # a red block, 60 wide 40 tall
    x, (t,) = letterbox_batch([frame], (192, 320), pad_value=114, center=True, batch=3)
    assert x.shape == (3, 3, 192, 320) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, :6], 114 / 255)  # top padding rows
    np.testing.assert_allclose(x[0, :, 186:], 114 / 255)  # bottom padding rows
    np.testing.assert_allclose(x[1:], 114 / 255)  # rows past the frames are blank padding
    red = np.argwhere(x[0, 0] > 0.5)  # bilinear softens the edges of the block
    (y1, x1), (y2, x2) = red.min(0), red.max(0) + 1
    assert (x1, y1, x2, y2) == (100, 56, 130, 76)  # (200, 100, 260, 140) * 0.5 + (0, 6)
    back = t.to_frame(np.array([[x1, y1, x2, y2]], np.float32))
    np.testing.assert_allclose(back, [[200, 100, 260, 140]])


def test_letterbox_refuses_what_is_not_an_rgb_uint8_frame() -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\) RGB array, got \(10, 10\)"):
        letterbox_batch([np.zeros((10, 10), np.uint8)], (64, 64), 114, True)
    with pytest.raises(ValueError, match="uint8 RGB, got float32"):
        letterbox_batch([np.zeros((10, 10, 3), np.float32)], (64, 64), 114, True)


def test_box_iou_and_corner_form() -> None:
    a = cxcywh_to_xyxy(np.array([[10, 10, 20, 20]], np.float32))
    np.testing.assert_allclose(a, [[0, 0, 20, 20]])
    b = np.array([[10, 0, 30, 20], [40, 40, 50, 50], [0, 0, 20, 20]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[200 / 600, 0.0, 1.0]])


def test_nms_keeps_the_best_of_each_overlapping_group_best_first() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10], [5, 0, 15, 10]], np.float32
    )
    scores = np.array([0.6, 0.9, 0.7, 0.95, 0.8], np.float32)
    # 3 (0.95) drops 0 (IoU 1) and 1 (IoU 0.68); 4 overlaps 3 by 1/3 and survives; 2 stands alone
    assert nms(boxes, scores, 0.45).tolist() == [3, 4, 2]
    assert nms(boxes, scores, 0.45, limit=2).tolist() == [3, 4]
    assert nms(boxes, scores, 0.2).tolist() == [3, 2]  # now 4 (IoU 1/3) goes too
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).tolist() == []


def test_decode_filters_classes_and_scores_suppresses_and_maps_to_the_frame() -> None:
    # input 192x320, frame 360x640: scale 0.5, pad (0, 6); classes: person, car
    out = candidates_from(
        [
            (100, 56, 20, 40, [0.9, 0.1]),  # A: person
            (102, 57, 20, 40, [0.8, 0.0]),  # B: overlaps A (IoU ~0.8): suppressed
            (112, 56, 20, 40, [0.7, 0.0]),  # C: overlaps A by 8/32 wide (IoU 0.25): kept
            (200, 100, 30, 60, [0.5, 0.8]),  # D: best class is car: dropped
            (250, 100, 30, 60, [0.2, 0.0]),  # E: below the threshold: dropped
            (160, 2, 40, 4, [0.99, 0.0]),  # F: wholly in the top padding: dropped
            (315, 180, 20, 20, [0.6, 0.0]),  # G: past the right and bottom edges: clipped
        ]
    )
    t = fit((360, 640), (192, 320), center=True)
    found = decode(out, t, POST)
    np.testing.assert_allclose(found.scores, [0.9, 0.7, 0.6], rtol=1e-6)
    np.testing.assert_allclose(
        found.boxes,
        [
            [(90 - 0) / 0.5, (36 - 6) / 0.5, (110 - 0) / 0.5, (76 - 6) / 0.5],
            [(102 - 0) / 0.5, (36 - 6) / 0.5, (122 - 0) / 0.5, (76 - 6) / 0.5],
            [(305 - 0) / 0.5, (170 - 6) / 0.5, 640, 360],
        ],
    )
    assert len(decode(out, t, PostProcess(0, 0.25, 0.45, max_detections=2))) == 2


def test_decode_uses_the_person_class_of_the_spec() -> None:
    out = candidates_from([(50, 50, 10, 10, [0.9, 0.3]), (150, 50, 10, 10, [0.1, 0.6])])
    t = fit((100, 200), (100, 200), center=True)
    found = decode(out, t, PostProcess(person_class=1, score_threshold=0.25, nms_iou=0.45, max_detections=9))
    np.testing.assert_allclose(found.boxes, [[145, 45, 155, 55]])
    np.testing.assert_allclose(found.scores, [0.6])


def test_decode_batch_maps_each_frame_through_its_own_letterbox_and_skips_padding_rows() -> None:
    block = candidates_from([(160, 96, 32, 64, [0.9])])
    outputs = np.stack([block, block, block])  # a batch of 3, the last row padding
    _, transforms = letterbox_batch(
        [np.zeros((360, 640, 3), np.uint8), np.zeros((192, 160, 3), np.uint8)], (192, 320), 114, True, 3
    )
    first, second = decode_batch(outputs, transforms, POST)
    np.testing.assert_allclose(first.boxes, [[288, 116, 352, 244]])  # (y - 6) / 0.5
    np.testing.assert_allclose(second.boxes, [[64, 64, 96, 128]])  # scale 1, pad x 80
