"""Shared fixtures: every test gets its own cache dir, so nothing leaks between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KAGGLE_FIXTURE = FIXTURES / "kaggle"
TINY_CONFIG = FIXTURES / "configs" / "tiny.json"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MMGUI_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def scratch_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes the default ./mmgui.db or ./mmgui-media of the working directory."""
    monkeypatch.setenv("MMGUI_DB_URL", f"sqlite:///{tmp_path / 'default-queue.db'}")
    monkeypatch.setenv("MMGUI_MEDIA_DIR", str(tmp_path / "default-media"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder whose default version is a tiny model trained on the fixture."""
    from mmgui.config import Settings
    from mmgui.training.train import train_version

    root = tmp_path_factory.mktemp("tiny-models")
    settings = Settings.load(models_dir=root / "models", cache_dir=root / "cache")
    train_version(
        KAGGLE_FIXTURE, str(TINY_CONFIG), settings.default_model_dir, settings, log=lambda _: None
    )
    return root / "models"


@pytest.fixture(scope="session")
def studio_settings(tmp_path_factory: pytest.TempPathFactory, tiny_models: Path):
    """Settings of the test studio: the tiny model, its own queue (the fixture imported)."""
    from mmgui.config import Settings
    from mmgui.services import build_services

    root = tmp_path_factory.mktemp("studio")
    settings = Settings.load(
        models_dir=tiny_models,
        cache_dir=tiny_models.parent / "cache",
        db_url=f"sqlite:///{root / 'queue.db'}",
        media_dir=root / "media",
        max_upload_mb=1,
    )
    build_services(settings).review.catalogue.import_catalogue(KAGGLE_FIXTURE)
    return settings


@pytest.fixture(scope="session")
def studio_url(studio_settings) -> Iterator[str]:
    """The studio launched on a loopback port, serving the tiny version and its queue."""
    from mmgui.services import build_services
    from mmgui.ui.app import build_app, launch_options

    services = build_services(studio_settings)
    app = build_app(services.studio, services.review)
    options = {**launch_options(studio_settings), "server_port": None}  # any free port
    app.launch(**options, prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url
    finally:
        app.close()


# PostgreSQL: a server URL whose user may CREATE DATABASE, e.g.
# postgresql+psycopg://mmgui:mmgui@127.0.0.1:5432/postgres (`.ci/run` starts one). Without it
# the PostgreSQL half of the store tests is skipped, unless MMGUI_REQUIRE_PG=1 (CI) says fail.
PG_URL_ENV = "MMGUI_TEST_PG_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty review database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
        return
    yield from _postgres_database()


def _postgres_database() -> Iterator[str]:
    from mmgui.store.db import scratch_postgres

    server = os.environ.get(PG_URL_ENV)
    if not server:
        message = f"PostgreSQL tests need {PG_URL_ENV}"
        if os.environ.get("MMGUI_REQUIRE_PG") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with scratch_postgres(server, prefix="mmgui_test") as url:
        yield url


@pytest.fixture
def loop_settings(tiny_models: Path, tmp_path: Path):
    """Settings for finetuning tests: a scratch copy of the tiny models (new versions land
    there), its own queue and media, a fast-polling worker."""
    import shutil

    from mmgui.config import Settings

    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    return Settings.load(
        models_dir=models,
        cache_dir=tiny_models.parent / "cache",
        db_url=f"sqlite:///{tmp_path / 'queue.db'}",
        media_dir=tmp_path / "media",
        worker_poll_seconds=0.2,
    )


@pytest.fixture(scope="session")
def tiny_settings(tiny_models: Path):
    """Settings whose default model is a tiny version trained on the fixture (clip tests)."""
    from mmgui.config import Settings

    return Settings.load(models_dir=tiny_models, cache_dir=tiny_models.parent / "cache")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright (it cannot download a browser of its own here)."""
    import shutil

    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (README, install step)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
