"""Named training configurations: one JSON file each in this folder (a config is data)."""

from __future__ import annotations

import json
from pathlib import Path

from mmgui.errors import MmguiError

CONFIG_DIR = Path(__file__).resolve().parent


def config_names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def load_config(name_or_path: str) -> dict:
    """A config by name (`fusion-gated`) or by path to a JSON file of the same shape."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.json"
    if not path.exists():
        raise MmguiError(f"no training config {name_or_path!r}; known: {', '.join(config_names())}")
    config = json.loads(path.read_text())
    config.setdefault("name", path.stem)
    return config
