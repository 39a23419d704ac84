"""Retrieval metrics against hand-computed examples, and evaluate() with encoders whose answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.data.types import PersonDataset, PersonImage
from training.evaluate import evaluate, retrieval_metrics


def test_one_query_three_relevant_images() -> None:
    # ranked gallery: id3 (0.95), id1 (0.9), id2 (0.8), id1 (0.7), id1 (0.1) -> relevant at ranks 2, 4, 5
    m = retrieval_metrics(np.array([[0.9, 0.8, 0.7, 0.95, 0.1]]), [1], [1, 2, 1, 3, 1])
    assert m["R1"] == 0.0 and m["R5"] == 100.0 and m["R10"] == 100.0
    assert m["mAP"] == pytest.approx(100 * (1 / 2 + 2 / 4 + 3 / 5) / 3)
    assert m["mINP"] == pytest.approx(100 * 3 / 5)


def test_averages_over_queries() -> None:
    gallery = [2, 1, 1, 2]
    similarity = np.array(
        [
            [0.9, 0.1, 0.2, 0.3],  # query id 1 ranks ids 2, 2, 1, 1: relevant at ranks 3 and 4
            [0.9, 0.2, 0.3, 0.1],  # query id 2 ranks ids 2, 1, 1, 2: relevant at ranks 1 and 4
        ]
    )
    m = retrieval_metrics(similarity, [1, 2], gallery)
    ap1, inp1 = (1 / 3 + 2 / 4) / 2, 2 / 4
    ap2, inp2 = (1 / 1 + 2 / 4) / 2, 2 / 4
    assert m["R1"] == 50.0 and m["R5"] == 100.0
    assert m["mAP"] == pytest.approx(100 * (ap1 + ap2) / 2)
    assert m["mINP"] == pytest.approx(100 * (inp1 + inp2) / 2)


def test_r5_and_r10_cutoffs() -> None:
    gallery = [*range(100, 112), 7]  # the one relevant image (id 7) scores 7th best
    scores = np.zeros((1, 13))
    scores[0, :12] = np.linspace(1.0, 0.0, 12)
    scores[0, 12] = (scores[0, 5] + scores[0, 6]) / 2  # between the 6th and 7th best
    m = retrieval_metrics(scores, [7], gallery)
    assert (m["R1"], m["R5"], m["R10"]) == (0.0, 0.0, 100.0)
    assert m["mAP"] == pytest.approx(100 / 7) and m["mINP"] == pytest.approx(100 / 7)


def test_ties_are_ranked_in_gallery_order() -> None:
    m = retrieval_metrics(np.full((1, 3), 0.5), [1], [2, 1, 1])  # order 0, 1, 2: relevant at 2 and 3
    assert m["R1"] == 0.0
    assert m["mAP"] == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)
    assert m["mINP"] == pytest.approx(100 * 2 / 3)
    first = retrieval_metrics(np.full((1, 3), 0.5), [1], [1, 2, 1])
    assert first["R1"] == 100.0


def test_perfect_ranking_is_100_everywhere() -> None:
    ids = np.array([1, 1, 2, 3, 3, 3])
    similarity = (ids[:, None] == ids[None, :]).astype(np.float32)
    m = retrieval_metrics(similarity, ids, ids)
    assert all(m[k] == 100.0 for k in ("R1", "R5", "R10", "mAP", "mINP"))


def test_queries_without_a_match_are_left_out_and_counted() -> None:
    m = retrieval_metrics(np.array([[0.9, 0.1], [0.5, 0.6]]), [1, 99], [1, 2])
    assert m["R1"] == 100.0 and m["queries_without_match"] == 1
    with pytest.raises(ValueError, match="no query has a relevant"):
        retrieval_metrics(np.array([[0.5]]), [1], [2])


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match=r"expected \(2, 3\)"):
        retrieval_metrics(np.zeros((3, 2)), [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="NaN"):
        retrieval_metrics(np.array([[np.nan]]), [1], [1])


def test_chunking_does_not_change_the_result() -> None:
    rng = np.random.default_rng(0)
    qids, gids = rng.integers(0, 40, 700), rng.integers(0, 40, 300)
    similarity = rng.normal(size=(700, 300))
    whole = retrieval_metrics(similarity, qids, gids)
    halves = [retrieval_metrics(similarity[s], qids[s], gids) for s in (slice(0, 350), slice(350, 700))]
    for key in ("R1", "mAP", "mINP"):
        assert whole[key] == pytest.approx((halves[0][key] + halves[1][key]) / 2)


def _dataset(tmp_path: Path, n_ids: int = 6, per_id: int = 2) -> PersonDataset:
    """Images filled with a grey level that encodes the person id; captions that name it."""
    items = []
    for pid in range(1, n_ids + 1):
        for k in range(per_id):
            path = tmp_path / f"{pid}_{k}.png"
            Image.new("RGB", (8, 24), (pid * 20, pid * 20, pid * 20)).save(path)
            items.append(PersonImage(path, pid, "test", (f"person {pid}", f"someone {pid}")))
    return PersonDataset("greys", tmp_path, items)


def _one_hot(ids: list[int], width: int = 16) -> np.ndarray:
    out = np.zeros((len(ids), width), np.float32)
    out[np.arange(len(ids)), ids] = 3.0  # not unit length: evaluate normalises
    return out


def test_evaluate_with_an_oracle_encoder(tmp_path: Path) -> None:
    calls: list[int] = []

    def encode_images(images: list[Image.Image]) -> np.ndarray:
        calls.append(len(images))
        return _one_hot([round(np.asarray(im)[0, 0, 0] / 20) for im in images])

    def encode_texts(texts: list[str]) -> np.ndarray:
        return _one_hot([int(t.split()[-1]) for t in texts])

    m = evaluate(encode_images, encode_texts, _dataset(tmp_path), batch_size=5)
    assert all(m[k] == 100.0 for k in ("R1", "R5", "R10", "mAP", "mINP"))
    assert (m["queries"], m["gallery"], m["identities"]) == (24, 12, 6)
    assert calls == [5, 5, 2]  # images are read and encoded one batch at a time


def test_evaluate_with_a_constant_encoder_is_gallery_order(tmp_path: Path) -> None:
    def constant(batch: list) -> np.ndarray:
        return np.ones((len(batch), 4), np.float32)

    m = evaluate(constant, constant, _dataset(tmp_path, n_ids=3, per_id=1), batch_size=2)
    # every score ties, so each query ranks the gallery as stored: ids 1, 2, 3 at ranks 1, 2, 3
    assert m["R1"] == pytest.approx(100 / 3) and m["mAP"] == pytest.approx(100 * (1 + 1 / 2 + 1 / 3) / 3)
    with pytest.raises(ValueError, match="no images"):
        evaluate(constant, constant, PersonDataset("empty", tmp_path, []))
