"""Feature cache, settings and the encoder's text input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmgui.config import Settings
from mmgui.data.text import SubwordTokenizer, encoder_text, looks_english
from mmgui.errors import MmguiError
from mmgui.nets.backbones import minilm_dir
from mmgui.training.features import FeatureCache, cached_features, content_key


def test_cached_features_compute_each_key_once_and_survive_a_restart(tmp_path: Path) -> None:
    calls: list[list[int]] = []
    keys = [content_key(t) for t in ["a", "b", "a", "c"]]

    def compute(indices: list[int]) -> np.ndarray:
        calls.append(indices)
        return np.array([[float(i), 1.0] for i in indices], dtype=np.float32)

    first = cached_features(FeatureCache(tmp_path, "toy"), keys, compute, batch_size=2)
    assert sorted(i for batch in calls for i in batch) == [0, 1, 3]  # "a" once
    np.testing.assert_array_equal(first[0], first[2])
    calls.clear()
    again = cached_features(FeatureCache(tmp_path, "toy"), keys, compute)
    assert calls == []  # everything came from disk
    np.testing.assert_array_equal(first, again)
    assert not list(tmp_path.glob("*.tmp"))


def test_content_key_is_the_sha256_of_bytes_or_text() -> None:
    assert content_key("abc") == content_key(b"abc")
    assert content_key("abc") != content_key("abd")
    assert len(content_key(b"")) == 64


def test_settings_come_from_defaults_env_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMGUI_MAX_IMAGE_PIXELS", "1000")
    monkeypatch.setenv("MMGUI_MODELS_DIR", "/tmp/somewhere")
    settings = Settings.load(port=9000, host=None)
    assert settings.max_image_pixels == 1000
    assert settings.models_dir == Path("/tmp/somewhere")
    assert settings.port == 9000 and settings.host == "127.0.0.1"
    monkeypatch.setenv("MMGUI_PORT", "eighty")
    with pytest.raises(MmguiError, match="MMGUI_PORT"):
        Settings.load()
    monkeypatch.delenv("MMGUI_PORT")
    with pytest.raises(MmguiError, match="unknown setting"):
        Settings.load(colour="blue")


def test_encoder_text_joins_title_and_overview() -> None:
    assert encoder_text("A  heist goes\nwrong.", "Heat").text == "Heat. A heist goes wrong."
    assert encoder_text("Only an overview.", None).text == "Only an overview."
    assert encoder_text(None, "Only A Title").text == "Only A Title"
    with pytest.raises(MmguiError, match="both empty"):
        encoder_text("  ", "")


def test_a_very_long_overview_is_cut_with_a_notice() -> None:
    text = encoder_text("the word " * 10_000, None, max_chars=5000)
    assert len(text.text) <= 5000
    assert any("only the first" in n for n in text.notices)


def test_non_english_text_predicts_with_a_notice() -> None:
    assert looks_english("The hero and his friends travel to the city.")
    assert not looks_english("Un policier enquête sur la disparition de sa fille à Paris.")
    assert not looks_english("東京で刑事が連続殺人事件を追う。")
    notices = encoder_text("東京で刑事が連続殺人事件を追う。", None).notices
    assert any("English" in n for n in notices)


def test_subword_tokenizer_pads_to_the_longest_and_truncates() -> None:
    tokenizer = SubwordTokenizer(minilm_dir() / "tokenizer.json", max_tokens=8)
    ids, mask = tokenizer(["a short one", "a much longer sentence that must be cut somewhere"])
    assert ids.shape == mask.shape == (2, 8)
    assert ids.dtype == np.int64
    assert mask[0].sum() < 8 and mask[1].sum() == 8
    assert ids[0, 0] == 101 and ids[1, -1] == 102  # [CLS] ... [SEP] kept after truncation
    with pytest.raises(MmguiError, match="tokenizer file not found"):
        SubwordTokenizer(Path("/nonexistent/tokenizer.json"), 8)
