"""Model versions on disk: a folder of data (ONNX graphs, model.json, head weights).

A version is written whole or not at all: everything goes to a hidden temporary folder beside
the target, which is renamed into place at the end, so a crash never leaves half a version.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import onnxruntime as ort

from mmgui.errors import MmguiError

MODEL_JSON = "model.json"
FORMAT_VERSION = 1


def write_version(
    target: Path, write_files: Callable[[Path], dict], overwrite: bool = False
) -> Path:
    """Create the version folder `target` atomically.

    `write_files(folder)` writes the version's files into `folder` and returns the model.json
    content; `created_at` and `format_version` are added here. An existing `target` is only
    replaced when `overwrite` is set (the old folder is removed after the swap).
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise MmguiError(f"{target} already exists; choose another --out or pass --overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        meta = write_files(staging)
        meta = {
            "format_version": FORMAT_VERSION,
            "name": target.name,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **meta,
        }
        (staging / MODEL_JSON).write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
        _make_readable(staging)
        if target.exists():
            retired = target.with_name(f".{target.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            os.replace(target, retired)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _make_readable(folder: Path) -> None:
    """Folders 0755 and files 0644 all the way down (mkdtemp makes the top one 0700), so a
    studio or worker running as another user can read every part of the version."""
    os.chmod(folder, 0o755)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def read_model_json(version: Path) -> dict:
    """The model.json of a version folder, or `MmguiError` saying what is wrong."""
    path = Path(version) / MODEL_JSON
    if not path.exists():
        raise MmguiError(f"{version} is not a model version: {MODEL_JSON} is missing")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise MmguiError(f"{path} is not valid JSON: {err}") from err
    if meta.get("format_version") != FORMAT_VERSION:
        raise MmguiError(f"{path}: unsupported format_version {meta.get('format_version')!r}")
    return meta


def onnx_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """A CPU ONNX Runtime session for one graph of a version; `threads=0` lets ORT choose."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
