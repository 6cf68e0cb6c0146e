"""The command line's shape: each shared flag declared once, `mmgui serve` and `python app.py`
with one set of flags, user errors as one line, and the composition root they share."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mmgui.cli import common
from mmgui.cli.main import build_parser, main
from mmgui.cli.serve import app_main

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


def _takers(flag: str) -> dict[str, argparse.Action]:
    """The commands that take `flag`, each with its action."""
    return {
        name: action
        for name, command in _commands().items()
        for action in command._actions
        if flag in action.option_strings
    }


@pytest.mark.parametrize(
    ("flag", "parent", "commands"),
    [
        ("--db", common.DB, {"serve", "import", "export", "worker", "queue-job", "promote"}),
        ("--media", common.MEDIA, {"serve", "import", "export", "worker"}),
        ("--models", common.MODELS, {"serve", "import", "worker", "promote"}),
        ("--model", common.MODEL, {"predict", "export-backbones", "clip"}),
    ],
)
def test_shared_flags_are_declared_once(
    flag: str, parent: argparse.ArgumentParser, commands: set[str]
) -> None:
    (declared,) = parent._actions
    takers = _takers(flag)
    shared = {name for name, action in takers.items() if action is declared}
    assert shared == commands
    assert set(takers) - shared <= {"evaluate"}  # its --model is required, so its own


def test_the_cache_dir_goes_before_the_command() -> None:
    args = build_parser().parse_args(["--cache-dir", "/tmp/c", "predict", "--overview", "A heist."])
    assert args.cache_dir == "/tmp/c" and args.model is None


def _flags(help_text: str) -> set[str]:
    return set(re.findall(r"--[a-z][a-z-]+", help_text)) - {"--help"}


def test_python_app_py_takes_the_flags_of_mmgui_serve(capsys: pytest.CaptureFixture) -> None:
    script = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--help"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    serve = capsys.readouterr().out
    assert script.stdout.startswith("usage: app.py")
    assert _flags(script.stdout) == _flags(serve)
    assert {"--host", "--port", "--import-root", "--no-worker", "--db"} <= _flags(serve)


def test_python_m_mmgui_keeps_working() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mmgui", "--help"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.stdout.startswith("usage: python -m mmgui")
    assert "serve" in done.stdout and "train-affect" in done.stdout


def test_serve_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    flags = ["--models", str(tmp_path / "nothing"), "--db", f"sqlite:///{tmp_path / 'q.db'}",
             "--media", str(tmp_path / "media"), "--no-worker"]  # fmt: skip
    assert main(["serve", *flags]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "model.json is missing" in line
    with pytest.raises(SystemExit) as exited:  # python app.py: the same line, status 1
        app_main(flags)
    assert exited.value.code == line


def test_build_services_wires_one_studio_everywhere(tiny_models: Path, tmp_path: Path) -> None:
    from mmgui.config import Settings
    from mmgui.services import build_services

    settings = Settings.load(
        models_dir=tiny_models,
        cache_dir=tiny_models.parent / "cache",
        db_url=f"sqlite:///{tmp_path / 'q.db'}",
        media_dir=tmp_path / "media",
    )
    services = build_services(settings)
    assert services.review.studio is services.studio
    assert (
        services.manager.studio is services.studio and services.review.manager is services.manager
    )
    assert services.studio.version_dir == settings.default_model_dir
    with pytest.raises(dataclasses.FrozenInstanceError):
        services.studio = None  # type: ignore[misc]
