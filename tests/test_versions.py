"""Model version folders: written whole or not at all, read into a typed card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmgui.errors import MmguiError
from mmgui.versions import ModelKind, VersionCard, read_card, write_version

DEFAULT = Path(__file__).resolve().parent.parent / "models" / "default"


def _writer(payload: str):
    def write_files(folder: Path) -> dict:
        (folder / "head.onnx").write_text(payload)
        return {
            "kind": "head",
            "genres": ["Drama"],
            "thresholds": {"Drama": 0.4},
            "temperature": 1.2,
            "payload": payload,
        }

    return write_files


def test_a_version_is_written_with_its_model_json(tmp_path: Path) -> None:
    version = write_version(tmp_path / "v1", _writer("one"))
    card = read_card(version)
    assert card.name == "v1" and card.kind is ModelKind.HEAD and card.thresholds == {"Drama": 0.4}
    assert card.notes == {"payload": "one"}  # sections the card does not type are kept
    stored = json.loads((version / "model.json").read_text())
    assert stored["format_version"] == 1 and stored["created_at"] == card.created_at
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
    assert read_card(tmp_path / "v1").notes["payload"] == "one"
    write_version(tmp_path / "v1", _writer("two"), overwrite=True)
    assert read_card(tmp_path / "v1").notes["payload"] == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["v1"]


def test_a_failed_overwrite_keeps_the_old_version(tmp_path: Path) -> None:
    write_version(tmp_path / "v1", _writer("one"))

    def crashing(folder: Path) -> dict:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_version(tmp_path / "v1", crashing, overwrite=True)
    assert read_card(tmp_path / "v1").notes["payload"] == "one"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "model.json is missing"),
        ("{not json", "not valid JSON"),
        (json.dumps({"format_version": 99}), "unsupported format_version"),
        (json.dumps({"format_version": 1, "name": "v1"}), "'kind' is missing"),
        (json.dumps({"format_version": 1, "name": "v1", "kind": "oracle"}), "'oracle'"),
        (
            json.dumps(
                {
                    "format_version": 1,
                    "name": "v",
                    "kind": "head",
                    "genres": ["War"],
                    "thresholds": {},
                }
            ),
            "no threshold for War",
        ),
        (
            json.dumps(
                {
                    "format_version": 1,
                    "name": "v",
                    "kind": "head",
                    "genres": ["War"],
                    "thresholds": {"War": 0.5},
                }
            ),
            "'temperature' is missing",
        ),
        (
            json.dumps(
                {
                    "format_version": 1,
                    "name": "v",
                    "kind": "head",
                    "genres": [],
                    "thresholds": {},
                    "temperature": 1.0,
                    "backbones": {
                        "poster": {"name": "p", "dim": 8, "weights_sha256": "0"},
                        "overview": {"name": "o", "dim": 8, "weights_sha256": "0", "max_tokens": 8},
                    },
                }
            ),
            "the poster backbone has no input_size",
        ),
    ],
)
def test_broken_versions_are_clear_errors(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "model.json").write_text(content)
    with pytest.raises(MmguiError, match=message):
        read_card(tmp_path)


def test_a_card_that_does_not_parse_lands_nothing(tmp_path: Path) -> None:
    def no_thresholds(folder: Path) -> dict:
        (folder / "head.onnx").write_text("head")
        return {"kind": "head", "genres": ["Drama"], "thresholds": {}}

    with pytest.raises(MmguiError, match="no threshold for Drama"):
        write_version(tmp_path / "v1", no_thresholds)
    assert list(tmp_path.iterdir()) == []


def test_the_shipped_card_reads_and_writes_back_the_same_file() -> None:
    stored = json.loads((DEFAULT / "model.json").read_text())
    card = read_card(DEFAULT)
    assert card.to_json() == stored
    assert VersionCard.from_json(card.to_json()) == card
    assert card.backbones is not None and card.backbones.poster_size == (224, 320)
    assert card.data is not None and card.data.n_test == card.test_metrics["n_items"] == 730
    assert card.eval_metrics is card.metrics["val"]


NOBODY = 65534  # as root, the reader drops to this account; otherwise it reads as itself

READ_EVERY_FILE = """
import os, sys
if os.geteuid() == 0:
    os.setgroups([]); os.setgid(NOBODY); os.setuid(NOBODY)
for root, dirs, files in os.walk(sys.argv[1], onerror=lambda err: sys.exit(str(err))):
    for name in files:
        with open(os.path.join(root, name), "rb") as handle:
            handle.read()
print(sum(len(files) for _, _, files in os.walk(sys.argv[1])))
""".replace("NOBODY", str(NOBODY))


def test_another_user_can_read_a_full_version() -> None:
    """A full-finetune version carries a backbones/ folder: every part of it is readable by an
    account that is neither its owner nor in its group (without root, the owner's own read
    is the check: a folder without its x bit stops the owner too)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    def write_files(folder: Path) -> dict:
        (folder / "head.onnx").write_text("head")
        (folder / "backbones").mkdir()
        (folder / "backbones" / "poster.onnx").write_text("poster")
        return {"kind": "head", "genres": [], "thresholds": {}, "temperature": 1.0}

    shared = Path(tempfile.mkdtemp(prefix="mmgui-shared-models-"))  # pytest's are 0700
    try:
        shared.chmod(0o755)
        version = write_version(shared / "v1", write_files)
        reader = subprocess.run(
            [sys.executable, "-c", READ_EVERY_FILE, str(version)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        shutil.rmtree(shared)
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == "3"  # model.json, head.onnx, backbones/poster.onnx
