"""The attribute space of synthetic persons: values, how they are drawn (RGB) and how each domain names them.

Both domains share the base word of every value; the target domain also uses synonyms (mixed with the
shared words, never replacing them), so adapting to it is a shift in phrasing, not a new vocabulary.
"""

from __future__ import annotations

from enum import StrEnum


class Domain(StrEnum):
    """Which cameras and which phrasing a synthetic set uses."""

    SOURCE = "source"
    TARGET = "target"


# Garment colours and their base RGB; each identity jitters its shade a little.
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (28, 28, 30),
    "white": (236, 236, 232),
    "grey": (128, 128, 128),
    "red": (200, 30, 35),
    "blue": (35, 70, 190),
    "green": (40, 140, 55),
    "yellow": (235, 205, 40),
    "orange": (240, 125, 25),
    "purple": (120, 45, 150),
    "pink": (240, 135, 175),
    "brown": (115, 70, 35),
}
HAIR_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (22, 20, 20),
    "brown": (95, 60, 30),
    "blonde": (220, 185, 110),
    "grey": (165, 165, 160),
    "red": (165, 60, 25),
}
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (240, 205, 175),
    (225, 180, 140),
    (190, 140, 100),
    (140, 95, 60),
    (95, 65, 45),
)

GENDERS = ("man", "woman")
BUILDS = ("slim", "average", "heavy")
HAIR_LENGTHS = ("short", "medium", "long")
HEADWEAR = ("none", "cap", "beanie", "hat")
UPPER_TYPES = ("t-shirt", "shirt", "jacket", "coat", "hoodie", "dress")
PATTERNS = ("plain", "striped", "logo")
LOWER_TYPES = ("trousers", "jeans", "shorts", "skirt")
BAGS = ("none", "backpack", "handbag", "shoulder bag")
OPEN_FRONT = ("jacket", "coat")  # garments worn over a visible inner shirt
VIEWS = ("front", "back", "side")

# Words: the source domain always uses the first entry; the target uses any entry (the first included).
WORDS: dict[str, tuple[str, ...]] = {
    # colours
    "black": ("black", "dark"),
    "white": ("white", "ivory", "cream"),
    "grey": ("grey", "gray"),
    "red": ("red", "crimson", "scarlet"),
    "blue": ("blue", "navy", "cobalt"),
    "green": ("green", "olive"),
    "yellow": ("yellow", "mustard"),
    "orange": ("orange", "tangerine"),
    "purple": ("purple", "violet"),
    "pink": ("pink", "rose"),
    "brown": ("brown", "tan", "chocolate"),
    "hair:black": ("black", "dark", "jet-black"),
    "hair:brown": ("brown", "chestnut"),
    "hair:blonde": ("blonde", "fair", "golden"),
    "hair:grey": ("grey", "gray", "silver"),
    "hair:red": ("red", "ginger", "auburn"),
    # garments and things
    "t-shirt": ("t-shirt", "tee", "short-sleeved top"),
    "shirt": ("shirt", "button-up shirt", "long-sleeved top"),
    "jacket": ("jacket", "windbreaker", "bomber jacket"),
    "coat": ("coat", "overcoat", "long coat"),
    "hoodie": ("hoodie", "hooded sweatshirt", "sweatshirt"),
    "dress": ("dress", "frock", "sundress"),
    "trousers": ("trousers", "pants", "slacks"),
    "jeans": ("jeans", "denims", "denim pants"),
    "shorts": ("shorts", "short pants"),
    "skirt": ("skirt", "miniskirt"),
    "shoes": ("shoes", "sneakers", "trainers", "running shoes"),
    "backpack": ("backpack", "rucksack", "knapsack"),
    "handbag": ("handbag", "purse", "tote"),
    "shoulder bag": ("shoulder bag", "messenger bag", "satchel", "crossbody bag"),
    "cap": ("cap", "baseball cap"),
    "beanie": ("beanie", "knit hat", "woolly hat"),
    "hat": ("hat", "brimmed hat", "fedora"),
    # people
    "man": ("man", "guy", "male", "gentleman"),
    "woman": ("woman", "lady", "female", "girl"),
    "slim": ("slim", "thin", "slender", "skinny"),
    "average": ("average", "medium", "regular"),
    "heavy": ("heavyset", "stocky", "chubby", "plump"),
    # hair lengths and patterns
    "short": ("short", "cropped", "close-cut"),
    "medium": ("medium-length", "chin-length", "shoulder-length"),
    "long": ("long", "flowing", "waist-length"),
    "striped": ("striped", "stripy", "banded"),
    "logo": ("with a logo", "with a printed logo", "with a chest print"),
}


def domain_code(domain: Domain) -> int:
    """A small integer per domain, part of every generator seed so the domains draw different people."""
    return list(Domain).index(domain) + 1


TARGET_SHARED_WORD = 0.5  # how often the target domain still uses the shared base word


def word(value: str, domain: Domain, pick: float) -> str:
    """The word for a value: the base word in the source domain; half the time a synonym in the target."""
    options = WORDS.get(value, (value,))
    if domain is Domain.SOURCE or len(options) == 1 or pick < TARGET_SHARED_WORD:
        return options[0]
    rest = options[1:]
    return rest[min(int((pick - TARGET_SHARED_WORD) / (1 - TARGET_SHARED_WORD) * len(rest)), len(rest) - 1)]


def upper_types(gender: str) -> tuple[str, ...]:
    """Upper garments a gender is drawn with (only women wear dresses here)."""
    return UPPER_TYPES if gender == "woman" else tuple(t for t in UPPER_TYPES if t != "dress")


def lower_types(gender: str) -> tuple[str, ...]:
    """Lower garments a gender is drawn with (only women wear skirts here)."""
    return LOWER_TYPES if gender == "woman" else tuple(t for t in LOWER_TYPES if t != "skirt")


def combinations() -> int:
    """How many distinct attribute combinations a synthetic identity can have (documented in README)."""
    n_col = len(COLOURS)
    shared = len(BUILDS) * len(HAIR_LENGTHS) * len(HAIR_COLOURS) * n_col  # build, hair, shoe colour
    shared *= (1 + (len(HEADWEAR) - 1) * n_col) * (1 + (len(BAGS) - 1) * n_col)
    total = 0
    for gender in GENDERS:
        outfits = 0
        for upper in upper_types(gender):
            inner = n_col - 1 if upper in OPEN_FRONT else 1  # an inner shirt of another colour
            lower = 1 if upper == "dress" else len(lower_types(gender)) * n_col
            outfits += n_col * len(PATTERNS) * inner * lower
        total += outfits
    return total * shared
