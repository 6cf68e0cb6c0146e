"""Overview cleaning, WordNet set-up and the LSTM vocabulary (needs Debian's WordNet files)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nltk
import pytest
from nltk.stem import WordNetLemmatizer

from mmgui.data import text
from mmgui.data.text import PAD_ID, UNK_ID, Vocabulary, clean_overview, ensure_wordnet
from mmgui.errors import MmguiError


@pytest.fixture(scope="module", autouse=True)
def wordnet_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep the WordNet layout that clean_overview builds out of the user's cache."""
    cache_dir = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMGUI_CACHE_DIR", str(cache_dir))
        yield cache_dir


@pytest.fixture
def restore_nltk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))


def test_clean_overview_gives_exact_tokens() -> None:
    overview = "The Wolves were running through 3 dark forests, hunting the villagers' children!"
    assert clean_overview(overview) == [
        "wolf",
        "running",
        "dark",
        "forest",
        "hunting",
        "villager",
        "child",
    ]


def test_stopwords_are_dropped() -> None:
    assert clean_overview("I am not sure that they would have done it, but she's here.") == [
        "sure",
        "would",
        "done",
    ]


@pytest.mark.parametrize(
    ("overview", "tokens"),
    [
        ("Agent 007 -- returns!!! (1995)", ["agent", "return"]),
        ("Sci-fi: space_war #2 @home", ["sci", "fi", "space", "war", "home"]),
        ("Café crème, naïve rôle", ["cafe", "creme", "naive", "role"]),
    ],
)
def test_punctuation_digits_and_accents(overview: str, tokens: list[str]) -> None:
    assert clean_overview(overview) == tokens


@pytest.mark.parametrize("overview", ["", "   ", "1999 -- !?", "the and of it"])
def test_nothing_left_gives_empty_list(overview: str) -> None:
    assert clean_overview(overview) == []


def test_shipped_stopwords_are_nltks_english_list() -> None:
    words = text.STOPWORDS_FILE.read_text(encoding="utf-8").split("\n")
    assert len(words) == 180 and words[-1] == ""  # 179 words, newline-terminated
    assert words[:4] == ["i", "me", "my", "myself"] and words[-2] == "wouldn't"
    assert len(set(words)) == 180


@pytest.mark.parametrize(
    ("word", "pos", "lemma"),
    [
        ("running", "n", "running"),
        ("movies", "n", "movie"),
        ("wolves", "n", "wolf"),
        ("children", "n", "child"),
        ("ran", "v", "run"),
        ("running", "v", "run"),
        ("better", "a", "good"),
    ],
)
def test_wordnet_lemmatizer_works_offline(
    wordnet_cache: Path, word: str, pos: str, lemma: str
) -> None:
    ensure_wordnet(wordnet_cache)
    assert WordNetLemmatizer().lemmatize(word, pos) == lemma


def test_ensure_wordnet_is_idempotent(tmp_path: Path, restore_nltk_path: None) -> None:
    wordnet_dir = ensure_wordnet(tmp_path)
    assert wordnet_dir == tmp_path / "nltk_data" / "corpora" / "wordnet"
    lexnames = (wordnet_dir / "lexnames").read_text(encoding="ascii").splitlines()
    assert len(lexnames) == 45
    assert lexnames[0] == "00\tadj.all\t3" and lexnames[44] == "44\tadj.ppl\t3"
    assert "05\tnoun.animal\t1" in lexnames and "29\tverb.body\t2" in lexnames
    files = {path.name: path.stat().st_mtime_ns for path in wordnet_dir.iterdir()}
    assert {"lexnames", "index.sense", "data.noun", "noun.exc"} <= set(files)

    assert ensure_wordnet(tmp_path) == wordnet_dir
    assert {path.name: path.stat().st_mtime_ns for path in wordnet_dir.iterdir()} == files
    assert [path.name for path in wordnet_dir.parent.iterdir()] == ["wordnet"]  # no staging left
    expected_roots = [str(tmp_path / "nltk_data"), str(text.SHIPPED_NLTK_DATA)]
    assert nltk.data.path[:2] == expected_roots
    assert all(nltk.data.path.count(root) == 1 for root in expected_roots)


def test_ensure_wordnet_failing_midway_leaves_no_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_nltk_path: None
) -> None:
    def disk_full(source: Path, target: Path) -> None:
        if target.name == "data.noun":
            raise OSError(28, "No space left on device")
        target.write_bytes(b"")

    monkeypatch.setattr(text.shutil, "copyfile", disk_full)
    with pytest.raises(OSError, match="No space left"):
        ensure_wordnet(tmp_path)
    assert list((tmp_path / "nltk_data" / "corpora").iterdir()) == []


def test_ensure_wordnet_without_debian_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_nltk_path: None
) -> None:
    monkeypatch.setattr(text, "DEBIAN_WORDNET_DIR", tmp_path / "no-wordnet")
    with pytest.raises(MmguiError, match="apt-get install wordnet-base"):
        ensure_wordnet(tmp_path / "cache")
    assert not (tmp_path / "cache" / "nltk_data" / "corpora" / "wordnet").exists()


def test_vocabulary_build_orders_by_count_and_caps() -> None:
    overviews = [["wolf", "forest", "wolf"], ["forest", "wolf", "child"], ["village"]]
    assert Vocabulary.build(overviews).words == ("wolf", "forest", "child", "village")
    assert Vocabulary.build(overviews, min_count=2).words == ("wolf", "forest")
    assert Vocabulary.build(overviews, max_size=3).words == ("wolf", "forest", "child")
    assert len(Vocabulary.build(overviews, max_size=3)) == 5


def test_vocabulary_encode_pads_truncates_and_marks_unknown() -> None:
    vocab = Vocabulary(("wolf", "forest"))
    assert (PAD_ID, UNK_ID) == (0, 1)
    assert vocab.encode(["wolf", "ghost", "forest"], max_len=5) == [2, 1, 3, 0, 0]
    assert vocab.encode(["forest", "wolf", "wolf", "ghost"], max_len=2) == [3, 2]
    assert vocab.encode([], max_len=3) == [0, 0, 0]


def test_vocabulary_json_round_trip() -> None:
    vocab = Vocabulary.build([clean_overview("Wolves hunt wolves in the dark forest.")])
    restored = Vocabulary.from_json(vocab.to_json())
    assert restored == vocab
    assert restored.encode(["wolf", "forest", "ghost"], 4) == vocab.encode(
        ["wolf", "forest", "ghost"], 4
    )


@pytest.mark.parametrize(
    "stored", ["not json", "[]", '{"words": ["a"]}', '{"pad_id": 1, "unk_id": 0, "words": []}']
)
def test_vocabulary_from_bad_json(stored: str) -> None:
    with pytest.raises(MmguiError):
        Vocabulary.from_json(stored)
