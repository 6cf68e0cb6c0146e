"""Shared fixtures: every test gets its own cache dir, so nothing leaks between tests."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def studio_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The studio launched on a loopback port, serving a tiny version trained on the fixture."""
    from mmgui.config import Settings
    from mmgui.serve.studio import Studio
    from mmgui.training.train import train_version
    from mmgui.ui.app import build_app, launch_options

    root = tmp_path_factory.mktemp("studio")
    settings = Settings.load(models_dir=root / "models", cache_dir=root / "cache", max_upload_mb=1)
    train_version(
        KAGGLE_FIXTURE, str(TINY_CONFIG), settings.default_model_dir, settings, log=lambda _: None
    )
    app = build_app(Studio(settings))
    options = {**launch_options(settings), "server_port": None}  # any free port
    app.launch(**options, prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url
    finally:
        app.close()


@pytest.fixture(scope="session")
def tiny_settings(tmp_path_factory: pytest.TempPathFactory):
    """Settings whose default model is a tiny version trained on the fixture (clip tests)."""
    from mmgui.config import Settings
    from mmgui.training.train import train_version

    root = tmp_path_factory.mktemp("tiny")
    settings = Settings.load(models_dir=root / "models", cache_dir=root / "cache")
    train_version(
        KAGGLE_FIXTURE, str(TINY_CONFIG), settings.default_model_dir, settings, log=lambda _: None
    )
    return settings
