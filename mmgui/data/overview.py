"""What the sentence encoder reads: title and overview checked, joined, and tokenised.

Serving and training both build the encoder input here, so they cannot drift apart. The
WordPiece tokenizer is the `tokenizers` one from the encoder's own `tokenizer.json`; it needs
no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from mmgui.errors import MmguiError

# A handful of the most frequent English function words: an overview with none of them, or
# mostly non-ASCII letters, is probably not English (the model was trained on English).
_ENGLISH_MARKERS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "of",
        "to",
        "in",
        "is",
        "his",
        "her",
        "he",
        "she",
        "they",
        "their",
        "with",
        "for",
        "on",
        "at",
        "from",
        "who",
        "when",
    ]
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class EncoderText:
    """The text the encoder reads, and notices to show the user about how it was made."""

    text: str
    notices: tuple[str, ...] = field(default=())


def encoder_text(
    overview: str | None, title: str | None = None, max_chars: int = 5000
) -> EncoderText:
    """Join title and overview as the encoder saw them in training ("Title. Overview").

    Raises `MmguiError` when both are empty; an overview longer than `max_chars` is cut at a
    word boundary with a notice; text that does not look English gets a notice.
    """
    overview = " ".join((overview or "").split())
    title = " ".join((title or "").split())
    if not overview and not title:
        raise MmguiError("the overview and the title are both empty: give at least one")
    notices: list[str] = []
    if len(overview) > max_chars:
        cut = overview[:max_chars].rsplit(" ", 1)[0] or overview[:max_chars]
        notices.append(
            f"the overview is {len(overview):,} characters; only the first {len(cut):,} were used"
        )
        overview = cut
    if overview and not looks_english(overview):
        notices.append("the overview does not look English; the model was trained on English")
    text = f"{title}. {overview}" if title and overview else title or overview
    return EncoderText(text, tuple(notices))


def looks_english(text: str) -> bool:
    """A cheap check: mostly ASCII letters and at least one very common English word."""
    words = _WORD.findall(text)
    if not words:
        return False
    letters = "".join(words)
    ascii_share = sum(ch.isascii() for ch in letters) / len(letters)
    markers = sum(word.lower() in _ENGLISH_MARKERS for word in words)
    return ascii_share >= 0.9 and (markers >= 1 or len(words) < 4)


class SubwordTokenizer:
    """WordPiece ids and attention masks for the sentence encoder, padded to the batch's longest."""

    def __init__(self, tokenizer_json: Path, max_tokens: int) -> None:
        if not Path(tokenizer_json).exists():
            raise MmguiError(f"tokenizer file not found: {tokenizer_json}")
        self.max_tokens = max_tokens
        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask), both int64 of shape (len(texts), longest)."""
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask
