"""Imports flow one way: serving never loads torch or the training code, and the layers below
never reach up.

The serving path is imported (and `mmgui evaluate` run) in a fresh interpreter, which reports
whether torch got loaded and, if so, through which lines of mmgui. The static half reads every
import statement of the package, inside functions and `TYPE_CHECKING` blocks too, so a lazy
import that would load a forbidden layer at some later click is caught as well.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmgui.config import PROJECT_ROOT
from mmgui.serve.models import nvidia_device_present
from tests.conftest import KAGGLE_FIXTURE

PACKAGE = PROJECT_ROOT / "mmgui"
DEFAULT_MODEL = PROJECT_ROOT / "models" / "default"

# What the studio and `mmgui evaluate` import to serve a version: ONNX Runtime, no torch.
SERVING_PATH = (
    "mmgui.serve.predictor",
    "mmgui.serve.evaluate",
    "mmgui.serve.studio",
    "mmgui.serve.clip",
    "mmgui.ui.app",
    "mmgui.serve.review",
)

# (files, the packages they must not import, files among them that may)
RULES = {
    "serve imports no training": ("serve", ("mmgui.training",), ()),
    "only the UI and the entry points import ui": (
        ".",
        ("mmgui.ui",),
        ("ui", "cli", "__main__.py"),
    ),
    "store imports no serve, ui or training": (
        "store",
        ("mmgui.serve", "mmgui.ui", "mmgui.training"),
        (),
    ),
}

# Run in a fresh interpreter before the code under test: notes which mmgui lines were being
# executed when torch was first imported, and at exit writes what got loaded to argv[1].
PROBE = """
import atexit, json, os, sys, traceback

REPORT = sys.argv[1]


class TorchWatch:
    chain = None

    def find_spec(self, name, path=None, target=None):
        if name == "torch" and self.chain is None:
            stack = traceback.extract_stack()
            frames = (f"{os.path.relpath(f.filename)}:{f.lineno}" for f in stack)
            self.chain = [frame for frame in frames if frame.startswith("mmgui" + os.sep)]
        return None


watch = TorchWatch()
sys.meta_path.insert(0, watch)


def report():
    loaded = sorted(name for name in sys.modules if name.split(".")[0] == "torch")
    training = sorted(name for name in sys.modules if name.startswith("mmgui.training."))
    with open(REPORT, "w") as handle:
        json.dump({"torch": bool(loaded), "chain": watch.chain, "training": training}, handle)


atexit.register(report)
"""


def run_probed(code: str, report: Path) -> dict:
    """Run `code` after PROBE in a fresh interpreter at the repository root; what it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE + code, str(report)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"the probe failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(report.read_text())


def torch_free(loaded: dict, what: str) -> str:
    """The failure message when `what` loaded torch: the mmgui lines that imported it."""
    chain = "\n  ".join(loaded["chain"] or ["(no mmgui line on the stack)"])
    return f"{what} loaded torch; it was imported through:\n  {chain}"


def test_importing_the_serving_path_loads_no_torch(tmp_path: Path) -> None:
    code = "".join(f"import {module}\n" for module in SERVING_PATH)
    loaded = run_probed(code, tmp_path / "report.json")
    assert not loaded["torch"], torch_free(loaded, f"importing {', '.join(SERVING_PATH)}")
    training = ", ".join(loaded["training"])
    assert not training, f"the serving path imports training modules: {training}"


@pytest.fixture(scope="module")
def default_graphs() -> None:
    """The shipped default version's backbone graphs in the cache: built, if missing, by
    another process (with torch), as `mmgui export-backbones` does ahead of serving."""
    build = [sys.executable, "-m", "mmgui", "export-backbones", "--model", str(DEFAULT_MODEL)]
    built = subprocess.run(build, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr


@pytest.mark.slow
def test_mmgui_evaluate_runs_without_torch(default_graphs: None, tmp_path: Path) -> None:
    """`mmgui evaluate` on the shipped default version scores without loading torch."""
    argv = ["mmgui", "evaluate", "--model", str(DEFAULT_MODEL), "--data", str(KAGGLE_FIXTURE)]
    result = tmp_path / "metrics.json"
    code = f"""
import contextlib, runpy
sys.argv = {[*argv, "--split", "all", "--json"]!r}
with open({str(result)!r}, "w") as out, contextlib.redirect_stdout(out):
    try:
        runpy.run_module("mmgui", run_name="__main__", alter_sys=True)
    except SystemExit as done:
        assert not done.code, f"mmgui evaluate exited with {{done.code}}"
"""
    loaded = run_probed(code, tmp_path / "report.json")
    assert not loaded["torch"], torch_free(loaded, "mmgui evaluate")
    metrics = json.loads(result.read_text())
    assert metrics["model_version"] == "default" and metrics["n_items"] == 15


@pytest.mark.slow
@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "auto",
            marks=pytest.mark.skipif(
                nvidia_device_present(),
                reason="with an NVIDIA device, torch is asked whether CUDA works",
            ),
        ),
    ],
)
def test_building_the_studio_loads_no_torch(
    default_graphs: None, tmp_path: Path, device: str
) -> None:
    code = f"""
from mmgui.config import Settings
from mmgui.serve.studio import Studio
from mmgui.ui.app import build_app

build_app(Studio(Settings.load(device={device!r}, media_dir={str(tmp_path / "media")!r})))
"""
    loaded = run_probed(code, tmp_path / "report.json")
    assert not loaded["torch"], torch_free(loaded, f"building the studio (device {device})")


def python_files(folder: str) -> Iterator[Path]:
    yield from sorted((PACKAGE / folder).rglob("*.py"))


def is_module(name: str) -> bool:
    """Whether `name` is a module or package of this repository (not a name inside one)."""
    path = PROJECT_ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(source: str, module: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the source of `module`, anywhere in it: `import a.b`;
    `from a import b` as `a.b` when b is a module, else as `a`; relative imports resolved; and
    `importlib.import_module` / `__import__` of a literal name."""
    package = module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            submodules = [f"{base}.{a.name}" for a in node.names if is_module(f"{base}.{a.name}")]
            yield from ((node.lineno, name) for name in submodules or [base])
        elif isinstance(node, ast.Call) and _imports_a_literal(node):
            yield node.lineno, node.args[0].value


def _imports_a_literal(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return (
        name in ("import_module", "__import__")
        and bool(call.args)
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    )


def module_name(path: Path) -> str:
    """The dotted name of a file; a package's `__init__` as `a.b.__init__`, so that relative
    imports resolve against `a.b`."""
    return ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)


def is_within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def offenders(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    """`path:line imports module` for each forbidden import in `folder`, outside `allowed`
    (top-level folders or files of the package)."""
    found = []
    for path in python_files(folder):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in allowed:
            continue
        for line, name in imported_modules(path.read_text(encoding="utf-8"), module_name(path)):
            if is_within(name, forbidden):
                found.append(f"mmgui/{relative.as_posix()}:{line} imports {name}")
    return found


@pytest.mark.parametrize("rule", list(RULES))
def test_layers_import_one_way(rule: str) -> None:
    found = offenders(*RULES[rule])
    assert not found, f"{rule}, but:\n  " + "\n  ".join(found)


def test_the_scan_sees_lazy_relative_and_dynamic_imports() -> None:
    source = (
        "from mmgui.training.heads import head_logits\n"
        "def later():\n"
        "    from ..training import data, train\n"
        "    from . import predictor\n"
        "    from .studio import Studio\n"
        "    import importlib\n"
        "    importlib.import_module('mmgui.training.train')\n"
    )
    assert sorted(imported_modules(source, "mmgui.serve.probe")) == [
        (1, "mmgui.training.heads"),
        (3, "mmgui.training.data"),
        (3, "mmgui.training.train"),
        (4, "mmgui.serve.predictor"),
        (5, "mmgui.serve.studio"),
        (6, "importlib"),
        (7, "mmgui.training.train"),
    ]
