"""Our torch-free tokenizer gives exactly open_clip's ids, and the real lengths."""

import random

import numpy as np
import open_clip
import pytest

from engine.tokenizer import Tokenizer

WORDS = (
    "a man woman person in grey gray hoodie blue jeans white sneakers carrying black backpack crimson "
    "trousers pants rucksack long short hair cap beanie jacket coat dress skirt shoulder-bag 42 3rd "
    "don't it's we'll they're I'd she's café naïve über straße 日本 東京 😀 &amp; &lt;b&gt; ... !? , ;"
).split()


def varied_texts(n: int, seed: int = 0) -> list[str]:
    """Seeded sentences mixing words, punctuation, unicode, HTML entities, case and odd spacing."""
    rng = random.Random(seed)
    texts = ["", " ", "A", "x" * 300, "word " * 100, "ï¬\x81 mojibake Ã©", "UPPER lower MiXeD"]
    for _ in range(n - len(texts)):
        words = rng.choices(WORDS, k=rng.randint(1, 40))
        sep = rng.choice([" ", "  ", "\t", " \n "])
        text = sep.join(w.upper() if rng.random() < 0.1 else w for w in words)
        texts.append(text)
    return texts


@pytest.fixture(scope="module")
def ours() -> Tokenizer:
    return Tokenizer(context_length=77)


def test_ids_equal_open_clip_on_varied_strings(ours: Tokenizer) -> None:
    texts = varied_texts(400)
    want = open_clip.get_tokenizer("ViT-B-16")(texts).numpy()
    got, lengths = ours(texts, pad_to=77)
    mismatched = [t for t, a, b in zip(texts, want, got, strict=True) if not np.array_equal(a, b)]
    assert not mismatched, f"{len(mismatched)} texts differ, first: {mismatched[:3]}"
    np.testing.assert_array_equal(lengths, (want != 0).sum(axis=1))


def test_batch_is_trimmed_to_longest_real_length(ours: Tokenizer) -> None:
    ids, lengths = ours(["a man", "a woman in a long red coat"])
    assert ids.dtype == np.int64 and ids.shape == (2, int(lengths.max()))
    assert lengths.tolist() == [4, 9]
    assert ids[0, lengths[0] - 1] == ours.eot_id and ids[0, lengths[0]] == 0


def test_truncation_keeps_end_token(ours: Tokenizer) -> None:
    short = Tokenizer(context_length=8)
    ids, lengths = short(["one two three four five six seven eight nine ten"])
    assert ids.shape == (1, 8) and lengths.tolist() == [8]
    assert ids[0, 0] == short.sot_id and ids[0, -1] == short.eot_id


def test_single_string_is_refused(ours: Tokenizer) -> None:
    with pytest.raises(TypeError, match="sequence"):
        ours("a man")  # type: ignore[arg-type]


def test_end_of_text_id_is_the_vocabularys_own(ours: Tokenizer) -> None:
    assert ours.eot_id == ours.ids["<end_of_text>"] and ours.sot_id == ours.ids["<start_of_text>"]
    reference = open_clip.tokenizer.SimpleTokenizer()
    assert (ours.eot_id, ours.sot_id) == (reference.eot_token_id, reference.sot_token_id)
    assert ours.eot_id == len(reference.encoder) - 1  # CLIP's BPE puts it last
