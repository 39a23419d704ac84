"""CLIP byte-level BPE tokenizer that reads the vocabulary shipped in a bundle: no torch, no open_clip.

It reproduces open_clip's SimpleTokenizer ids exactly (tests compare them) and also returns each text's
real length, so the causal text tower can run on the batch's real length instead of the full context.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import itertools
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

import ftfy
import numpy as np
import regex

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
N_MERGES = 49152 - 256 - 2  # CLIP's vocabulary: 256 bytes x 2 forms, the merges, 2 special tokens
SOT, EOT = "<start_of_text>", "<end_of_text>"
WORD_PATTERN = regex.compile(
    rf"{SOT}|{EOT}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+", regex.IGNORECASE
)


def default_vocab_path() -> Path:
    """The vocabulary file that open_clip installs, located without importing open_clip (or torch)."""
    found = importlib.util.find_spec("open_clip")
    if found is None or found.origin is None:
        raise FileNotFoundError(f"no {VOCAB_FILE} given and open_clip is not installed to provide one")
    return Path(found.origin).parent / VOCAB_FILE


@cache
def _byte_alphabet() -> dict[int, str]:
    """Map each byte to a printable character: printable bytes stay, the rest move above U+0100."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [b for b in range(256) if b not in keep]
    table = {b: chr(b) for b in keep}
    table.update({b: chr(256 + i) for i, b in enumerate(moved)})
    return table


def clean_text(text: str) -> str:
    """Fix mojibake, unescape HTML twice, collapse whitespace and lowercase, as CLIP was trained."""
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).lower()


class Tokenizer:
    """Text -> int64 token ids [N, L] plus real lengths [N]; L is the longest real length in the batch."""

    def __init__(self, vocab_path: Path | None = None, context_length: int = 77) -> None:
        path = Path(vocab_path) if vocab_path else default_vocab_path()
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer vocabulary {path} not found")
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().split("\n")[1 : N_MERGES + 1]
        merges = [tuple(line.split()) for line in lines]
        alphabet = list(_byte_alphabet().values())
        symbols = alphabet + [s + "</w>" for s in alphabet] + ["".join(m) for m in merges] + [SOT, EOT]
        self.ids = {s: i for i, s in enumerate(symbols)}
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.sot_id, self.eot_id = self.ids[SOT], self.ids[EOT]
        self.context_length = context_length
        self._bpe = lru_cache(maxsize=65536)(self._merge_word)

    def _merge_word(self, word: str) -> tuple[str, ...]:
        """Apply BPE merges to one pre-token, lowest rank first, until none applies."""
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            pairs = set(itertools.pairwise(parts))
            best = min(pairs, key=lambda p: self.ranks.get(p, N_MERGES))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return tuple(parts)

    def encode_one(self, text: str) -> list[int]:
        """Token ids of one text without start/end tokens."""
        alphabet = _byte_alphabet()
        ids: list[int] = []
        for token in WORD_PATTERN.findall(clean_text(text)):
            if token in (SOT, EOT):
                ids.append(self.ids[token])
                continue
            word = "".join(alphabet[b] for b in token.encode("utf-8"))
            ids.extend(self.ids[p] for p in self._bpe(word))
        return ids

    def __call__(self, texts: Sequence[str], pad_to: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ids [N, L] (zero-padded, start and end tokens added, truncated to context) and lengths [N]."""
        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not one string")
        rows = []
        for text in texts:
            ids = [self.sot_id, *self.encode_one(text)][: self.context_length - 1]
            ids.append(self.eot_id)
            rows.append(ids)
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        width = pad_to or (int(lengths.max()) if len(rows) else 2)
        out = np.zeros((len(rows), width), dtype=np.int64)
        for i, ids in enumerate(rows):
            out[i, : len(ids)] = ids[:width]
        return out, lengths
