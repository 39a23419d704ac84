"""Caption grammar: CUHK-PEDES-style descriptions of a synthetic person, terse (source) or free (target).

Both domains name the same attributes and omit some at random. The source domain uses three fixed
templates, the base words and a fixed garment order; the target domain shuffles clauses, mixes noun
phrases with predicates ("his pants are gray"), adds the view now and then, and uses synonyms half the
time. Captions stay short enough for a 40-token text tower.
"""

from __future__ import annotations

import re

import numpy as np

from training.synth.vocab import Domain, word

MAX_PIECES = 34  # words, hyphens and punctuation: at most about 38 CLIP tokens, the demo model's context
PLURAL = ("trousers", "jeans", "shorts")
WORN = ("upper", "lower", "shoes", "headwear")
VIEW_PHRASES = {
    "front": ("facing the camera", "walking toward the camera", "seen from the front"),
    "back": ("seen from behind", "walking away", "with the back to the camera"),
    "side": ("seen from the side", "in profile", "walking past"),
}


def _pieces(text: str) -> int:
    """A cheap lower bound on CLIP tokens: words and punctuation marks."""
    return len(re.findall(r"[a-z]+|[^\sa-z]", text.lower()))


def _a(phrase: str) -> str:
    """Prefix the indefinite article."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _join(items: list[str]) -> str:
    """'x', 'x and y', 'x, y and z'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _sentences(parts: list[str]) -> str:
    """Capitalise and end each sentence with a full stop."""
    return " ".join(p[0].upper() + p[1:] + "." for p in parts if p)


class Grammar:
    """Phrases for one person in one domain, drawing word choices from a generator."""

    def __init__(self, attributes: dict[str, str], domain: Domain, rng: np.random.Generator) -> None:
        self.a, self.domain, self.rng = attributes, domain, rng
        woman = attributes["gender"] == "woman"
        self.pron, self.poss = ("she", "her") if woman else ("he", "his")

    def w(self, value: str) -> str:
        return word(value, self.domain, float(self.rng.random()))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def choice(self, options: tuple[str, ...] | list[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    # attributes present, and which a caption mentions ----------------------------------------------------
    def mentioned(self) -> list[str]:
        """The attributes this caption names: garments always, the rest each with some chance."""
        a, keep = self.a, ["upper"]
        if a["lower_type"] != "none":
            keep.append("lower")
        odds = {"hair": 0.7, "shoes": 0.65, "headwear": 0.8, "bag": 0.85, "build": 0.3}
        present = {"headwear": a["headwear"] != "none", "bag": a["bag"] != "none"}
        keep += [k for k, p in odds.items() if present.get(k, True) and self.chance(p)]
        return keep

    def person(self, build: bool) -> str:
        noun = self.w(self.a["gender"])
        if not build:
            return noun
        adjective = self.w(self.a["build"])
        return f"{noun} of {adjective} build" if self.a["build"] == "average" else f"{adjective} {noun}"

    # noun phrases -----------------------------------------------------------------------------------------
    def np(self, key: str) -> str:
        a, w = self.a, self.w
        if key == "upper":
            pattern = a["upper_pattern"]
            core = f"{w(a['upper_colour'])} {w(a['upper_type'])}"
            if pattern == "striped":
                core = f"{w(a['upper_colour'])} {w('striped')} {w(a['upper_type'])}"
            phrase = _a(core) + (f" {w('logo')}" if pattern == "logo" else "")
            if a["inner_colour"] != "none" and self.chance(0.7):
                phrase += f" over {_a(w(a['inner_colour']) + ' ' + w('shirt'))}"
            return phrase
        if key == "lower":
            core = f"{w(a['lower_colour'])} {w(a['lower_type'])}"
            return core if a["lower_type"] in PLURAL else _a(core)
        if key == "shoes":
            return f"{w(a['shoe_colour'])} {w('shoes')}"
        if key == "hair":
            return f"{w(a['hair_length'])} {w('hair:' + a['hair_colour'])} hair"
        if key == "headwear":
            return _a(f"{w(a['headwear_colour'])} {w(a['headwear'])}")
        if key == "bag":
            return _a(f"{w(a['bag_colour'])} {w(a['bag'])}")
        raise KeyError(key)

    def predicate(self, key: str) -> str:
        """A clause that states the colour: 'her skirt is black', 'a red rucksack on his back'."""
        a, w, poss, pron = self.a, self.w, self.poss, self.pron
        if key == "upper":
            return f"{poss} {w(a['upper_type'])} is {w(a['upper_colour'])}"
        if key == "lower":
            verb = "are" if a["lower_type"] in PLURAL else "is"
            return f"{poss} {w(a['lower_type'])} {verb} {w(a['lower_colour'])}"
        if key == "shoes":
            return self.choice(
                (f"{poss} {w('shoes')} are {w(a['shoe_colour'])}", f"{self.np('shoes')} on {poss} feet")
            )
        if key == "hair":
            return self.choice(
                (
                    f"{poss} hair is {w(a['hair_length'])} and {w('hair:' + a['hair_colour'])}",
                    f"{pron} has {self.np('hair')}",
                )
            )
        if key == "headwear":
            return f"{self.np('headwear')} sits on {poss} head"
        if key == "bag":
            where = {"backpack": "on {} back", "handbag": "in {} hand", "shoulder bag": "over {} shoulder"}[
                a["bag"]
            ]
            return self.choice((f"{pron} carries {self.np('bag')}", f"{self.np('bag')} {where.format(poss)}"))
        raise KeyError(key)


def _source(g: Grammar, keys: list[str]) -> str:
    """Terse templates with a fixed garment order."""
    worn = [g.np(k) for k in ("headwear", "upper", "lower", "shoes") if k in keys]  # fixed order
    who = _a(g.person("build" in keys))
    hair = f" with {g.np('hair')}" if "hair" in keys else ""
    bag = f"{g.pron} carries {g.np('bag')}" if "bag" in keys else ""
    template = int(g.rng.integers(3))
    if template == 0:
        return _sentences([f"{who}{hair} wearing {_join(worn)}", bag])
    if template == 1:
        has = f"{g.pron} has {g.np('hair')}" if hair else ""
        return _sentences([f"the {g.person('build' in keys)} wears {_join(worn)}", has, bag])
    carrying = f", carrying {g.np('bag')}" if bag else ""
    return _sentences([f"{who} in {_join(worn)}{carrying}", f"{g.pron} has {g.np('hair')}" if hair else ""])


def _target(g: Grammar, keys: list[str], view: str) -> str:
    """Free phrasing: shuffled clauses, noun phrases mixed with predicates, an occasional view."""
    order = [keys[i] for i in g.rng.permutation(len(keys)) if keys[i] != "build"]
    as_np = [k for k in order if k in WORN and g.chance(0.55)]
    if not as_np:
        as_np = [next(k for k in order if k in WORN)]  # the upper garment is always there
    clauses = [g.predicate(k) for k in order if k not in as_np]
    seen = f" {g.choice(VIEW_PHRASES[view])}" if g.chance(0.35) else ""
    who = g.person("build" in keys)
    verb = g.choice(("wearing", "dressed in", "in", "who has on", "sporting"))
    opener = g.choice(
        (
            f"{_a(who)}{seen} {verb} {_join([g.np(k) for k in as_np])}",
            f"there is {_a(who)}{seen} {verb} {_join([g.np(k) for k in as_np])}",
            f"{g.choice(('dressed in', 'wearing', 'sporting'))} {_join([g.np(k) for k in as_np])}, "
            f"this {who} is{seen or ' walking by'}",
        )
    )
    if len(clauses) > 1 and g.chance(0.5):
        clauses = [f"{clauses[0]}, and {clauses[1]}", *clauses[2:]]
    if clauses and g.chance(0.4):
        return _sentences([f"{opener}; {clauses[0]}", *clauses[1:]])
    return _sentences([opener, *clauses])


def caption(attributes: dict[str, str], view: str, domain: Domain, rng: np.random.Generator) -> str:
    """One description of one image; drops optional attributes until it fits MAX_PIECES."""
    g = Grammar(attributes, domain, rng)
    keys = g.mentioned()
    while True:
        text = _source(g, keys) if domain is Domain.SOURCE else _target(g, keys, view)
        optional = [k for k in keys if k not in ("upper", "lower")]
        if _pieces(text) <= MAX_PIECES or not optional:
            return text
        keys.remove(optional[-1])
