"""Sample one synthetic identity: the attributes a caption names, and the exact colours it is drawn with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synth import vocab

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Person:
    """An identity: named attributes (strings, "none" where absent) and its fixed rendering colours."""

    attributes: dict[str, str]
    colours: dict[str, RGB]  # part -> RGB: skin, hair, headwear, upper, inner, lower, shoes, bag
    width: float  # body width factor from build and gender


def _pick(rng: np.random.Generator, values: tuple[str, ...], weights: tuple[float, ...] | None = None) -> str:
    """One value, uniformly or by weight."""
    p = None if weights is None else np.asarray(weights) / np.sum(weights)
    return values[int(rng.choice(len(values), p=p))]


def _shade(rng: np.random.Generator, rgb: RGB) -> RGB:
    """An identity's own shade of a named colour: brightness and per-channel jitter, clipped."""
    scale = rng.uniform(0.88, 1.12)
    jitter = rng.integers(-12, 13, size=3)
    out = np.clip(np.asarray(rgb) * scale + jitter, 0, 255).astype(int)
    return int(out[0]), int(out[1]), int(out[2])


def _garments(rng: np.random.Generator, gender: str) -> dict[str, str]:
    """Upper and lower garment types, colours and pattern; a dress has no lower garment."""
    colours = tuple(vocab.COLOURS)
    upper = _pick(rng, vocab.upper_types(gender))
    upper_colour = _pick(rng, colours)
    inner = "none"
    if upper in vocab.OPEN_FRONT:
        inner = _pick(rng, tuple(c for c in colours if c != upper_colour))
    lower, lower_colour = "none", "none"
    if upper != "dress":
        lower = _pick(rng, vocab.lower_types(gender))
        lower_colour = _pick(rng, colours)
    return {
        "upper_type": upper,
        "upper_colour": upper_colour,
        "upper_pattern": _pick(rng, vocab.PATTERNS, (2, 1, 1)),
        "inner_colour": inner,
        "lower_type": lower,
        "lower_colour": lower_colour,
    }


def sample_person(rng: np.random.Generator) -> Person:
    """Draw one identity's attributes and colours from the generator."""
    colours = tuple(vocab.COLOURS)
    gender = _pick(rng, vocab.GENDERS)
    man = gender == "man"
    headwear = _pick(rng, vocab.HEADWEAR, (5, 2, 2, 2))
    bag = _pick(rng, vocab.BAGS, (4, 3, 1, 2) if man else (3, 2, 3, 2))
    attributes = {
        "gender": gender,
        "build": _pick(rng, vocab.BUILDS, (3, 4, 3)),
        "hair_length": _pick(rng, vocab.HAIR_LENGTHS, (7, 2, 1) if man else (2, 3, 5)),
        "hair_colour": _pick(rng, tuple(vocab.HAIR_COLOURS), (4, 3, 2, 1, 1)),
        "headwear": headwear,
        "headwear_colour": "none" if headwear == "none" else _pick(rng, colours),
        **_garments(rng, gender),
        "shoe_colour": _pick(rng, colours),
        "bag": bag,
        "bag_colour": "none" if bag == "none" else _pick(rng, colours),
    }
    parts = {
        "hair": vocab.HAIR_COLOURS[attributes["hair_colour"]],
        "skin": vocab.SKIN_TONES[int(rng.integers(len(vocab.SKIN_TONES)))],
    }
    for part in ("headwear", "upper", "inner", "lower", "shoe", "bag"):
        name = attributes[f"{part}_colour"]
        parts[part] = vocab.COLOURS.get(name, (0, 0, 0))
    shaded = {part: _shade(rng, rgb) for part, rgb in parts.items()}
    width = {"slim": 0.82, "average": 1.0, "heavy": 1.25}[attributes["build"]] * (1.0 if man else 0.92)
    return Person(attributes=attributes, colours=shaded, width=width)
