"""`pip install .` ships what mmgui needs at run time: every package, every data file of the
package (JS, JSON configs, migrations, NLTK data) and the shipped models/default and assets/,
read from pyproject.toml's setuptools configuration (no wheel is built: that takes seconds)."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def _package_dir(package: str) -> Path:
    mapped = SETUPTOOLS.get("package-dir", {})
    return ROOT / mapped.get(package, package.replace(".", "/"))


def _shipped_files() -> set[Path]:
    """The data files the package-data globs select, as paths in the checkout."""
    files = set()
    for package, patterns in SETUPTOOLS["package-data"].items():
        for pattern in patterns:
            files |= {p for p in _package_dir(package).glob(pattern) if p.is_file()}
    return files


def _source_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_every_package_of_the_source_tree_is_listed() -> None:
    code_dirs = {p.parent for p in (ROOT / "mmgui").rglob("*.py")}
    in_tree = {".".join(d.relative_to(ROOT).parts) for d in code_dirs}
    assert set(SETUPTOOLS["packages"]) == in_tree | {
        "mmgui._shipped.models",
        "mmgui._shipped.assets",
    }


def test_every_data_file_of_the_package_ships() -> None:
    data = {p for p in _source_files(ROOT / "mmgui") if p.suffix not in (".py", ".pyc")}
    assert data, "the package has data files (review_keys.js, configs, migrations)"
    assert data <= _shipped_files()


def test_the_default_model_and_the_assets_ship_but_no_other_version() -> None:
    assert SETUPTOOLS["package-dir"] == {
        "mmgui._shipped.models": "models",
        "mmgui._shipped.assets": "assets",
    }
    shipped = _shipped_files()
    default = ROOT / "models" / "default"
    assert {default / n for n in ("model.json", "head.onnx", "head.safetensors")} <= shipped
    assert _source_files(ROOT / "assets") <= shipped
    assert not {p for p in shipped if p.is_relative_to(ROOT / "models")} - _source_files(default)


def test_the_mmgui_command_is_the_cli() -> None:
    module, _, name = PYPROJECT["project"]["scripts"]["mmgui"].partition(":")
    assert getattr(importlib.import_module(module), name).__module__ == "mmgui.cli.main"
