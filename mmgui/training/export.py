"""ONNX export of a trained head, checked against torch like every graph (`nets.export`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmgui.nets.export import export_checked
from mmgui.nets.genre_model import CalibratedHead

HEAD_INPUTS = ("poster_features", "overview_features", "poster_present", "overview_present")


def export_head(head: CalibratedHead, inputs: dict[str, np.ndarray], path: Path) -> float:
    """inputs: real features and presence flags, keyed by HEAD_INPUTS."""
    return export_checked(
        head,
        {name: inputs[name] for name in HEAD_INPUTS},
        "genre_probs",
        {name: {0: "batch"} for name in HEAD_INPUTS},
        path,
    )
