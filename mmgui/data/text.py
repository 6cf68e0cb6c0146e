"""Overview cleaning and tokenising, fully offline.

Two readers of an overview: the sentence encoder reads "Title. Overview" as WordPiece ids
(`encoder_text`, `SubwordTokenizer`, from the encoder's own tokenizer.json, no torch needed);
the sources' LSTM baseline reads NLTK-cleaned words (`clean_overview`, `Vocabulary`).
Serving and training both build model inputs here, so they cannot drift apart.

The cleaning follows the sources: lowercase, keep letters only, drop NLTK's English stopwords,
lemmatize with NLTK's WordNet lemmatizer. NLTK's downloader is never used: the stopword list
ships in the repo (`mmgui/data/nltk_data`), and WordNet 3.0 comes from Debian's `wordnet-base`
and `wordnet-sense-index` packages, laid out once as an NLTK corpus under the cache dir.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nltk
import numpy as np
from nltk.stem import WordNetLemmatizer
from tokenizers import Tokenizer

from mmgui.config import Settings
from mmgui.errors import MmguiError

SHIPPED_NLTK_DATA = Path(__file__).resolve().parent / "nltk_data"
STOPWORDS_FILE = SHIPPED_NLTK_DATA / "corpora" / "stopwords" / "english"
DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_INSTALL_HINT = "apt-get install wordnet-base wordnet-sense-index"

# What NLTK's WordNetCorpusReader opens, except `lexnames`, which Debian does not ship.
# `index.sense` comes from `wordnet-sense-index`; the reader refuses to load without it.
_WORDNET_FILES = (
    "cntlist.rev",
    "index.sense",
    *(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("adj", "adv", "noun", "verb")),
    *(f"{pos}.exc" for pos in ("adj", "adv", "noun", "verb")),
)
# lexnames(5WN): the file number is the position; the category follows from the prefix.
_LEXNAMES = (
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
)
_LEXNAME_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
# NLTK (3.10+) refuses data in directories or files that other accounts can write to.
_DIR_MODE = 0o755
_FILE_MODE = 0o644

_NON_LETTERS = re.compile(r"[^a-z]+")

PAD_ID = 0
UNK_ID = 1
_FIRST_WORD_ID = 2


def clean_overview(text: str) -> list[str]:
    """Tokens of an overview: lowercase ASCII letters only, no stopwords, noun lemmas.

    Accents are folded (`café` -> `cafe`); digits, punctuation and apostrophes split words
    (`don't` -> `don`, `t`, both stopwords). The first call loads WordNet (a few seconds) via
    `ensure_wordnet()` with the settings' cache dir.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = _NON_LETTERS.split(ascii_text.lower())
    stopwords = _stopwords()
    lemmatizer = _lemmatizer()
    return [lemmatizer.lemmatize(word) for word in words if word and word not in stopwords]


def ensure_wordnet(cache_dir: Path | None = None) -> Path:
    """Make WordNet 3.0 loadable by NLTK without its downloader; return the corpus dir.

    Lays out `<cache_dir>/nltk_data/corpora/wordnet/` once, from copies of Debian's files
    (NLTK refuses symlinks that leave its data roots) plus a generated `lexnames`; later calls
    reuse it. The layout appears whole or not at all. Puts that `nltk_data` dir and the repo's
    shipped one first on `nltk.data.path`. `cache_dir` defaults to `Settings.load().cache_dir`.
    Raises `MmguiError` when the Debian WordNet files are not installed.
    """
    if cache_dir is None:
        cache_dir = Settings.load().cache_dir
    nltk_data = Path(cache_dir) / "nltk_data"
    wordnet_dir = nltk_data / "corpora" / "wordnet"
    if not wordnet_dir.is_dir():
        _build_wordnet_layout(wordnet_dir)
    for data_dir in (SHIPPED_NLTK_DATA, nltk_data):
        if str(data_dir) in nltk.data.path:
            nltk.data.path.remove(str(data_dir))
        nltk.data.path.insert(0, str(data_dir))
    return wordnet_dir


def _build_wordnet_layout(wordnet_dir: Path) -> None:
    missing = [name for name in _WORDNET_FILES if not (DEBIAN_WORDNET_DIR / name).is_file()]
    if missing:
        raise MmguiError(
            f"WordNet is not installed: {DEBIAN_WORDNET_DIR} lacks {', '.join(missing)}. "
            f"Install it with: {WORDNET_INSTALL_HINT}"
        )
    corpora = wordnet_dir.parent
    corpora.mkdir(parents=True, exist_ok=True)
    for directory in (corpora.parent, corpora):
        directory.chmod(_DIR_MODE)
    staging = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=corpora))
    try:
        for name in _WORDNET_FILES:
            shutil.copyfile(DEBIAN_WORDNET_DIR / name, staging / name)
        (staging / "lexnames").write_text(_lexnames_text(), encoding="ascii")
        for path in staging.iterdir():
            path.chmod(_FILE_MODE)
        staging.chmod(_DIR_MODE)
        staging.rename(wordnet_dir)
    except OSError:
        # A finished layout means another process built the same one first.
        if not wordnet_dir.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _lexnames_text() -> str:
    return "".join(
        f"{number:02d}\t{name}\t{_LEXNAME_CATEGORY[name.split('.')[0]]}\n"
        for number, name in enumerate(_LEXNAMES)
    )


@functools.cache
def _stopwords() -> frozenset[str]:
    # Read directly rather than through nltk.corpus.stopwords: NLTK 3.10 refuses a corpus
    # whose checkout directory is group-writable (umask 002), and an earlier nltk_data on
    # the path could hold a different list.
    return frozenset(STOPWORDS_FILE.read_text(encoding="utf-8").split())


@functools.cache
def _lemmatizer() -> WordNetLemmatizer:
    ensure_wordnet()
    return WordNetLemmatizer()


@dataclass(frozen=True)
class Vocabulary:
    """Token-to-id map for the LSTM: id 0 pads, id 1 is any unknown token, words start at 2.

    `words[i]` has id `i + 2`; `len(vocab)` counts the two special ids too (embedding rows).
    """

    words: tuple[str, ...]
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = {word: number for number, word in enumerate(self.words, start=_FIRST_WORD_ID)}
        object.__setattr__(self, "_ids", ids)

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], min_count: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Words seen at least `min_count` times, most frequent first (ties alphabetical),
        at most `max_size` of them (not counting pad and unk)."""
        counts = Counter(token for tokens in token_lists for token in tokens)
        kept = sorted(
            (w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w)
        )
        return cls(tuple(kept[:max_size]))

    def __len__(self) -> int:
        return _FIRST_WORD_ID + len(self.words)

    def encode(self, tokens: Sequence[str], max_len: int) -> list[int]:
        """Exactly `max_len` ids: tokens beyond it are cut, short inputs are padded with 0."""
        ids = [self._ids.get(token, UNK_ID) for token in tokens[:max_len]]
        return ids + [PAD_ID] * (max_len - len(ids))

    def to_json(self) -> str:
        """JSON for a model folder: `{"pad_id": 0, "unk_id": 1, "words": [...]}`."""
        return json.dumps({"pad_id": PAD_ID, "unk_id": UNK_ID, "words": list(self.words)})

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        """Inverse of `to_json`; raises `MmguiError` on anything else."""
        try:
            data = json.loads(text)
            words, pad_id, unk_id = data["words"], data["pad_id"], data["unk_id"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise MmguiError(f"not a vocabulary JSON ({err})") from err
        if (pad_id, unk_id) != (PAD_ID, UNK_ID):
            raise MmguiError(f"vocabulary uses pad/unk ids {pad_id}/{unk_id}, expected 0/1")
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise MmguiError("vocabulary JSON: 'words' must be a list of strings")
        return cls(tuple(words))


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
