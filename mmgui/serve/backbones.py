"""The backbone ONNX graphs a version needs, built once from the installed packages.

A version folder holds only what training produced (its head); the backbones are derivable from
installed packages, so their graphs are exported on first use into the cache and reused by
every version with the same backbones. The build needs torch; loading afterwards does not.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from mmgui.config import shipped_path
from mmgui.errors import MmguiError
from mmgui.versions import Backbones

GRAPH_FILES = ("poster.onnx", "overview.onnx", "tokenizer.json")
EXAMPLES = shipped_path("assets") / "examples.json"


def graph_dir(backbones: Backbones, cache_dir: Path) -> Path:
    poster, overview = backbones.poster, backbones.overview
    width, height = backbones.poster_size
    key = (
        f"{poster.name}-{poster.weights_sha256[:12]}-{width}x{height}"
        f"__{overview.name}-{overview.weights_sha256[:12]}-{backbones.max_tokens}t"
    )
    return Path(cache_dir) / "backbones" / key


def ensure_backbone_graphs(backbones: Backbones, cache_dir: Path) -> Path:
    """The folder holding poster.onnx, overview.onnx and tokenizer.json, built if missing."""
    folder = graph_dir(backbones, cache_dir)
    if all((folder / name).exists() for name in GRAPH_FILES):
        return folder
    from mmgui.nets.export import build_backbone_graphs

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        build_backbone_graphs(backbones, staging, example_samples())
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def version_backbones(version_dir: Path, backbones: Backbones, cache_dir: Path) -> Path:
    """Where a version's backbone graphs are: its own folder when it was fully finetuned
    (`Backbones.in_version`), else the shared cache built from the packages."""
    if backbones.in_version:
        folder = Path(version_dir) / backbones.in_version
        missing = [name for name in GRAPH_FILES if not (folder / name).exists()]
        if missing:
            raise MmguiError(f"{folder} lacks {', '.join(missing)}: the version is incomplete")
        return folder
    return ensure_backbone_graphs(backbones, cache_dir)


def example_samples(count: int = 2) -> list[tuple[Path, str]]:
    """Real (poster, "title. overview") pairs from the shipped demo assets."""
    from mmgui.data.text import encoder_text

    items = json.loads(EXAMPLES.read_text())[:count]
    return [
        (EXAMPLES.parent / item["poster"], encoder_text(item["overview"], item["title"]).text)
        for item in items
    ]
