"""Shared fixtures: every test gets its own cache dir, so nothing leaks between tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KAGGLE_FIXTURE = FIXTURES / "kaggle"
TINY_CONFIG = FIXTURES / "configs" / "tiny.json"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MMGUI_CACHE_DIR", str(folder))
    return folder
