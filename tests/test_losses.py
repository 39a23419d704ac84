"""The retrieval losses against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from training.config import LossWeights
from training.losses import EPSILON, IdentityHead, infonce, sdm, total_loss


def _log1pexp(x: float) -> float:
    return math.log(1 + math.exp(x))


def test_infonce_identity_pairs() -> None:
    """Orthogonal matched pairs at scale 1: each row's CE is log(1 + e^-1), both directions."""
    eye = torch.eye(2)
    assert infonce(eye, eye, 1.0).item() == pytest.approx(_log1pexp(-1), abs=1e-6)


def test_infonce_is_symmetric_mean_of_both_directions() -> None:
    """logits = 10 * [[0.6, 0.8], [0, 1]]^T rows: i2t and t2i cross-entropies by hand."""
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    # logits = [[6, 0], [8, 10]]; i2t rows: log(1+e^-6), log(1+e^-2); t2i rows: log(1+e^2), log(1+e^-10)
    expected = (_log1pexp(-6) + _log1pexp(-2) + _log1pexp(2) + _log1pexp(-10)) / 4
    assert infonce(image, text, 10.0).item() == pytest.approx(expected, abs=1e-5)
    assert infonce(text, image, 10.0).item() == pytest.approx(expected, abs=1e-5)


def test_sdm_with_identity_labels() -> None:
    """Three pairs, the first two of one person: KL(softmax || same-id distribution), both ways."""
    eye = torch.eye(3)
    ids = torch.tensor([7, 7, 3])
    e = math.e
    p = [[e / (e + 2), 1 / (e + 2), 1 / (e + 2)], [1 / (e + 2), e / (e + 2), 1 / (e + 2)]]
    p.append([1 / (e + 2), 1 / (e + 2), e / (e + 2)])
    q = [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
    rows = [
        sum(pi * (math.log(pi) - math.log(qi + EPSILON)) for pi, qi in zip(pr, qr, strict=True))
        for pr, qr in zip(p, q, strict=True)
    ]
    expected = 2 * sum(rows) / 3  # logits and labels are symmetric: both directions are equal
    assert sdm(eye, eye, ids, 1.0).item() == pytest.approx(expected, rel=1e-5)


def test_sdm_is_zero_when_the_softmax_matches_the_labels() -> None:
    """One person, identical embeddings: the softmax is uniform, as the label distribution is."""
    same = torch.nn.functional.normalize(torch.ones(4, 3), dim=1)
    assert sdm(same, same, torch.zeros(4, dtype=torch.long), 5.0).item() == pytest.approx(0.0, abs=1e-6)


def test_sdm_does_not_punish_two_captions_of_one_person_as_infonce_does() -> None:
    """Pairs 0 and 1 show one person with identical embeddings: InfoNCE sees a confusion, SDM does not."""
    x = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), dim=1)
    assert sdm(x, x, torch.tensor([1, 1, 2]), 20.0).item() < 1e-3
    assert infonce(x, x, 20.0).item() > 0.4


def test_total_loss_weights_parts_and_id_head() -> None:
    """The total is the sum of the weighted parts; the ID loss is CE over both towers' embeddings."""
    torch.manual_seed(0)
    image = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    text = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    ids, labels = torch.tensor([5, 5, 9, 9]), torch.tensor([0, 0, 1, 1])
    head = IdentityHead(8, 2)
    weights = LossWeights(sdm=0.5, infonce=2.0, id=1.5)
    loss, parts = total_loss(weights, image, text, ids, torch.tensor(3.0), head, labels)
    ce = torch.nn.functional.cross_entropy
    id_value = (ce(head.classifier(image), labels) + ce(head.classifier(text), labels)) / 2
    assert parts["sdm"] == pytest.approx(0.5 * sdm(image, text, ids, 3.0).item(), rel=1e-5)
    assert parts["infonce"] == pytest.approx(2.0 * infonce(image, text, 3.0).item(), rel=1e-5)
    assert parts["id"] == pytest.approx(1.5 * id_value.item(), rel=1e-5)
    assert loss.item() == pytest.approx(sum(parts.values()), rel=1e-5)


def test_total_loss_refuses_nothing_to_train_and_a_missing_head() -> None:
    x = torch.eye(2)
    with pytest.raises(ValueError, match="every loss weight is 0"):
        total_loss(LossWeights(sdm=0, infonce=0, id=0), x, x, torch.tensor([0, 1]), torch.tensor(1.0))
    with pytest.raises(ValueError, match="IdentityHead"):
        total_loss(LossWeights(id=1.0), x, x, torch.tensor([0, 1]), torch.tensor(1.0))
