"""ONNX export checked against torch on real inputs, and the backbone graphs serving runs.

Every graph is written to a temporary file, compared with the torch module it came from
(`max |onnx - torch| <= PARITY_ATOL`), and only then renamed into place; a graph that does not
match is a bug and raises. `serve.backbones` imports this module only to build a cache that is
missing, so serving from a built cache loads no torch.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmgui.data.image import load_image, preprocess_batch
from mmgui.data.text import SubwordTokenizer
from mmgui.errors import MmguiError
from mmgui.files import atomic_path
from mmgui.nets.backbones import (
    OverviewBackbone,
    PosterBackbone,
    load_backbones,
    minilm_dir,
    overview_spec,
    poster_spec,
)
from mmgui.versions import Backbones, onnx_session

PARITY_ATOL = 1e-4
OPSET = 17


def export_checked(
    module: nn.Module,
    inputs: dict[str, np.ndarray],
    output_name: str,
    dynamic_axes: dict[str, dict[int, str]],
    path: Path,
) -> float:
    """Export `module(*inputs)` to `path` after checking ONNX Runtime against torch.

    Returns the largest absolute difference seen; raises `AssertionError` above PARITY_ATOL.
    """
    module = module.eval()
    args = tuple(torch.from_numpy(value) for value in inputs.values())
    with atomic_path(path, suffix=".onnx.tmp") as tmp:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
            torch.onnx.export(
                module,
                args,
                str(tmp),
                input_names=list(inputs),
                output_names=[output_name],
                dynamic_axes={**dynamic_axes, output_name: {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
            expected = module(*args).numpy()
        got = onnx_session(tmp).run([output_name], inputs)[0]
        diff = float(np.max(np.abs(got - expected))) if expected.size else 0.0
        if not diff <= PARITY_ATOL:
            raise AssertionError(f"ONNX export of {type(module).__name__} differs by {diff:.2e}")
    return diff


def export_poster_backbone(backbone: PosterBackbone, images: np.ndarray, path: Path) -> float:
    """images: a real (N, 3, H, W) batch; the graph takes any batch size at that H, W."""
    return export_checked(
        backbone, {"images": images}, "poster_features", {"images": {0: "batch"}}, path
    )


def export_overview_backbone(
    backbone: OverviewBackbone, input_ids: np.ndarray, attention_mask: np.ndarray, path: Path
) -> float:
    axes = {0: "batch", 1: "tokens"}
    return export_checked(
        backbone,
        {"input_ids": input_ids, "attention_mask": attention_mask},
        "overview_features",
        {"input_ids": axes, "attention_mask": axes},
        path,
    )


def build_backbone_graphs(
    backbones: Backbones, folder: Path, samples: list[tuple[Path, str]]
) -> None:
    """Export the backbones a version names (from the installed packages) into `folder`.

    `backbones`: the version card's; `samples` are real (poster, text) pairs used for
    the parity check. Refuses when the installed weights are not the ones the version was
    trained with. Writes poster.onnx, overview.onnx and tokenizer.json.
    """
    poster, overview = load_backbones(backbones)
    for spec, trained in (
        (poster_spec(poster), backbones.poster),
        (overview_spec(overview), backbones.overview),
    ):
        if spec.weights_sha256 != trained.weights_sha256:
            raise MmguiError(
                f"the installed {spec.name} weights (sha256 {spec.weights_sha256[:12]}) are not "
                f"the ones this model was trained with ({trained.weights_sha256[:12]}); "
                "reinstall requirements.txt"
            )
    folder.mkdir(parents=True, exist_ok=True)
    images = preprocess_batch([load_image(p) for p, _ in samples], backbones.poster_size)
    export_poster_backbone(poster, images, folder / "poster.onnx")
    tokenizer_json = minilm_dir() / "tokenizer.json"
    ids, mask = SubwordTokenizer(tokenizer_json, backbones.max_tokens)(
        [text for _, text in samples]
    )
    export_overview_backbone(overview, ids, mask, folder / "overview.onnx")
    shutil.copyfile(tokenizer_json, folder / "tokenizer.json")
