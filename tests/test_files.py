"""Files appear whole or not at all, named by content."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mmgui.files import atomic_path, file_sha256, write_atomically


def test_a_finished_write_is_renamed_into_place(tmp_path: Path) -> None:
    target = tmp_path / "new" / "graph.onnx"
    with atomic_path(target, suffix=".onnx.tmp") as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(".onnx.tmp")
        tmp.write_bytes(b"graph")
    assert target.read_bytes() == b"graph"
    assert [p.name for p in target.parent.iterdir()] == ["graph.onnx"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    target.write_text("old")

    def fail(handle) -> None:
        handle.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]
    assert write_atomically(target, lambda handle: handle.write("new")) == 3
    assert target.read_text() == "new"


def test_file_sha256_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "poster.jpg"
    path.write_bytes(b"x" * (3 << 20))
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
