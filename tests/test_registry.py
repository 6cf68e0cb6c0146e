"""Model version folders are written whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmgui.errors import MmguiError
from mmgui.training.registry import read_model_json, write_version


def _writer(payload: str):
    def write_files(folder: Path) -> dict:
        (folder / "head.onnx").write_text(payload)
        return {"kind": "head", "payload": payload}

    return write_files


def test_a_version_is_written_with_its_model_json(tmp_path: Path) -> None:
    version = write_version(tmp_path / "v1", _writer("one"))
    meta = read_model_json(version)
    assert meta["name"] == "v1" and meta["payload"] == "one" and meta["format_version"] == 1
    assert "created_at" in meta
    assert (version / "head.onnx").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["v1"]


def test_a_crash_while_writing_leaves_nothing(tmp_path: Path) -> None:
    def crashing(folder: Path) -> dict:
        (folder / "head.onnx").write_text("half")
        raise RuntimeError("killed mid-export")

    with pytest.raises(RuntimeError):
        write_version(tmp_path / "v1", crashing)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_version_is_kept_unless_overwrite(tmp_path: Path) -> None:
    write_version(tmp_path / "v1", _writer("one"))
    with pytest.raises(MmguiError, match="already exists"):
        write_version(tmp_path / "v1", _writer("two"))
    assert read_model_json(tmp_path / "v1")["payload"] == "one"
    write_version(tmp_path / "v1", _writer("two"), overwrite=True)
    assert read_model_json(tmp_path / "v1")["payload"] == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["v1"]


def test_a_failed_overwrite_keeps_the_old_version(tmp_path: Path) -> None:
    write_version(tmp_path / "v1", _writer("one"))

    def crashing(folder: Path) -> dict:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_version(tmp_path / "v1", crashing, overwrite=True)
    assert read_model_json(tmp_path / "v1")["payload"] == "one"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "model.json is missing"),
        ("{not json", "not valid JSON"),
        (json.dumps({"format_version": 99}), "unsupported format_version"),
    ],
)
def test_broken_versions_are_clear_errors(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "model.json").write_text(content)
    with pytest.raises(MmguiError, match=message):
        read_model_json(tmp_path)
